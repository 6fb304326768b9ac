"""Grad-CAM saliency on the last convolutional block, overlays and per-region attention shares.

Uses the maintained ``grad-cam`` package (``pytorch_grad_cam.GradCAM``). The target layer is
found by running the model once: it is the last module whose output is a 4-D feature map
before the first global pooling or the classifier (timm's ``bn2`` after ``conv_head`` for
MobileNet/EfficientNet, ``layer4`` for ResNets, the Xception blocks of the mini-Xception,
whose classifier is itself a convolution). A model may name its own with a
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

from signfer.errors import OptionError
from signfer.explain.masks import REGIONS, FaceLayout, region_masks
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
    """The last module producing a 4-D feature map before the first global pooling (or the classifier) of ``model``.

    ``example`` is one input batch (N, C, H, W) used for a dry run. A model attribute
    ``gradcam_layer`` (a module) takes precedence.
    """
    explicit = getattr(model, "gradcam_layer", None)
    if isinstance(explicit, nn.Module):
        return explicit
    fired: list[tuple[nn.Module, bool]] = []
    handles = []
    get_classifier = getattr(model, "get_classifier", None)
    head = get_classifier() if callable(get_classifier) else None
    in_head = {id(m) for m in head.modules()} if isinstance(head, nn.Module) else set()

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
        if _is_global_pool(module) or id(module) in in_head:
            break
        if is_map:
            target = module
    if target is None:
        raise OptionError(f"{type(model).__name__}: no 4-D feature map before the global pooling; cannot run Grad-CAM")
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
            raise OptionError(f"class index {target} out of range for {len(class_names)} classes")
        return int(target)
    if target not in class_names:
        raise OptionError(f"unknown class {target!r}; the model knows: {', '.join(class_names)}")
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
        raise OptionError(f"expected RGB crops (N, H, W, 3), got shape {crops.shape}")
    n = len(crops)
    if target is None or isinstance(target, (str, int, np.integer)):
        wanted = [target] * n
    else:
        wanted = list(target)
        if len(wanted) != n:
            raise OptionError(f"{len(wanted)} targets for {n} crops")
    device = next(model.parameters()).device
    # a fresh C-ordered copy: normalize() of grayscale models returns size-1 channel axes with odd strides,
    # on which conv2d's CPU backward pass crashes (torch 2.x)
    x_all = torch.from_numpy(np.array(spec.normalize(crops), dtype=np.float32, order="C", copy=True))
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
        raise OptionError(f"cannot place a map of region {region!r} split at {split} into a full-face frame")
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
    :mod:`signfer.explain.masks` (masks built for a full-face crop with ``layout``).
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
            raise OptionError(f"region {name!r}: mask shape {mask.shape} differs from the map's {cam.shape}")
        out[name] = float(cam[mask].sum() / total) if total > 0 else float("nan")
    return out


# --------------------------------------------------------------------------- models and images from disk
def load_model(model: str | os.PathLike, fold: int | None = None) -> tuple[nn.Module, ModelSpec]:
    """A PyTorch model in eval mode and its spec: a checkpoint, a run directory (``fold_<k>/best.pt``,
    the best fold unless ``fold`` is given) or a pretrained model name, as ``signfer annotate`` takes them."""
    from signfer.inference.recognizer import load_torch_model, resolve_model

    source = resolve_model(model, fold)
    if source.kind == "onnx":
        raise OptionError(f"{model}: Grad-CAM needs the PyTorch model (a .pt checkpoint or run directory), not an ONNX file")
    net, spec = load_torch_model(source)
    return net.eval(), spec


@dataclass
class ExplainedFace:
    """One image under one model: its model input ``crop``, the saliency ``cam`` on it, the map in
    full-face coordinates (``full_cam``) and the region ``shares`` of its mass."""

    source: str
    crop: np.ndarray
    cam: np.ndarray
    full_cam: np.ndarray
    predicted: str
    probability: float
    target: str
    shares: dict


def _model_inputs(images: Sequence[np.ndarray], spec: ModelSpec, crops: bool):
    """(crops at the model's input shape, layouts for attention shares, reasons) for raw images or ready crops."""
    import cv2

    from signfer.explain.masks import layout_for_preset, layout_from_crop
    from signfer.faces.preprocessing import preprocess, preprocess_image
    from signfer.inference.recognizer import preset_for_spec

    preset = preset_for_spec(spec)
    shape = preset.output_shape(spec.region)
    typical = layout_for_preset(preset)
    split = "landmarks" if preset.region_split == "landmarks" else "middle"
    out = []
    for img in images:
        if crops:
            out.append((cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_AREA), typical, ""))
            continue
        crop = preprocess_image(img, preset, region=spec.region)
        if crop is None:
            out.append((None, None, f"no face found by the {preset.detector} detector"))
            continue
        layout = typical
        if crop.face is not None and crop.face.has_eyes:
            full = crop if spec.region == "full" else preprocess(img, crop.face, preset, "full")
            layout = layout_from_crop(full, split=split)
        out.append((crop.pixels, layout, "" if crop.face is not None else "no face found; whole image used"))
    return out


