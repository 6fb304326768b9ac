"""k-fold summaries and paper-shaped tables (SLTAT 2022 Table 5 layout), with published reference rows.

Table figures are in percent like the papers (``acc``, one column per class, ``avg_sens``), except
the variances, taken over the per-class sensitivities as fractions as the 2025 paper prints its 0.042:

- ``sens_var``: the 2025 paper's "variance among classes": the (population) variance of the final
  per-class sensitivities. For one test fold, that fold's per-class sensitivities; for a k-fold run,
  the per-class means over the folds (the sensitivities the table reports), so it is one number per
  run, without a std.
- ``fold_sens_var``: the mean over folds of each fold's own variance among classes (what signfer
  called ``sens_var`` before); larger, since it adds each fold's noise to the spread between classes.

Over folds, "mean (std)" is the mean and the sample standard deviation (``ddof=1``) of each fold's
figure; a class left undefined in a fold (no true samples there) is left out of that class's mean
and std.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from signfer.errors import OptionError, UnknownName
from signfer.io import atomic_write

#: figures of one fold, besides one column per class
ACC, AVG_SENS, SENS_VAR, FOLD_SENS_VAR = "acc", "avg_sens", "sens_var", "fold_sens_var"
#: figures that are not classes
FIGURES = ("n", ACC, AVG_SENS, SENS_VAR, FOLD_SENS_VAR)
#: column headings of the Markdown tables (the papers' wording)
HEADINGS = {ACC: "acc.", AVG_SENS: "avg. sens.", SENS_VAR: "sens. var.", FOLD_SENS_VAR: "mean fold sens. var."}

_FOLD_DIR = re.compile(r"^fold_(\d+)$")


# --------------------------------------------------------------------------- one run
def read_fold_metrics(fold_dir: str | os.PathLike) -> dict | None:
    """``metrics.json`` of a fold directory, or metrics computed from its ``predictions.csv``; None if neither."""
    from signfer.io import InputError

    fold_dir = Path(fold_dir)
    path = fold_dir / "metrics.json"
    if path.exists():
        try:
            with open(path, encoding="utf-8") as fh:
                metrics = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(path, f"not a readable metrics.json ({exc})") from None
        missing = {"accuracy", "sensitivity"} - set(metrics)
        if missing:
            raise InputError(path, f"lacks keys {sorted(missing)} (see signfer.evaluation.metrics.classification_metrics)")
        return metrics
    if (fold_dir / "predictions.csv").exists():
        from signfer.evaluation.metrics import metrics_from_predictions

        try:
            return metrics_from_predictions(fold_dir / "predictions.csv")
        except ValueError as exc:
            raise InputError(fold_dir / "predictions.csv", str(exc)) from None
    return None


def fold_dirs(run_dir: str | os.PathLike) -> dict[int, Path]:
    """``{k: RUN_DIR/fold_k}`` for every fold directory, in fold order."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        from signfer.io import InputError

        raise InputError(run_dir, "run directory does not exist" if not run_dir.exists() else "not a directory")
    found = {int(m.group(1)): p for p in run_dir.iterdir() if p.is_dir() and (m := _FOLD_DIR.match(p.name))}
    return dict(sorted(found.items()))


def run_metrics(run_dir: str | os.PathLike) -> dict[int, dict]:
    """``{k: metrics}`` of every fold of a run that has ``metrics.json`` or ``predictions.csv``."""
    out = {k: m for k, d in fold_dirs(run_dir).items() if (m := read_fold_metrics(d)) is not None}
    if not out:
        from signfer.io import InputError

        raise InputError(run_dir, "no fold_<k>/metrics.json or fold_<k>/predictions.csv: not a finished run directory")
    return out


def _class_order(metrics: Sequence[dict]) -> list[str]:
    names: list[str] = []
    for m in metrics:
        names += [c for c in m["sensitivity"] if c not in names]
    return names


def percent(v) -> float:
    """A fraction in percent; ``None`` (undefined) -> nan."""
    return math.nan if v is None else 100.0 * float(v)


