"""Which parts of a network learn in a stage: the head only, everything, or the last K blocks (progressive unfreezing).

The head is ``model.get_classifier()`` (timm's API). The backbone's blocks are
``model.blocks`` (timm MobileNet-v1/v2, EfficientNet: a ``Sequential`` of stages, each a
group of inverted-residual / depthwise-separable layers with one output width; 7 in
mobilenetv2_100 and efficientnet_b0, 5 in mobilenetv1_100). ``last:K`` trains the head,
every layer after the blocks (``conv_head``, ``bn2``) and the last ``K`` blocks; the stem
and the earlier blocks stay frozen.

Frozen BatchNorm layers are put in inference mode (:func:`freeze_batchnorm`), as Keras does
with ``trainable = False``: they neither learn nor update their running statistics, so a
head-only stage leaves every backbone tensor bit-identical.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def classifier_of(model: nn.Module) -> nn.Module:
    """The classification head (``model.get_classifier()``)."""
    if not hasattr(model, "get_classifier"):
        raise ValueError(f"{type(model).__name__} has no get_classifier(): cannot tell its head from its backbone")
    head = model.get_classifier()
    if not isinstance(head, nn.Module) or not any(True for _ in head.parameters()):
        raise ValueError(f"{type(model).__name__}.get_classifier() returned no trainable layer ({head!r})")
    return head


def backbone_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone's blocks in input-to-output order (``model.blocks``)."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, (nn.Sequential, nn.ModuleList)) or len(blocks) == 0:
        raise ValueError(
            f"{type(model).__name__} has no model.blocks: progressive unfreezing (trainable: last:K) needs a timm "
            "MobileNet / EfficientNet style model; use trainable: head or all"
        )
    return list(blocks)


def trainable_modules(model: nn.Module, trainable: str) -> list[nn.Module]:
    """The modules whose parameters learn under ``trainable`` (``head``, ``all`` or ``last:K``)."""
    if trainable == "all":
        return [model]
    head = classifier_of(model)
    if trainable == "head":
        return [head]
    if not trainable.startswith("last:") or not trainable[5:].isdigit():
        raise ValueError(f"trainable must be head, all or last:K, got {trainable!r}")
    k = int(trainable[5:])
    blocks = backbone_blocks(model)
    if k > len(blocks):
        raise ValueError(f"trainable {trainable!r}: {type(model).__name__} has only {len(blocks)} blocks")
    children = list(model.named_children())
    names = [n for n, _ in children]
    after = [m for _, m in children[names.index("blocks") + 1:]] if "blocks" in names else []
    return [head, *after, *(blocks[len(blocks) - k:] if k else [])]


def set_trainable(model: nn.Module, trainable: str) -> list[nn.Parameter]:
    """Freeze everything, then unfreeze ``trainable``; returns the parameters that learn (for the optimiser)."""
    modules = trainable_modules(model, trainable)
    for p in model.parameters():
        p.requires_grad_(False)
    params, seen = [], set()
    for m in modules:
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                p.requires_grad_(True)
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

