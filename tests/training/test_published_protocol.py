"""The training protocol of the published code: loss weighting, Keras decay, early stopping, per-stage best, test-fold selection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from signfer.training.loop import (KerasDecay, balanced_sample_weights, make_optimizer, make_scheduler, run_epoch,
                                   weighted_cross_entropy)
from signfer.training.recipes import Stage

TINY = Path(__file__).with_name("tiny.yaml")


def test_torch_mode_is_cross_entropy_loss_with_weight():
    # enet_crossval_train.ipynb: criterion = nn.CrossEntropyLoss(weight=weights)
    g = torch.Generator().manual_seed(2)
    logits, y = torch.randn(8, 4, generator=g), torch.tensor([0, 1, 2, 3, 3, 1, 0, 2])
    w = torch.tensor([1.0, 3.0, 2.0, 5.0])
    assert weighted_cross_entropy(logits, y, w, "torch").item() == pytest.approx(torch.nn.CrossEntropyLoss(weight=w)(logits, y).item())
    per = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    assert weighted_cross_entropy(logits, y, w, "torch").item() == pytest.approx(((per * w[y]).sum() / w[y].sum()).item())
    assert weighted_cross_entropy(logits, y, w, "keras").item() == pytest.approx((per * w[y]).mean().item())


def test_keras_decay_lowers_lr_per_step():
    """Keras legacy optimisers: lr_t = lr * 1 / (1 + decay * iterations), iterations counted from 0."""
    model = torch.nn.Linear(3, 2)
    stage = Stage(trainable="all", epochs=1, lr=1e-4, decay=0.1)  # a large decay so the numbers move
    opt = make_optimizer(stage, model.parameters())
    sched = make_scheduler(stage, opt)
    assert getattr(sched, "per_step", False) and isinstance(sched.lr_lambdas[0], KerasDecay)
    x, y = torch.randn(12, 3), torch.randint(0, 2, (12,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    seen = []
    for xb, yb in loader:  # what run_epoch does, recording the lr used by each update
        seen.append(opt.param_groups[0]["lr"])
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    assert seen == pytest.approx([1e-4 / (1 + 0.1 * t) for t in range(3)])
    model2 = torch.nn.Linear(3, 2)
    opt2 = make_optimizer(stage, model2.parameters())
    sched2 = make_scheduler(stage, opt2)
    run_epoch(model2, loader, opt2, step_scheduler=sched2)
    assert opt2.param_groups[0]["lr"] == pytest.approx(1e-4 / (1 + 0.1 * 3))
    with pytest.raises(ValueError, match="decay"):
        Stage(trainable="all", epochs=1, lr=1e-3, decay=1e-6, scheduler="cosine")


def test_balanced_sample_weights_are_sklearn_balanced():
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.array([0, 0, 0, 0, 1, 2, 2, 0, 1])
    cw = compute_class_weight(class_weight="balanced", classes=np.array([0, 1, 2]), y=labels)
    assert balanced_sample_weights(labels).tolist() == pytest.approx([cw[v] for v in labels])
    # every class carries the same total weight: the sampler draws them equally often on average
    totals = [balanced_sample_weights(labels)[labels == c].sum() for c in (0, 1, 2)]
    assert totals == pytest.approx([3.0, 3.0, 3.0])


def _fit_with_scripted_validation(tmp_path, monkeypatch, recipe_overrides, values):
    """Run a tiny fit whose validation accuracies are ``values`` (one per epoch), recording the weights at each epoch start."""
    from signfer.training import loop
    from signfer.training.prepare import build_model
    from signfer.training.recipes import load_recipe

    recipe = load_recipe(TINY, recipe_overrides)
    model, spec = build_model(recipe, recipe.class_names())
    x = torch.randn(8, 3, 32, 32)
    y = torch.randint(0, 7, (8,))
    ds = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    val = torch.utils.data.DataLoader(ds, batch_size=4)
    it = iter(values)
    monkeypatch.setattr(loop, "validation_figures", lambda *a, **k: {"val_loss": 1.0, "val_acc": next(it), "val_mean_sensitivity": 0.5})
    starts = []
    monkeypatch.setattr(loop, "run_epoch", _recording(loop.run_epoch, starts))
    result = loop.fit(model, spec, recipe, loader, val, tmp_path, loader_generator=torch.Generator().manual_seed(0))
    return result, starts


def _recording(run_epoch, starts):
    def wrapped(model, *args, **kwargs):
        starts.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return run_epoch(model, *args, **kwargs)
    return wrapped


STAGES2 = "stages=[{name: a, trainable: 'last:0', lr: 0.01, epochs: 3}, {name: b, trainable: 'last:0', lr: 0.01, epochs: 2}]"


def test_early_stopping_patience_ends_a_stage(tmp_path, monkeypatch):
    # Keras EarlyStopping(monitor='val_accuracy', patience=2): stop after 2 epochs without a new best
    stages = ("stages=[{name: a, trainable: 'last:0', lr: 0.01, epochs: 5, patience: 2},"
              " {name: b, trainable: 'last:0', lr: 0.01, epochs: 1}]")
    result, _ = _fit_with_scripted_validation(tmp_path, monkeypatch, [stages], [0.5, 0.4, 0.45, 0.9])
    assert [r["stage"] for r in result.history] == ["a", "a", "a", "b"]  # epochs 4-5 of stage a skipped
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 6]


def test_stage_scope_restarts_from_the_previous_stages_best(tmp_path, monkeypatch):
    # the notebooks: new_model.load_weights(best of the stage) before the next stage; the final model is the last stage's best
    values = [0.3, 0.8, 0.5, 0.4, 0.6]
    result, starts = _fit_with_scripted_validation(tmp_path, monkeypatch, [STAGES2, "select_scope=stage"], values)
    best_of_a = starts[2]  # weights after epoch 2 = at the start of epoch 3
    assert all(torch.equal(best_of_a[k], starts[3][k]) for k in best_of_a)  # stage b starts from epoch 2, not epoch 3
    assert result.best_epoch == 5 and result.best_value == 0.6  # 0.6 < 0.8, yet best of stage b
    run_scope, _ = _fit_with_scripted_validation(tmp_path / "run", monkeypatch, [STAGES2], values)
    assert run_scope.best_epoch == 2 and run_scope.best_value == 0.8


def test_mobilenet_rows_evaluate_the_last_epoch_under_select_on_test(tmp_path, monkeypatch):
    """mobilenet_crossval_train.ipynb cell 11, transcribed: new_model.load_weights(best of the stage) before each next
    stage, then the in-memory model after the LAST SGD epoch is evaluated (#new_model.load_weights(...) commented out)."""
    from signfer.models.checkpoint import load_state_dict_file

    values = [0.3, 0.8, 0.5, 0.9, 0.6]  # stage b: best epoch 4 (0.9), last epoch 5 (0.6)
    published = [STAGES2, "select_scope=stage", "select_on=test", "final_on_test=last"]
    result, starts = _fit_with_scripted_validation(tmp_path / "p", monkeypatch, published, values)
    assert all(torch.equal(starts[2][k], starts[3][k]) for k in starts[2])  # stage b starts from stage a's best (epoch 2)
    last = load_state_dict_file(tmp_path / "p" / "last.pt")[0]
    best = load_state_dict_file(tmp_path / "p" / "best.pt")[0]
    final = result.model.state_dict()
    assert all(torch.equal(final[k], last[k]) for k in last)  # the last epoch's weights are evaluated...
    assert not all(torch.equal(final[k], best[k]) for k in best)  # ...not stage b's best (epoch 4)
    assert result.best_epoch == 4
    # the honest protocol (select_on validation) ignores final_on_test and keeps the best checkpoint
    honest, _ = _fit_with_scripted_validation(tmp_path / "h", monkeypatch, [STAGES2, "select_scope=stage", "final_on_test=last"], values)
    best_h = load_state_dict_file(tmp_path / "h" / "best.pt")[0]
    assert all(torch.equal(honest.model.state_dict()[k], best_h[k]) for k in best_h)


def test_m_recipes_use_the_last_epoch_only_under_the_published_protocol():
    from signfer.training.loop import selection_info
    from signfer.training.recipes import load_recipe

    for name in ("M1", "M2", "mobilenet-ft-sgd-ip"):
        assert load_recipe(name).final_on_test == "last"
        assert selection_info(load_recipe(name, ["select_on=test"]))["final"] == "last"
        assert selection_info(load_recipe(name))["final"] == "best"
    assert load_recipe("E2").final_on_test == "best"  # the EfficientNet train() ends with model.load_state_dict(best_model)


def test_select_on_test_trains_on_the_whole_training_part_and_is_marked(synthetic_feph, tmp_path):
    from signfer.training.loop import train

    metrics = train(TINY, synthetic_feph, tmp_path / "t", fold=0, progress=False, cache_dir=tmp_path / "c",
                    overrides=["select_on=test", "val_fraction=0.2", "stages.0.epochs=1"])
    assert metrics["selection"] == {"on": "test", "metric": "val_acc", "scope": "run", "final": "best", "optimistic": True}
    folds = pd.read_csv(tmp_path / "t" / "folds.csv")
    history = pd.read_csv(tmp_path / "t" / "fold_0" / "history.csv")
    # the "validation" figures are the test fold's: the same accuracy as the test predictions of that epoch
    assert history["val_acc"].iloc[-1] == pytest.approx(metrics["accuracy"])
    assert metrics["n"] == int((folds["fold"] == 0).sum())
    honest = train(TINY, synthetic_feph, tmp_path / "h", fold=0, progress=False, cache_dir=tmp_path / "c",
                   overrides=["val_fraction=0.2", "stages.0.epochs=1"])
    assert honest["selection"]["optimistic"] is False and honest["selection"]["on"] == "validation"
    saved = json.loads((tmp_path / "t" / "fold_0" / "metrics.json").read_text())
    assert saved["selection"]["optimistic"] is True


def test_cli_flags_become_recipe_overrides():
    from signfer.cli import build_parser
    from signfer.cli.common import recipe_overrides as _recipe_overrides

    args = build_parser().parse_args(["cv", "--recipe", "M2", "--data", "d", "--out", "o", "--select-on", "test"])
    assert "select_on=test" in _recipe_overrides(args)
    args = build_parser().parse_args(["train", "--recipe", "easier2025", "--data", "d", "--out", "o", "--split", "easier2025"])
    assert "split=easier2025" in _recipe_overrides(args)
    args = build_parser().parse_args(["train", "--recipe", "M2", "--data", "d", "--out", "o"])
    assert not [o for o in _recipe_overrides(args) if o.startswith(("select_on", "split"))]  # the recipe's (honest) default


PROTOCOL = ["stages=[{name: head, trainable: head, lr: 0.01, epochs: 2, patience: 1},"
            " {name: top, trainable: 'last:1', lr: 0.003, decay: 0.01, epochs: 2}]",
            "select_scope=stage", "class_weights=true", "class_weight_mode=torch", "val_fraction=0.25", "folds=3"]


@pytest.mark.parametrize("stop", [1, 3])  # inside the patience stage, and inside the decay stage after the best-weights reload
def test_resume_with_the_published_protocol_is_exact(synthetic_feph, tmp_path, stop):
    from signfer.models.checkpoint import load_checkpoint
    from signfer.training.loop import train

    class Stop(Exception):
        pass

    def stop_after(row):
        if row["epoch"] == stop:
            raise Stop

    kw = dict(fold=1, overrides=PROTOCOL, progress=False, cache_dir=tmp_path / "crops")
    full = train(TINY, synthetic_feph, tmp_path / "full", **kw)
    with pytest.raises(Stop):
        train(TINY, synthetic_feph, tmp_path / "cut", on_epoch_end=stop_after, **kw)
    resumed = train(TINY, synthetic_feph, tmp_path / "cut", resume=True, **kw)
    assert resumed == full
    a, b = load_checkpoint(tmp_path / "full" / "fold_1" / "last.pt"), load_checkpoint(tmp_path / "cut" / "fold_1" / "last.pt")
    sa, sb = a[0].state_dict(), b[0].state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a[2]["optimizer"]["param_groups"][0]["lr"] == pytest.approx(b[2]["optimizer"]["param_groups"][0]["lr"])
    ha = pd.read_csv(tmp_path / "full" / "fold_1" / "history.csv")
    hb = pd.read_csv(tmp_path / "cut" / "fold_1" / "history.csv")
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"))


def test_a_run_trained_before_easier2025_changed_meaning_is_not_resumed_with_other_crops(synthetic_feph, tmp_path):
    """run.yaml stores the preset by value; a run folder written before (no preset_fields) naming easier2025 was trained
    on today's easier2025-refined crops: resuming it with the new easier2025 is refused, with the refined one accepted."""
    import yaml

    from signfer.errors import OptionError
    from signfer.training.prepare import prepare_run
    from signfer.training.recipes import load_recipe

    out = tmp_path / "run"
    prepare_run(load_recipe(TINY, ["preset=easier2025"]), synthetic_feph, out)
    info = yaml.safe_load((out / "run.yaml").read_text())
    assert info["preset_fields"]["rotate_about"] == "centre"
    del info["preset_fields"]  # as signfer wrote run.yaml before the split
    (out / "run.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    (out / "fold_0").mkdir()
    (out / "fold_0" / "last.pt").write_bytes(b"")
    with pytest.raises(OptionError, match="preset.*--set preset=easier2025-refined"):
        prepare_run(load_recipe(TINY, ["preset=easier2025"]), synthetic_feph, out)
    df = prepare_run(load_recipe(TINY, ["preset=easier2025-refined"]), synthetic_feph, out)
    assert "fold" in df


# --------------------------------------------------------------------------- the EfficientNet notebooks' conventions
class NotebookSAM(torch.optim.Optimizer):
    """cross_validation/EfficientNet/sam.py (davda54/sam), transcribed. (The test net has no bias before its BatchNorm:
    that gradient is rounding noise, which Adam would blow up to +-lr.)"""

    def __init__(self, params, base_optimizer, rho=0.05, **kwargs):
        defaults = dict(rho=rho, **kwargs)
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups

    @torch.no_grad()
    def first_step(self, zero_grad=False):
        grad_norm = torch.norm(torch.stack([p.grad.norm(p=2) for g in self.param_groups for p in g["params"] if p.grad is not None]), p=2)
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                e_w = p.grad * scale.to(p)
                p.add_(e_w)
                self.state[p]["e_w"] = e_w
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad=False):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.sub_(self.state[p]["e_w"])
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()


def _bn_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3))


