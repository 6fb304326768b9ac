"""Train one fold of a recipe: stages of (trainable part, optimiser, epochs), best/last checkpoints, exact resume.

Entry point: :func:`train` (``signfer train``) prepares the run folder and calls
:func:`train_fold`, which splits the fold, builds the model (:func:`signfer.training.prepare.build_model`)
and runs :func:`fit` (one :func:`run_epoch` per epoch, each a loop of :func:`train_step`), then
writes the test fold's ``predictions.csv`` and ``metrics.json``. The layout of the run folder
is described in ``docs/architecture.md`` (run directory contract).

Conventions: the loss is categorical cross-entropy; with class weights each sample's loss is
multiplied by its class weight and the batch loss is the plain mean (Keras ``class_weight``
semantics). Checkpoints are written after every epoch: ``best.pt`` when the validation metric
improves (strictly), ``last.pt`` always, with the optimiser, scheduler, every random generator,
the history and the best value, so ``--resume`` continues bit-identically on CPU (with the same
number of threads: float sums depend on it; a mismatch is warned about) and in the same
precision mode (:mod:`signfer.training.precision`: channels-last and bf16 / fp16 autocast, on by
default where the hardware runs them natively; the mode is recorded in ``run.yaml``, the
checkpoints and ``metrics.json``).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from signfer.errors import OptionError
from signfer.io import atomic_write
from signfer.training import distributed
from signfer.training.precision import Precision, recipe_precision
from signfer.training.recipes import Recipe, Stage
from signfer.training.sam import SAM, bn_running_stats_frozen
from signfer.training.trainable import count_parameters, freeze_batchnorm, set_trainable

HISTORY_COLUMNS = ["stage", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_mean_sensitivity", "lr", "seconds"]


# --------------------------------------------------------------------------- losses and optimisers
def class_weights(labels, class_names) -> torch.Tensor:
    """Loss weight per class: ``max_count / count_c`` (the largest class gets 1; a class without images gets 1)."""
    counts = pd.Series(list(labels)).value_counts()
    n = np.array([counts.get(c, 0) for c in class_names], dtype=np.float64)
    if n.max() <= 0:
        raise OptionError("no training labels to compute class weights from")
    w = np.where(n > 0, n.max() / np.maximum(n, 1), 1.0)
    return torch.tensor(w, dtype=torch.float32)


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None,
                           mode: str = "keras") -> torch.Tensor:
    """Class-weighted cross-entropy of a batch (plain mean CE without weights).

    ``mode="keras"``: mean over the batch of ``weight[y] * CE`` (Keras ``class_weight``, the SLTAT
    MobileNet notebooks); ``mode="torch"``: ``sum(weight[y] * CE) / sum(weight[y])``, what
    ``nn.CrossEntropyLoss(weight=weights)`` computes (the SLTAT EfficientNet notebooks).
    """
    if weights is not None and mode == "torch":
        return F.cross_entropy(logits, target, weight=weights)
    loss = F.cross_entropy(logits, target, reduction="none")
    if weights is not None:
        loss = loss * weights[target]
    return loss.mean()


def make_optimizer(stage: Stage, params, fused: bool = False) -> torch.optim.Optimizer:
    """Adam or SGD with the stage's settings, wrapped in :class:`~signfer.training.sam.SAM` when ``stage.sam``;
    ``fused``: PyTorch's fused implementation (the recipe's ``fused_optimizer``)."""
    if stage.optimizer == "adam":
        base, kw = torch.optim.Adam, dict(lr=stage.lr, weight_decay=stage.weight_decay)
    else:
        base, kw = torch.optim.SGD, dict(lr=stage.lr, momentum=stage.momentum, weight_decay=stage.weight_decay)
    if fused:
        kw["fused"] = True
    if stage.sam:
        return SAM(params, base, rho=stage.rho, **kw)
    return base(params, **kw)


class KerasDecay:
    """Keras' legacy ``decay``: the learning rate of step ``t`` (0-based, counted within the stage) is ``lr / (1 + decay * t)``."""

    def __init__(self, decay: float):
        self.decay = float(decay)

    def __call__(self, step: int) -> float:
        return 1.0 / (1.0 + self.decay * step)


