"""What the 2025 code's preprocessing and sampler change, measured on a small synthetic FePh-layout set of real faces.

Data: FePh-layout frames (260 x 210) of the scikit-image astronaut and matplotlib's grace_hopper, each turned by a
random angle (+-15 deg) about the face, shifted and scaled, with the class drawn as a coloured, oriented bar on the
forehead (FePh codes 0-6, one class per sequence of 4 frames; plus FePh's awkward rows, code 7 among them). MTCNN
finds the faces, so the presets really crop and rotate. FePh itself is not on this machine.

Runs: recipe ``easier2025-published`` (the code's 80/20 frame split, frame-level validation split) fine-tuned from
ImageNet MobileNetV2 weights (not from AffectNet) at ``--size`` px, one stage of ``--epochs``, with
- preset ``easier2025`` (the code) or ``easier2025-refined`` (signfer's), and
- sampler ``published-2025`` (the code's loader) or ``balanced`` (what it meant),
each over several seeds; plus the honest recipe ``easier2025`` (grouped k-fold) with either preset. Table: test
accuracy and mean sensitivity, mean (std) over seeds / folds, percent.

    python benchmarks/easier2025_protocol.py                 # 3 seeds, 4 epochs, 96 px
    python benchmarks/easier2025_protocol.py --seeds 1 --epochs 2   # a quick check
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd


def make_face_feph(root: Path, n_sequences: int = 28, frames: int = 4, seed: int = 0) -> Path:
    import matplotlib.cbook
    from skimage import data

    from signfer.faces.detect import get_detector
    from signfer.io import read_image
    from signfer.samples.feph_layout import _COLOURS

    photos = [data.astronaut(), read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))]
    det = get_detector("mtcnn", min_face_size=50)
    faces = [det.detect(p)[0] for p in photos]
    images = root / "FePh_images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sequences):
        code = s % 7
        k = s % 2
        photo, face = photos[k], faces[k]
        x1, y1, x2, y2 = face.box
        side = max(x2 - x1, y2 - y1)
        seq = f"{1 + s % 28:02d}January_2010_Thursday_tagesschau_default-{s}"
        for f in range(frames):
            img = photo.astype(np.float32).copy()
            ex, ey = (np.asarray(face.left_eye) + np.asarray(face.right_eye)) / 2
            cy = ey - 0.22 * side + rng.uniform(-0.03, 0.03) * side  # the forehead
            angle = np.deg2rad(code * 180.0 / 7.0 + rng.uniform(-6, 6))
            length = 0.22 * side
            dx, dy = np.cos(angle) * length, np.sin(angle) * length
            colour = np.array(_COLOURS[code], np.float32) * rng.uniform(0.85, 1.0)
            cv2.line(img, (int(ex - dx), int(cy - dy)), (int(ex + dx), int(cy + dy)), colour.tolist(), max(3, int(side) // 14))
            img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
            cx, cyf = (x1 + x2) / 2, (y1 + y2) / 2
            scale = 110.0 / side * rng.uniform(0.85, 1.15)  # the face ~ 95-125 px wide in a 210 px frame
            m = cv2.getRotationMatrix2D((cx, cyf), rng.uniform(-15, 15), scale)
            m[:, 2] += (105 - cx + rng.uniform(-12, 12), 125 - cyf + rng.uniform(-12, 12))
            frame = cv2.warpAffine(img, m, (210, 260), borderMode=cv2.BORDER_REFLECT)
            name = f"{seq}.avi_pid0_fn{f * 7:06d}-0.png"
            cv2.imwrite(str(images / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            rows.append((name, str(code)))
    pd.DataFrame(rows, columns=["External ID", "Facial_label"]).to_csv(root / "FePh_labels.csv", index=False)
    return root


def run(recipe: str, data: Path, out: Path, overrides: list[str], folds: int | None, cache: Path) -> list[dict]:
    from signfer.training.cv import run_cv

    run_cv(recipe, data, out, folds=folds, overrides=overrides, progress=False, threads=2, cache_dir=cache)
    return [json.loads(p.read_text()) for p in sorted(out.glob("fold_*/metrics.json"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--size", type=int, default=96)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="e25proto-"))
    data = make_face_feph(tmp / "feph")
    cache = tmp / "cache"
    common = ["init_from=null", "pretrained=imagenet", "new_head=true", "published={}",  # no test-time flip (as measured)
              f"image_size={args.size}", "batch_size=16",
              f"stages=[{{name: all, trainable: all, optimizer: adam, lr: 0.001, epochs: {args.epochs}}}]"]
    results = []
    for preset in ("easier2025", "easier2025-refined"):
        for sampler in ("published-2025", "balanced"):
            figs = []
            for seed in range(args.seeds):
                out = tmp / f"pub-{preset}-{sampler}-{seed}"
                figs += run("easier2025-published", data, out, common + [f"preset={preset}", f"sampler={sampler}", f"seed={seed}"], None, cache)
            results.append(("easier2025-published (80/20 frames)", preset, sampler, f"{args.seeds} seeds", figs))
        out = tmp / f"honest-{preset}"
        figs = run("easier2025", data, out, common + [f"preset={preset}", "sampler=balanced", "seed=0"], 4, cache)
        results.append(("easier2025 (grouped 4-fold)", preset, "balanced", "4 folds", figs))
    print("| recipe | preset | sampler | runs | test acc. | mean sens. |")
    print("|---|---|---|---|---|---|")
    for recipe, preset, sampler, runs, figs in results:
        acc = [100 * f["accuracy"] for f in figs]
        sens = [100 * f["mean_sensitivity"] for f in figs]
        sd = lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else float("nan")  # noqa: E731
        print(f"| {recipe} | {preset} | {sampler} | {runs} | {np.mean(acc):.1f} ({sd(acc):.1f}) | {np.mean(sens):.1f} ({sd(sens):.1f}) |")
    print(f"\n(data and runs in {tmp})")


if __name__ == "__main__":
    main()
