"""`signfer train` / `signfer cv` run every shipped recipe end to end (random weights, tiny settings)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from signfer.cli import main
from signfer.training.recipes import list_recipes, load_recipe

SMALL = ["--set", "image_size=32", "--set", "preset=none", "--set", "batch_size=16", "--set", "val_fraction=0",
         "--no-progress", "--cache", "none"]
ONE_EPOCH = ["--set", "stages.*.epochs=0", "--set", "stages.0.epochs=1"]
TINY = SMALL + ONE_EPOCH


@pytest.mark.parametrize("name", [n for n in list_recipes() if load_recipe(n).data_format == "feph"])
def test_every_recipe_trains_end_to_end_with_random_weights(name, synthetic_feph, tmp_path):
    out = tmp_path / name
    recipe = load_recipe(name)
    fold = "0" if recipe.split == "easier2025" else "1"  # the 2025 code's split has one test side
    rc = main(["train", "--recipe", name, "--data", str(synthetic_feph), "--out", str(out), "--fold", fold, "--folds", "2",
               "--pretrained", "none", *SMALL, *([] if recipe.is_baseline else ONE_EPOCH)])
    assert rc == 0
    metrics = json.loads((out / f"fold_{fold}" / "metrics.json").read_text())
    assert list(metrics["sensitivity"]) == list(recipe.class_names())
    pred = pd.read_csv(out / f"fold_{fold}" / "predictions.csv")
    assert len(pred) == metrics["n"] > 0
    history = pd.read_csv(out / f"fold_{fold}" / "history.csv")
    assert len(history) == (0 if recipe.is_baseline else 1)


def test_affectnet_then_feph_two_step_training(synthetic_feph, tmp_path):
    """easier2025's chain: a model trained on AffectNet (8 classes) is the starting point on FePh (--init-from)."""
    from signfer.samples.feph_layout import make_synthetic_affectnet
    from signfer.models.checkpoint import load_checkpoint

    affectnet = make_synthetic_affectnet(tmp_path / "affectnet")
    first = tmp_path / "runs" / "easier2025-affectnet"
    assert main(["train", "--recipe", "easier2025-affectnet", "--data", str(affectnet), "--out", str(first),
                 "--folds", "2", "--pretrained", "none", *TINY]) == 0
    step1, spec1, _ = load_checkpoint(first / "fold_0" / "best.pt")
    assert len(spec1.class_names) == 8

    second = tmp_path / "runs" / "easier2025"
    assert main(["cv", "--recipe", "easier2025", "--data", str(synthetic_feph), "--out", str(second), "--folds", "2",
                 "--init-from", str(first), *TINY]) == 0
    step2, spec2, _ = load_checkpoint(second / "fold_0" / "best.pt")
    # new_head: reuse, as the 2025 code: the AffectNet Linear(1280, 8) is fine-tuned with output i = FePh code i
    assert len(spec2.class_names) == len(spec1.class_names) == 8
    assert spec2.class_names == ["neutral", "anger", "disgust", "fear", "happy", "sad", "surprise", "none"]
    s1, s2 = step1.state_dict(), step2.state_dict()
    # stage 1 trains the head only: the backbone is exactly the AffectNet model's
    assert all((s1[k] == s2[k]).all() for k in s1 if not k.startswith("classifier."))
    assert not (s1["classifier.weight"] == s2["classifier.weight"]).all()
    summary = pd.read_csv(second / "summary.csv", index_col=0)
    assert {"none", "avg_sens", "sens_var", "fold_sens_var"} <= set(summary.columns)


def test_missing_pretrained_weights_name_the_file(synthetic_feph, tmp_path, monkeypatch, capsys):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("SIGNFER_CACHE", str(tmp_path / "empty-cache"))
    rc = main(["train", "--recipe", "E2", "--data", str(synthetic_feph), "--out", str(tmp_path / "e2"), *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "enet_b0_7.pt" in err and "--pretrained none" in err


def test_init_from_a_missing_run_says_what_to_do(synthetic_feph, tmp_path, capsys):
    rc = main(["train", "--recipe", "easier2025", "--data", str(synthetic_feph), "--out", str(tmp_path / "x"),
               "--init-from", str(tmp_path / "nowhere"), *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "nowhere" in err and "easier2025-affectnet" in err
