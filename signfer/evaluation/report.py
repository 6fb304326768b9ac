"""``signfer report``: several run directories side by side, with published reference rows and plots."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from signfer.errors import OptionError
from signfer.evaluation import plots, summary
from signfer.io import atomic_write


def pooled_confusion(run_dir: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """Sum of the folds' confusion matrices (every test image once over a k-fold run) and its class order."""
    metrics = summary.run_metrics(run_dir)
    classes = summary._class_order(list(metrics.values()))
    total = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for k, m in metrics.items():
        order = list(m["sensitivity"])
        cm = np.asarray(m.get("confusion", []), dtype=np.int64)
        if cm.shape != (len(order), len(order)):
            continue
        idx = [classes.index(c) for c in order]
        total[np.ix_(idx, idx)] += cm
    return total, classes


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "run"


def report_runs(
    run_dirs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None = None,
    reference: str | None = "sltat2022",
    names: Sequence[str] | None = None,
    avg_sens_std: str = "reference",
) -> pd.DataFrame:
    """k-fold mean (std) of several runs in the SLTAT Table-5 layout, plus published reference rows.

    ``reference``: ``"sltat2022"`` (Table 5, 5-fold CV), ``"sltat2022:table4"``, ``"easier2025"``,
    a YAML path, or None. ``names``: one display name per run (default: folder names).
    ``avg_sens_std``: see :func:`signfer.evaluation.summary.kfold_table` (default: the reference
    table's own convention). Runs made with the published protocols (``--select-on test``, the
    2025 code's frame-level split) are marked optimistic. Returns the table of
    :func:`~signfer.evaluation.summary.kfold_table`. With ``out`` writes there ``report.csv`` (that
    table, numbers), ``report.md`` (mean (std) Markdown, notes, plots) and the PNG plots:
    ``sensitivity.png`` (all runs), ``confusion_<run>.png`` (folds pooled) and ``history_<run>.png``
    (every fold's ``history.csv``). Run directories are only read.
    """
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise OptionError("give at least one run directory")
    names = list(names) if names is not None else summary.run_names(run_dirs)
    if len(names) != len(run_dirs):
        raise OptionError(f"{len(names)} names for {len(run_dirs)} run directories")
    if len(set(names)) != len(names):
        raise OptionError(f"run names must differ: {names}")
    summaries = {name: summary.summarize_run(d, write=False) for name, d in zip(names, run_dirs)}
    table = summary.kfold_table(summaries, reference=reference, avg_sens_std=avg_sens_std)
    avg_sens_std = table.attrs.get("avg_sens_std", avg_sens_std)
    for name, d in zip(names, run_dirs):
        table.loc[name, "source"] = str(d)
    if out is None:
        return table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "report.csv") as fh:
        table.to_csv(fh, float_format="%.6g")

    classes = summary._classes_in(table)
    runs = table[table["kind"] == "run"]
    run_classes = [c for c in classes if runs[c].notna().any()]
    figures: list[tuple[str, Path]] = []
    figures.append(("Per-class sensitivity, mean (std) over folds", plots.plot_sensitivity(
        runs[run_classes], out / "sensitivity.png", errors=runs[[summary._std_col(c) for c in run_classes]].set_axis(run_classes, axis=1))))
    for name, d in zip(names, run_dirs):
        slug = _slug(name)
        cm, cm_classes = pooled_confusion(d)
        if cm.sum():
            figures.append((f"{name}: confusion matrix, all test folds pooled", plots.plot_confusion(
                cm, cm_classes, out / f"confusion_{slug}.png", title=f"{name}: all folds pooled")))
        histories = {f"fold_{k}": p / "history.csv" for k, p in summary.fold_dirs(d).items() if (p / "history.csv").exists()}
        if histories:
            figures.append((f"{name}: training curves", plots.plot_history(histories, out / f"history_{slug}.png", title=name)))

    with atomic_write(out / "report.md") as fh:
        fh.write(_report_markdown(table, summaries, reference, avg_sens_std, figures, out))
    return table


