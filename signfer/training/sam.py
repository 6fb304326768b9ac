"""Sharpness-Aware Minimisation (Foret et al., ICLR 2021), the two-step algorithm of davda54/sam.

Each update needs two forward/backward passes over the same batch::

    loss_fn(model(x), y).backward()
    opt.first_step(zero_grad=True)           # w -> w + e(w), e(w) = rho * g / ||g||
    with bn_running_stats_frozen(model):     # the second pass must not move BatchNorm statistics
        loss_fn(model(x), y).backward()
    opt.second_step(zero_grad=True)          # back to w, then the base optimiser's step with the new gradient

``state_dict`` / ``load_state_dict`` save the base optimiser's state (Adam moments, SGD
momentum), which is all that survives between steps, so a run resumes exactly.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from signfer.errors import OptionError


class SAM(torch.optim.Optimizer):
    """Wrap ``base_optimizer`` (a class such as ``torch.optim.Adam``) in SAM with neighbourhood radius ``rho``.

    ``adaptive=True`` gives ASAM (the perturbation scaled by ``|w|``). Extra keyword
    arguments go to the base optimiser (``lr``, ``momentum``, ...).
    """

    def __init__(self, params, base_optimizer: type[torch.optim.Optimizer], rho: float = 0.05, adaptive: bool = False, **kwargs):
        if rho < 0:
            raise OptionError(f"rho must be non-negative, got {rho}")
        super().__init__(params, dict(rho=rho, adaptive=adaptive, **kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Climb to the worst point of the rho-ball: ``w <- w + rho * g / ||g||`` (keeps ``w``)."""
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["old_p"] = p.detach().clone()
                e_w = (torch.pow(p, 2) if group["adaptive"] else 1.0) * p.grad * scale.to(p)
                p.add_(e_w)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Return to ``w`` and take the base optimiser's step with the gradient measured at ``w + e(w)``."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None or "old_p" not in self.state[p]:
                    continue
                p.copy_(self.state[p].pop("old_p"))
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure=None):
        """Both steps; ``closure`` must run forward and backward on the same batch (it is called once, for the second pass)."""
        if closure is None:
            raise OptionError("SAM.step needs a closure that recomputes the loss and calls backward()")
        self.first_step(zero_grad=True)
        with torch.enable_grad():
            closure()
        self.second_step()

    def _grad_norm(self) -> torch.Tensor:
        norms = [
            ((torch.abs(p) if group["adaptive"] else 1.0) * p.grad).norm(p=2)
            for group in self.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        if not norms:
            return torch.tensor(0.0)
        device = norms[0].device
        return torch.norm(torch.stack([n.to(device) for n in norms]), p=2)

    def state_dict(self) -> dict:
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.base_optimizer.load_state_dict(state_dict)
        self.param_groups = self.base_optimizer.param_groups


@contextlib.contextmanager
def bn_running_stats_frozen(model: torch.nn.Module) -> Iterator[None]:
    """BatchNorm layers normalise with the batch but leave their running statistics alone (SAM's second pass)."""
    saved = []
    for m in model.modules():
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats:
            saved.append((m, m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)
