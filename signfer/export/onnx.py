"""``signfer export``: ONNX files of signfer models that carry their preprocessing, checked against PyTorch.

Every exported file carries, in its ``metadata_props``, the model's :class:`ModelSpec` as
JSON (``signfer.model_spec``), the opset, the signfer version and the source it was exported from
(read back by :mod:`signfer.inference.onnx`). Exports have a dynamic batch axis and are checked
against PyTorch before they are written; ``--quantize int8`` is :mod:`signfer.export.int8`.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signfer.errors import ExportMismatch, OptionError, UserError  # noqa: F401 - ExportMismatch: raised here, imported from here
from signfer.inference.classifier import softmax
from signfer.io import InputError, atomic_path, refuse_overwrite
from signfer.inference.onnx import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, SPEC_KEY, model_input_hw
from signfer.models.spec import ModelSpec

EXPORT_FORMATS = ("onnx",)
#: the export check: |ONNX - PyTorch| <= ATOL + RTOL x (largest |logit| of the image) on every logit, <= ATOL on every probability
#: (float32 kernels differ in the last bits: a logit near 88 differs by about 1e-4, 1e-6 of itself)
ATOL, RTOL = 1e-4, 1e-5


@dataclass
class OnnxExport:
    """What :func:`export_onnx` wrote and how closely it matches PyTorch."""

    path: Path
    opset: int
    max_abs_diff_logits: float
    max_abs_diff_probabilities: float
    input_shape: tuple[int, ...]
    spec: ModelSpec
    quantization: dict | None = None  #: int8 only: agreement with float32 and speed (:mod:`signfer.export.int8`)
    report_path: Path | None = None


def export_onnx(
    model,
    spec: ModelSpec,
    path: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    atol: float = ATOL,
    rtol: float = RTOL,
    source: str = "",
    seed: int = 0,
) -> OnnxExport:
    """Export a PyTorch classifier to ONNX with its spec in the metadata; written only if it matches PyTorch.

    The check feeds 3 inputs (random images normalised as the spec says) through both and
    requires |difference| <= ``atol + rtol * (the image's largest |PyTorch logit|)`` on every logit
    (relative: large logits differ in their last float32 bits) and <= ``atol`` on every probability; otherwise raises
    :class:`ExportMismatch` and writes nothing.
    """
    import onnx
    import onnxruntime as ort
    import torch

    import signfer

    model = model.eval().to("cpu")
    h, w = model_input_hw(spec)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(3, h, w, 3), dtype=np.uint8)
    x = spec.normalize(pixels)
    with torch.inference_mode():
        ref = model(torch.from_numpy(x)).float().numpy()
    if ref.ndim != 2 or ref.shape[1] != spec.num_classes:
        raise OptionError(f"model output shape {ref.shape} does not match the spec's {spec.num_classes} classes")
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: stable for these CNNs
        torch.onnx.export(
            model,
            (torch.from_numpy(x[:1]),),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
        proto = onnx.load(str(tmp))
        meta = {
            SPEC_KEY: json.dumps(spec.to_dict(), sort_keys=True),
            "signfer.version": signfer.__version__,
            "signfer.opset": str(opset),
            "signfer.source": str(source),
            "signfer.torch_version": torch.__version__,
        }
        del proto.metadata_props[:]
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        proto.producer_name = "signfer"
        proto.doc_string = f"signfer {spec.arch} ({spec.num_classes} classes: {', '.join(spec.class_names)})"
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        out = sess.run(None, {INPUT_NAME: x})[0]
        diff = np.abs(out - ref)
        d_logits = float(diff.max())
        d_probs = float(np.abs(softmax(out) - softmax(ref)).max())
        # rounding grows with the size of the row's logits (they share the last layer's sums): tolerance per image
        excess = float((diff - rtol * np.abs(ref).max(axis=1, keepdims=True)).max())  # <= atol: all within
        if not (excess <= atol and d_probs <= atol):
            raise ExportMismatch(
                f"ONNX export of {source or spec.arch} differs from PyTorch by {d_logits:.2e} (logits, largest "
                f"{float(np.abs(ref).max()):.3g}) / {d_probs:.2e} (probabilities), more than {atol:g} + {rtol:g} x the largest |logit|; "
                "nothing written"
            )
    return OnnxExport(path, opset, d_logits, d_probs, (-1, x.shape[1], h, w), spec)


def default_export_path(name_or_path: str | os.PathLike, checkpoint: str | None) -> Path:
    """Beside the checkpoint (``best.pt`` -> ``best.onnx``), or ``./<name>.onnx`` for a named model."""
    if checkpoint:
        return Path(checkpoint).with_suffix(".onnx")
    return Path(f"{Path(str(name_or_path)).name.replace(':', '_')}.onnx")


def export_model(
    run_or_checkpoint: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    format: str = "onnx",
    fold: int | None = None,
    opset: int = DEFAULT_OPSET,
    atol: float = ATOL,
    quantize: str | None = None,
    calibration: str | os.PathLike | None = None,
    min_agreement: float = 0.98,
    threads: int | None = None,
) -> OnnxExport:
    """``signfer export``: a run dir (its best fold or ``fold``), a ``.pt`` checkpoint or a model name to ONNX.

    The file gets a dynamic batch axis, the opset and the model's spec in its metadata, and is
    written only after its outputs matched PyTorch's to ``atol``. ``quantize="int8"``: the file
    is the int8 model (:func:`signfer.export.int8.quantize_int8`, default name
    ``best.int8.onnx``) calibrated on ``calibration`` (a run folder or a folder of face images;
    default: the exported run's own data, its test fold held out), written only when its top-1
    agreement with float32 on the held-out crops is at least ``min_agreement``; the figures go
    into ``<file>.json`` beside it (the export report) and the file's metadata.
    """
    from signfer.inference.classifier import load_torch_model, resolve_model

    if format.lower() not in EXPORT_FORMATS:
        raise OptionError(f"unsupported export format {format!r}; supported: {', '.join(EXPORT_FORMATS)}")
    source = resolve_model(run_or_checkpoint, fold)
    if source.kind == "onnx":
        raise OptionError(f"{source.location} is an ONNX file already")
    if quantize not in (None, "", "none", "int8"):
        raise OptionError(f"--quantize must be int8 (or none), got {quantize!r}")
    checkpoint = source.location if source.kind == "checkpoint" else None
    default = default_export_path(run_or_checkpoint, checkpoint)
    if quantize == "int8":
        default = default.with_suffix(".int8.onnx")
    target = Path(out) if out else default
    if target.suffix.lower() != ".onnx" and (target.is_dir() or not target.suffix):
        target = target / default.name
    refuse_overwrite([target, target.with_name(target.name + ".json")], [source.location] if checkpoint else [], writes="ONNX model")
    model, spec = load_torch_model(source)
    if quantize != "int8":
        return export_onnx(model, spec, target, opset=opset, atol=atol, source=source.description)

    import tempfile

    from signfer.export.int8 import calibration_crops, quantize_int8

    fold_of = None
    if checkpoint and Path(checkpoint).parent.name.startswith("fold_"):
        fold_of = int(Path(checkpoint).parent.name.split("_", 1)[1])
    if calibration is None:
        run_dir = Path(checkpoint).parent.parent if fold_of is not None else None
        if run_dir is None or not (run_dir / "run.yaml").is_file():
            raise InputError(Path(str(run_or_checkpoint)), "--quantize int8 needs face crops to calibrate on: pass "
                             "--calibration RUN_DIR or a folder of face images")
        calibration = run_dir
    calib, held, where = calibration_crops(calibration, spec, fold=fold_of)
    with tempfile.TemporaryDirectory(prefix="signfer-export-") as tmp:
        res = export_onnx(model, spec, Path(tmp) / "fp32.onnx", opset=opset, atol=atol, source=source.description)
        report = quantize_int8(res.path, target, calib, held, min_agreement=min_agreement, threads=threads, source=where)
    report_path = target.with_name(target.name + ".json")
    from signfer.io import atomic_write

    with atomic_write(report_path) as fh:
        json.dump({"model": str(target), "source": source.description, "opset": opset,
                   "max_abs_diff_logits_fp32": res.max_abs_diff_logits, "quantization": report}, fh, indent=2)
    return OnnxExport(target, opset, res.max_abs_diff_logits, res.max_abs_diff_probabilities, res.input_shape, spec,
                      quantization=report, report_path=report_path)
