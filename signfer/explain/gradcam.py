"""Grad-CAM saliency on the last convolutional block, overlays and per-region attention shares.

Uses the maintained ``grad-cam`` package (``pytorch_grad_cam.GradCAM``). The target layer is
found by running the model once: it is the last module whose output is a 4-D feature map
before the first global pooling (timm's ``conv_head``/``bn2`` for MobileNet/EfficientNet,
``layer4`` for ResNets, the last conv of the mini-Xception). A model may name its own with a
``gradcam_layer`` attribute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from signfer.explain.occlusion import REGIONS, FaceLayout, region_masks
from signfer.models.spec import ModelSpec

_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d, nn.Flatten)


def _is_global_pool(module: nn.Module) -> bool:
    if isinstance(module, _POOLS):
        return True
    try:  # timm's SelectAdaptivePool2d and friends
        from timm.layers import SelectAdaptivePool2d

        return isinstance(module, SelectAdaptivePool2d)
    except ImportError:  # pragma: no cover - timm is a dependency
        return False


def find_target_layer(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """The last module producing a 4-D feature map before the first global pooling of ``model``.

    ``example`` is one input batch (N, C, H, W) used for a dry run. A model attribute
    ``gradcam_layer`` (a module) takes precedence.
    """
    explicit = getattr(model, "gradcam_layer", None)
    if isinstance(explicit, nn.Module):
        return explicit
    fired: list[tuple[nn.Module, bool]] = []
    handles = []

    def hook(module, _inp, out):
        fired.append((module, isinstance(out, torch.Tensor) and out.ndim == 4))

    for name, module in model.named_modules():
        if name:  # not the model itself
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example[:1])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    target = None
    for module, is_map in fired:
        if _is_global_pool(module):
            break
        if is_map:
            target = module
    if target is None:
        raise ValueError(f"{type(model).__name__}: no 4-D feature map before the global pooling; cannot run Grad-CAM")
    return target


@dataclass
class CamResult:
    """Grad-CAM maps ``cams`` (N, H, W) in [0, 1] at the input size, the softmax ``probabilities``
    (N, classes) and the class index each map explains (``targets``)."""

    cams: np.ndarray
    probabilities: np.ndarray
    targets: np.ndarray


def _class_index(target, class_names: Sequence[str]) -> int:
    if isinstance(target, (int, np.integer)):
        if not 0 <= int(target) < len(class_names):
            raise ValueError(f"class index {target} out of range for {len(class_names)} classes")
        return int(target)
    if target not in class_names:
        raise ValueError(f"unknown class {target!r}; the model knows: {', '.join(class_names)}")
    return list(class_names).index(target)


def gradcam(model: nn.Module, spec: ModelSpec, crops: Sequence[np.ndarray] | np.ndarray, target=None,
            batch_size: int = 16, layer: nn.Module | None = None) -> CamResult:
    """Grad-CAM of ``model`` on preprocessed RGB uint8 ``crops`` (all of one shape, as the model takes them).

    ``target``: ``None`` explains the predicted class of each crop; a class name or index
    explains that class for every crop; a sequence gives one per crop.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    crops = np.asarray(np.stack([np.asarray(c, np.uint8) for c in crops]) if not isinstance(crops, np.ndarray) else crops, np.uint8)
    if crops.ndim != 4 or crops.shape[-1] != 3:
        raise ValueError(f"expected RGB crops (N, H, W, 3), got shape {crops.shape}")
    n = len(crops)
    if target is None or isinstance(target, (str, int, np.integer)):
        wanted = [target] * n
    else:
        wanted = list(target)
        if len(wanted) != n:
            raise ValueError(f"{len(wanted)} targets for {n} crops")
    device = next(model.parameters()).device
    x_all = torch.from_numpy(np.require(spec.normalize(crops), np.float32, ["C", "W"]))
    if layer is None:
        layer = find_target_layer(model, x_all[:1].to(device))
    was_training = model.training
    cams, probs, targets = [], [], []
    cam = GradCAM(model=model, target_layers=[layer])
    try:
        with torch.enable_grad():
            for start in range(0, n, batch_size):
                x = x_all[start:start + batch_size].to(device).requires_grad_(True)
                with torch.no_grad():
                    p = torch.softmax(model.eval()(x).float(), dim=1).cpu().numpy()
                idx = [int(p[i].argmax()) if w is None else _class_index(w, spec.class_names) for i, w in enumerate(wanted[start:start + len(x)])]
                cams.append(cam(input_tensor=x, targets=[ClassifierOutputTarget(i) for i in idx]))
                probs.append(p)
                targets.extend(idx)
    finally:
        cam.activations_and_grads.release()
        model.train(was_training)
    return CamResult(np.concatenate(cams).astype(np.float32), np.concatenate(probs), np.asarray(targets))


