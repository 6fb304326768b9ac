"""Architectures by name, as timm's model registry: timm backbones listed here, signfer's own networks registered
by the module that defines them (``@register_arch``), each entry carrying its family and input size.

A module that defines an architecture registers it when it is imported; :data:`ARCH_MODULES` lists those modules,
imported on first use (timm imports its model modules the same way).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from signfer.errors import UnknownName

#: the modules that register architectures of their own
ARCH_MODULES = ("signfer.models.keras_mobilenet", "signfer.models.fer_xception")


@dataclass(frozen=True)
class Arch:
    """One buildable architecture: ``family`` groups structures that share a backbone's weights."""

    name: str
    family: str
    input_size: int
    description: str
    timm_name: str | None = None
    build: Callable[[int], nn.Module] | None = None  #: ``build(num_classes)`` for an architecture timm does not have


#: every architecture by name: the timm ones below, the others registered by the module that defines them
ARCHS: dict[str, Arch] = {a.name: a for a in (
    Arch("mobilenetv1_100", "mobilenetv1_100", 224, "MobileNet-v1 (timm)", "mobilenetv1_100"),
    Arch("mobilenetv2_100", "mobilenetv2_100", 224, "MobileNetV2 (timm; the 2025 paper's backbone)", "mobilenetv2_100"),
    Arch("efficientnet_b0", "efficientnet_b0", 224, "EfficientNet-B0 (timm)", "efficientnet_b0"),
    Arch("efficientnet_b2", "efficientnet_b2", 260, "EfficientNet-B2 (timm; 260 px as HSEmotion)", "efficientnet_b2"),
    Arch("tf_efficientnet_b0", "efficientnet_b0", 224, "EfficientNet-B0, TF 'same' padding, BN eps 1e-3 (HSEmotion enet_b0_*)", "tf_efficientnet_b0"),
    Arch("tf_efficientnet_b2", "efficientnet_b2", 260, "EfficientNet-B2, TF 'same' padding, BN eps 1e-3 (HSEmotion enet_b2_*)", "tf_efficientnet_b2"),
)}


def register_arch(name: str, family: str, input_size: int, description: str):
    """Class decorator: ``cls(num_classes=n)`` builds the architecture ``name``."""

    def register(cls):
        ARCHS[name] = Arch(name, family, input_size, description, build=lambda n: cls(num_classes=n))
        return cls

    return register


def _register_all() -> None:
    for module in ARCH_MODULES:
        importlib.import_module(module)


def list_archs() -> list[str]:
    """Names accepted by :func:`create_model`."""
    _register_all()
    return list(ARCHS)


def get_arch(arch: str) -> Arch:
    """The registry entry of ``arch``; any other timm model name is accepted as its own family."""
    _register_all()
    if arch in ARCHS:
        return ARCHS[arch]
    import timm

    if isinstance(arch, str) and timm.is_model(arch):
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(arch)
        size = int(cfg.input_size[-1]) if cfg is not None and cfg.input_size else 224
        return Arch(arch, arch, size, f"timm {arch}", arch)
    raise UnknownName(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)} (or any timm model name)")


def build_arch(arch: str, num_classes: int) -> nn.Module:
    """A randomly initialised ``arch`` with ``num_classes`` outputs (0: no classifier); ``model.signfer_arch`` set."""
    info = get_arch(arch)
    if info.timm_name:
        import timm

        model = timm.create_model(info.timm_name, pretrained=False, num_classes=num_classes)
    else:
        model = info.build(num_classes)
    model.signfer_arch = arch
    return model


