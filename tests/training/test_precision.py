"""Training precision: channels-last and bf16 autocast, resolved per device, recorded in the run, resumed only in its mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from signfer.errors import UserError
from signfer.models.checkpoint import load_checkpoint
from signfer.models.registry import create_model
from signfer.training.cv import run_cv
from signfer.training.loop import train, train_step
from signfer.training.precision import Precision, cpu_has_native_bf16, resolve_precision
from signfer.training.recipes import Recipe

TINY = Path(__file__).with_name("tiny.yaml")


def test_auto_follows_the_hardware_and_impossible_choices_are_refused():
    cpu = resolve_precision("auto", "auto", "cpu")
    assert cpu == Precision("fp32", True, "cpu")  # bf16 autocast is opt-in on CPUs (it did not pay off)
    assert resolve_precision("fp32", False, "cpu") == Precision("fp32", False, "cpu")
    assert resolve_precision("BF16", "false", "cpu") == Precision("bf16", False, "cpu")
    with pytest.raises(UserError, match="fp16 needs a CUDA"):
        resolve_precision("fp16", "auto", "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        Recipe(name="x", arch="mobilenetv2_100", precision="int8")
    with pytest.raises(ValueError, match="channels_last must be auto, true or false"):
        Recipe(name="x", arch="mobilenetv2_100", channels_last="sometimes")
    assert Recipe(name="x", arch="mobilenetv2_100", channels_last="yes").channels_last is True


@pytest.mark.parametrize("mode", ["fp32", "bf16"])
def test_a_step_computes_in_the_chosen_precision_and_keeps_float32_weights(mode):
    torch.manual_seed(0)
    model = create_model("mobilenetv2_100", 7).train()
    precision = Precision(mode, True, "cpu")
    precision.prepare_model(model)
    x = precision.prepare_input(torch.randn(4, 3, 32, 32), "cpu")
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    before = model.conv_stem.weight.detach().clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss, logits = train_step(model, x, torch.arange(4) % 7, opt, precision=precision)
    assert logits.dtype == (torch.bfloat16 if mode == "bf16" else torch.float32)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(model.conv_stem.weight, before)  # it learned
    # in inference mode bf16 and fp32 give the same probabilities to bf16's precision (8 bits of mantissa)
    model.eval()
    with torch.no_grad():
        with Precision("bf16", True, "cpu").autocast():
            low = torch.softmax(model(x).float(), 1)
        high = torch.softmax(model(x), 1)
    assert float((low - high).abs().max()) < 0.1 and float((low - high).abs().mean()) < 0.02


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="bf16 on CPU needs native bf16 (AVX-512 BF16 / AMX)")
def test_bf16_channels_last_cv_ends_close_to_fp32_and_records_its_mode(synthetic_feph, tmp_path):
    """Same recipe, seed and folds in fp32 and in bf16 + channels-last: the same learning."""
    kw = dict(progress=False, cache_dir=tmp_path / "crops", overrides=["folds=3", "precision=bf16"])
    fp32 = run_cv(TINY, synthetic_feph, tmp_path / "fp32", **{**kw, "overrides": ["folds=3", "precision=fp32",
                                                                                 "channels_last=false"]})
    fast = run_cv(TINY, synthetic_feph, tmp_path / "auto", **kw)
    # 84 images, ~28 per test fold: one image is 3.6 points of a fold's accuracy
    assert abs(fast.loc["mean", "avg_sens"] - fp32.loc["mean", "avg_sens"]) <= 8.0
    assert abs(fast.loc["mean", "acc"] - fp32.loc["mean", "acc"]) <= 8.0
    assert fast.loc["mean", "acc"] >= 40.0

    info = yaml.safe_load((tmp_path / "auto" / "run.yaml").read_text())
    assert info["recipe"]["precision"] == "bf16" and info["recipe"]["channels_last"] is True
    assert yaml.safe_load((tmp_path / "fp32" / "run.yaml").read_text())["recipe"]["precision"] == "fp32"
    metrics = json.loads((tmp_path / "auto" / "fold_0" / "metrics.json").read_text())
    assert metrics["training"] == {"precision": "bf16", "channels_last": True}
    _, _, extra = load_checkpoint(tmp_path / "auto" / "fold_0" / "last.pt")
    assert extra["training"] == {"precision": "bf16", "channels_last": True}
    # the run folder keeps its mode: auto resumes it as it was; an explicit other mode is refused
    again = run_cv(TINY, synthetic_feph, tmp_path / "auto", resume=True, **kw)
    assert again.equals(fast)
    with pytest.raises(ValueError, match="recipe.precision"):
        train(TINY, synthetic_feph, tmp_path / "auto", fold=1, resume=True,
              **{**kw, "overrides": ["folds=3", "precision=fp32"]})
    # precision auto in that folder keeps its bf16 (a new folder would pick fp32 + channels-last on CPU)
    kept = train(TINY, synthetic_feph, tmp_path / "auto", fold=1, resume=True,
                 **{**kw, "overrides": ["folds=3", "precision=auto"]})
    assert kept["training"] == {"precision": "bf16", "channels_last": True}


def test_fp32_channels_last_run_records_its_mode_and_resumes_in_it(synthetic_feph, tmp_path):
    """The recording and resume-within-a-mode checks of the bf16 test, in fp32 + channels-last: they run on every CPU
    (the bf16 test skips without native bf16, which left them untested there)."""
    kw = dict(progress=False, cache_dir=tmp_path / "crops")
    mode = ["folds=3", "precision=fp32", "channels_last=true"]
    first = train(TINY, synthetic_feph, tmp_path / "run", fold=0, overrides=mode, **kw)
    expected = {"precision": "fp32", "channels_last": True}
    assert first["training"] == expected
    info = yaml.safe_load((tmp_path / "run" / "run.yaml").read_text())
    assert info["recipe"]["precision"] == "fp32" and info["recipe"]["channels_last"] is True
    assert json.loads((tmp_path / "run" / "fold_0" / "metrics.json").read_text())["training"] == expected
    _, _, extra = load_checkpoint(tmp_path / "run" / "fold_0" / "last.pt")
    assert extra["training"] == expected
    # auto in that folder keeps its mode; an explicit other mode is refused, naming what differs
    kept = train(TINY, synthetic_feph, tmp_path / "run", fold=1, resume=True, overrides=["folds=3", "precision=auto",
                                                                                       "channels_last=auto"], **kw)
    assert kept["training"] == expected
    with pytest.raises(ValueError, match="recipe.channels_last"):
        train(TINY, synthetic_feph, tmp_path / "run", fold=2, overrides=["folds=3", "precision=fp32", "channels_last=false"], **kw)


def test_resume_refuses_another_precision_than_the_checkpoint(synthetic_feph, tmp_path):
    """A last.pt made in fp32 cannot be continued in bf16 (fit checks the checkpoint itself)."""
    from signfer.training.loop import train_fold
    from signfer.training.prepare import start_run

    kw = dict(progress=False, cache_dir=tmp_path / "crops")

    class Stop(Exception):
        pass

    def stop(row):
        raise Stop

    recipe, df, _ = start_run(TINY, synthetic_feph, tmp_path / "run", overrides=["precision=fp32", "folds=3"], progress=False)
    with pytest.raises(Stop):
        train_fold(recipe, df, 0, tmp_path / "run" / "fold_0", on_epoch_end=stop, **kw)
    other = Recipe.from_dict({**recipe.to_dict(), "precision": "bf16"})
    with pytest.raises(UserError, match="trained with precision fp32"):
        train_fold(other, df, 0, tmp_path / "run" / "fold_0", resume=True, **kw)


def test_the_gradient_scaler_path_unscales_before_the_update():
    """fp16 on CUDA steps through a GradScaler; on CPU the same path (GradScaler("cpu")) must give the unscaled update."""
    torch.manual_seed(0)
    a = create_model("mobilenetv2_100", 7).train()
    b = create_model("mobilenetv2_100", 7).train()
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(4, 3, 32, 32), torch.arange(4) % 7
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    train_step(a, x, y, opt_a)
    train_step(b, x, y, opt_b, scaler=scaler)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5), name  # the scale of 1024 was taken out again
    assert scaler.get_scale() == 1024.0 and scaler.state_dict()["scale"] == 1024.0
    from signfer.training.sam import SAM

    with pytest.raises(ValueError, match="SAM"):
        train_step(a, x, y, SAM(a.parameters(), torch.optim.SGD, lr=0.1), scaler=scaler)