def make_scheduler(stage: Stage, optimizer: torch.optim.Optimizer):
    """Learning-rate schedule of a stage (None = constant): ``cosine`` per epoch; ``decay`` per step.

    A per-step schedule carries ``per_step = True``; :func:`run_epoch` steps it after every update.
    """
    if stage.decay:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, KerasDecay(stage.decay))
        scheduler.per_step = True
        return scheduler
    if stage.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, stage.epochs))
    return None


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
               weights: torch.Tensor | None = None, mode: str = "keras", precision: Precision | None = None,
               scaler: "torch.amp.GradScaler | None" = None, sam_second_pass: str = "frozen_bn") -> tuple[torch.Tensor, torch.Tensor]:
    """One update on a batch; returns (loss, logits) of the first forward pass. SAM makes two passes.

    ``mode``: how class weights enter the loss (:func:`weighted_cross_entropy`). ``precision``: forward pass
    and loss under its autocast (bf16 / fp16; None = fp32); ``scaler``: the fp16 gradient scaler (not with
    SAM). ``x`` is expected in the model's memory format already. ``sam_second_pass``: ``frozen_bn`` (BatchNorm
    statistics left alone in SAM's second forward) or ``train_mode`` (updated a second time, as the notebooks).
    """
    autocast = precision.autocast if precision is not None else contextlib.nullcontext
    with autocast():
        logits = model(x)
        loss = weighted_cross_entropy(logits.float(), y, weights, mode)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        if isinstance(optimizer, SAM):
            raise OptionError("a gradient scaler (fp16) cannot be used with SAM")
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if isinstance(optimizer, SAM):
            optimizer.first_step(zero_grad=True)
            frozen = bn_running_stats_frozen(model) if sam_second_pass == "frozen_bn" else contextlib.nullcontext()
            with frozen, autocast():
                second = weighted_cross_entropy(model(x).float(), y, weights, mode)
            second.backward()
            optimizer.second_step(zero_grad=True)
        else:
            optimizer.step()
    return loss.detach(), logits.detach()


