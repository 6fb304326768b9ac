"""signfer checkpoints: a model's weights with the :class:`ModelSpec` that says how to feed it.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python data, so it
loads with ``torch.load(weights_only=True)`` (no code runs while reading it)::

    {"format": "signfer-checkpoint", "version": 1,
     "spec": ModelSpec.to_dict(), "state_dict": {...}, "extra": {...}}

The model is rebuilt from ``spec.arch`` with :func:`signfer.models.registry.create_model`.
:func:`load_state_dict_file` reads the weights of any plain file as well: a signfer
checkpoint, a ``.safetensors`` file, or a ``torch.save``-d state dict (also one wrapped in
``{"state_dict": ...}`` / ``{"model": ...}``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from signfer.errors import OptionError
from signfer.io import InputError, atomic_path, atomic_write
from signfer.models.spec import ModelSpec

FORMAT = "signfer-checkpoint"
VERSION = 1


def _plain(value, where: str = "extra"):
    """``extra`` as data ``weights_only`` loading accepts: numpy arrays become tensors, numpy scalars Python numbers."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        out = [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return out if isinstance(value, list) else tuple(out)
    if value is None or isinstance(value, (bool, int, float, str, bytes, torch.Tensor, torch.dtype, torch.device, torch.Size)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{where}: a {type(value).__name__} cannot be stored in a checkpoint (use tensors, numbers, strings, lists, dicts)")


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, spec: ModelSpec, extra: dict | None = None) -> Path:
    """Write ``model``'s weights, ``spec`` and ``extra`` (optimiser state, epoch, RNG states...) atomically.

    ``spec.arch`` is stored as the architecture the model was actually built as (a model from
    :func:`~signfer.models.registry.create_model` knows it, e.g. ``tf_efficientnet_b0`` for
    ``efficientnet_b0`` started from HSEmotion weights), so :func:`load_checkpoint` rebuilds
    the same structure. In ``extra``, numpy arrays are stored as tensors.
    """
    path = Path(path)
    spec_dict = spec.to_dict()
    built_as = getattr(model, "signfer_arch", None)
    if built_as:
        spec_dict["arch"] = built_as
    classifier_out = _classifier_outputs(model)
    if classifier_out is not None and classifier_out != len(spec.class_names):
        raise OptionError(f"the model has {classifier_out} outputs but the spec names {len(spec.class_names)} classes: {spec.class_names}")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "spec": spec_dict,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": _plain(extra or {}),
    }
    # Serialise in memory first: torch.save reports a failed file write as a RuntimeError, while a plain
    # file write raises OSError naming the checkpoint (full disk, file too large, no permission).
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_write(path, "wb") as fh:
        fh.write(buffer.getbuffer())
    return path


def _classifier_outputs(model: torch.nn.Module) -> int | None:
    get = getattr(model, "get_classifier", None)
    if get is None:
        return None
    head = get()
    weight = getattr(head, "weight", None)
    return int(weight.shape[0]) if isinstance(weight, torch.Tensor) else None


def _read(path: Path, map_location="cpu"):
    if not path.exists():
        raise InputError(path, "file does not exist")
    if path.is_dir():
        raise InputError(path, "is a folder, not a weights file (for a run directory pass fold_<k>/best.pt)")
    if path.suffix == ".safetensors":
        return load_safetensors(path, map_location)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        msg = str(exc).splitlines()[0][:300]
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise InputError(path, "holds pickled Python objects (a whole pickled model?), not plain weights; "
                             "signfer does not run code from weight files. Convert it with "
                             "signfer.models.hsemotion.convert_pickled_model(path, trust_pickle=True) if you trust it") from None
        raise InputError(path, f"not a readable weights file ({msg})") from None


def safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a ``.safetensors`` file (``{}`` if none); :class:`InputError` when the file is not one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return dict(f.metadata() or {})
    except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError, and a header that is not JSON
        raise InputError(path, f"not a readable safetensors file ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})") from None


def load_safetensors(path: str | os.PathLike, device: str = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file; :class:`InputError` when the file is not one."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device=str(device))
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"not a readable safetensors file ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})") from None


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> tuple[torch.nn.Module, ModelSpec, dict]:
    """``(model, spec, extra)`` from a file written by :func:`save_checkpoint`; the model is in eval mode.

    Raises :class:`~signfer.io.InputError` naming the file when it is missing, unreadable or
    not a signfer checkpoint.
    """
    from signfer.models.archs import build_arch

    path = Path(path)
    data = _read(path, map_location)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(path, "not a signfer checkpoint (no model spec inside); pass it as pretrained=... to start a model from its weights")
    if int(data.get("version", 0)) > VERSION:
        raise InputError(path, f"written by a newer signfer (checkpoint version {data['version']} > {VERSION})")
    spec = ModelSpec.from_dict(data["spec"])
    model = build_arch(spec.arch, spec.num_classes)
    try:
        model.load_state_dict(data["state_dict"])
    except RuntimeError as exc:
        raise InputError(path, f"weights do not fit the architecture {spec.arch!r}: {str(exc)[:400]}") from None
    model.eval()
    return model, spec, data.get("extra") or {}


def load_state_dict_file(path: str | os.PathLike, map_location="cpu") -> tuple[dict[str, torch.Tensor], ModelSpec | None]:
    """The weights in ``path`` and, for a signfer checkpoint, its spec (else None).

    Accepts a signfer checkpoint, a ``.safetensors`` file or a ``torch.save``-d state dict,
    possibly wrapped as ``{"state_dict": ...}``, ``{"model": ...}`` or ``{"model_state_dict": ...}``.
    """
    path = Path(path)
    data = _read(path, map_location)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return data["state_dict"], ModelSpec.from_dict(data["spec"])
    if isinstance(data, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise InputError(path, "holds no state dict (a mapping of parameter names to tensors)")
    return {k.removeprefix("module."): v for k, v in data.items()}, None


def save_state_dict(path: str | os.PathLike, state_dict: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    """Write a state dict as a ``.safetensors`` file (atomically), with optional string metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={k: str(v) for k, v in (metadata or {}).items()})
    return path
