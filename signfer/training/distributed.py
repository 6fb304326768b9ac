"""Data-parallel training with ``torchrun`` (or ``accelerate launch``): same recipe, same results, any number of processes.

``signfer train`` / ``signfer cv`` started by ``torchrun --nproc_per_node N`` (which sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``; Hugging Face
``accelerate launch`` sets the same) join one process group (:func:`setup`: NCCL on GPUs,
Gloo on CPUs) and train one model with :class:`~torch.nn.parallel.DistributedDataParallel`.
Nothing changes in the recipe: its ``batch_size`` stays the *global* batch, so a recipe means
the same on 1 process or 16.

How the results stay those of one process (up to floating-point summation order):

* :class:`GlobalBatchSampler` draws the epoch's order exactly as a one-process
  ``DataLoader(shuffle=True, generator=g)`` does, cuts it into the same global batches, and
  process ``r`` of ``W`` takes positions ``r, r+W, ...`` of each batch (the role of
  ``torch.utils.data.DistributedSampler``, without its padding by repeated samples).
  Random augmentation (the horizontal flip) is drawn for the whole global batch in every
  process, so every sample gets the flip it gets in a one-process run.
* gradients are combined weighted by each process's number of samples (a DDP comm hook),
  so uneven last batches average exactly as one big batch does;
* BatchNorm layers that learn become ``SyncBatchNorm`` on GPUs (batch statistics over the
  global batch). PyTorch has no CPU SyncBatchNorm: on CPU, stages that train BatchNorm use
  per-process batch statistics (the usual DDP behaviour; close to, not equal to, one process);
* epoch loss/accuracy are sums all-reduced over processes; validation and test predictions
  are split across processes and gathered in the original order;
* only rank 0 writes files (checkpoints, history, predictions, metrics, run.yaml, folds.csv);
  every rank reads ``last.pt`` on ``--resume``, so the run folder must be on storage all
  nodes see (a shared file system for several machines).

Outside ``torchrun`` every function here is a no-op (world size 1), so the training loop
calls them unconditionally.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from signfer.errors import OptionError

#: environment variables every torchrun / accelerate worker has
LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``, ``local_rank`` on its machine, the backend."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0


# --------------------------------------------------------------------------- process group
def launched() -> bool:
    """True inside a ``torchrun`` / ``accelerate launch`` worker (the launch variables are set)."""
    return all(v in os.environ for v in LAUNCH_VARIABLES)


def is_distributed() -> bool:
    """True once this process belongs to an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def default_backend() -> str:
    """``$SIGNFER_DIST_BACKEND``, else ``nccl`` with CUDA, ``gloo`` without."""
    return os.environ.get("SIGNFER_DIST_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")


def setup(backend: str | None = None, timeout_minutes: float = 30.0) -> DistInfo:
    """Join the launcher's process group (idempotent); world size 1 and no group outside a launcher.

    On a CUDA machine each process uses GPU ``LOCAL_RANK`` (``torch.cuda.set_device``), so
    ``device="cuda"`` means that process's own GPU. The group is left at interpreter exit.
    """
    if is_distributed():
        return info()
    if not launched():
        return DistInfo()
    backend = backend or default_backend()
    local_rank = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available() and backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=timeout_minutes))
    atexit.register(teardown)
    return info()


def teardown() -> None:
    """Leave the process group (safe to call twice)."""
    if is_distributed():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def info() -> DistInfo:
    if not is_distributed():
        return DistInfo()
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), dist.get_backend())


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True in the process that writes files and prints (rank 0; always outside a launcher)."""
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Run the block in rank 0 first, then in the others (rank 0 creates files the others then read)."""
    if not is_distributed():
        yield
        return
    if not is_main():
        dist.barrier()
    try:
        yield
    finally:
        if is_main():
            dist.barrier()


def all_reduce_sums(*values: float) -> tuple[float, ...]:
    """The sums over all processes of each of ``values`` (float64); the values themselves outside a group."""
    if not is_distributed():
        return tuple(values)
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return tuple(float(v) for v in t.cpu())


def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