# --------------------------------------------------------------------------- epochs
def _progress(loader, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(loader, desc=desc, leave=False, disable=not enabled, unit="batch", dynamic_ncols=True)


def run_epoch(model: nn.Module, loader: DataLoader, optimizer, weights=None, device="cpu",
              progress: bool = False, desc: str = "train", mode: str = "keras", step_scheduler=None,
              frozen_bn: bool = True, precision: Precision | None = None,
              scaler: "torch.amp.GradScaler | None" = None, sam_second_pass: str = "frozen_bn") -> tuple[float, float]:
    """Train for one pass over ``loader`` (frozen BatchNorm stays in inference mode); returns (mean loss, accuracy).

    ``mode``: how class weights enter the loss (:func:`weighted_cross_entropy`); ``step_scheduler``:
    a learning-rate schedule stepped after every update (Keras ``decay``); ``frozen_bn=False`` leaves
    the BatchNorm layers of frozen parts in training mode. ``precision`` / ``scaler``: as
    :func:`train_step` (batches are put in its memory format)."""
    model.train()
    if frozen_bn:
        freeze_batchnorm(model)
    precision = precision or Precision(device_type=torch.device(device).type)
    total_loss, correct, seen = 0.0, 0, 0
    bar = _progress(loader, desc, progress)
    for x, y in bar:
        x, y = precision.prepare_input(x, device), y.to(device, non_blocking=True)
        loss, logits = train_step(model, x, y, optimizer, weights, mode, precision, scaler, sam_second_pass)
        if step_scheduler is not None:
            step_scheduler.step()
        total_loss += float(loss) * len(y)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    bar.close()
    total_loss, correct, seen = distributed.all_reduce_sums(total_loss, correct, seen)  # over processes (torchrun)
    if seen == 0:
        raise OptionError("the training part of this fold is empty")
    return total_loss / seen, correct / seen


@torch.no_grad()
def predict_logits(model: nn.Module, loader: DataLoader, device="cpu", progress: bool = False, desc: str = "predict",
                   channels_last: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(logits (N, C) float32, labels (N,)) of every item of ``loader``, in order, in inference mode (float32).

    ``channels_last``: feed batches in that memory format (default: when the model's first
    4-d parameter is channels-last)."""
    if distributed.is_distributed() and not distributed.is_shard(loader):  # each process predicts a share
        return distributed.predict_sharded(predict_logits, model, loader, device, progress and distributed.is_main(), desc,
                                           channels_last)
    model.eval()
    if channels_last is None:
        channels_last = _is_channels_last(model)
    fmt = Precision(channels_last=bool(channels_last), device_type=torch.device(device).type)
    outs, labels = [], []
    for x, y in _progress(loader, desc, progress):
        outs.append(model(fmt.prepare_input(x, device)).float().cpu())
        labels.append(torch.as_tensor(y))
    if not outs:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return torch.cat(outs).numpy(), torch.cat(labels).numpy()


def _is_channels_last(model: nn.Module) -> bool:
    weight = next((p for p in model.parameters() if p.dim() == 4 and p.shape[-1] > 1), None)
    return weight is not None and weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()


def validation_figures(logits: np.ndarray, labels: np.ndarray, class_names, batch_mean: int = 0) -> dict:
    """val_loss (plain CE), val_acc and val_mean_sensitivity of validation logits.

    ``batch_mean``: a batch size: val_acc is then the mean of the accuracies of consecutive batches of that size
    (the EfficientNet notebooks' ``epoch_val_accuracy += acc / len(test_loader)``: a short last batch weighs as
    much as a full one); 0: the accuracy over all items."""
    from signfer.evaluation.metrics import mean_sensitivity, sensitivity

    if len(labels) == 0:
        return {"val_loss": math.nan, "val_acc": math.nan, "val_mean_sensitivity": math.nan}
    t = torch.from_numpy(logits)
    y = torch.from_numpy(labels).long()
    pred = logits.argmax(1)
    names = list(class_names)
    sens = sensitivity([names[i] for i in labels], [names[i] for i in pred], names)
    hits = pred == labels
    acc = (np.mean([hits[i:i + batch_mean].mean() for i in range(0, len(hits), batch_mean)]) if batch_mean
           else hits.mean())
    return {
        "val_loss": float(F.cross_entropy(t, y)),
        "val_acc": float(acc),
        "val_mean_sensitivity": mean_sensitivity(sens),
    }


# --------------------------------------------------------------------------- resumable state
def _rng_state(loader_gen: torch.Generator) -> dict:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": random.getstate(),
        "loader": loader_gen.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, loader_gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    loader_gen.set_state(state["loader"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _better(value: float, best: float | None, metric: str) -> bool:
    if best is None:
        return True
    if value is None or math.isnan(value):
        return False
    if math.isnan(best):
        return True
    return value < best if metric == "val_loss" else value > best


def _write_history(rows: list[dict], path: Path) -> None:
    with atomic_write(path) as fh:
        pd.DataFrame(rows, columns=HISTORY_COLUMNS).to_csv(fh, index=False)


# --------------------------------------------------------------------------- fitting
@dataclass
class FitResult:
    """What :func:`fit` leaves: the model with the best weights loaded (the last epoch's with ``final_on_test: last``
    under ``select_on: test``), and the epoch history."""

    model: nn.Module
    history: list[dict]
    best_epoch: int
    best_value: float | None


def fit(
    model: nn.Module,
    spec,
    recipe: Recipe,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    fold_dir: Path,
    *,
    loader_generator: torch.Generator,
    weights: torch.Tensor | None = None,
    device="cpu",
    progress: bool = False,
    state: dict | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
    extra: dict | None = None,
    precision: Precision | None = None,
) -> FitResult:
    """Run every stage of ``recipe`` on ``model``; write ``best.pt``, ``last.pt`` and ``history.csv`` in ``fold_dir``.

    ``state``: the ``extra`` of a ``last.pt`` to resume from (the model must already hold its
    weights). ``loader_generator``: the generator of ``train_loader`` (its state is saved).
    ``on_epoch_end(row)`` is called after each epoch's checkpoints are written.

    ``val_loader`` is whatever the checkpoint is chosen on (with ``select_on: test`` the caller
    passes the test fold). ``recipe.select_scope == "stage"``: the best value restarts with every
    stage, which starts from the best weights of the stage before (the notebooks' protocol).
    A stage with ``patience`` stops after that many epochs without improvement of its own best. ``precision``:
    the training mode (default: the recipe's on ``device``); the model must already be in its
    memory format. A run resumes only in the mode it was trained in.
    """
    from signfer.models.checkpoint import save_checkpoint

    class_names = list(spec.class_names)
    plan = [(si, e) for si, stage in enumerate(recipe.stages) for e in range(stage.epochs)]
    history: list[dict] = list(state["history"]) if state else []
    done = int(state["completed_epochs"]) if state else 0
    best_value = state.get("best_value") if state else None
    best_epoch = int(state.get("best_epoch", 0)) if state else 0
    stopped: set[int] = set(state.get("stopped_stages", [])) if state else set()  # stages ended by early stopping
    es_best, es_wait = (state.get("es_best"), int(state.get("es_wait", 0))) if state else (None, 0)
    extra = dict(extra or {})
    precision = precision or recipe_precision(recipe, device)
    mode = precision.to_dict()
    extra["training"] = mode
    scaler = precision.grad_scaler()
    if state:
        from signfer.training.precision import LEGACY

        trained = state.get("training") or LEGACY
        if {k: trained.get(k) for k in mode} != mode:
            from signfer.errors import UserError

            raise UserError(f"{fold_dir} was trained with precision {trained.get('precision')}, channels_last "
                            f"{trained.get('channels_last')}; resume it in that mode (--set precision=... "
                            f"--set channels_last=...), not with {mode['precision']}, {mode['channels_last']}")
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"], loader_generator)
        if state.get("threads") not in (None, torch.get_num_threads()) and torch.device(device).type == "cpu":
            warnings.warn(f"resuming with {torch.get_num_threads()} CPU threads, the run used {state['threads']}: "
                          "results may differ in the last digits from an uninterrupted run", stacklevel=2)
    weights = weights.to(device) if weights is not None else None

    optimizer = scheduler = None
    current_stage = -1
    for index in range(done, len(plan)):
        si, stage_epoch = plan[index]
        stage = recipe.stages[si]
        if si in stopped:
            continue
        if stage_epoch == 0:  # a new stage (also when resuming exactly at its start)
            es_best, es_wait = None, 0
            if recipe.select_scope == "stage" and si > 0:
                if (fold_dir / "best.pt").exists() and val_loader is not None:
                    from signfer.models.checkpoint import load_state_dict_file

                    distributed.barrier()  # best.pt is written by rank 0
                    model.load_state_dict(load_state_dict_file(fold_dir / "best.pt")[0])
                best_value = None
        if si != current_stage:
            params = set_trainable(model, stage.trainable)
            train_model = distributed.wrap_model(model, device)  # DDP under torchrun (rebuilt per stage), else model
            optimizer = make_optimizer(stage, params, fused=recipe.fused_optimizer)
            scheduler = make_scheduler(stage, optimizer)
            if state and state.get("stage_index") == si:  # resuming inside this stage
                optimizer.load_state_dict(state["optimizer"])
                if scheduler is not None and state.get("scheduler") is not None:
                    scheduler.load_state_dict(state["scheduler"])
            current_stage = si
            if progress:
                n_train, n_all = count_parameters(model)
                print(f"stage {si + 1}/{len(recipe.stages)} {stage.name}: {stage.epochs} epoch(s), lr {stage.lr:g}, "
                      f"{n_train:,} of {n_all:,} parameters train")
        start = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])
        desc = f"{fold_dir.name} epoch {index + 1}/{len(plan)} ({stage.name})"
        per_step = getattr(scheduler, "per_step", False)
        train_loss, train_acc = run_epoch(train_model, train_loader, optimizer, weights, device, progress, desc,
                                          mode=recipe.class_weight_mode, step_scheduler=scheduler if per_step else None,
                                          frozen_bn=stage.frozen_bn, precision=precision, scaler=scaler,
                                          sam_second_pass=recipe.setting("sam_second_pass"))
        if scheduler is not None and not per_step:
            scheduler.step()
        if val_loader is not None:
            batch_mean = recipe.batch_size if recipe.setting("val_accuracy") == "batch_mean" else 0
            figures = validation_figures(*predict_logits(model, val_loader, device, channels_last=precision.channels_last),
                                         class_names, batch_mean)
        else:
            figures = dict.fromkeys(("val_loss", "val_acc", "val_mean_sensitivity"), math.nan)
        row = {"stage": stage.name, "epoch": index + 1, "train_loss": train_loss, "train_acc": train_acc, **figures,
               "lr": lr, "seconds": round(time.perf_counter() - start, 3)}
        history.append(row)

        value = figures[recipe.select_metric] if val_loader is not None else None
        if stage.patience and val_loader is not None:  # Keras EarlyStopping: wait counts epochs without a new stage best
            if _better(value, es_best, recipe.select_metric):
                es_best, es_wait = value, 0
            else:
                es_wait += 1
                if es_wait >= stage.patience:
                    stopped.add(si)
        if val_loader is None or _better(value, best_value, recipe.select_metric):
            best_value, best_epoch = value, index + 1
            if distributed.is_main():  # only rank 0 writes files
                save_checkpoint(fold_dir / "best.pt", model, spec,
                                extra={**extra, "epoch": index + 1, "stage": stage.name, "select_metric": recipe.select_metric,
                                       "value": value})
        resume_state = {
            **extra,
            "completed_epochs": index + 1,
            "stage_index": si,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": _rng_state(loader_generator),
            "history": history,
            "best_value": best_value,
            "best_epoch": best_epoch,
            "stopped_stages": sorted(stopped),
            "es_best": es_best,
            "es_wait": es_wait,
            "threads": torch.get_num_threads(),
        }
        if distributed.is_main():
            save_checkpoint(fold_dir / "last.pt", model, spec, extra=resume_state)
            _write_history(history, fold_dir / "history.csv")
        if progress and si in stopped:
            print(f"  early stopping: {stage.name} has not improved for {stage.patience} epoch(s)")
        if progress:
            print(f"  epoch {index + 1}: loss {train_loss:.4f} acc {train_acc:.3f} | val loss {figures['val_loss']:.4f} "
                  f"acc {figures['val_acc']:.3f} mean sens {figures['val_mean_sensitivity']:.3f} ({row['seconds']:.1f}s)")
        if on_epoch_end is not None:
            on_epoch_end(row)

    if not plan and distributed.is_main():
        _write_history(history, fold_dir / "history.csv")
    distributed.barrier()  # best.pt is written by rank 0
    # the MobileNet notebooks evaluate the in-memory model after the last epoch (final_on_test: last): keep it
    # (a run resumed after its last epoch holds last.pt, the same weights)
    if not recipe.final_is_last_epoch and (fold_dir / "best.pt").exists():
        from signfer.models.checkpoint import load_state_dict_file

        model.load_state_dict(load_state_dict_file(fold_dir / "best.pt")[0])
    return FitResult(model=model, history=history, best_epoch=best_epoch, best_value=best_value)


# --------------------------------------------------------------------------- one fold, end to end
def make_loader(dataset, recipe: Recipe, shuffle: bool, workers: int = 0, generator: torch.Generator | None = None,
                pin_memory: bool = False, valid_rows: int = 0) -> DataLoader:
    """Batches of ``recipe.batch_size``; a shuffled loader draws its order from ``generator`` (saved in ``last.pt``).

    Under torchrun a shuffled loader gives this process its share of the same global batches
    (:func:`signfer.training.distributed.train_loader`). With ``recipe.sampler == "balanced"`` a
    shuffled loader draws ``len(dataset)`` items with replacement, each with the weight of its
    class (:func:`balanced_sample_weights`), as EASIER-EkmanClassifier's loaders do. ``pin_memory``: page-locked
    batches for asynchronous copies to a GPU. With ``workers``, a loader without shuffling keeps its worker
    processes between epochs (validation is run every epoch); a shuffled one starts them each epoch, so that
    their random flips follow ``generator`` and a resumed run draws the same ones. Each worker loads 4 batches ahead.

    ``recipe.sampler == "published-2025"``: ``dataset`` is the whole reordered training file whose first
    ``valid_rows`` items are the validation rows (:func:`signfer.data.sampler.published_2025_order`); the loader
    draws as base_data_loader.py does (:func:`signfer.data.sampler.published_2025_weights`)."""
    kind = getattr(recipe, "sampler", "shuffle")
    if kind == "published-2025" and not recipe.val_fraction:
        kind = "shuffle"  # base_data_loader.py: `if split == 0.0: return None, None`, a plain shuffled loader
    if shuffle and kind in ("balanced", "published-2025"):
        if distributed.is_distributed():
            from signfer.errors import UserError

            raise UserError(f"sampler: {kind} is not supported under torchrun / accelerate launch; train on one process")
        from torch.utils.data import WeightedRandomSampler

        if kind == "balanced":
            weights = balanced_sample_weights(dataset.labels)
        else:
            from signfer.data.sampler import published_2025_weights

            weights = published_2025_weights(dataset.labels, valid_rows)  # entry j weighs row j of the whole set
        sampler = WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double), num_samples=len(weights),
                                        replacement=True, generator=generator)
        drop_last = len(weights) % recipe.batch_size == 1
        return DataLoader(dataset, batch_size=recipe.batch_size, sampler=sampler, num_workers=workers, drop_last=drop_last,
                          pin_memory=pin_memory)
    if shuffle and distributed.is_distributed():
        return distributed.train_loader(dataset, recipe.batch_size, generator, workers, pin_memory=pin_memory)
    # A training batch of one sample cannot train BatchNorm ("Expected more than 1 value per channel"):
    # drop such a single leftover sample (it is drawn again in later epochs).
    drop_last = shuffle and len(dataset) % recipe.batch_size == 1
    more = dict(persistent_workers=not shuffle, prefetch_factor=4) if workers > 0 else {}
    return DataLoader(dataset, batch_size=recipe.batch_size, shuffle=shuffle, num_workers=workers, generator=generator,
                      drop_last=drop_last, pin_memory=pin_memory, **more)


def balanced_sample_weights(labels) -> np.ndarray:
    """Per-sample weights of scikit-learn's ``compute_class_weight("balanced")``: ``n / (n_classes * n_c)`` for a sample of class c.

    EASIER-EkmanClassifier ``FaceExpressionPhoenixDataset.get_sample_weights`` (classes = the labels present).
    """
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    classes = np.unique(labels)
    per_class = compute_class_weight(class_weight="balanced", classes=classes, y=labels)
    return per_class[np.searchsorted(classes, labels)]


class BGRNormalize:
    """``normalize`` of RGB batches fed the channels in BGR order (picklable, for loader workers)."""

    def __init__(self, normalize):
        self.normalize = normalize

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.normalize(np.ascontiguousarray(rgb[..., ::-1]))


def make_dataset(recipe: Recipe, spec, part: pd.DataFrame, *, train: bool, cache_dir=None, final: bool = False):
    """A :class:`~signfer.data.dataset.FaceDataset` of ``part`` as the recipe prepares it; random flips only when ``train``.

    Under the published protocol (``select_on: test``) the recipe's ``published`` settings apply: ``test_flip``
    flips evaluation images too, ``train_resize: nearest`` resizes training crops with nearest neighbour (Keras
    ``flow_from_directory``), and ``eval_channels: bgr`` feeds the ``final`` evaluation (the test predictions, not
    the per-epoch selection) BGR images, as Table 4's notebooks without IP (``cv2.imread`` without ``cvtColor``).
    Labels are indexed in the recipe's classes (a baseline model's own classes may differ).
    """
    from signfer.data.dataset import FaceDataset

    flip = recipe.hflip and train or (not train and recipe.setting("test_flip"))
    overrides = dict(recipe.preset_overrides or {})
    if train and recipe.setting("train_resize") == "nearest":
        overrides["resize"] = "nearest"
    normalize = spec.normalize
    if final and recipe.setting("eval_channels") == "bgr":
        normalize = BGRNormalize(spec.normalize)
    return FaceDataset(part, recipe.class_names(), preset=recipe.preset, region=recipe.region, size=recipe.image_size,
                       normalize=normalize, hflip=flip, overrides=overrides or None, cache_dir=cache_dir)


def predictions_table(df: pd.DataFrame, probs: np.ndarray, class_names) -> pd.DataFrame:
    """``predictions.csv`` rows: source_id, path, group, y_true, y_pred, p_<class> for each class."""
    names = list(class_names)
    out = pd.DataFrame({
        "source_id": df["source_id"].astype(str).to_numpy(),
        "path": df["path"].astype(str).to_numpy(),
        "group": df["group"].astype(str).to_numpy(),
        "y_true": df["label"].astype(str).to_numpy(),
        "y_pred": [names[i] for i in probs.argmax(1)],
    })
    for i, c in enumerate(names):
        out[f"p_{c}"] = probs[:, i].astype(np.float32)
    return out


def train_fold(
    recipe: Recipe,
    df: pd.DataFrame,
    fold: int,
    fold_dir: str | Path,
    *,
    resume: bool = False,
    device: str = "auto",
    progress: bool = True,
    workers: int = 0,
    cache_dir=None,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> dict:
    """Train ``recipe`` on every fold of ``df`` but ``fold``, test on ``fold``; returns the test metrics.

    ``df``: a reader's table with a ``fold`` column (:func:`signfer.data.folds.make_folds`).
    Writes ``fold_dir``/{best.pt, last.pt, history.csv, predictions.csv, metrics.json}.
    With ``resume`` a finished fold is returned as it is and an interrupted one continues from
    ``last.pt``; without it a fold folder that already holds a run is an error.
    """
    from signfer.data.folds import fold_split, split_train_val
    from signfer.data.labels import map_probabilities
    from signfer.evaluation.metrics import classification_metrics
    from signfer.models.checkpoint import load_checkpoint, save_checkpoint
    from signfer.training.prepare import build_model, resolve_device

    fold_dir = Path(fold_dir)
    metrics_path = fold_dir / "metrics.json"
    last_path = fold_dir / "last.pt"
    if not resume and any(fold_dir.glob("*.pt")):
        raise OptionError(f"{fold_dir} already holds a run; pass --resume to continue it or choose another --out")
    if resume and metrics_path.exists():
        return json.loads(metrics_path.read_text(encoding="utf-8"))
    distributed.barrier()  # every process has checked the folder before rank 0 writes into it
    fold_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)
    class_names = recipe.class_names()

    train_part, test = fold_split(df, fold)
    valid_rows = 0  # sampler published-2025: validation rows at the head of the training set
    if recipe.select_on == "test" and not recipe.is_baseline:
        # the published SLTAT protocol: every training image trains, the best epoch is chosen on the test fold (optimistic)
        train_df, val_df = train_part, test
    elif recipe.sampler == "published-2025" and recipe.val_fraction > 0 and not recipe.is_baseline:
        from signfer.data.sampler import published_2025_order

        # the 2025 code's loader reads the whole reordered training file: its first valid_rows rows validate
        train_df, valid_rows = published_2025_order(train_part, recipe.val_fraction)
        val_df = train_df.iloc[:valid_rows]
    elif recipe.split == "easier2025" and recipe.val_fraction > 0 and not recipe.is_baseline:
        from signfer.data.folds import easier2025_validation_split

        train_df, val_df = easier2025_validation_split(train_part, recipe.val_fraction)
    elif recipe.val_fraction > 0 and not recipe.is_baseline:
        try:
            train_df, val_df = split_train_val(train_part, recipe.val_fraction, seed=recipe.seed)
        except ValueError as exc:
            raise OptionError(f"validation split of fold {fold}: {exc}; lower val_fraction (--set val_fraction=0.2) "
                             "or use val_fraction=0 to keep the last epoch") from None
    else:
        train_df, val_df = train_part, train_part.iloc[:0]

    state = None
    if resume and last_path.exists():
        model, spec, state = load_checkpoint(last_path)
    else:
        seed_everything(recipe.seed)
        model, spec = build_model(recipe, class_names)
    precision = recipe_precision(recipe, device)
    precision.prepare_model(model.to(device))
    pin = device.type == "cuda"

    extra = {"fold": int(fold), "recipe": recipe.name, "select_on": recipe.select_on, "training": precision.to_dict()}
    if recipe.is_baseline:
        if distributed.is_main():
            _write_history([], fold_dir / "history.csv")
            save_checkpoint(fold_dir / "best.pt", model, spec, extra={**extra, "epoch": 0, "baseline_classes": list(class_names)})
    else:
        generator = torch.Generator().manual_seed(recipe.seed)
        weights = class_weights(train_df["label"], class_names) if recipe.class_weights else None
        train_loader = make_loader(make_dataset(recipe, spec, train_df, train=True, cache_dir=cache_dir), recipe, True, workers,
                                   generator, pin_memory=pin, valid_rows=valid_rows)
        val_loader = (make_loader(make_dataset(recipe, spec, val_df, train=False, cache_dir=cache_dir), recipe, False, workers,
                                  pin_memory=pin) if len(val_df) else None)
        if progress:
            how = f"device {device}, {precision.precision}{', channels-last' if precision.channels_last else ''}"
            if recipe.optimistic:
                print(f"fold {fold}: {len(train_df)} training, {len(test)} test images; the checkpoint is chosen on the test fold "
                      f"(--select-on test, the published protocol: optimistic); {how}")
            else:
                print(f"fold {fold}: {len(train_df)} training, {len(val_df)} validation, {len(test)} test images; {how}")
        fit(model, spec, recipe, train_loader, val_loader, fold_dir, loader_generator=generator, weights=weights,
            device=device, progress=progress, state=state, on_epoch_end=on_epoch_end, extra=extra, precision=precision)

    test_ds = make_dataset(recipe, spec, test, train=False, cache_dir=cache_dir, final=True)
    logits, _ = predict_logits(model, make_loader(test_ds, recipe, False, workers, pin_memory=pin), device, progress,
                               f"{fold_dir.name} test", channels_last=precision.channels_last)
    probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    if tuple(spec.class_names) != tuple(class_names):  # a baseline: carry its own classes into the recipe's
        probs = map_probabilities(probs, spec.class_names, class_names)
    table = predictions_table(test, probs, class_names)
    with warnings_quiet():
        metrics = classification_metrics(table["y_true"], table["y_pred"], class_names)
    metrics["selection"] = selection_info(recipe)
    metrics["training"] = precision.to_dict()  # how it was trained (the figures are of the float32 model)
    if distributed.is_main():
        with atomic_write(fold_dir / "predictions.csv") as fh:
            table.to_csv(fh, index=False)
        with atomic_write(metrics_path) as fh:  # last: a fold with metrics.json is finished
            json.dump(metrics, fh, indent=2)
    distributed.barrier()
    return metrics


def selection_info(recipe: Recipe) -> dict:
    """How the reported checkpoint was chosen (``metrics.json`` key ``selection``): ``on``, ``metric``, ``scope``,
    ``final`` (``best``: the selected checkpoint, ``best.pt``; ``last``: the last epoch's weights, ``last.pt``) and ``optimistic``."""
    if recipe.is_baseline:
        return {"on": "none", "metric": None, "scope": None, "optimistic": False}
    on = recipe.select_on if (recipe.select_on == "test" or recipe.val_fraction > 0) else "last_epoch"
    final = "last" if recipe.final_is_last_epoch or on == "last_epoch" else "best"
    return {"on": on, "metric": recipe.select_metric, "scope": recipe.select_scope, "final": final,
            "optimistic": recipe.optimistic}


@contextlib.contextmanager
def warnings_quiet():
    """Silence the 'no true samples of a class' warning (e.g. contempt on FePh; the JSON records None)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="no true samples")
        yield


# --------------------------------------------------------------------------- `signfer train`
def train(
    recipe: str | Recipe,
    data: str | Path,
    out: str | Path,
    *,
    fold: int = 0,
    folds: int | None = None,
    data_format: str | None = None,
    overrides: dict | list[str] | None = None,
    resume: bool = False,
    device: str = "auto",
    progress: bool = True,
    workers: int = 0,
    threads: int | None = None,
    cache_dir=None,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> dict:
    """Train fold ``fold`` of ``recipe`` on the data set at ``data``; write ``out``/fold_<fold>; return its test metrics.

    ``recipe``: a recipe name (``M2``, ``easier2025``...), YAML file or :class:`Recipe`;
    ``overrides``: recipe fields to change (``{"image_size": 64}`` or ``["stages.0.epochs=1"]``).
    ``folds``: k of the k-fold split (default: the recipe's); ``data_format``: ``feph``,
    ``affectnet`` or ``folder`` (default: the recipe's). The run folder gets ``run.yaml`` and
    ``folds.csv`` on the first call; later calls (other folds, ``resume``) must use the same
    configuration and reuse the saved folds.
    """
    from signfer.training.prepare import start_run

    recipe, df, progress = start_run(recipe, data, out, folds=folds, data_format=data_format, overrides=overrides,
                                     device=device, threads=threads, progress=progress)
    k = int(df["fold"].max()) + 1
    if not 0 <= fold < k:
        raise OptionError(f"fold must be between 0 and {k - 1}, got {fold}")
    return train_fold(recipe, df, fold, Path(out) / f"fold_{fold}", resume=resume, device=device, progress=progress,
                      workers=workers, cache_dir=cache_dir, on_epoch_end=on_epoch_end)
