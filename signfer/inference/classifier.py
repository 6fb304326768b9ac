"""What runs a model, below the :class:`~signfer.inference.recognizer.Recognizer` facade and the ONNX export.

Model sources (a name, a checkpoint, a run dir, an ONNX file), the face preprocessing a model was trained
with (:func:`preset_for_spec`), the eager PyTorch classifier, the exact table normaliser, and the one
``softmax`` of signfer's inference (logits -> probabilities). No torch import at module level.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signfer.errors import OptionError
from signfer.models.spec import ModelSpec
from signfer.models.weights import WeightsUnavailable


# --------------------------------------------------------------------------- model sources
@dataclass
class ModelSource:
    """Where a model comes from: ``kind`` is ``name`` (load_pretrained), ``checkpoint`` or ``onnx``."""

    kind: str
    location: str
    description: str


def _fold_metric(fold_dir: Path, metric: str) -> float | None:
    path = fold_dir / "metrics.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get(metric)
        return float(value) if value is not None else None
    except (OSError, ValueError, TypeError):
        return None


def resolve_run_dir(run_dir: Path, fold: int | None = None, metric: str = "accuracy") -> tuple[Path, str]:
    """(checkpoint, description) of a ``signfer train`` run dir: ``fold_<fold>/best.pt`` or the best fold's by ``metric``."""
    if fold is not None:
        ckpt = run_dir / f"fold_{fold}" / "best.pt"
        if not ckpt.exists():
            have = sorted(p.parent.name for p in run_dir.glob("fold_*/best.pt"))
            raise WeightsUnavailable(
                f"{ckpt} is needed but does not exist; train that fold with `signfer train ... --fold {fold}` "
                f"into {run_dir}" + (f" (this run has {', '.join(have)})" if have else "")
            )
        return ckpt, f"{run_dir} fold {fold}"
    if (run_dir / "best.pt").exists():  # a fold dir itself
        return run_dir / "best.pt", str(run_dir)
    folds = sorted(run_dir.glob("fold_*/best.pt"), key=lambda p: p.parent.name)
    if not folds:
        raise WeightsUnavailable(
            f"{run_dir} is a folder but holds no fold_<k>/best.pt: a model needs RUN_DIR/fold_<k>/best.pt "
            "(written by `signfer train` / `signfer cv`), a .pt checkpoint or a .onnx file from `signfer export`"
        )
    if len(folds) == 1:
        return folds[0], f"{run_dir} {folds[0].parent.name.replace('_', ' ')}"
    scored = [(_fold_metric(p.parent, metric), p) for p in folds]
    if any(s is None for s, _ in scored):
        missing = [p.parent.name for s, p in scored if s is None]
        raise WeightsUnavailable(
            f"{run_dir}: cannot pick the best fold, {', '.join(missing)} lack metrics.json with {metric!r}; "
            "choose one with fold=K (--fold K)"
        )
    best_score, best = max(scored, key=lambda sp: (sp[0], -int(sp[1].parent.name.split("_")[-1]) if sp[1].parent.name.split("_")[-1].isdigit() else 0))
    return best, f"{run_dir} {best.parent.name.replace('_', ' ')} (best {metric} {best_score:.3f} of {len(folds)} folds)"


def resolve_model(name_or_path: str | os.PathLike, fold: int | None = None) -> ModelSource:
    """Tell a model name from a checkpoint, run dir or ONNX file (no weights are loaded)."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        ckpt, desc = resolve_run_dir(path, fold)
        return ModelSource("checkpoint", str(ckpt), desc)
    if path.is_file():
        kind = "onnx" if path.suffix.lower() == ".onnx" else "checkpoint"
        return ModelSource(kind, str(path), str(path))
    if path.suffix.lower() in (".pt", ".pth", ".onnx", ".ckpt") or os.sep in text or text.startswith("."):
        raise WeightsUnavailable(f"model file {path} does not exist (a .pt checkpoint, a run dir or a .onnx file is needed there)")
    return ModelSource("name", text, text)


def load_torch_model(source: ModelSource):
    """(torch model in eval mode, ModelSpec) for a ``name`` or ``checkpoint`` source.

    Both go through :func:`signfer.models.load_pretrained`, which knows the names, signfer
    checkpoints and HSEmotion / FER2013 files, and says which file is needed when one is missing.
    """
    if source.kind == "onnx":
        raise OptionError(f"{source.location}: an ONNX file has no PyTorch model; use backend='onnx'")
    from signfer.models import load_pretrained

    model, spec = load_pretrained(source.location)
    return model.eval(), spec


def preset_for_spec(spec: ModelSpec):
    """The face preprocessing :class:`~signfer.faces.presets.Preset` a model was trained with."""
    from signfer.faces.presets import preset_for

    overrides = dict(spec.preset_overrides or {})
    overrides["size"] = int(spec.input_size)
    return preset_for(spec.preset, overrides, spec.preset_fields)  # by value where the spec stores the preset


# --------------------------------------------------------------------------- classifiers
class TorchClassifier:
    """Eager PyTorch model: ``clf(x)`` maps normalised (N, C, H, W) float32 to logits."""

    backend = "torch"

    def __init__(self, model, device: str = "cpu"):
        import torch

        self.device = torch.device(device)
        self.model = model.eval().to(self.device)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(np.ascontiguousarray(x)).to(self.device)).float().cpu().numpy()


class LookupNormalizer:
    """``spec.normalize`` of RGB uint8 crops through a per-channel table of its 256 outputs: bit-identical
    results, several times faster (one table look-up per value instead of float arithmetic on the batch).

    Built from ``spec.normalize`` itself and checked against it on every value of every channel; call
    :meth:`for_spec`, which returns ``None`` when the normalisation mixes channels (grayscale).
    """

    def __init__(self, tables: np.ndarray, sources: tuple[int, ...]):
        self.tables = tables  # (C, 256) float32: output channel c of input value v
        self.sources = sources  # input channel feeding each output channel

    @classmethod
    def for_spec(cls, spec: ModelSpec) -> "LookupNormalizer | None":
        if spec.grayscale:
            return None
        ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None, None], 3, axis=3)  # (1, 256, 1, 3)
        try:
            tables = np.ascontiguousarray(spec.normalize(ramp)[0, :, :, 0], dtype=np.float32)
        except Exception:  # noqa: BLE001 - an unusual spec: keep its own normalize
            return None
        sources = (2, 1, 0) if spec.normalization == "caffe" else (0, 1, 2)
        norm = cls(tables, sources)
        rng = np.random.default_rng(0)
        probe = np.stack([rng.permutation(256).astype(np.uint8).reshape(16, 16) for _ in range(3)], axis=2)[None]
        return norm if np.array_equal(norm(probe), spec.normalize(probe)) else None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, C, H, W) float32, exactly as ``spec.normalize``."""
        import cv2

        n, h, w = batch.shape[:3]
        out = np.empty((n, len(self.tables), h, w), np.float32)
        for i in range(n):
            planes = cv2.split(np.ascontiguousarray(batch[i]))
            for c, src in enumerate(self.sources):
                cv2.LUT(planes[src], self.tables[c], dst=out[i, c])
        return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities of logits along the last axis (float64 inside; the one softmax of signfer's inference)."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