def fold_table(metrics: Mapping[int, dict]) -> pd.DataFrame:
    """One row per fold (index ``fold_<k>``): ``n``, ``acc``, one column per class, ``avg_sens``, ``sens_var``."""
    classes = _class_order(list(metrics.values()))
    rows = {}
    for k, m in metrics.items():
        sens = m["sensitivity"]
        row = {"n": float(m.get("n", math.nan)), ACC: percent(m["accuracy"])}
        row.update({c: percent(sens.get(c)) for c in classes})
        mean = m.get("mean_sensitivity")
        if mean is None and "mean_sensitivity" not in m:
            from signfer.evaluation.metrics import mean_sensitivity

            mean = mean_sensitivity(sens)
        row[AVG_SENS] = percent(mean)
        var = m.get("sensitivity_variance")
        row[SENS_VAR] = row[FOLD_SENS_VAR] = math.nan if var is None else float(var)  # one fold: both definitions agree
        rows[f"fold_{k}"] = row
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["n", ACC, *classes, AVG_SENS, SENS_VAR, FOLD_SENS_VAR])
    table.index.name = "fold"
    return table


def summarize_run(run_dir: str | os.PathLike, write: bool = True, ddof: int = 1) -> pd.DataFrame:
    """Per-fold figures of a run plus ``mean`` and ``std`` rows (std over folds, ``ddof`` 1 = sample std).

    Index: ``fold_0`` ... ``fold_<k-1>``, ``mean``, ``std``; columns ``n``, ``acc``, one per class,
    ``avg_sens``, ``sens_var``, ``fold_sens_var`` (percent; the variances fractions, see the module
    docstring: in the ``mean`` row ``sens_var`` is the variance of the mean per-class sensitivities,
    with no std, and ``fold_sens_var`` the mean of the folds' variances). Reads ``fold_*/metrics.json``
    (or ``predictions.csv`` where metrics.json is missing); with ``write`` also writes
    ``RUN_DIR/summary.csv`` (this table) and ``RUN_DIR/summary.md``. One fold gives std ``nan``.
    """
    run_dir = Path(run_dir)
    folds = fold_table(run_metrics(run_dir))
    mean, std = folds.mean(), folds.std(ddof=ddof)
    classes = [c for c in folds.columns if c not in FIGURES]
    mean[SENS_VAR] = final_sensitivity_variance(mean[classes] / 100.0)
    std[SENS_VAR] = math.nan
    summary = pd.concat([folds, mean.to_frame("mean").T, std.to_frame("std").T])
    summary.index.name = "fold"
    summary.attrs["protocol"] = run_protocol(run_dir)
    summary.attrs["recipe"] = run_recipe_name(run_dir)
    if write:
        with atomic_write(run_dir / "summary.csv") as fh:
            summary.to_csv(fh, float_format="%.6g")
        with atomic_write(run_dir / "summary.md") as fh:
            fh.write(summary_markdown(summary, name=run_dir.name))
    return summary


def final_sensitivity_variance(sensitivities) -> float:
    """The 2025 paper's "variance among classes": population variance of the final per-class sensitivities (fractions).

    Classes without a defined sensitivity are left out (:func:`signfer.evaluation.metrics.sensitivity_variance`).
    """
    from signfer.evaluation.metrics import sensitivity_variance

    return sensitivity_variance(list(np.asarray(sensitivities, dtype=float)))