def test_sam_second_pass_in_train_mode_is_the_notebooks_step():
    """enet_crossval_train.ipynb train(): output = model(data); loss.backward(); first_step; output = model(data);
    loss.backward(); second_step: the second forward runs in train mode, so BatchNorm statistics move twice."""
    import copy

    from signfer.training.loop import train_step
    from signfer.training.sam import SAM

    x, y = torch.randn(6, 3, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    ref = _bn_net().train()
    opt = NotebookSAM(ref.parameters(), torch.optim.Adam, lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    published, honest = copy.deepcopy(ref), copy.deepcopy(ref)
    for _ in range(2):  # two steps: the transcribed loop body
        loss = criterion(ref(x), y)
        loss.backward()
        opt.first_step(zero_grad=True)
        loss = criterion(ref(x), y)
        loss.backward()
        opt.second_step(zero_grad=True)
    opt_p = SAM(published.parameters(), torch.optim.Adam, rho=0.05, lr=1e-3)
    opt_h = SAM(honest.parameters(), torch.optim.Adam, rho=0.05, lr=1e-3)
    for _ in range(2):
        train_step(published, x, y, opt_p, sam_second_pass="train_mode")
        train_step(honest, x, y, opt_h)
    want = ref.state_dict()
    for k, v in published.state_dict().items():
        assert torch.allclose(v.float(), want[k].float(), atol=1e-6), k
    assert int(published[1].num_batches_tracked) == 4 and int(honest[1].num_batches_tracked) == 2
    assert not torch.allclose(honest[1].running_mean, want["1.running_mean"], atol=1e-4)  # signfer: updated once per step


def test_batch_mean_accuracy_is_the_notebooks():
    from signfer.training.loop import validation_figures

    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(70, 3)).astype(np.float32), rng.integers(0, 3, 70)
    loader = [(torch.from_numpy(logits[i:i + 32]), torch.from_numpy(labels[i:i + 32])) for i in range(0, 70, 32)]
    epoch_val_accuracy = 0  # for data, label in test_loader: ... epoch_val_accuracy += acc / len(test_loader)
    for val_output, label in loader:
        acc = (val_output.argmax(dim=1) == label).float().mean()
        epoch_val_accuracy += acc / len(loader)
    figures = validation_figures(logits, labels, ["a", "b", "c"], batch_mean=32)
    assert figures["val_acc"] == pytest.approx(float(epoch_val_accuracy), abs=1e-6)
    pooled = validation_figures(logits, labels, ["a", "b", "c"])["val_acc"]
    assert pooled == pytest.approx((logits.argmax(1) == labels).mean()) and pooled != pytest.approx(figures["val_acc"], abs=1e-4)


def test_published_settings_apply_to_e_rows_only_under_select_on_test(synthetic_feph):
    from signfer.data.feph import load_feph
    from signfer.models.spec import ModelSpec
    from signfer.training.loop import make_dataset
    from signfer.training.recipes import load_recipe

    e2, e2_test = load_recipe("E2"), load_recipe("E2", ["select_on=test"])
    assert [e2.setting(k) for k in ("sam_second_pass", "test_flip", "val_accuracy")] == ["frozen_bn", False, "pooled"]
    assert [e2_test.setting(k) for k in ("sam_second_pass", "test_flip", "val_accuracy")] == ["train_mode", True, "batch_mean"]
    assert load_recipe("E1", ["select_on=test"]).setting("test_flip") is True
    assert load_recipe("E0", ["select_on=test"]).setting("test_flip") is False  # the testing notebook: no flip
    assert load_recipe("efficientnet-ft-sgd-sam-hf", ["select_on=test"]).setting("test_flip") is False  # commented out there
    # the 2025 code: one transform with RandomHorizontalFlip for its training, validation and test loaders
    assert load_recipe("easier2025-published").setting("test_flip") is True and load_recipe("easier2025").setting("test_flip") is False
    # the test transform's RandomHorizontalFlip: one torch.rand(1) < 0.5 per image, as torchvision draws it
    df, _ = load_feph(synthetic_feph, policy="sltat2022")
    spec = ModelSpec(arch="mobilenetv2_100", class_names=list(e2.class_names()), preset="none", input_size=32)
    tiny = load_recipe(TINY, ["select_on=test", "published={test_flip: true}"])
    test_ds = make_dataset(tiny, spec, df.iloc[:12], train=False)
    assert test_ds.hflip and not make_dataset(load_recipe(TINY), spec, df.iloc[:12], train=False).hflip
    torch.manual_seed(5)
    got = [torch.equal(test_ds[i][0], torch.flip(make_dataset(load_recipe(TINY), spec, df.iloc[:12], train=False)[i][0], dims=[2]))
           for i in range(12)]
    torch.manual_seed(5)
    want = [bool(torch.rand(1) < 0.5) for _ in range(12)]
    assert got == want and 0 < sum(got) < 12


def test_a_run_made_before_the_published_settings_still_resumes(synthetic_feph, tmp_path):
    """run.yaml written before final_on_test / published existed: an honest run resumes (those act only under
    --select-on test); a --select-on test run of an M recipe is refused (it now evaluates the last epoch)."""
    import yaml

    from signfer.errors import OptionError
    from signfer.training.prepare import prepare_run
    from signfer.training.recipes import load_recipe

    for select_on, ok in (("validation", True), ("test", False)):
        out = tmp_path / select_on
        overrides = [f"select_on={select_on}", "final_on_test=last", "published={train_resize: nearest}"]
        prepare_run(load_recipe(TINY, overrides), synthetic_feph, out)
        info = yaml.safe_load((out / "run.yaml").read_text())
        del info["recipe"]["final_on_test"], info["recipe"]["published"]
        (out / "run.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
        (out / "fold_0").mkdir()
        (out / "fold_0" / "last.pt").write_bytes(b"")
        if ok:
            prepare_run(load_recipe(TINY, overrides), synthetic_feph, out)
        else:
            with pytest.raises(OptionError, match="recipe.final_on_test"):
                prepare_run(load_recipe(TINY, overrides), synthetic_feph, out)
