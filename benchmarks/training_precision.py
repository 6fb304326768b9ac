"""Does the fast training mode learn the same? ``signfer cv`` of one recipe in fp32 and in the automatic mode, side by side.

The same recipe, seed and folds (a synthetic FePh-layout set, grouped 5-fold split) trained twice:
``precision=fp32, channels_last=false`` (the behaviour before the precision options) and
``precision=bf16, channels_last=true`` (bf16 autocast + channels-last, opt-in on CPUs with AVX-512 BF16 / AMX).
Prints per-fold mean sensitivity and accuracy of both, the difference of the means (issue 14's target:
within 2 points) and the wall time of each run.

    python benchmarks/training_precision.py                       # easier2025 (MobileNetV2 from ImageNet), 112 px
    python benchmarks/training_precision.py --recipe M2 --image-size 64 --pretrained none
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default="easier2025", help="recipe (default: %(default)s)")
    ap.add_argument("--image-size", type=int, default=112, help="training size (default: %(default)s)")
    ap.add_argument("--sequences", type=int, default=70, help="synthetic sequences (4 frames each) (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per stage (default: %(default)s)")
    ap.add_argument("--pretrained", default=None, help="starting weights instead of the recipe's (none: random)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    args = ap.parse_args(argv)

    import torch

    from signfer.samples.feph_layout import make_synthetic_feph
    from signfer.training.cv import run_cv
    from signfer.training.precision import resolve_precision

    torch.set_num_threads(args.threads)
    auto = resolve_precision("bf16", True, "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_synthetic_feph(tmp / "feph", n_sequences=args.sequences, frames_per_sequence=4,
                                   size=(args.image_size, args.image_size), awkward_rows=False)
        base = [f"image_size={args.image_size}", "preset=none", "val_fraction=0", "folds=5", f"stages.*.epochs={args.epochs}",
                "init_from=null"]  # easier2025 starts from its AffectNet run; here from ImageNet
        if args.pretrained:
            base.append("pretrained=null" if args.pretrained.lower() == "none" else f"pretrained={args.pretrained}")
        runs = {}
        for name, extra in (("fp32", ["precision=fp32", "channels_last=false"]), ("auto", ["precision=bf16", "channels_last=true"])):
            t = time.perf_counter()
            summary = run_cv(args.recipe, data, tmp / name, overrides=base + extra, progress=False, cache_dir=tmp / "crops")
            runs[name] = (summary, time.perf_counter() - t)

    fp32, t32 = runs["fp32"]
    fast, tfast = runs["auto"]
    label = f"{auto.precision}{' + channels-last' if auto.channels_last else ''}"
    print(f"\n{args.recipe}, {args.image_size} px, {args.sequences * 4} synthetic images, 5 folds, {args.epochs} epoch(s) per stage, "
          f"{args.threads} thread(s); automatic mode: {label}\n")
    print(f"| fold | fp32 mean sens. | {label} mean sens. | fp32 acc. | {label} acc. |")
    print("|---|---:|---:|---:|---:|")
    for fold in fp32.index:
        print(f"| {fold} | {fp32.loc[fold, 'avg_sens']:.1f} | {fast.loc[fold, 'avg_sens']:.1f} | "
              f"{fp32.loc[fold, 'acc']:.1f} | {fast.loc[fold, 'acc']:.1f} |")
    d = fast.loc["mean", "avg_sens"] - fp32.loc["mean", "avg_sens"]
    print(f"\nmean sensitivity: {label} - fp32 = {d:+.2f} points (target: within 2); "
          f"wall time fp32 {t32:.0f} s, {label} {tfast:.0f} s ({t32 / tfast:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