def _folds_of(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.loc[[i for i in summary.index if str(i).startswith("fold_")]]


def summary_markdown(summary: pd.DataFrame, name: str = "run") -> str:
    """``summary.md``: the mean (std) row in the Table-5 layout, then every fold."""
    folds = _folds_of(summary)
    table = kfold_table({name: summary})
    lines = [
        f"# k-fold summary: {name}",
        "",
        f"{len(folds)} fold(s), {int(np.nansum(folds['n']))} test images in all. "
        "Percent; mean (std) over folds; sens. var. = variance among classes of the final (mean) per-class sensitivities "
        "(fractions, the 2025 paper's definition); mean fold sens. var. = mean over folds of each fold's variance among classes.",
        "",
        *([f"Protocol: {protocol_label(summary.attrs['protocol'])}.", ""] if summary.attrs.get("protocol") else []),
        to_markdown(table),
        "",
        "## Per fold",
        "",
    ]
    classes = [c for c in summary.columns if c not in FIGURES]
    header = ["fold", "n", HEADINGS[ACC], *classes, HEADINGS[AVG_SENS], HEADINGS[SENS_VAR]]
    body = []
    for idx, row in folds.iterrows():
        cells = [str(idx), "" if math.isnan(row["n"]) else str(int(row["n"]))]
        cells += [format_mean_std(row[c], None, 1) for c in (ACC, *classes, AVG_SENS)]
        cells.append(format_mean_std(row[SENS_VAR], None, 3))
        body.append(cells)
    lines.append(markdown_table(header, body))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- Table-5 layout
def _std_col(col: str) -> str:
    return f"{col}_std"


def _figure_columns(classes: Sequence[str]) -> list[str]:
    return [ACC, *classes, AVG_SENS, SENS_VAR, FOLD_SENS_VAR]


def reference_avg_sens_std(reference: str | None) -> str:
    """The avg. sens. std convention of a reference table (its ``avg_sens_std`` key), ``folds`` without one."""
    if not reference:
        return "folds"
    name, _, table_name = str(reference).partition(":")
    ref = load_reference(name)
    tab = ref.get("tables", {}).get(table_name.strip() or ref.get("default_table", ""), {})
    return str(tab.get("avg_sens_std", "folds"))


def run_recipe_name(run_dir: str | os.PathLike) -> str | None:
    """The recipe name in a run's ``run.yaml`` (e.g. ``M0``), or None."""
    import yaml

    path = Path(run_dir) / "run.yaml"
    if not path.exists():
        return None
    info = yaml.safe_load(path.read_text(encoding="utf-8"))
    recipe = info.get("recipe") if isinstance(info, dict) else None
    return str(recipe["name"]) if isinstance(recipe, dict) and recipe.get("name") else None


def run_protocol(run_dir: str | os.PathLike) -> dict:
    """How a run chose its checkpoints and split its data, from its ``run.yaml`` and ``metrics.json`` files.

    ``{"select_on": "validation" | "test" | "none" | "last_epoch", "split": "kfold" | "easier2025",
    "optimistic": bool}``. ``optimistic`` when the checkpoint was chosen on the test fold
    (``--select-on test``, the SLTAT notebooks) or the split is not grouped by video (the 2025 code's).
    """
    import yaml

    run_dir = Path(run_dir)
    recipe: dict = {}
    if (run_dir / "run.yaml").exists():
        info = yaml.safe_load((run_dir / "run.yaml").read_text(encoding="utf-8"))
        recipe = info.get("recipe") if isinstance(info, dict) else None
        recipe = recipe if isinstance(recipe, dict) else {}
    stages = recipe.get("stages")
    baseline = isinstance(stages, list) and not any(int(st.get("epochs", 0)) for st in stages)
    select_on = "none" if baseline else str(recipe.get("select_on", "validation"))
    for d in fold_dirs(run_dir).values():  # metrics.json says what the fold really did
        path = d / "metrics.json"
        if path.exists():
            sel = (json.loads(path.read_text(encoding="utf-8")).get("selection") or {})
            select_on = str(sel.get("on", select_on))
            final = sel.get("final")
            break
    else:
        final = None
    split = str(recipe.get("split", "kfold"))
    out = {"select_on": select_on, "split": split, "optimistic": select_on == "test" or split != "kfold"}
    if select_on == "test" and final == "last":
        out["final"] = "last"  # best-on-test between stages, the last epoch evaluated (the MobileNet notebooks)
    return out


def protocol_label(protocol: Mapping) -> str:
    """Short text for a table: e.g. ``grouped k-fold, select on validation`` or ``... select on TEST (optimistic)``."""
    split = "grouped k-fold" if protocol.get("split", "kfold") == "kfold" else "2025 code's 80/20 frame split (not grouped)"
    on = protocol.get("select_on", "validation")
    select = {"test": "select on TEST fold", "none": "no training", "last_epoch": "last epoch"}.get(on, f"select on {on}")
    if protocol.get("final") == "last":
        select += ", last epoch evaluated"
    return f"{split}, {select}" + (" (optimistic)" if protocol.get("optimistic") else "")


def kfold_table(
    runs: Mapping[str, pd.DataFrame | str | os.PathLike] | Sequence[str | os.PathLike],
    reference: str | None = None,
    avg_sens_std: str = "reference",
) -> pd.DataFrame:
    """Configurations side by side in the SLTAT Table-5 layout (numbers; render with :func:`to_markdown`).

    ``runs``: ``{name: summarize_run(...) table or run dir}``, or run dirs (named by folder).
    Rows: one per configuration, then the published rows of ``reference`` (see
    :func:`reference_table`). Columns: ``kind`` (run / reference), ``folds``, ``protocol`` and
    ``optimistic`` (runs given as folders: see :func:`run_protocol`), then for each figure (``acc``,
    one per class, ``avg_sens``, ``sens_var``, ``fold_sens_var``) its mean and ``<figure>_std``,
    then ``source``. ``avg_sens_std``: ``"folds"`` = std over folds of each fold's average
    sensitivity; ``"classes"`` = mean of the per-class stds, the convention of the SLTAT Table 5;
    ``"reference"`` (default) = the convention of the ``reference`` table (``folds`` without one),
    so runs and published rows compare like with like.
    """
    if avg_sens_std == "reference":
        avg_sens_std = reference_avg_sens_std(reference)
    if avg_sens_std not in ("folds", "classes"):
        raise OptionError(f"avg_sens_std must be 'folds', 'classes' or 'reference', got {avg_sens_std!r}")
    if not isinstance(runs, Mapping):
        runs = dict(zip(run_names(runs), runs))
    ref_rows = reference_rows(reference) if reference else {}
    rows, classes = {}, []
    for name, summary in runs.items():
        protocol = None
        if not isinstance(summary, pd.DataFrame):
            source = str(summary)
            protocol = run_protocol(summary)
            summary = summarize_run(summary, write=False)
        else:
            source = ""
            protocol = summary.attrs.get("protocol")
        run_classes = [c for c in summary.columns if c not in FIGURES]
        classes += [c for c in run_classes if c not in classes]
        folds = _folds_of(summary)
        mean, std = summary.loc["mean"], summary.loc["std"]
        match = ref_rows.get(str(summary.attrs.get("recipe")))  # the published row of the same configuration
        ddof = 1
        if match is not None and match.get("ddof") is not None and int(match["ddof"]) != 1:
            ddof = int(match["ddof"])  # std over folds as that row computed it (Table 5 M0: population std)
            std = folds.std(ddof=ddof)
        row: dict = {"kind": "run", "folds": len(folds),
                     "protocol": protocol_label(protocol) if protocol else "",
                     "optimistic": bool(protocol and protocol.get("optimistic")), "ddof": ddof,
                     "fold_acc": " / ".join(f"{v:.2f}" for v in folds[ACC]),
                     "reference_row": match["name"] if match is not None else ""}
        for col in _figure_columns(run_classes):
            row[col], row[_std_col(col)] = float(mean[col]), float(std[col])
        if avg_sens_std == "classes":
            row[_std_col(AVG_SENS)] = float(np.nanmean([std[c] for c in run_classes])) if run_classes else math.nan
        row["source"] = source
        rows[str(name)] = row
    table = pd.DataFrame.from_dict(rows, orient="index") if rows else pd.DataFrame()
    if reference:
        ref = reference_table(reference)
        classes += [c for c in _classes_in(ref) if c not in classes]
        table = pd.concat([table, ref]) if len(table) else ref
    columns = ["kind", "folds", "protocol", "optimistic"]
    for col in _figure_columns(classes):
        columns += [col, _std_col(col)]
    columns += ["ddof", "fold_acc", "reference_row", "source"]
    table = table.reindex(columns=columns)
    table.index.name = "configuration"
    table.attrs["avg_sens_std"] = avg_sens_std
    return table


def _classes_in(table: pd.DataFrame) -> list[str]:
    skip = {"kind", "folds", "protocol", "optimistic", "source", "ddof", "fold_acc", "reference_row", *FIGURES}
    return [c for c in table.columns if c not in skip and not c.endswith("_std")]


def format_mean_std(mean, std=None, digits: int = 1) -> str:
    """``"mean (std)"`` with ``digits`` decimals; ``""`` for a missing mean, the mean alone for a missing std."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    text = f"{mean:.{digits}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ({std:.{digits}f})"
    return text


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A Markdown table: first column left-aligned, the others right-aligned; ``|`` in cells escaped."""

    def esc(s: str) -> str:
        return str(s).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def to_markdown(table: pd.DataFrame, digits: int = 1) -> str:
    """A :func:`kfold_table` as a Markdown table: "mean (std)" cells, percent with ``digits``; sens. var. with 3."""
    classes = _classes_in(table)
    cols = _figure_columns(classes)
    header = ["configuration", *[HEADINGS.get(c, c) for c in cols]]
    body = []
    for name, row in table.iterrows():
        optimistic = row.get("optimistic")
        cells = [str(name) + (" [optimistic]" if isinstance(optimistic, (bool, np.bool_)) and optimistic else "")]
        for col in cols:
            std = row.get(_std_col(col))
            cells.append(format_mean_std(row.get(col), None if std is None else float(std), 3 if col in (SENS_VAR, FOLD_SENS_VAR) else digits))
        body.append(cells)
    return markdown_table(header, body)


def run_names(run_dirs: Sequence[str | os.PathLike]) -> list[str]:
    """Display names of run dirs: the folder name, with parent folders added where two would clash."""
    paths = [Path(p).resolve() for p in run_dirs]
    depth = 1
    while True:
        names = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(names)) == len(names) or depth >= max(len(p.parts) for p in paths):
            break
        depth += 1
    if len(set(names)) != len(names):  # the same folder twice
        names = [f"{n} ({i + 1})" for i, n in enumerate(names)]
    return names


