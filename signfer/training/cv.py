"""k-fold cross-validation of a recipe (``signfer cv``): every fold, then the summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from signfer.training import distributed
from signfer.training.loop import train_fold
from signfer.training.prepare import start_run
from signfer.training.recipes import Recipe


def run_cv(
    recipe: str | Recipe,
    data: str | Path,
    out: str | Path,
    *,
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
) -> pd.DataFrame:
    """Train and test ``recipe`` on each of the k folds of ``data``, then summarise.

    Writes ``out``/run.yaml, folds.csv, fold_<k>/... (see :func:`signfer.training.loop.train_fold`)
    and ``summary.csv`` / ``summary.md`` (:func:`signfer.evaluation.summary.summarize_run`), whose
    table it returns. With ``resume`` finished folds are kept and an interrupted one continues.
    Arguments as :func:`signfer.training.loop.train`.
    """
    from signfer.evaluation.summary import summarize_run

    recipe, df, progress = start_run(recipe, data, out, folds=folds, data_format=data_format, overrides=overrides,
                                     device=device, threads=threads, progress=progress)
    k = int(df["fold"].max()) + 1
    for fold in range(k):
        if progress:
            print(f"== {recipe.name}: fold {fold + 1} of {k}")
        metrics = train_fold(recipe, df, fold, Path(out) / f"fold_{fold}", resume=resume, device=device, progress=progress,
                             workers=workers, cache_dir=cache_dir, on_epoch_end=on_epoch_end)
        if progress:
            print(f"   fold {fold}: accuracy {metrics['accuracy']:.3f}, mean sensitivity {metrics['mean_sensitivity'] or float('nan'):.3f}")
    return summarize_run(out, write=distributed.is_main())
