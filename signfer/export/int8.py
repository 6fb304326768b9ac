"""int8 classifiers: static QDQ quantisation of an exported model, calibrated and checked on the user's own face crops.

``signfer export RUN --quantize int8`` exports the float32 model (:func:`signfer.export.onnx.export_onnx`),
then :func:`quantize_int8` quantises it with ONNX Runtime's static quantiser
(``onnxruntime.quantization.quantize_static``): QDQ format, int8 weights per output channel,
uint8 activations whose ranges are measured (MinMax) on calibration crops. Only the op types
where int8 kernels pay off and keep accuracy are quantised (:data:`DEFAULT_OPS`: convolutions
with their activations, residual additions, pooling, the fully connected layers); the first
convolution (it sees the raw normalised pixels) and the last fully connected layer (the logits)
stay float32, and Softmax / other ops are never quantised: quantising every op broke the
FER2013 model completely.

The quantised model is then compared with the float32 one on *held-out* crops (not used for
calibration): top-1 agreement, the largest and mean absolute difference of the class
probabilities, and the images/s of both at batch 16. A model whose agreement is below
``min_agreement`` is not written (:class:`QuantizationRefused`). The figures go into the
export report and into the file's metadata (``signfer.quantization``).

Calibration and held-out crops (:func:`calibration_crops`) come from a ``signfer train`` run
(its data: calibration from the training folds, held-out = the exported fold's test fold) or
from a folder of face images (split at random); each image is preprocessed exactly as in
training (the model's preset: detection, alignment, crop; the crop cache is shared with
training).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from signfer.errors import QuantizationRefused, UserError
from signfer.inference.classifier import softmax
from signfer.models.spec import ModelSpec

#: op types quantised by default (their int8 kernels are fast in ONNX Runtime and fuse with their QDQ pairs)
DEFAULT_OPS = ("Conv", "Clip", "Relu", "Add", "GlobalAveragePool", "MaxPool", "AveragePool", "Gemm", "MatMul")
QUANT_KEY = "signfer.quantization"


def _session(path, threads: int | None):
    import onnxruntime as ort

    from signfer.runtime import cpu_session_options

    return ort.InferenceSession(str(path), cpu_session_options(threads), providers=["CPUExecutionProvider"])


def _run(session, x: np.ndarray, batch: int = 32) -> np.ndarray:
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x[i : i + batch]})[0] for i in range(0, len(x), batch)])


def images_per_second(session, x: np.ndarray, batch: int = 16, repeats: int = 8) -> float:
    """Images/s of ``session`` on batches of ``batch`` crops (best of ``repeats`` timed runs after one warm-up)."""
    name = session.get_inputs()[0].name
    b = np.ascontiguousarray(np.resize(x, (batch, *x.shape[1:])) if len(x) < batch else x[:batch])
    session.run(None, {name: b})
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        session.run(None, {name: b})
        best = min(best, time.perf_counter() - t)
    return batch / best


def agreement(fp32_logits: np.ndarray, int8_logits: np.ndarray) -> dict:
    """Top-1 agreement and probability differences of two models' logits on the same crops."""
    p, q = softmax(fp32_logits.astype(np.float64)), softmax(int8_logits.astype(np.float64))
    diff = np.abs(p - q)
    return {
        "top1_agreement": float((p.argmax(1) == q.argmax(1)).mean()),
        "max_probability_difference": float(diff.max()),
        "mean_probability_difference": float(diff.mean()),
    }


def _nodes_kept_float(model, op_types) -> list[str]:
    """Names of the first convolution and the last Gemm / MatMul (they stay float32)."""
    nodes = list(model.graph.node)
    keep = []
    first = next((n for n in nodes if n.op_type == "Conv"), None)
    last = next((n for n in reversed(nodes) if n.op_type in ("Gemm", "MatMul")), None)
    for n in (first, last):
        if n is not None and n.op_type in op_types:
            keep.append(n.name)
    return keep


