"""End-to-end training on the synthetic FePh set: learning, the run directory, best/last checkpoints, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from signfer.data.labels import EMOTIONS7
from signfer.models.checkpoint import load_checkpoint
from signfer.training.cv import run_cv
from signfer.training.loop import HISTORY_COLUMNS, train

TINY = Path(__file__).with_name("tiny.yaml")


def test_two_epoch_cv_beats_chance_and_writes_the_run_directory(synthetic_feph, tmp_path):
    out = tmp_path / "run"
    summary = run_cv(TINY, synthetic_feph, out, progress=False, cache_dir=tmp_path / "crops")

    # learning: 7 balanced classes, chance is 14.3 %; 2 epochs reach far above it on every held-out fold
    assert summary.loc["mean", "acc"] >= 40.0
    assert summary.loc["mean", "avg_sens"] >= 35.0
    assert (summary.loc[[f"fold_{k}" for k in range(5)], "acc"] > 14.3).sum() >= 4
    assert list(summary.columns) == ["n", "acc", *EMOTIONS7, "avg_sens", "sens_var", "fold_sens_var"]
    assert list(summary.index) == [f"fold_{k}" for k in range(5)] + ["mean", "std"]
    assert (out / "summary.csv").exists() and "avg. sens." in (out / "summary.md").read_text()

    info = yaml.safe_load((out / "run.yaml").read_text())
    assert info["recipe"]["name"] == "tiny" and info["k"] == 5 and info["seed"] == 0
    assert info["data"] == str(Path(synthetic_feph).resolve()) and info["region"] == "full" and "signfer_version" in info
    folds = pd.read_csv(out / "folds.csv")
    predicted = []
    for k in range(5):
        d = out / f"fold_{k}"
        history = pd.read_csv(d / "history.csv")
        assert list(history.columns) == HISTORY_COLUMNS and list(history["epoch"]) == [1, 2]
        pred = pd.read_csv(d / "predictions.csv")
        assert list(pred.columns) == ["source_id", "path", "group", "y_true", "y_pred", *[f"p_{c}" for c in EMOTIONS7]]
        assert set(pred["source_id"]) == set(folds.loc[folds["fold"] == k, "source_id"])  # the test fold, no more
        assert pred[[f"p_{c}" for c in EMOTIONS7]].sum(axis=1).round(4).eq(1).all()
        metrics = json.loads((d / "metrics.json").read_text())
        assert metrics["accuracy"] == pytest.approx((pred["y_true"] == pred["y_pred"]).mean())
        model, spec, extra = load_checkpoint(d / "best.pt")
        assert spec.class_names == list(EMOTIONS7) and spec.input_size == 32 and extra["epoch"] == 2  # no validation: last epoch
        predicted += list(pred["source_id"])
    assert sorted(predicted) == sorted(folds["source_id"])  # every image tested exactly once


RESUMABLE = ["stages=[{name: head, trainable: head, lr: 0.01, epochs: 1},"
             " {name: top-sam, trainable: 'last:1', sam: true, lr: 0.003, epochs: 2}]",
             "hflip=true", "class_weights=true", "val_fraction=0.25", "folds=3", "select_metric=val_loss"]


class Interrupted(Exception):
    pass


def _stop_after(n):
    def callback(row):
        if row["epoch"] == n:
            raise Interrupted

    return callback


def _tensors(path):
    model, _, extra = load_checkpoint(path)
    return model.state_dict(), extra


def _kw(cache):
    return dict(fold=1, overrides=RESUMABLE, progress=False, cache_dir=cache)


@pytest.fixture(scope="module")
def uninterrupted(synthetic_feph, tmp_path_factory):
    """A run of 3 epochs (head, then 2 of SAM on the last block) without interruption: (metrics, fold dir)."""
    out = tmp_path_factory.mktemp("uninterrupted")
    return train(TINY, synthetic_feph, out / "run", **_kw(out / "crops")), out / "run" / "fold_1"


@pytest.mark.parametrize("stop", [1, 2])  # at a stage boundary, and inside a SAM stage
def test_resume_gives_the_same_result_as_an_uninterrupted_run(synthetic_feph, tmp_path, stop, uninterrupted):
    kw = _kw(tmp_path / "crops")
    full, a = uninterrupted

    with pytest.raises(Interrupted):
        train(TINY, synthetic_feph, tmp_path / "cut", on_epoch_end=_stop_after(stop), **kw)
    cut = tmp_path / "cut" / "fold_1"
    assert len(pd.read_csv(cut / "history.csv")) == stop and not (cut / "metrics.json").exists()
    with pytest.raises(ValueError, match="--resume"):
        train(TINY, synthetic_feph, tmp_path / "cut", **kw)
    resumed = train(TINY, synthetic_feph, tmp_path / "cut", resume=True, **kw)

    assert resumed == full
    b = cut
    for name in ("best.pt", "last.pt"):
        (sa, ea), (sb, eb) = _tensors(a / name), _tensors(b / name)
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), name
        assert ea["epoch" if name == "best.pt" else "completed_epochs"] == eb["epoch" if name == "best.pt" else "completed_epochs"]
    ha, hb = pd.read_csv(a / "history.csv"), pd.read_csv(b / "history.csv")
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"))
    pd.testing.assert_frame_equal(pd.read_csv(a / "predictions.csv"), pd.read_csv(b / "predictions.csv"))
    # best.pt is the epoch with the lowest validation loss
    _, best = _tensors(a / "best.pt")
    assert best["epoch"] == int(ha.loc[ha["val_loss"].idxmin(), "epoch"]) and best["value"] == pytest.approx(ha["val_loss"].min())
    assert list(ha["stage"]) == ["head", "top-sam", "top-sam"] and ha["val_acc"].notna().all()


def test_a_run_directory_refuses_another_configuration(synthetic_feph, tmp_path):
    kw = dict(progress=False, cache_dir=tmp_path / "crops")
    train(TINY, synthetic_feph, tmp_path / "run", fold=0, overrides=["stages.0.epochs=1", "folds=2"], **kw)
    with pytest.raises(ValueError, match="recipe.batch_size"):
        train(TINY, synthetic_feph, tmp_path / "run", fold=1, overrides=["stages.0.epochs=1", "folds=2", "batch_size=8"], **kw)
    train(TINY, synthetic_feph, tmp_path / "run", fold=1, overrides=["stages.0.epochs=1", "folds=2"], **kw)  # same: fine
    assert (tmp_path / "run" / "fold_1" / "metrics.json").exists()
    with pytest.raises(ValueError, match="fold must be between 0 and 1"):
        train(TINY, synthetic_feph, tmp_path / "run", fold=2, overrides=["stages.0.epochs=1", "folds=2"], **kw)


def test_baseline_maps_its_own_classes_onto_the_recipe_classes(synthetic_feph, tmp_path):
    """A no-fine-tuning recipe keeps the pretrained head (here FER2013's class order) and maps its probabilities."""
    from signfer.data.labels import FER2013
    from signfer.training.loop import make_dataset, make_loader, predict_logits
    from signfer.training.prepare import resolve_recipe

    over = ["stages=[]", "pretrained_classes=fer2013", "folds=2"]
    metrics = train(TINY, synthetic_feph, tmp_path / "run", fold=0, overrides=over, progress=False, cache_dir=False)
    d = tmp_path / "run" / "fold_0"
    model, spec, _ = load_checkpoint(d / "best.pt")
    assert tuple(spec.class_names) == FER2013 and len(pd.read_csv(d / "history.csv")) == 0
    pred = pd.read_csv(d / "predictions.csv")
    recipe = resolve_recipe(TINY, over)
    folds = pd.read_csv(tmp_path / "run" / "folds.csv")
    test = pred[["source_id", "path", "group", "y_true"]].rename(columns={"y_true": "label"})
    assert set(test["source_id"]) == set(folds.loc[folds["fold"] == 0, "source_id"])
    logits, _ = predict_logits(model, make_loader(make_dataset(recipe, spec, test, train=False, cache_dir=False), recipe, False, 0))
    probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
    for c in EMOTIONS7:  # the same classes in another order: probabilities carried over by name
        assert pred[f"p_{c}"].to_numpy() == pytest.approx(probs[:, FER2013.index(c)], abs=1e-5)
    assert metrics["n"] == len(pred)
