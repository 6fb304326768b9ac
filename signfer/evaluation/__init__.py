"""Evaluation: metrics of predictions, k-fold summaries in the papers' table layout, plots, reports.

``metrics`` (accuracy, per-class sensitivity, mean sensitivity, sensitivity variance, confusion;
``classification_metrics`` writes a fold's ``metrics.json``), ``summary`` (``summarize_run``,
``kfold_table``, published reference rows from ``signfer/configs/reference/``), ``plots`` (PNG files) and
``report.report_runs`` (``signfer report``).
"""

from signfer.evaluation.metrics import (
    accuracy,
    classification_metrics,
    confusion,
    mean_sensitivity,
    sensitivity,
    sensitivity_variance,
)
from signfer.evaluation.summary import kfold_table, reference_table, summarize_run, to_markdown


def __getattr__(name):  # plots and reports import matplotlib: only when asked for
    if name == "report_runs":
        from signfer.evaluation.report import report_runs

        return report_runs
    raise AttributeError(name)


__all__ = [
    "accuracy",
    "classification_metrics",
    "confusion",
    "kfold_table",
    "mean_sensitivity",
    "reference_table",
    "report_runs",
    "sensitivity",
    "sensitivity_variance",
    "summarize_run",
    "to_markdown",
]
