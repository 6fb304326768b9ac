"""The demo's preprocessing step on the real photos that ship with scikit-image and matplotlib."""

from __future__ import annotations

import pandas as pd

from signfer.samples.demo import DEMO_PREPROCESSING, demo_preprocessing
from signfer.io import read_image


def test_demo_preprocesses_both_photos_with_both_presets(tmp_path, capsys):
    manifests = demo_preprocessing(tmp_path)
    printed = capsys.readouterr().out
    assert set(manifests) == set(DEMO_PREPROCESSING)
    for (preset, region), manifest in manifests.items():
        folder = tmp_path / "faces" / preset / region
        assert str(folder) in printed
        assert manifest.status.tolist() == ["ok", "ok"], manifest.reason.tolist()
        on_disk = pd.read_csv(folder / "manifest.csv")
        assert on_disk.source.tolist() == ["astronaut.png", "grace_hopper.jpg"]
        for name in on_disk.output:
            assert read_image(folder / name).shape == ((224, 224, 3) if region == "full" else (112, 224, 3))
    eyes = manifests[("easier2025", "full")].set_index("source")
    assert 190 < eyes.loc["astronaut.png", "left_eye_x"] < 220 and 235 < eyes.loc["astronaut.png", "right_eye_x"] < 260
