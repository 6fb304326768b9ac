"""Classification figures of the two papers: accuracy, per-class sensitivity (recall), their mean and variance.

All figures are fractions in [0, 1]; tables multiply by 100. Labels are class-name strings and
``class_names`` fixes the order of every per-class output (sensitivity dict, confusion rows and
columns). The arithmetic is scikit-learn's.

Classes without true samples: their sensitivity (TP / (TP + FN)) is 0/0, undefined. It is
reported as undefined (``nan`` from the small functions, ``None`` in the JSON-ready dict of
:func:`classification_metrics`) and left out of the mean and the variance, which are taken
over the classes that do have samples (``numpy.nanmean`` / ``nanvar``; the same rule as
``sklearn.metrics.balanced_accuracy_score``). Predictions of such a class still count as errors
for accuracy and appear in the confusion matrix.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import sklearn.metrics as skm

from signfer.errors import OptionError


def _check_labels(y_true, y_pred, class_names) -> tuple[np.ndarray, np.ndarray, list[str]]:
    y_true = np.asarray(list(y_true), dtype=object)
    y_pred = np.asarray(list(y_pred), dtype=object)
    names = [str(c) for c in class_names]
    if len(set(names)) != len(names):
        raise OptionError(f"class_names has duplicates: {names}")
    if y_true.shape != y_pred.shape:
        raise OptionError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise OptionError("no predictions to evaluate (y_true is empty)")
    known = set(names)
    for what, labels in (("y_true", y_true), ("y_pred", y_pred)):
        unknown = sorted({str(v) for v in labels} - known)
        if unknown:
            raise OptionError(f"{what} has labels not in class_names {names}: {unknown}")
    return y_true.astype(str), y_pred.astype(str), names


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Fraction of predictions equal to the true label (``sklearn.metrics.accuracy_score``)."""
    if len(y_true) == 0:
        raise OptionError("no predictions to evaluate (y_true is empty)")
    return float(skm.accuracy_score(np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str)))


def confusion(y_true: Sequence[str], y_pred: Sequence[str], class_names: Sequence[str]) -> np.ndarray:
    """Confusion counts (int array, rows = true class, columns = predicted class, in ``class_names`` order)."""
    t, p, names = _check_labels(y_true, y_pred, class_names)
    return skm.confusion_matrix(t, p, labels=names)


def sensitivity(y_true: Sequence[str], y_pred: Sequence[str], class_names: Sequence[str]) -> dict[str, float]:
    """Per-class sensitivity (recall: correct predictions of a class / its true samples), ``{class: fraction}``.

    A class with no true samples gets ``nan`` (undefined), never 0 or 1.
    """
    t, p, names = _check_labels(y_true, y_pred, class_names)
    recall = skm.recall_score(t, p, labels=names, average=None, zero_division=np.nan)
    return {c: float(r) for c, r in zip(names, recall)}


def _values(sensitivities: Mapping[str, float | None] | Sequence[float | None]) -> np.ndarray:
    vals = sensitivities.values() if isinstance(sensitivities, Mapping) else sensitivities
    return np.array([np.nan if v is None else float(v) for v in vals], dtype=float)


def mean_sensitivity(sensitivities: Mapping[str, float | None] | Sequence[float | None]) -> float:
    """Unweighted mean of the per-class sensitivities (the papers' "average" / "mean sensitivity").

    Undefined classes (``nan`` / ``None``) are left out; ``nan`` if none is defined. Equals
    ``sklearn.metrics.balanced_accuracy_score`` on the same predictions.
    """
    v = _values(sensitivities)
    if np.isnan(v).all():
        return math.nan
    return float(np.nanmean(v))


def sensitivity_variance(sensitivities: Mapping[str, float | None] | Sequence[float | None], ddof: int = 0) -> float:
    """Variance of the per-class sensitivities (fractions, so 0.042 means a spread of about 0.2).

    Population variance (``ddof=0``, numpy's ``var``) by default: the classes are the whole
    set being described, not a sample drawn from a larger set of classes. The 2025 paper
    (arXiv 2507.20197, seed 000) reports "83.8% mean sensitivity and very little variance
    (.042) among classes" for its 8 classes without saying which variance it took; sample
    variance (``ddof=1``) would be 8/7 of the population one (0.042 -> 0.048). Undefined
    classes are left out; ``nan`` if fewer than ``ddof + 1`` classes are defined.
    """
    v = _values(sensitivities)
    v = v[~np.isnan(v)]
    if len(v) <= ddof:
        return math.nan
    return float(np.var(v, ddof=ddof))


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], class_names: Sequence[str]) -> dict:
    """All figures of one test set, JSON-ready (written as ``fold_<k>/metrics.json``).

    Keys: ``n`` (samples), ``accuracy``, ``sensitivity`` ({class: recall, in ``class_names``
    order; ``None`` for a class without true samples}), ``mean_sensitivity``,
    ``sensitivity_variance`` (population variance over the defined classes), ``confusion``
    (list of rows, true x predicted, ``class_names`` order). Fractions in [0, 1]; labels must
    all be in ``class_names`` (``ValueError`` names the others).
    """
    t, p, names = _check_labels(y_true, y_pred, class_names)
    sens = sensitivity(t, p, names)
    absent = [c for c, v in sens.items() if math.isnan(v)]
    if absent:
        warnings.warn(f"no true samples of {absent}: their sensitivity is undefined and left out of the mean", stacklevel=2)
    mean = mean_sensitivity(sens)
    var = sensitivity_variance(sens)
    return {
        "n": int(len(t)),
        "accuracy": accuracy(t, p),
        "sensitivity": {c: (None if math.isnan(v) else v) for c, v in sens.items()},
        "mean_sensitivity": None if math.isnan(mean) else mean,
        "sensitivity_variance": None if math.isnan(var) else var,
        "confusion": confusion(t, p, names).tolist(),
    }


def metrics_from_predictions(predictions, class_names: Sequence[str] | None = None) -> dict:
    """:func:`classification_metrics` of a ``predictions.csv`` table (columns ``y_true``, ``y_pred``, ``p_<class>``).

    ``class_names`` default: the ``p_<class>`` columns in file order, else the sorted labels seen.
    """
    import pandas as pd

    df = predictions if isinstance(predictions, pd.DataFrame) else pd.read_csv(predictions, dtype={"y_true": str, "y_pred": str})
    missing = {"y_true", "y_pred"} - set(df.columns)
    if missing:
        raise OptionError(f"predictions table lacks columns {sorted(missing)}")
    if class_names is None:
        class_names = [c[2:] for c in df.columns if c.startswith("p_")] or sorted(set(df["y_true"]) | set(df["y_pred"]))
    return classification_metrics(df["y_true"].astype(str), df["y_pred"].astype(str), class_names)