# --------------------------------------------------------------------------- data
class GlobalBatchSampler(Sampler[list[int]]):
    """Global batches in one-process order; yields each whole global batch (see :class:`RankSlice`).

    Per epoch: ``randperm(n, generator)`` cut into batches of ``batch_size``, then one more
    ``randperm`` (as ``RandomSampler`` draws one past the end), so the generator advances as
    in a one-process ``DataLoader(shuffle=True, generator=generator)`` and its saved state
    resumes identically. A trailing batch smaller than the number of processes cannot be
    shared out and is skipped (only when ``len(data) % batch_size`` is between 1 and
    ``world_size - 1``).
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator | None, world: int, shuffle: bool = True):
        if batch_size < world:
            raise OptionError(f"batch_size {batch_size} is smaller than the number of processes {world}: "
                             "the recipe's batch_size is the global batch, shared out over the processes")
        self.n, self.batch_size, self.generator, self.world, self.shuffle = n, batch_size, generator, world, shuffle

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=self.generator).tolist()
        else:
            order = list(range(self.n))
        for start in range(0, self.n, self.batch_size):
            batch = order[start : start + self.batch_size]
            if len(batch) >= self.world:
                yield batch
        if self.shuffle:
            torch.randperm(self.n, generator=self.generator)  # RandomSampler's draw past the end

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest >= self.world else 0)


class RankSlice(Dataset):
    """This process's part of each global batch: positions ``rank, rank + world, ...``.

    The other positions are not loaded, but their random augmentation draw is made (one
    ``torch.rand`` per item when the dataset has ``hflip`` on, as
    :class:`signfer.data.dataset.FaceDataset` draws), so torch's generator stays in step
    with a one-process run and every sample gets the same flip.
    """

    def __init__(self, dataset: Dataset, rank: int, world: int):
        self.dataset, self.rank, self.world = dataset, rank, world

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.dataset[index]

    def __getitems__(self, batch: list[int]) -> list:
        items = []
        for position, index in enumerate(batch):
            if position % self.world == self.rank:
                items.append(self.dataset[index])
            elif getattr(self.dataset, "hflip", False):
                torch.rand(())
        return items


def train_loader(dataset: Dataset, batch_size: int, generator: torch.Generator, workers: int = 0,
                 pin_memory: bool = False) -> DataLoader:
    """The training DataLoader of this process: its share of each shuffled global batch of ``batch_size``."""
    world, r = world_size(), rank()
    sampler = GlobalBatchSampler(len(dataset), batch_size, generator, world)
    more = dict(prefetch_factor=4) if workers > 0 else {}
    return DataLoader(RankSlice(dataset, r, world), batch_sampler=sampler, num_workers=workers, generator=generator,
                      persistent_workers=False, pin_memory=pin_memory, **more)


def is_shard(loader) -> bool:
    return bool(getattr(loader, "signfer_shard", False))


def predict_sharded(predict: Callable, model: nn.Module, loader: DataLoader, *args, **kwargs):
    """``predict(model, loader, ...) -> (logits, labels)`` with the items split over the processes and
    gathered back in ``loader``'s order (each process predicts items ``rank, rank + world, ...``)."""
    world, r = world_size(), rank()
    n = len(loader.dataset)
    shard = DataLoader(Subset(loader.dataset, range(r, n, world)), batch_size=loader.batch_size,
                       num_workers=loader.num_workers, collate_fn=loader.collate_fn, pin_memory=loader.pin_memory)
    shard.signfer_shard = True
    logits, labels = predict(model, shard, *args, **kwargs)
    parts: list = [None] * world
    dist.all_gather_object(parts, (logits, labels))
    n_classes = max((p[0].shape[1] for p in parts if p[0].ndim == 2 and p[0].shape[0]), default=0)
    if n == 0 or n_classes == 0:
        return parts[0]
    out_logits = torch.empty((n, n_classes), dtype=torch.float32).numpy()
    out_labels = torch.empty(n, dtype=torch.int64).numpy()
    for k, (lg, lb) in enumerate(parts):
        if len(lb):
            out_logits[k::world] = lg
            out_labels[k::world] = lb
    return out_logits, out_labels


# --------------------------------------------------------------------------- model
class _SampleCount:
    """Samples in this process's current batch (set by a forward pre-hook, read by the comm hook)."""

    def __init__(self):
        self.n = 0


def _count_samples(state: _SampleCount):
    def hook(module, args):
        if args and isinstance(args[0], torch.Tensor):
            state.n = int(args[0].shape[0])

    return hook


def sample_weighted_allreduce(state, bucket):  # no annotations: DDP checks them against its own types
    """DDP comm hook: ``sum_r n_r * grad_r / sum_r n_r`` (the gradient of the mean over the global batch),
    instead of DDP's plain average, which is wrong when processes hold different numbers of samples."""
    grad = bucket.buffer()
    n = float(state.n)
    packed = torch.cat([grad * n, grad.new_tensor([n])])
    future = dist.all_reduce(packed, async_op=True).get_future()

    def unpack(fut):
        total = fut.value()[0]
        return total[:-1] / total[-1].clamp_min(1.0)

    return future.then(unpack)


def wrap_model(model: nn.Module, device: torch.device | str = "cpu", sync_batchnorm: bool | None = None) -> nn.Module:
    """``model`` for the training step: wrapped in DDP inside a process group, itself outside.

    Call it again after each change of which parameters learn (a new stage): DDP fixes the set
    of trainable parameters when it is built. ``sync_batchnorm`` (default: on CUDA) turns the
    BatchNorm layers into SyncBatchNorm, in place (same parameters and buffers, so the
    checkpoint does not change).
    """
    if not is_distributed():
        return model
    device = torch.device(device)
    if sync_batchnorm is None:
        sync_batchnorm = device.type == "cuda"
    if sync_batchnorm and not getattr(model, "_signfer_sync_bn", False):
        from timm.layers import convert_sync_batchnorm

        converted = convert_sync_batchnorm(model)
        if converted is not model:
            raise OptionError("the model itself is a BatchNorm layer; cannot convert it in place")
        model._signfer_sync_bn = True
    elif device.type != "cuda" and not getattr(model, "_signfer_warned_bn", False) and world_size() > 1:
        model._signfer_warned_bn = True
        if is_main():
            warnings.warn("training on CPU with several processes: BatchNorm layers that learn use per-process "
                          "batch statistics (PyTorch has no CPU SyncBatchNorm)", stacklevel=2)
    state = getattr(model, "_signfer_sample_count", None)
    if state is None:
        state = _SampleCount()
        model._signfer_sample_count = state
        model.register_forward_pre_hook(_count_samples(state))
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=ids)  # buffers (BN statistics) follow rank 0
    ddp.register_comm_hook(state, sample_weighted_allreduce)
    return ddp


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (the model itself otherwise)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


__all__ = [
    "DistInfo", "GlobalBatchSampler", "RankSlice", "all_reduce_sums", "barrier", "default_backend", "info",
    "is_distributed", "is_main", "launched", "main_first", "predict_sharded", "rank", "sample_weighted_allreduce",
    "setup", "teardown", "train_loader", "unwrap", "world_size", "wrap_model",
]