def explain_faces(model: nn.Module, spec: ModelSpec, images: Sequence[np.ndarray], names: Sequence[str] | None = None,
                  target=None, crops: bool = False, regions: Sequence[str] = REGIONS) -> list[ExplainedFace | str]:
    """Grad-CAM of ``model`` on RGB ``images`` (preprocessed as the model's preset says, or used as
    ready face crops with ``crops=True``). One :class:`ExplainedFace` per image, or the reason
    (a string) why an image gave none."""
    names = list(names) if names is not None else [str(i) for i in range(len(images))]
    prepared = _model_inputs(images, spec, crops)
    ok = [i for i, (c, _, _) in enumerate(prepared) if c is not None]
    out: list[ExplainedFace | str] = [prepared[i][2] for i in range(len(images))]
    if not ok:
        return out
    targets = target if target is None or isinstance(target, (str, int, np.integer)) else [target[i] for i in ok]
    res = gradcam(model, spec, np.stack([prepared[i][0] for i in ok]), target=targets)
    for j, i in enumerate(ok):
        crop, layout, _ = prepared[i]
        full = cam_in_full_frame(res.cams[j], spec.region, layout.split)
        p = res.probabilities[j]
        out[i] = ExplainedFace(
            source=names[i], crop=crop, cam=res.cams[j], full_cam=full,
            predicted=spec.class_names[int(p.argmax())], probability=float(p.max()),
            target=spec.class_names[int(res.targets[j])], shares=attention_share(full, regions, layout),
        )
    return out


def _read_inputs(images) -> tuple[list[str], list[np.ndarray | None], list[str]]:
    from signfer.io import IMAGE_SUFFIXES, InputError, find_media, read_image

    paths: list[Path] = []
    for item in [images] if isinstance(images, (str, os.PathLike)) else images:
        if not Path(item).exists():
            paths.append(Path(item))  # recorded as an error below, the other images still run
            continue
        found = find_media(item, IMAGE_SUFFIXES)
        if Path(item).is_dir() and not found:
            raise InputError(item, "holds no images")
        paths += found
    if not paths:
        raise OptionError("no images given")
    arrays, reasons = [], []
    for p in paths:
        try:
            arrays.append(read_image(p))
            reasons.append("")
        except InputError as exc:
            arrays.append(None)
            reasons.append(exc.reason)
    return [str(p) for p in paths], arrays, reasons


def _slug(path: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem).strip("_") or "image"