# --------------------------------------------------------------------------- published numbers
def list_references() -> list[str]:
    """Names of the published-results files in ``signfer/configs/reference/``."""
    from signfer.config import list_configs

    return list_configs("reference")


def load_reference(name: str) -> dict:
    """The YAML of ``signfer/configs/reference/<name>.yaml`` (or a YAML path): published numbers with their source."""
    from signfer.config import load_yaml_config

    try:
        return load_yaml_config("reference", name)
    except KeyError:
        raise UnknownName(f"unknown reference {name!r}; known: {', '.join(list_references())}, or a YAML file") from None


def _pair(value) -> tuple[float, float]:
    if value is None:
        return math.nan, math.nan
    if isinstance(value, (list, tuple)):
        return float(value[0]), (float(value[1]) if len(value) > 1 and value[1] is not None else math.nan)
    return float(value), math.nan


def reference_table(spec: str) -> pd.DataFrame:
    """Published rows in the :func:`kfold_table` layout.

    ``spec``: ``"sltat2022"`` (its default table, Table 5, 5-fold CV), ``"sltat2022:table4"``
    (single split), ``"easier2025"`` (the 2025 paper's headline figures), or a YAML path
    (``path.yaml[:table]``). Row names carry the paper and table, e.g. ``SLTAT'22 T5 M2``.
    """
    name, _, table_name = str(spec).partition(":")
    if table_name and not table_name.strip():
        table_name = ""
    ref = load_reference(name)
    tables = ref.get("tables", {})
    table_name = table_name or ref.get("default_table") or next(iter(tables), "")
    if table_name not in tables:
        raise UnknownName(f"reference {name!r} has no table {table_name!r}; tables: {', '.join(tables)}")
    tab = tables[table_name]
    classes = list(ref.get("class_names", []))
    prefix = " ".join(s for s in (ref.get("short", ref.get("name", name)), tab.get("short", "")) if s)
    source = f"{ref.get('citation', ref.get('paper', name))}; {tab.get('caption', table_name).split(':')[0].strip()}"
    rows = {}
    for r in tab.get("rows", []):
        row: dict = {"kind": "reference", "folds": tab.get("folds", np.nan), "protocol": str(tab.get("protocol", "")),
                     "optimistic": bool(r.get("optimistic", tab.get("optimistic", False)))}
        for col, value in ((ACC, r.get(ACC)), (AVG_SENS, r.get(AVG_SENS)), (SENS_VAR, r.get(SENS_VAR))):
            row[col], row[_std_col(col)] = _pair(value)
        for c in classes:
            row[c], row[_std_col(c)] = _pair((r.get("sensitivity") or {}).get(c))
        note = r.get("note")
        row["source"] = source + (f"; {note}" if note else "")
        row["ddof"] = float(r["ddof"]) if r.get("ddof") is not None else math.nan
        row["fold_acc"] = " / ".join(f"{v:.2f}" for v in r.get("fold_acc") or [])
        row["reference_row"] = ""
        rows[f"{prefix} {r['config']}"] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    columns = ["kind", "folds", "protocol", "optimistic"]
    for col in _figure_columns(classes):
        columns += [col, _std_col(col)]
    return out.reindex(columns=[*columns, "ddof", "fold_acc", "reference_row", "source"])


