"""Occlusion of a model whose training signal is only in the lower half of the face (synthetic FePh)."""

import numpy as np
import pandas as pd


def test_lower_occlusion_hurts_far_more_than_upper(lower_run, tmp_path):
    from signfer.data.feph import load_feph
    from signfer.data.folds import fold_split, load_folds
    from signfer.experiments.paper2025 import occlusion_run
    from signfer.io import read_image

    out = tmp_path / "occ"
    table = occlusion_run(lower_run.run_dir, out=out, regions=["upper", "lower"], cache_dir=lower_run.cache, progress=False)
    assert sorted(table["fold"].unique()) == [0, 1]
    assert len(table) == 2 * (1 + 3 * 2)  # per fold: unoccluded + 3 fills x 2 regions
    base = table[table["fill"] == "none"].set_index("fold")["mean_sensitivity"]
    assert (base > 60).all(), base
    ms = table.pivot_table(index=["fold", "fill"], columns="region", values="mean_sensitivity")
    drop = ms.rsub(base, level="fold", axis=0)  # unoccluded minus occluded, per fold
    for fill in ("gaussian", "mean"):
        d = drop.xs(fill, level="fill").mean()
        assert d["lower"] > 40 and d["lower"] > d["upper"] + 30, (fill, d.to_dict())
    d = drop.xs("zero", level="fill").mean()  # black halves shift the input statistics: both can hurt, lower never less
    assert d["lower"] >= d["upper"], d.to_dict()
    saved = pd.read_csv(out / "occlusion.csv", keep_default_na=False)
    assert len(saved) == len(table)
    # the mean fill is the mean colour of the fold's training crops (computed here independently)
    df, _ = load_feph(lower_run.data, "sltat2022")
    for k in (0, 1):
        train, _ = fold_split(load_folds(lower_run.run_dir / "folds.csv", df), k)
        pixels = np.concatenate([read_image(p).reshape(-1, 3) for p in train["path"]]).mean(axis=0)  # preset none: whole image
        recorded = saved[(saved["fold"] == k) & (saved["fill"] == "mean")]["fill_colour"]
        assert recorded.nunique() == 1
        np.testing.assert_allclose([float(v) for v in recorded.iloc[0].split()], pixels, atol=2.0)
    md = (out / "occlusion.md").read_text()
    assert "| gaussian |" in md and "Unoccluded" in md
    assert read_image(out / "occlusion_masks.png").shape[0] > 200


def test_occlusion_refuses_half_face_runs_and_unknown_fills(lower_run, tmp_path):
    import pytest

    from signfer.experiments.paper2025 import occlusion_run

    with pytest.raises(ValueError, match="unknown fill"):
        occlusion_run(lower_run.run_dir, out=tmp_path, fills=["blur"], progress=False)
    with pytest.raises(Exception, match="run.yaml"):
        occlusion_run(tmp_path, out=tmp_path, progress=False)
