"""Which parts of a network learn in a stage: the head only, everything, or the last K blocks (progressive unfreezing).

The head is ``model.get_classifier()`` (timm's API). The backbone's blocks are
``model.blocks`` (timm MobileNet-v1/v2, EfficientNet: a ``Sequential`` of stages, each a
group of inverted-residual / depthwise-separable layers with one output width; 7 in
mobilenetv2_100 and efficientnet_b0, 5 in mobilenetv1_100; ``body.blocks`` in signfer's
HSEmotion Keras MobileNet port). ``last:K`` trains the last ``K`` blocks and everything after
them (``conv_head``, ``bn2``, HSEmotion's ``feats`` layer, the head); the stem and the earlier
blocks stay frozen. Modules are taken in registration order, which is forward order in these
models.

Frozen BatchNorm layers are put in inference mode (:func:`freeze_batchnorm`), as Keras does
with ``trainable = False``: they neither learn nor update their running statistics, so a
head-only stage leaves every backbone tensor bit-identical.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from signfer.errors import OptionError


def classifier_of(model: nn.Module) -> nn.Module:
    """The classification head (``model.get_classifier()``)."""
    if not hasattr(model, "get_classifier"):
        raise OptionError(f"{type(model).__name__} has no get_classifier(): cannot tell its head from its backbone")
    head = model.get_classifier()
    if not isinstance(head, nn.Module) or not any(True for _ in head.parameters()):
        raise OptionError(f"{type(model).__name__}.get_classifier() returned no trainable layer ({head!r})")
    return head


def _blocks_path(model: nn.Module) -> str:
    """Dotted name of the backbone's ``blocks`` container (``blocks`` in timm models, ``body.blocks`` in wrappers)."""
    found = [name for name, m in model.named_modules()
             if name.split(".")[-1] == "blocks" and isinstance(m, (nn.Sequential, nn.ModuleList)) and len(m) > 0]
    if not found:
        raise OptionError(
            f"{type(model).__name__} has no blocks container: progressive unfreezing (trainable: last:K) needs a "
            "timm MobileNet / EfficientNet style model (model.blocks); use trainable: head or all"
        )
    return min(found, key=lambda n: n.count("."))


def backbone_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone's blocks in input-to-output order (``model.blocks``, or a wrapped model's ``body.blocks``)."""
    return list(model.get_submodule(_blocks_path(model)))


def _frozen_prefix(model: nn.Module, keep_last: int) -> list[nn.Module]:
    """The stem and the blocks before the last ``keep_last``: every module registered before them on the way down to ``blocks``."""
    path = _blocks_path(model).split(".")
    frozen, parent = [], model
    for part in path:
        for name, child in parent.named_children():
            if name == part:
                break
            frozen.append(child)
        parent = parent.get_submodule(part)
    blocks = list(parent)
    if keep_last > len(blocks):
        raise OptionError(f"trainable last:{keep_last}: {type(model).__name__} has only {len(blocks)} blocks")
    return frozen + blocks[: len(blocks) - keep_last]


def set_trainable(model: nn.Module, trainable: str) -> list[nn.Parameter]:
    """Freeze all but ``trainable`` (``head``, ``all`` or ``last:K``); returns the parameters that learn, in model order."""
    if trainable == "all":
        learn = {id(p) for p in model.parameters()}
    elif trainable == "head":
        learn = {id(p) for p in classifier_of(model).parameters()}
    elif trainable.startswith("last:") and trainable[5:].isdigit():
        frozen = {id(p) for m in _frozen_prefix(model, int(trainable[5:])) for p in m.parameters()}
        learn = {id(p) for p in model.parameters() if id(p) not in frozen}
    else:
        raise OptionError(f"trainable must be head, all or last:K, got {trainable!r}")
    params = []
    for p in model.parameters():
        p.requires_grad_(id(p) in learn)
        if id(p) in learn:
            params.append(p)
    return params


def freeze_batchnorm(model: nn.Module) -> None:
    """Put every BatchNorm layer whose parameters are all frozen in inference mode (call after ``model.train()``)."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            params = list(m.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                m.eval()


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total