def _save_grid(panels: list[list[tuple[np.ndarray, str]]], path: Path, col_titles: Sequence[str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from signfer.io import atomic_path

    rows, cols = len(panels), max(len(r) for r in panels)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for r, row in enumerate(panels):
        for c in range(cols):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(row) and row[c][0] is not None:
                ax.imshow(row[c][0])
                ax.set_title(row[c][1], fontsize=8)
    if col_titles:
        for c, t in enumerate(col_titles):
            axes[0, c].set_title(f"{t}\n{axes[0, c].get_title()}", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path


def _rows(explained, paths, read_reasons, model_name: str) -> list[dict]:
    rows = []
    for path, e, why in zip(paths, explained, read_reasons):
        row = {"model": model_name, "source": path}
        if isinstance(e, ExplainedFace):
            row.update(status="ok", reason="", predicted=e.predicted, probability=round(e.probability, 4), target=e.target)
            row.update({f"share_{k}": round(v, 4) for k, v in e.shares.items()})
        else:
            row.update(status="error" if why else "no_face", reason=why or e)
        rows.append(row)
    return rows


def explain_images(model: str | os.PathLike, images, out: str | os.PathLike, *, fold: int | None = None, target=None,
                   crops: bool = False, max_grid: int = 16):
    """``signfer explain MODEL IMAGES --out DIR``: Grad-CAM overlays of ``model`` on ``images`` (files or folders).

    Writes ``DIR/<image>_gradcam.png`` (overlay on the model's input crop) for each face,
    ``DIR/gradcam.png`` (a grid of the first ``max_grid``) and ``DIR/saliency.csv`` (per image:
    status, predicted class, probability, explained class, share of the saliency in the upper
    / lower half, eyes and mouth regions). Unreadable images and images without a face are
    recorded, not fatal. Returns the table.
    """
    import pandas as pd

    from signfer.io import atomic_write, write_image

    out = Path(out)
    net, spec = load_model(model, fold)
    paths, arrays, why = _read_inputs(images)
    readable = [i for i, a in enumerate(arrays) if a is not None]
    explained: list = list(why)
    if readable:
        for i, e in zip(readable, explain_faces(net, spec, [arrays[i] for i in readable], [paths[i] for i in readable], target, crops)):
            explained[i] = e
    panels, used = [], set()
    for path, e in zip(paths, explained):
        if isinstance(e, ExplainedFace):
            name = _slug(path)
            while name in used:
                name += "_"
            used.add(name)
            write_image(out / f"{name}_gradcam.png", overlay(e.crop, e.cam))
            if len(panels) < max_grid:
                panels.append([(e.crop, Path(path).name[:24]), (overlay(e.crop, e.cam), f"{e.target} {e.probability:.2f}")])
    table = pd.DataFrame(_rows(explained, paths, why, str(model)))
    with atomic_write(out / "saliency.csv") as fh:
        table.to_csv(fh, index=False)
    if panels:
        _save_grid(panels, out / "gradcam.png")
    return table


def compare_models(model_a: str | os.PathLike, model_b: str | os.PathLike, images, out: str | os.PathLike, *,
                   fold: int | None = None, target=None, crops: bool = False, names: Sequence[str] | None = None,
                   max_grid: int = 12):
    """``signfer explain IMAGES --compare RUN_A RUN_B``: the same faces under two models.

    Writes ``DIR/compare.png`` (rows: faces; columns: each model's input and Grad-CAM overlay),
    ``DIR/attention_share.csv`` (one row per image and model) and ``DIR/attention_share.md``
    (mean (std) share of the saliency mass per region and model: upper vs lower face, eyes vs
    mouth; maps of half-face models are placed back into the full face). Returns the per-image table.
    """
    import pandas as pd

    from signfer.io import atomic_write

    out = Path(out)
    names = list(names) if names else _model_names([model_a, model_b])
    paths, arrays, why = _read_inputs(images)
    readable = [i for i, a in enumerate(arrays) if a is not None]
    per_model, rows = [], []
    for name, model in zip(names, (model_a, model_b)):
        net, spec = load_model(model, fold)
        explained: list = list(why)
        if readable:
            for i, e in zip(readable, explain_faces(net, spec, [arrays[i] for i in readable], [paths[i] for i in readable], target, crops)):
                explained[i] = e
        per_model.append(explained)
        rows += _rows(explained, paths, why, name)
    table = pd.DataFrame(rows)
    with atomic_write(out / "attention_share.csv") as fh:
        table.to_csv(fh, index=False)
    with atomic_write(out / "attention_share.md") as fh:
        fh.write(attention_share_markdown(table, names))
    panels = []
    for i, path in enumerate(paths):
        row = []
        for name, explained in zip(names, per_model):
            e = explained[i]
            if isinstance(e, ExplainedFace):
                row += [(e.crop, f"{name}: input"), (overlay(e.crop, e.cam), f"{e.target} {e.probability:.2f}")]
            else:
                row += [(None, ""), (None, "")]
        if any(p[0] is not None for p in row):
            panels.append(row)
        if len(panels) >= max_grid:
            break
    if panels:
        _save_grid(panels, out / "compare.png")
    return table


def _model_names(models) -> list[str]:
    from signfer.evaluation.summary import run_names

    existing = [m for m in models if Path(m).exists()]
    if len(existing) == len(models):
        return run_names(models)
    return [str(m) for m in models]


def attention_share_markdown(table, names: Sequence[str]) -> str:
    """Mean (std) over images of each model's saliency share per region, in percent, as Markdown."""
    cols = [c for c in table.columns if c.startswith("share_")]
    lines = ["# Grad-CAM attention share per face region", "",
             "Percent of the Grad-CAM saliency mass inside each region, mean (std) over the faces each "
             "model found; upper + lower = 100, eyes and mouth are parts of the whole face.", "",
             "| model | faces | " + " | ".join(c[6:] for c in cols) + " |",
             "|:---|---:|" + "---:|" * len(cols)]
    ok = table[table["status"] == "ok"] if "status" in table else table
    for name in names:
        sub = ok[ok["model"] == name]
        cells = [f"{100 * sub[c].mean():.1f} ({100 * sub[c].std():.1f})" if len(sub) else "" for c in cols]
        lines.append(f"| {name} | {len(sub)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
