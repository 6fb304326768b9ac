"""The experiment commands end to end on the tiny synthetic run: ablation, region models, transfer, explain."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from signfer.cli import main


@pytest.fixture()
def own_cache(tmp_path, monkeypatch):
    """Crops of the commands under test go to a throw-away cache."""
    monkeypatch.setenv("SIGNFER_CACHE", str(tmp_path / "cache"))


def _fold_values(run_dir, key):
    return {p.parent.name: json.loads(p.read_text())[key] for p in sorted(run_dir.glob("fold_*/metrics.json"))}


def test_ablation_gives_one_row_per_variant_on_identical_folds(lower_run, tmp_path, own_cache):
    out = tmp_path / "ablation"
    rc = main(["ablation", "--recipe", str(lower_run.recipe), "--data", str(lower_run.data), "--out", str(out),
               "--set", "stages.0.epochs=1", "--set", "image_size=32", "--threads", "1", "--no-progress"])
    assert rc == 0
    table = pd.read_csv(out / "ablation.csv", index_col="variant")
    assert list(table.index) == ["equalize", "no_equalization", "equalize_after_rotation", "standardize"]
    # identical folds: one folds file, and every variant tested exactly the same images per fold
    assert table["folds_sha256"].nunique() == 1 and (table["folds"] == 2).all()
    tested = {v: {k: set(pd.read_csv(out / v / f"fold_{k}" / "predictions.csv")["source_id"]) for k in (0, 1)} for v in table.index}
    assert all(tested[v] == tested["equalize"] for v in table.index)
    # each variant ran with its own colour step
    for v, colour in [("equalize", "equalize"), ("no_equalization", "none"), ("standardize", "standardize")]:
        info = yaml.safe_load((out / v / "run.yaml").read_text())
        assert info["recipe"]["preset_overrides"]["colour"] == colour
    # differences are paired per fold against the first variant
    ref, other = _fold_values(out / "equalize", "accuracy"), _fold_values(out / "no_equalization", "accuracy")
    diffs = [100 * (other[k] - ref[k]) for k in ref]
    assert table.loc["no_equalization", "d_acc"] == pytest.approx(np.mean(diffs), abs=1e-3)
    assert table.loc["no_equalization", "d_acc_std"] == pytest.approx(np.std(diffs, ddof=1), abs=1e-3)
    assert table.loc["equalize", "d_acc"] == 0
    # preset "none" does not rotate, so equalising after the (absent) rotation changes nothing
    assert table.loc["equalize_after_rotation", "d_acc"] == 0 and table.loc["equalize_after_rotation", "d_avg_sens"] == 0
    md = (out / "ablation.md").read_text()
    assert "Every variant ran on the same folds" in md and "| no_equalization |" in md


def test_region_models_on_lower_half_data(lower_run, tmp_path):
    from signfer.experiments.paper2025 import regions

    out = tmp_path / "regions"
    table = regions(lower_run.recipe, lower_run.data, out, overrides={"stages.0.epochs": 4}, progress=False, threads=1,
                    cache_dir=lower_run.cache)
    runs = table[table["kind"] == "run"]
    assert list(runs.index) == ["full", "upper", "lower"]
    # the expression is drawn only in the lower half: the upper-half model cannot see it
    assert runs.loc["lower", "avg_sens"] > runs.loc["upper", "avg_sens"] + 20
    refs = table[table["kind"] == "reference"]["avg_sens"]
    assert sorted(refs.round(2)) == [60.17, 68.34, 77.9, 79.6, 83.8]
    folds = {r: (out / r / "folds.csv").read_bytes() for r in ("full", "upper", "lower")}
    assert folds["full"] == folds["upper"] == folds["lower"] == (out / "folds.csv").read_bytes()
    md = (out / "regions.md").read_text()
    assert "68.34" in md and "60.17" in md and "| lower | this run |" in md

    # the same raw faces under the full and the lower-half model: each preprocesses them its own way,
    # and the half model's saliency is placed back into the lower half of the face
    from signfer.explain.gradcam import compare_models

    images = sorted((lower_run.data / "FePh_images").glob("*.png"))[:5]
    shares = compare_models(out / "full", out / "lower", images, tmp_path / "cmp", fold=0).set_index("model")
    assert set(shares.index) == {"full", "lower"} and (shares["status"] == "ok").all()
    assert shares.loc["lower", "share_lower"].min() == pytest.approx(1.0) and shares.loc["lower", "share_upper"].max() == 0
    assert shares.loc["full", "share_lower"].mean() > 0.5


def test_transfer_to_other_data_sets(lower_run, tmp_path):
    from signfer.samples.feph_layout import make_synthetic_feph
    from signfer.experiments.paper2025 import transfer

    other = make_synthetic_feph(tmp_path / "full_signal", n_sequences=14, signal_region="full", seed=7, awkward_rows=False)
    table = transfer(lower_run.run_dir, other, tmp_path / "transfer", cache_dir=lower_run.cache, progress=False)
    assert len(table) == 4 and set(table["colour"]) == {"equalize", "no_equalization"} and set(table["model"]) == {"fold_0", "fold_1"}
    assert (table["n"] == 56).all() and (table["trained_colour"] == "none").all()
    by = table.groupby("colour")["mean_sensitivity"].mean()
    assert by["no_equalization"] > 60  # the other data set carries the same signal in its lower half
    assert by["equalize"] < by["no_equalization"] - 10  # equalising inputs of a model trained without it hurts
    md = (tmp_path / "transfer" / "transfer.md").read_text()
    assert "| no_equalization | 2 | 56 |" in md and "trained with colour: none" in md
    with pytest.raises(ValueError, match="unknown colour"):
        transfer(lower_run.run_dir, other, tmp_path / "x", colours=["sepia"], progress=False)


def test_explain_and_compare_commands_on_crops(lower_run, lower_model, tmp_path):
    from signfer.io import read_image, write_image

    crops = tmp_path / "crops"
    for i, c in enumerate(lower_model.test_crops[:6]):
        write_image(crops / f"face{i}.png", c)
    (crops / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "explain"
    assert main(["explain", str(lower_run.run_dir), str(crops), "--crops", "--fold", "0", "--out", str(out)]) == 0
    table = pd.read_csv(out / "saliency.csv")
    assert len(table) == 7 and (table["status"] == "ok").sum() == 6
    assert table.loc[table["status"] == "error", "reason"].str.contains("not a readable image").all()
    ok = table[table["status"] == "ok"]
    assert ok["share_lower"].mean() > 0.6
    assert np.allclose(ok["share_upper"] + ok["share_lower"], 1, atol=1e-3)
    assert read_image(out / "face0_gradcam.png").shape == (64, 64, 3) and (out / "gradcam.png").exists()

    cmp_out = tmp_path / "compare"
    assert main(["explain", str(crops), "--crops", "--compare", str(lower_run.run_dir / "fold_0" / "best.pt"),
                 str(lower_run.run_dir / "fold_1" / "best.pt"), "--out", str(cmp_out)]) == 0
    shares = pd.read_csv(cmp_out / "attention_share.csv")
    assert len(shares) == 14 and shares["model"].nunique() == 2
    md = (cmp_out / "attention_share.md").read_text()
    assert md.count("| 6 |") == 2 and "upper | lower | eyes | mouth" in md
    assert read_image(cmp_out / "compare.png").shape[1] > 400


@pytest.mark.registry
def test_explain_real_faces_with_the_fer2013_model(astronaut, grace_hopper, tmp_path):
    from signfer.io import write_image

    write_image(tmp_path / "astronaut.png", astronaut)
    write_image(tmp_path / "hopper.jpg", grace_hopper)
    out = tmp_path / "out"
    assert main(["explain", "fer2013", str(tmp_path / "astronaut.png"), str(tmp_path / "hopper.jpg"), str(tmp_path / "missing.png"),
                 "--out", str(out)]) == 0
    table = pd.read_csv(out / "saliency.csv").set_index("source")
    astro = table.loc[str(tmp_path / "astronaut.png")]
    assert astro["status"] == "ok" and astro["predicted"] == "happy" and astro["probability"] > 0.9
    assert table.loc[str(tmp_path / "missing.png"), "reason"] == "file does not exist"
    assert (out / "astronaut_gradcam.png").exists() and (out / "hopper_gradcam.png").exists()


def test_occlusion_and_transfer_commands(lower_run, tmp_path, own_cache, capsys):
    out = tmp_path / "occ"
    assert main(["occlusion", str(lower_run.run_dir), "--fill", "mean", "--region", "lower,mouth", "--fold-list", "1",
                 "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out / "occlusion.csv")
    assert list(zip(table["fill"], table["region"])) == [("none", "none"), ("mean", "lower"), ("mean", "mouth")]
    assert (table["fold"] == 1).all()
    assert main(["occlusion", str(lower_run.run_dir), "--fill", "blur", "--out", str(out)]) == 2
    assert "unknown fill" in capsys.readouterr().err

    assert main(["transfer", str(lower_run.run_dir), "--data", str(lower_run.data), "--fold", "0", "--colour", "no_equalization",
                 "--out", str(tmp_path / "tr"), "--no-progress"]) == 0
    tr = pd.read_csv(tmp_path / "tr" / "transfer.csv")
    assert list(tr["model"]) == ["fold_0"] and tr["n"].iloc[0] == 112  # every image of the data set