def reference_rows(spec: str) -> dict[str, dict]:
    """The published rows of a reference table by configuration: ``{"M0": {...the YAML row..., "name": "SLTAT'22 T5 M0"}}``.

    Keyed by the row's ``cv`` name where it has one (Table 4: the row that is configuration M0 of Table 5), else by its
    ``config``; ``name`` is the row's name in :func:`reference_table`."""
    name, _, table_name = str(spec).partition(":")
    ref = load_reference(name)
    tables = ref.get("tables", {})
    tab = tables.get(table_name.strip() or ref.get("default_table") or next(iter(tables), ""), {})
    prefix = " ".join(s for s in (ref.get("short", ref.get("name", name)), tab.get("short", "")) if s)
    return {str(r.get("cv") or r["config"]): {**r, "name": f"{prefix} {r['config']}"} for r in tab.get("rows", [])}


def per_fold_lines(table: pd.DataFrame) -> list[str]:
    """Per-fold accuracies of each run beside those of its published row, and every published row's folds (Markdown
    list items). Each mean (std) with the std convention of its row (``ddof``)."""
    lines = []
    refs = table[table["kind"] == "reference"] if "kind" in table else table.iloc[:0]

    def stats(text: str, ddof) -> str:
        values = [float(v) for v in text.split(" / ")]
        d = 1 if ddof is None or (isinstance(ddof, float) and math.isnan(ddof)) else int(ddof)
        return f"{' / '.join(f'{v:.2f}' for v in values)} = {np.mean(values):.1f} ({np.std(values, ddof=d):.1f}, ddof {d})"

    for name, row in table[table["kind"] == "run"].iterrows() if "kind" in table else []:
        if row.get("reference_row") and isinstance(row.get("fold_acc"), str) and row["fold_acc"]:
            ref = refs.loc[row["reference_row"]] if row["reference_row"] in refs.index else None
            text = f"- {name}: accuracy per fold {stats(row['fold_acc'], row.get('ddof'))}"
            if ref is not None and isinstance(ref.get("fold_acc"), str) and ref["fold_acc"]:
                text += f"; published {row['reference_row']}: {stats(ref['fold_acc'], ref.get('ddof'))}"
            lines.append(text)
    for name, row in refs.iterrows():
        if isinstance(row.get("fold_acc"), str) and row["fold_acc"]:
            lines.append(f"- {name} (published) accuracy per fold: {stats(row['fold_acc'], row.get('ddof'))}")
    return lines
