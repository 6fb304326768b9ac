"""Speed of the face detectors: ms per image and images per second, per detector / backend / scale.

Images: scikit-image's astronaut (512x512) and a 640x360 video-sized frame (the astronaut resized
to 360x360, centred on a grey 640x360 canvas). ``detect`` runs one image per call; ``batch8`` runs
``detect_batch`` on 8 copies of the frame (same-size frames share the network calls).

    python benchmarks/detectors.py                # default: 20 repetitions, 1 thread
    python benchmarks/detectors.py --repeat 3 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np


def video_frame(astronaut: np.ndarray, size=(640, 360)) -> np.ndarray:
    w, h = size
    frame = np.full((h, w, 3), 128, np.uint8)
    face = cv2.resize(astronaut, (h, h), interpolation=cv2.INTER_AREA)
    x = (w - h) // 2
    frame[:, x:x + h] = face
    return frame


def time_call(fn, repeat: int, warmup: int = 1) -> tuple[float, float]:
    """Median and best seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=20, help="timed runs per row (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch / ONNX Runtime / OpenCV (default: %(default)s)")
    p.add_argument("--detectors", default="mtcnn,haar,none", help="comma-separated detectors (default: %(default)s)")
    args = p.parse_args(argv)

    import torch
    from skimage import data

    from signfer.faces.detect import get_detector

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    astronaut = data.astronaut()
    images = {"astronaut 512x512": astronaut, "frame 640x360": video_frame(astronaut)}

    configs = []
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    if "mtcnn" in names:
        for backend in ("onnx", "torch"):
            for scale in (1.0, 0.5):
                configs.append(("mtcnn", backend, scale, dict(backend=backend, scale=scale, threads=args.threads)))
    if "haar" in names:
        configs.append(("haar", "opencv", 1.0, {}))
    if "none" in names:
        configs.append(("none", "-", 1.0, {}))

    header = f"{'detector':8} {'backend':7} {'scale':>5} {'image':18} {'mode':7} {'ms/image':>9} {'best ms':>8} {'images/s':>9} {'faces':>5}"
    print(f"threads={args.threads} repeat={args.repeat}")
    print(header)
    print("-" * len(header))
    for name, backend, scale, kw in configs:
        det = get_detector(name, **kw)
        for label, img in images.items():
            faces = len(det.detect(img))
            med, best = time_call(lambda: det.detect(img), args.repeat)
            print(f"{name:8} {backend:7} {scale:5.2f} {label:18} {'detect':7} {med * 1e3:9.2f} {best * 1e3:8.2f} {1 / med:9.1f} {faces:5d}")
        frames = [images["frame 640x360"]] * 8
        med, best = time_call(lambda: det.detect_batch(frames), max(1, args.repeat // 4))
        print(f"{name:8} {backend:7} {scale:5.2f} {'frame 640x360':18} {'batch8':7} {med / 8 * 1e3:9.2f} {best / 8 * 1e3:8.2f} {8 / med:9.1f} {'':5}")


if __name__ == "__main__":
    main()