def quantize_int8(
    fp32_path: str | os.PathLike,
    out: str | os.PathLike,
    calibration: np.ndarray,
    held_out: np.ndarray,
    *,
    min_agreement: float = 0.98,
    op_types: tuple[str, ...] | list[str] | None = None,
    keep_first_last: bool = True,
    threads: int | None = None,
    measure_speed: bool = True,
    source: dict | None = None,
) -> dict:
    """Quantise the signfer ONNX file ``fp32_path`` to int8 (static QDQ, per channel) and write it to ``out``.

    ``calibration`` / ``held_out``: normalised (N, C, H, W) float32 crops as the model takes
    them. Returns the report (agreement on ``held_out``, images/s of both models at batch 16,
    what was quantised); raises :class:`QuantizationRefused` (nothing written) when the top-1
    agreement is below ``min_agreement``. ``source``: where the crops came from (for the report).
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from signfer.io import atomic_path

    if len(calibration) == 0 or len(held_out) == 0:
        raise UserError(f"int8 quantisation needs calibration and held-out crops (got {len(calibration)} and {len(held_out)})")
    op_types = tuple(op_types or DEFAULT_OPS)
    fp32_path, out = Path(fp32_path), Path(out)

    class Reader(CalibrationDataReader):
        input_name = "input"

        def __init__(self):
            self._batches = iter([{self.input_name: np.ascontiguousarray(calibration[i : i + 8], dtype=np.float32)}
                                  for i in range(0, len(calibration), 8)])

        def get_next(self):
            return next(self._batches, None)

    with tempfile.TemporaryDirectory(prefix="signfer-int8-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        # constant folding and shape inference first (ONNX Runtime's advice); symbolic inference is not needed here
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        Reader.input_name = model.graph.input[0].name
        exclude = _nodes_kept_float(model, op_types) if keep_first_last else []
        staged = Path(tmp) / "int8.onnx"
        quantize_static(str(pre), str(staged), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=list(op_types),
                        nodes_to_exclude=exclude)
        fp32 = _session(fp32_path, threads)
        int8 = _session(staged, threads)
        report = {
            "method": "onnxruntime static QDQ, int8 weights per channel, uint8 activations, MinMax calibration",
            "op_types": list(op_types),
            "kept_float32": exclude,
            "calibration_images": int(len(calibration)),
            "held_out_images": int(len(held_out)),
            **agreement(_run(fp32, held_out), _run(int8, held_out)),
            "min_agreement": float(min_agreement),
            **(source or {}),
        }
        if measure_speed:
            a, b = images_per_second(fp32, held_out), images_per_second(int8, held_out)
            report.update(batch=16, images_per_second_fp32=round(a, 1), images_per_second_int8=round(b, 1),
                          speedup=round(b / a, 2))
        if report["top1_agreement"] < min_agreement:
            raise QuantizationRefused(
                f"the int8 model agrees with float32 on {100 * report['top1_agreement']:.1f} % of {len(held_out)} held-out "
                f"crops (largest probability difference {report['max_probability_difference']:.3f}), below the required "
                f"{100 * min_agreement:.1f} %; nothing written (lower --min-agreement to accept it, or export float32)",
                report)
        proto = onnx.load(str(staged))
        meta = {p.key: p.value for p in onnx.load(str(fp32_path), load_external_data=False).metadata_props}
        meta[QUANT_KEY] = json.dumps(report, sort_keys=True)
        del proto.metadata_props[:]
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        with atomic_path(out) as target:
            onnx.save(proto, str(target))
    return report


# --------------------------------------------------------------------------- the crops
def _crops(paths, spec: ModelSpec, cache_dir=None) -> np.ndarray:
    """Normalised model inputs of image files, preprocessed as in training (the spec's preset, region, size)."""
    from signfer.data.cache import CropCache

    cache = CropCache(spec.preset, region=spec.region, size=spec.input_size, overrides=dict(spec.preset_overrides or {}),
                      cache_dir=cache_dir)
    return spec.normalize(np.stack([cache.get(p) for p in paths])) if len(paths) else np.zeros((0,), np.float32)


def _run_images(run_dir: Path, fold: int | None) -> tuple[list[str], list[str], str]:
    """(calibration paths from the training folds, held-out paths = the test fold, description) of a run folder."""
    import yaml

    from signfer.data.folds import load_folds
    from signfer.training.prepare import load_data
    from signfer.training.recipes import Recipe

    info = yaml.safe_load((run_dir / "run.yaml").read_text(encoding="utf-8"))
    recipe = Recipe.from_dict(info["recipe"])
    df = load_folds(run_dir / "folds.csv", load_data(info["data"], info["data_format"], recipe))
    if fold is None:
        raise UserError(f"{run_dir}: say which fold's model is quantised (its test fold is held out)")
    test = df["fold"] == int(fold)
    return df.loc[~test, "path"].astype(str).tolist(), df.loc[test, "path"].astype(str).tolist(), f"run {run_dir}, test fold {fold}"


def calibration_crops(
    source: str | os.PathLike,
    spec: ModelSpec,
    *,
    fold: int | None = None,
    n_calibration: int = 64,
    n_held_out: int = 512,
    seed: int = 0,
    cache_dir=None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(calibration crops, held-out crops, description) for quantising a model with ``spec``.

    ``source``: a ``signfer train`` run folder (calibration: ``n_calibration`` images drawn
    from the folds the model trained on; held-out: up to ``n_held_out`` of fold ``fold``'s test
    images) or a folder of face images (shuffled with ``seed``; the first ``n_calibration``, at
    most two thirds, calibrate, the rest up to ``n_held_out`` are held out).
    """
    from signfer.io import InputError, find_media

    root = Path(source)
    rng = np.random.default_rng(seed)
    if (root / "run.yaml").is_file() and (root / "folds.csv").is_file():
        calib, held, where = _run_images(root, fold)
        calib = [calib[i] for i in rng.permutation(len(calib))[:n_calibration]]
        held = [held[i] for i in rng.permutation(len(held))[:n_held_out]]
    elif root.is_dir():
        images = [str(p) for p in find_media(root)]
        if len(images) < 6:
            raise InputError(root, f"holds {len(images)} image(s); int8 calibration needs at least 6 face images "
                             "(some to calibrate, the others to check the int8 model on)")
        images = [images[i] for i in rng.permutation(len(images))]
        k = min(n_calibration, (2 * len(images)) // 3)
        calib, held, where = images[:k], images[k : k + n_held_out], f"folder {root}"
    else:
        raise InputError(root, "calibration data must be a signfer run folder or a folder of face images")
    if not calib or not held:
        raise InputError(root, f"{len(calib)} calibration and {len(held)} held-out images: need both")
    description = {"calibration_source": where}
    return _crops(calib, spec, cache_dir), _crops(held, spec, cache_dir), description
