"""How a training step computes: memory format (channels-last) and mixed precision (bf16 / fp16 autocast).

A recipe's ``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) and ``channels_last``
(``auto``, ``true``, ``false``) are resolved for the training device by :func:`resolve_precision`:

* ``auto`` precision: ``fp32`` on CPUs (measured on a Xeon with AVX-512 BF16 and AMX, 2 threads,
  batch 16 at 224 px: channels-last alone gave MobileNetV2 1.30x and EfficientNet-B0 1.18x, bf16
  autocast on top added nothing for MobileNetV2 (1.29x) and made EfficientNet-B0 slower (0.88x);
  ``precision: bf16`` is offered where oneDNN runs bf16 natively), ``bf16`` on a CUDA GPU that
  supports it (Ampere and later), ``fp16`` with a gradient scaler on older GPUs, ``fp32`` elsewhere;
* ``auto`` channels-last: on for CPU and CUDA (the convolutions of MobileNet / EfficientNet run
  in NHWC in oneDNN and cuDNN), off elsewhere.

Mixed precision is :func:`torch.autocast` around the forward pass and the loss; weights,
gradients and optimiser state stay float32 (master weights), so checkpoints do not change
format. ``fp16`` is CUDA only and uses :class:`torch.amp.GradScaler` (its state is saved in
``last.pt``, so resuming stays bit-exact); bf16 has fp32's exponent range and needs no scaler.
Validation and test predictions run in float32 (with the chosen memory format): the figures a
run reports are those of the float32 model that gets exported.

The resolved choice is written into ``run.yaml`` (the recipe's ``precision`` / ``channels_last``),
each checkpoint's ``extra`` and ``metrics.json`` (``training``); resuming refuses another mode.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from signfer.errors import UserError
from signfer.training.recipes import check_precision_options

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: the mode of runs made before these options existed
LEGACY = {"precision": "fp32", "channels_last": False}


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bfloat16 natively on this CPU (AVX-512 BF16 / AMX), where bf16 autocast pays off."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@dataclass(frozen=True)
class Precision:
    """A resolved training mode: ``precision`` (``fp32``, ``bf16``, ``fp16``), ``channels_last``, ``device_type``."""

    precision: str = "fp32"
    channels_last: bool = False
    device_type: str = "cpu"

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self):
        """The context of a forward pass: autocast to bf16 / fp16, or nothing for fp32."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=DTYPES[self.precision])

    def grad_scaler(self) -> "torch.amp.GradScaler | None":
        """A gradient scaler for fp16 (CUDA), None otherwise."""
        return torch.amp.GradScaler(self.device_type) if self.precision == "fp16" else None

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model in this memory format (in place; parameters keep their values)."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def prepare_input(self, x: torch.Tensor, device) -> torch.Tensor:
        """A batch moved to ``device`` (asynchronously from pinned memory) in this memory format."""
        x = x.to(device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def to_dict(self) -> dict:
        return {"precision": self.precision, "channels_last": self.channels_last}


def resolve_precision(precision="auto", channels_last="auto", device="cpu", sam: bool = False) -> Precision:
    """The mode a run on ``device`` trains in (see the module docstring); explicit choices the device cannot run raise.

    ``sam``: the recipe has a SAM stage (fp16 with a gradient scaler is not offered with SAM's two passes; use bf16).
    """
    p, cl = check_precision_options(precision, channels_last)
    kind = torch.device(device).type
    if p == "auto":
        if kind == "cuda":
            p = "bf16" if torch.cuda.is_bf16_supported() else ("fp32" if sam else "fp16")
        else:  # CPU (see the module docstring: bf16 autocast did not pay off), MPS, ...
            p = "fp32"
    if p == "fp16" and kind != "cuda":
        raise UserError(f"precision fp16 needs a CUDA device (training on {kind}); use bf16 or fp32")
    if p == "fp16" and sam:
        raise UserError("precision fp16 (with a gradient scaler) is not supported with SAM stages; use bf16 or fp32")
    if p == "bf16" and kind not in ("cpu", "cuda"):
        raise UserError(f"precision bf16 is offered on CPU and CUDA, not {kind}; use fp32")
    if cl == "auto":
        cl = kind in ("cpu", "cuda")
    return Precision(p, bool(cl), kind)


def recipe_precision(recipe, device) -> Precision:
    """:func:`resolve_precision` of a recipe's ``precision`` / ``channels_last`` on ``device``."""
    return resolve_precision(recipe.precision, recipe.channels_last, device,
                             sam=any(s.sam and s.epochs > 0 for s in recipe.stages))
