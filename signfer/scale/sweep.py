"""``signfer sweep``: many (recipe, region, fold) trainings in parallel, restartable, one summary at the end.

Each job is one ``signfer train --fold K --resume`` process (a ``torchrun --standalone`` of it
with ``nproc_per_job > 1``), run on this machine by :func:`signfer.scale.engine.run_commands` at
most ``workers`` at a time (``engine="local"``), or as Ray tasks asking for the CPUs and GPUs of
their processes on a Ray cluster by :func:`signfer.scale.cluster.run_commands_ray`
(``engine="ray"``; OUT and the data on a file system every node sees). Layout::

    OUT/<recipe>[-<region>]/      a normal run directory per (recipe, region): run.yaml, folds.csv, fold_<k>/...
    OUT/_sweep/jobs.csv           every job: status ok / failed / skipped, exit code, seconds, error, log
    OUT/_sweep/done/<job>.json    written when a job's fold_<k>/metrics.json exists (it is written last)
    OUT/_sweep/logs/<job>.log     the job's output
    OUT/sweep_summary.md, .csv    every run side by side (k-fold mean (std), the SLTAT Table-5 layout)

The driver prepares each run directory (run.yaml, folds.csv) before any job starts, so
parallel folds of one run never race to create them. Rerunning the same command skips the
finished jobs and resumes the interrupted ones from their ``last.pt``, whichever engine ran them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from signfer.errors import OptionError, UserError
from signfer.io import atomic_write
from signfer.scale.engine import (
    CommandJob,
    Ledger,
    job_id,
    python_command,
    run_commands,
)

SWEEP_DIR = "_sweep"


@dataclass
class SweepRun:
    """One (recipe, region) of a sweep: its run directory, the folds to train, its training options."""

    recipe: str
    region: str | None
    run_dir: Path
    folds: list[int]
    overrides: list[str]

    @property
    def name(self) -> str:
        return self.run_dir.name


def _recipe_label(recipe: str) -> str:
    p = Path(recipe)
    return p.stem if p.suffix in (".yaml", ".yml") else recipe


def plan_runs(
    recipes: Sequence[str],
    data,
    out,
    *,
    regions: Sequence[str] | None = None,
    folds: int | None = None,
    fold_list: Sequence[int] | None = None,
    data_format: str | None = None,
    overrides: Sequence[str] = (),
) -> list[SweepRun]:
    """Prepare every run directory of the sweep (``run.yaml``, ``folds.csv``) and list its folds."""
    from signfer.training.prepare import prepare_run, resolve_recipe, settle_precision

    out = Path(out)
    runs = []
    for recipe in recipes:
        for region in (regions or [None]):
            extra = list(overrides) + ([f"region={region}"] if region else [])
            resolved = resolve_recipe(recipe, extra)
            name = _recipe_label(recipe) + (f"-{region}" if region else "")
            run_dir = out / name
            # precision "auto" means the mode an existing run was trained in (its jobs settle it the same way)
            df = prepare_run(settle_precision(resolved, run_dir), data, run_dir, folds=folds, data_format=data_format)
            k = int(df["fold"].max()) + 1
            wanted = list(range(k)) if fold_list is None else [int(f) for f in fold_list]
            bad = [f for f in wanted if not 0 <= f < k]
            if bad:
                raise OptionError(f"folds {bad} do not exist in {run_dir} (k = {k})")
            runs.append(SweepRun(recipe, region, run_dir, wanted, extra))
    return runs


def job_command(run: SweepRun, fold: int, data, *, folds: int | None, data_format: str | None, nproc_per_job: int,
                device: str, threads: int | None, cache: str | None, train_args: Sequence[str] = ()) -> list[str]:
    """The command line of one job: ``signfer train ... --fold K --resume`` (under torchrun for several processes)."""
    args = ["train", "--recipe", run.recipe, "--data", str(data), "--out", str(run.run_dir), "--fold", str(fold),
            "--resume", "--no-progress", "--device", device]
    if folds:
        args += ["--folds", str(folds)]
    if data_format:
        args += ["--data-format", data_format]
    for o in run.overrides:
        args += ["--set", o]
    if threads:
        args += ["--threads", str(threads)]
    if cache is not None:
        args += ["--cache", str(cache)]
    args += list(train_args)
    if nproc_per_job > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc_per_job),
                "-m", "signfer.cli", *args]
    return python_command(*args)


def gpu_slots(gpus: Sequence[str] | None, workers: int, nproc_per_job: int) -> list[dict[str, str]] | None:
    """Split ``gpus`` into ``workers`` groups of ``nproc_per_job`` (CUDA_VISIBLE_DEVICES per parallel job)."""
    if not gpus:
        return None
    need = workers * nproc_per_job
    if len(gpus) < need:
        raise OptionError(f"{workers} parallel job(s) x {nproc_per_job} process(es) need {need} GPUs, got {len(gpus)}: {','.join(gpus)}")
    return [{"CUDA_VISIBLE_DEVICES": ",".join(gpus[i * nproc_per_job:(i + 1) * nproc_per_job])} for i in range(workers)]


def run_sweep(
    recipes: Sequence[str],
    data,
    out,
    *,
    regions: Sequence[str] | None = None,
    folds: int | None = None,
    fold_list: Sequence[int] | None = None,
    data_format: str | None = None,
    overrides: Sequence[str] = (),
    workers: int = 1,
    nproc_per_job: int = 1,
    gpus: Sequence[str] | None = None,
    engine: str = "local",
    address: str | None = None,
    gpus_per_job: float = 0,
    device: str = "auto",
    threads: int | None = None,
    cache: str | None = None,
    train_args: Sequence[str] = (),
    summary_only: bool = False,
    log: Callable[[str], None] = print,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every (recipe, region, fold) job not yet finished; return (jobs table, summary table).

    ``recipes``: names or YAML files; ``regions``: face regions to train each recipe on (None:
    the recipe's own); ``fold_list``: only these folds (default: all k). ``workers`` jobs run at
    once, each with ``nproc_per_job`` data-parallel processes; ``gpus`` are shared out among
    them. ``threads`` (default: CPU cores / (workers x nproc_per_job)) caps each process's
    torch threads.
    ``engine="ray"``: every job is a Ray task on the cluster at ``address`` (default:
    ``RAY_ADDRESS``, else a local Ray) asking for ``threads x nproc_per_job`` CPUs (threads
    default 1 there) and ``gpus_per_job`` GPUs (for a DDP job: ``nproc_per_job`` of them); Ray
    runs as many at once as fit and sets each job's ``CUDA_VISIBLE_DEVICES`` (``workers`` and
    ``gpus`` are for the local engine).
    ``train_args``: more ``signfer train`` options, e.g. ``["--pretrained", "none"]``.
    Writes ``OUT/sweep_summary.{md,csv}`` and ``OUT/_sweep/jobs.csv``.
    """
    if engine not in ("local", "ray"):
        raise UserError(f"engine must be local or ray, got {engine!r}")
    if engine == "ray" and gpus:
        raise UserError("--gpus shares out this machine's GPUs (local engine); on Ray use --gpus-per-job (Ray assigns the GPUs)")
    if engine != "ray" and gpus_per_job:
        raise UserError("--gpus-per-job needs --engine ray; on one machine use --gpus")
    out = Path(out).resolve() if engine == "ray" else Path(out)  # jobs run elsewhere: absolute paths
    data = Path(data).resolve() if engine == "ray" else data
    if engine == "ray":
        recipes = [str(Path(r).resolve()) if Path(r).suffix in (".yaml", ".yml") else r for r in recipes]
    workers, nproc_per_job = max(1, int(workers)), max(1, int(nproc_per_job))
    runs = plan_runs(recipes, data, out, regions=regions, folds=folds, fold_list=fold_list, data_format=data_format,
                     overrides=overrides)
    ledger = Ledger(out / SWEEP_DIR)
    if threads is None:
        threads = 1 if engine == "ray" else max(1, (os.cpu_count() or 1) // (workers * nproc_per_job))
    jobs = []
    for run in runs:
        for fold in run.folds:
            metrics = run.run_dir / f"fold_{fold}" / "metrics.json"
            jid = job_id(run.name, f"fold{fold}")
            jobs.append(CommandJob(
                id=jid,
                argv=job_command(run, fold, data, folds=folds, data_format=data_format, nproc_per_job=nproc_per_job,
                                 device=device, threads=threads, cache=cache, train_args=train_args),
                log=out / SWEEP_DIR / "logs" / f"{jid}.log",
                done=metrics.exists,
                env={"OMP_NUM_THREADS": str(threads)},
                info={"run": run.name, "recipe": run.recipe, "region": run.region or "", "fold": fold},
            ))
    if not summary_only and engine == "ray":
        from signfer.scale.cluster import run_commands_ray

        log(f"sweep: {len(runs)} run(s), {len(jobs)} job(s) on Ray; each {nproc_per_job} process(es), "
            f"{threads * nproc_per_job} CPU(s)" + (f", {gpus_per_job:g} GPU(s)" if gpus_per_job else ""))
        run_commands_ray(jobs, ledger, cpus_per_job=threads * nproc_per_job, gpus_per_job=gpus_per_job, address=address, log=log)
    elif not summary_only:
        log(f"sweep: {len(runs)} run(s), {len(jobs)} job(s); {workers} at a time, {nproc_per_job} process(es) each")
        run_commands(jobs, ledger, workers=workers, slot_env=gpu_slots(gpus, workers, nproc_per_job), log=log)
    table = ledger.frame()
    summary = write_summary(runs, out, table)
    return table, summary


def write_summary(runs: Sequence[SweepRun], out: Path, jobs: pd.DataFrame | None = None) -> pd.DataFrame:
    """``OUT/sweep_summary.{csv,md}``: each run's k-fold mean (std) (of its finished folds) and the job counts.

    Also refreshes each run's own ``summary.csv`` / ``summary.md``."""
    from signfer.evaluation.summary import kfold_table, summarize_run, to_markdown

    summaries, done = {}, {}
    for run in runs:
        finished = [f for f in run.folds if (run.run_dir / f"fold_{f}" / "metrics.json").exists()]
        done[run.name] = (len(finished), len(run.folds))
        if finished:
            summaries[run.name] = summarize_run(run.run_dir)
    table = kfold_table(summaries) if summaries else pd.DataFrame()
    lines = ["# Sweep summary", "",
             "Percent; mean (std) over the finished folds of each run (sens. var.: variance of the per-class sensitivities).", ""]
    lines.append(to_markdown(table) if len(table) else "No fold has finished yet.")
    missing = [f"{n} ({a} of {b} folds)" for n, (a, b) in done.items() if a < b]
    if missing:
        lines += ["", "Unfinished: " + ", ".join(missing) + ". Rerun the same `signfer sweep` command to continue."]
    if jobs is not None and len(jobs) and "status" in jobs:
        counts = jobs["status"].value_counts().to_dict()
        lines += ["", "Jobs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f" (details in {SWEEP_DIR}/jobs.csv)"]
        failed = jobs[jobs["status"] == "failed"]
        for _, row in failed.iterrows():
            lines.append(f"- failed: {row['job']}: {row.get('error', '')}")
    with atomic_write(out / "sweep_summary.md") as fh:
        fh.write("\n".join(lines) + "\n")
    if len(table):
        table.insert(2, "folds_planned", [done[n][1] for n in table.index])
    with atomic_write(out / "sweep_summary.csv") as fh:
        table.to_csv(fh)
    return table
