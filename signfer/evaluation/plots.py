"""Evaluation plots as PNG files: confusion matrix, per-class sensitivity bars, training curves.

Figures are drawn on matplotlib's Agg canvas (``matplotlib.figure.Figure``, no pyplot), so they work
headless and never touch the user's interactive backend. Each function writes its PNG atomically
and returns the path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from signfer.errors import OptionError
from signfer.io import atomic_path

DPI = 120


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise OptionError(f"{path}: plots are written as PNG, give a .png path")
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    return path


def plot_confusion(
    confusion: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    title: str | None = None,
) -> Path:
    """Confusion matrix (rows = true, columns = predicted): colour and big number = row percent
    (the diagonal is each class's sensitivity), small number = count. Empty rows stay blank."""
    cm = np.asarray(confusion, dtype=float)
    n = len(class_names)
    if cm.shape != (n, n):
        raise OptionError(f"confusion matrix is {cm.shape}, expected ({n}, {n}) for {len(class_names)} classes")
    totals = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(totals > 0, cm / totals, np.nan)
    size = 1.0 + 0.75 * n
    fig = Figure(figsize=(size + 1.2, size))
    ax = fig.add_subplot()
    im = ax.imshow(np.ma.masked_invalid(rate * 100), cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="% of true class")
    for i in range(n):
        for j in range(n):
            if np.isnan(rate[i, j]):
                continue
            colour = "white" if rate[i, j] > 0.55 else "black"
            ax.text(j, i - 0.1, f"{100 * rate[i, j]:.0f}", ha="center", va="center", fontsize=10, color=colour, weight="bold" if i == j else None)
            ax.text(j, i + 0.25, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(n), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(n), labels=[f"{c} ({int(t)})" for c, t in zip(class_names, totals[:, 0])])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (samples)")
    acc = np.trace(cm) / cm.sum() if cm.sum() else np.nan
    ax.set_title(title or f"confusion matrix (accuracy {100 * acc:.1f}%)")
    return _save(fig, path)


def plot_sensitivity(
    sensitivities: pd.DataFrame | Mapping[str, Mapping[str, float]],
    path: str | os.PathLike,
    errors: pd.DataFrame | Mapping[str, Mapping[str, float]] | None = None,
    title: str | None = None,
) -> Path:
    """Grouped bars of per-class sensitivity (percent), one bar colour per configuration.

    ``sensitivities``: rows = configurations, columns = classes (a DataFrame or
    ``{config: {class: percent}}``); ``errors`` the same shape (e.g. std over folds) draws error bars.
    Undefined (nan) values leave a gap.
    """
    table = pd.DataFrame(sensitivities).T if isinstance(sensitivities, Mapping) else pd.DataFrame(sensitivities)
    if table.empty:
        raise OptionError("no sensitivities to plot")
    err = None
    if errors is not None:
        err = (pd.DataFrame(errors).T if isinstance(errors, Mapping) else pd.DataFrame(errors)).reindex(index=table.index, columns=table.columns)
    classes, configs = list(table.columns), list(table.index)
    width = 0.8 / len(configs)
    x = np.arange(len(classes))
    fig = Figure(figsize=(max(6.0, 1.0 + 0.9 * len(classes) * max(1, len(configs) / 2)), 4.2))
    ax = fig.add_subplot()
    for i, cfg in enumerate(configs):
        vals = table.loc[cfg].astype(float).to_numpy()
        yerr = None if err is None else np.nan_to_num(err.loc[cfg].astype(float).to_numpy())
        ax.bar(x + (i - (len(configs) - 1) / 2) * width, vals, width, yerr=yerr, capsize=2 if yerr is not None else 0, label=str(cfg))
    ax.set_xticks(x, labels=classes, rotation=30, ha="right")
    ax.set_ylim(0, 105)
    ax.set_ylabel("sensitivity (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or "per-class sensitivity")
    return _save(fig, path)


def _read_history(h) -> pd.DataFrame:
    if isinstance(h, pd.DataFrame):
        return h
    from signfer.io import InputError

    try:
        return pd.read_csv(h)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(h, f"not a readable history.csv ({exc})") from None


def plot_history(
    history: pd.DataFrame | str | os.PathLike | Mapping[str, pd.DataFrame | str | os.PathLike],
    path: str | os.PathLike,
    title: str | None = None,
) -> Path:
    """Training curves from ``history.csv`` (one row per epoch): loss (left) and accuracy /
    validation mean sensitivity (right) against the epoch count over all stages, with dotted
    lines (named) where a new training stage starts. ``history``: one table or path, or ``{label: table or path}``
    (e.g. one per fold) drawn in separate colours."""
    histories = {str(k): _read_history(v) for k, v in history.items()} if isinstance(history, Mapping) else {"": _read_history(history)}
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    colours = [f"C{i % 10}" for i in range(len(histories))]
    styles = {"train_loss": "-", "val_loss": "--", "train_acc": "-", "val_acc": "--", "val_mean_sensitivity": ":"}
    drew: set[str] = set()
    boundaries: dict[float, str] = {}
    for (label, df), colour in zip(histories.items(), colours):
        if df.empty:
            continue
        step = np.arange(1, len(df) + 1)
        for ax, cols in ((ax_loss, ("train_loss", "val_loss")), (ax_acc, ("train_acc", "val_acc", "val_mean_sensitivity"))):
            for col in cols:
                if col in df.columns and df[col].notna().any():
                    y = df[col].astype(float).to_numpy()
                    if ax is ax_acc and np.nanmax(y) <= 1.0:
                        y = 100 * y
                    ax.plot(step, y, styles[col], color=colour, marker=".", markersize=4)
                    drew.add(col)
        if "stage" in df.columns:
            stage = df["stage"].astype(str).to_numpy()
            for i in np.flatnonzero(stage[1:] != stage[:-1]) + 1:
                boundaries[i + 0.5] = stage[i]
    for x, name in boundaries.items():  # where a training stage starts, named at the top
        for ax in (ax_loss, ax_acc):
            ax.axvline(x, color="grey", linestyle=":", linewidth=1)
            ax.text(x, 1.0, f" {name}", transform=ax.get_xaxis_transform(), fontsize=7, color="grey", va="top", ha="left")
    # legends: line style = series (in black), colour = history (when several)
    for ax, cols in ((ax_loss, ("train_loss", "val_loss")), (ax_acc, ("train_acc", "val_acc", "val_mean_sensitivity"))):
        handles = [Line2D([], [], color="black", linestyle=styles[c], label=c) for c in cols if c in drew]
        if len(histories) > 1:
            handles += [Line2D([], [], color=c, linewidth=3, label=k) for k, c in zip(histories, colours)]
        if handles:
            ax.legend(handles=handles, fontsize=7)
    if not drew:
        raise OptionError("history has none of the columns train_loss, val_loss, train_acc, val_acc, val_mean_sensitivity")
    ax_loss.set(xlabel="epoch (all stages)", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch (all stages)", ylabel="%", title="accuracy / val. mean sensitivity", ylim=(0, 100))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    return _save(fig, path)