def overlay(crop: np.ndarray, cam: np.ndarray, image_weight: float = 0.5) -> np.ndarray:
    """The RGB uint8 ``crop`` with the saliency ``cam`` (H, W, values in [0, 1]) as a JET heat map over it."""
    import cv2
    from pytorch_grad_cam.utils.image import show_cam_on_image

    crop = np.asarray(crop, np.uint8)
    cam = np.asarray(cam, np.float32)
    if cam.shape != crop.shape[:2]:
        cam = cv2.resize(cam, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    return show_cam_on_image(crop.astype(np.float32) / 255.0, np.clip(cam, 0, 1), use_rgb=True, image_weight=image_weight)


def cam_in_full_frame(cam: np.ndarray, region: str, split: float = 0.5) -> np.ndarray:
    """Place the map of a half-face crop into the square full-face frame it was cut from (zeros elsewhere).

    ``region`` is the crop's (``full`` returns ``cam`` unchanged); ``split`` the fraction of the
    height where the crop was cut (:attr:`FaceLayout.split`). Half crops are stretched back to
    their rows of a ``width x width`` frame.
    """
    import cv2

    cam = np.asarray(cam, np.float32)
    if region == "full":
        return cam
    if region not in ("upper", "lower") or not 0 < split < 1:
        raise ValueError(f"cannot place a map of region {region!r} split at {split} into a full-face frame")
    w = cam.shape[1]
    row = min(max(int(round(split * w)), 1), w - 1)
    rows = row if region == "upper" else w - row
    full = np.zeros((w, w), np.float32)
    placed = cv2.resize(cam, (w, rows), interpolation=cv2.INTER_LINEAR)
    if region == "upper":
        full[:row] = placed
    else:
        full[row:] = placed
    return full


def attention_share(cam: np.ndarray, regions: Mapping[str, np.ndarray] | Sequence[str] = REGIONS,
                    layout: FaceLayout | None = None) -> dict[str, float]:
    """Fraction of the saliency mass of ``cam`` (H, W, non-negative) inside each region.

    ``regions`` is a ``{name: boolean (H, W) mask}`` mapping or region names of
    :mod:`signfer.explain.occlusion` (masks built for a full-face crop with ``layout``).
    ``upper`` + ``lower`` add up to 1; ``eyes`` and ``mouth`` are shares of the whole face.
    A map with no mass gives NaN for every region.
    """
    cam = np.clip(np.asarray(cam, np.float64), 0, None)
    if not isinstance(regions, Mapping):
        regions = region_masks(cam.shape, regions, layout)
    total = cam.sum()
    out = {}
    for name, mask in regions.items():
        mask = np.asarray(mask, bool)
        if mask.shape != cam.shape:
            raise ValueError(f"region {name!r}: mask shape {mask.shape} differs from the map's {cam.shape}")
        out[name] = float(cam[mask].sum() / total) if total > 0 else float("nan")
    return out


# --------------------------------------------------------------------------- models and images from disk
def load_model(model: str | os.PathLike, fold: int | None = None, map_location: str = "cpu") -> tuple[nn.Module, ModelSpec]:
    """A trained model and its spec from a checkpoint file or a run directory (``fold_<k>/best.pt``;
    the lowest trained fold unless ``fold`` is given)."""
    from signfer.io import InputError
    from signfer.models.checkpoint import load_checkpoint

    path = Path(model)
    if path.is_dir():
        if fold is not None:
            ckpt = path / f"fold_{fold}" / "best.pt"
        else:
            found = sorted(path.glob("fold_*/best.pt"), key=lambda p: int(p.parent.name.split("_", 1)[1]) if p.parent.name.split("_", 1)[1].isdigit() else 1 << 30)
            ckpt = found[0] if found else path / "fold_0" / "best.pt"
        if not ckpt.exists():
            raise InputError(path, f"run directory has no trained model ({ckpt.relative_to(path)} missing)")
        path = ckpt
    elif not path.exists():
        raise InputError(path, "model file or run directory does not exist")
    net, spec, _extra = load_checkpoint(path, map_location=map_location)
    net.eval()
    return net, spec
