"""An ONNX Runtime classifier that reads its preprocessing from the file.

Every file signfer exports (:mod:`signfer.export.onnx`) carries, in its ``metadata_props``, the model's
:class:`ModelSpec` as JSON (``signfer.model_spec``: preset, input size, normalisation, class names, ...).
:class:`OnnxClassifier` refuses files without a spec, so inference can never feed a model the wrong input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from signfer.io import InputError
from signfer.models.spec import ModelSpec
from signfer.runtime import cpu_session_options

SPEC_KEY = "signfer.model_spec"
DEFAULT_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


#: the top-1 agreement with float32 (on held-out crops, recorded by ``signfer export --quantize int8``) an int8 model
#: beside the float one needs before ``annotate`` runs it instead
INT8_MIN_AGREEMENT = 0.99


def int8_beside(float_model: str | os.PathLike) -> tuple[Path, float] | None:
    """``(best.int8.onnx, its top-1 agreement)`` for a float model ``best.pt`` / ``best.onnx`` when the int8 file that
    ``signfer export --quantize int8`` writes sits beside it with its report (``best.int8.onnx.json``), the report
    records an agreement of at least :data:`INT8_MIN_AGREEMENT`, and neither is older than the float model (an int8
    file left from an earlier training is never used); else ``None``."""
    src = Path(float_model)
    int8 = src.with_name(src.stem + ".int8.onnx")
    report = int8.with_name(int8.name + ".json")
    if src.suffix.lower() not in (".pt", ".pth", ".ckpt", ".onnx") or src.name.endswith(".int8.onnx"):
        return None
    try:
        if not (int8.is_file() and report.is_file()):
            return None
        newest = src.stat().st_mtime
        if int8.stat().st_mtime < newest or report.stat().st_mtime < newest:
            return None
        agreement = float(json.loads(report.read_text(encoding="utf-8"))["quantization"]["top1_agreement"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (int8, agreement) if agreement >= INT8_MIN_AGREEMENT else None


def model_input_hw(spec: ModelSpec) -> tuple[int, int]:
    """Height and width of the crops the model's preprocessing produces (half faces may be half height)."""
    from signfer.inference.classifier import preset_for_spec

    try:
        return tuple(int(v) for v in preset_for_spec(spec).output_shape(spec.region))
    except (KeyError, ValueError):  # a preset unknown here: the spec's square size
        return spec.input_size, spec.input_size


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file."""
    import onnxruntime as ort

    path = Path(path)
    if not path.exists():
        raise InputError(path, "file does not exist")
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise InputError(path, f"not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None
    return dict(sess.get_modelmeta().custom_metadata_map)


def spec_from_metadata(meta: dict[str, str], path: str | os.PathLike) -> ModelSpec:
    if SPEC_KEY not in meta:
        raise InputError(
            path,
            f"this ONNX file carries no signfer model spec ({SPEC_KEY} in metadata_props), so its preprocessing is "
            "unknown; export the model with `signfer export CHECKPOINT --format onnx`",
        )
    return ModelSpec.from_dict(json.loads(meta[SPEC_KEY]))


def read_spec(path: str | os.PathLike) -> ModelSpec:
    """The :class:`ModelSpec` stored in a signfer ONNX file."""
    return spec_from_metadata(read_metadata(path), path)


class OnnxClassifier:
    """ONNX Runtime session of a model: ``clf(x)`` maps normalised (N, C, H, W) float32 to class logits.

    ``spec``: the :class:`ModelSpec` of a file that carries none (a published export such as
    HSEmotion's); otherwise the spec stored in the file is used and a file without one is
    refused. :meth:`run` also returns the spec's ``extra_outputs`` (e.g. valence, arousal):
    ``(logits (N, num_classes), {name: (N,) values})``; ``clf(x)`` is its logits.
    """

    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, providers: list[str] | None = None,
                 spec: ModelSpec | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "file does not exist")
        opts = cpu_session_options(threads)
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:
            raise InputError(self.path, f"not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.spec = spec if spec is not None else spec_from_metadata(self.metadata, self.path)
        self.input_name = self.session.get_inputs()[0].name
        self.fixed_batch = self._check_input(self.session.get_inputs()[0].shape)
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width < self.spec.output_width:
            raise InputError(self.path, f"the model gives {width} outputs per image, but its spec names {self.spec.num_classes} "
                             f"classes{' and extra outputs ' + str(self.spec.extra_outputs) if self.spec.extra_outputs else ''}")

    def _check_input(self, shape) -> int | None:
        """Check once, at load, that the graph takes what the spec's preprocessing makes: (N, C, H, W) with the spec's
        channels and crop size (an :class:`InputError` saying both otherwise). Returns the graph's fixed batch size, if any."""
        h, w = model_input_hw(self.spec)
        want = (1 if self.spec.grayscale else 3, h, w)
        dims = list(shape)
        fixed = [d if isinstance(d, int) and d > 0 else None for d in dims]
        if len(dims) != 4 or any(f is not None and f != v for f, v in zip(fixed[1:], want)):
            shown = "(" + ", ".join(str(d) if isinstance(d, int) else "N" for d in dims) + ")"
            raise InputError(self.path, f"the model takes input {shown}, but its spec's preprocessing (preset {self.spec.preset}, "
                             f"region {self.spec.region}, {'grayscale' if self.spec.grayscale else 'RGB'}) makes crops (N, {want[0]}, {h}, {w}); "
                             "export the model again from its checkpoint (`signfer export`), or give the spec that matches it")
        return fixed[0]

    def run(self, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(class logits (N, num_classes), {extra output name: (N,) values}) of a normalised batch.
        A graph with a fixed batch size B (some published exports) gets the batch in slices of B, the last one padded."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        b = self.fixed_batch
        if b is None or len(x) == b:
            out = self.session.run(None, {self.input_name: x})[0]
        else:
            parts = []
            for i in range(0, len(x), b):
                part = x[i : i + b]
                if len(part) < b:
                    part = np.concatenate([part, np.zeros((b - len(part), *x.shape[1:]), np.float32)])
                parts.append(self.session.run(None, {self.input_name: part})[0])
            out = np.concatenate(parts)[: len(x)] if parts else np.zeros((0, self.spec.output_width), np.float32)
        return self.spec.split_outputs(out)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.run(x)[0]