def _report_markdown(table, summaries, reference, avg_sens_std, figures, out: Path) -> str:
    lines = ["# signfer report", "", summary.to_markdown(table), "", "Notes:", ""]
    lines.append("- Percent. Runs: mean (std) over the test folds, std = sample std (ddof 1), except a run of a configuration whose "
                 "published row used the population std (SLTAT Table 5 M0: ddof 0): that run's std is computed the same way.")
    differing = [f"{n} (ddof {int(r['ddof'])}, as {r['reference_row']})" for n, r in table[table["kind"] == "run"].iterrows()
                 if r.get("reference_row") and r.get("ddof") not in (None, 1) and not pd.isna(r.get("ddof"))]
    if differing:
        lines.append("  - std with the published row's convention: " + ", ".join(differing) + ".")
    lines.append("- sens. var. = the 2025 paper's variance among classes: population variance of the final per-class sensitivities "
                 "(for a k-fold run the per-class means over folds), as fractions (its 0.042); one number per run. "
                 "mean fold sens. var. = mean (std) over folds of each fold's own variance among classes (larger: it adds fold noise).")
    if "optimistic" in table.columns and table["optimistic"].fillna(False).astype(bool).any():
        marked = [str(n) for n, o in table["optimistic"].items() if isinstance(o, (bool, np.bool_)) and o]
        lines.append("- [optimistic]: " + ", ".join(marked) + ". Their checkpoint was chosen on the test fold (the SLTAT notebooks' "
                     "validation_data=test; signfer --select-on test) or their split puts frames of one video on both sides (the "
                     "2025 code's 80/20 frame split): the published protocols, reproduced like for like; compare them with the "
                     "honest rows (grouped folds, selection on a validation split) to see how much of a figure the protocol adds.")
    for name, row in table[table["kind"] == "run"].iterrows():
        if row.get("protocol"):
            lines.append(f"- {name}: {row['protocol']}.")
    if avg_sens_std == "classes":
        lines.append("- avg. sens. std of the runs = mean of the per-class stds (the SLTAT Table 5 convention).")
    else:
        lines.append("- avg. sens. std of the runs = std over folds of each fold's average sensitivity. The SLTAT Table 5 avg. sens. "
                     "std is the mean of its per-class stds instead (use --avg-sens-std classes to compare like with like).")
    for name, s in summaries.items():
        folds = s.loc[[i for i in s.index if str(i).startswith("fold_")]]
        absent = [c for c in s.columns if c not in summary.FIGURES and folds[c].isna().all()]
        text = f"- {name}: {len(folds)} fold(s), {int(np.nansum(folds['n']))} test images"
        if absent:
            text += f"; no test samples of {', '.join(absent)} (sensitivity undefined, left out of avg. sens.)"
        lines.append(text + ".")
    refs = table[table["kind"] == "reference"]
    if len(refs):
        lines.append(f"- Reference rows ({reference}): published numbers, not computed here.")
        by_source: dict[str, list[str]] = {}
        for name, src in refs["source"].items():
            by_source.setdefault(str(src), []).append(str(name))
        for src, rows in by_source.items():
            lines.append(f"  - {', '.join(rows)}: {src}")
    folds = summary.per_fold_lines(table)
    if folds:
        lines += ["", "## Accuracy per fold", "",
                  "The published per-fold accuracies (printed by the notebooks) beside each run's. The published fold split "
                  "is not reproducible (see docs/recipes.md); M0 and E0 do not train, so their folds test the crops and the "
                  "model port alone.", "", *folds]
    if figures:
        lines += ["", "## Plots", ""]
        for caption, path in figures:
            lines += [f"### {caption}", "", f"![{caption}]({os.path.relpath(path, out)})", ""]
    return "\n".join(lines).rstrip() + "\n"
