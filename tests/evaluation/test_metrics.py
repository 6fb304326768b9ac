"""Metrics against numbers worked out by hand on a fixed confusion matrix."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from signfer.evaluation.metrics import (
    accuracy,
    classification_metrics,
    confusion,
    mean_sensitivity,
    metrics_from_predictions,
    sensitivity,
    sensitivity_variance,
)

CLASSES = ["anger", "happy", "sad"]
# rows = true, columns = predicted
#            anger happy sad      true total   correct
CM = [[6, 1, 1],  # anger        8            6  -> 6/8 = 0.75
      [1, 4, 0],  # happy        5            4  -> 4/5 = 0.80
      [0, 1, 1]]  # sad          2            1  -> 1/2 = 0.50


def labels_from(cm, classes):
    y_true, y_pred = [], []
    for i, row in enumerate(cm):
        for j, count in enumerate(row):
            y_true += [classes[i]] * count
            y_pred += [classes[j]] * count
    return y_true, y_pred


def test_hand_computed_figures():
    y_true, y_pred = labels_from(CM, CLASSES)
    # accuracy: 6 + 4 + 1 = 11 right of 15
    assert accuracy(y_true, y_pred) == pytest.approx(11 / 15)  # 0.7333
    assert sensitivity(y_true, y_pred, CLASSES) == pytest.approx({"anger": 0.75, "happy": 0.80, "sad": 0.50})
    # mean: (0.75 + 0.80 + 0.50) / 3 = 2.05 / 3 = 41/60
    assert mean_sensitivity([0.75, 0.80, 0.50]) == pytest.approx(41 / 60)  # 0.68333
    # deviations from 41/60: +4/60, +7/60, -11/60; squares sum (16 + 49 + 121)/3600 = 186/3600
    assert sensitivity_variance([0.75, 0.80, 0.50]) == pytest.approx(62 / 3600)  # population: 186/3600/3 = 0.017222
    assert sensitivity_variance([0.75, 0.80, 0.50], ddof=1) == pytest.approx(93 / 3600)  # sample: 186/3600/2 = 0.025833
    assert confusion(y_true, y_pred, CLASSES).tolist() == CM


def test_classification_metrics_dict_is_the_contract():
    y_true, y_pred = labels_from(CM, CLASSES)
    m = classification_metrics(y_true, y_pred, CLASSES)
    assert set(m) == {"n", "accuracy", "sensitivity", "mean_sensitivity", "sensitivity_variance", "confusion"}
    assert m["n"] == 15
    assert m["accuracy"] == pytest.approx(0.733333, abs=1e-6)
    assert list(m["sensitivity"]) == CLASSES  # class_names order
    assert m["sensitivity"] == pytest.approx({"anger": 0.75, "happy": 0.8, "sad": 0.5})
    assert m["mean_sensitivity"] == pytest.approx(0.683333, abs=1e-6)
    assert m["sensitivity_variance"] == pytest.approx(0.017222, abs=1e-6)
    assert m["confusion"] == CM
    json.dumps(m, allow_nan=False)  # strict JSON


def test_order_of_class_names_orders_outputs():
    y_true, y_pred = labels_from(CM, CLASSES)
    m = classification_metrics(y_true, y_pred, ["sad", "anger", "happy"])
    assert list(m["sensitivity"]) == ["sad", "anger", "happy"]
    assert m["confusion"] == [[1, 0, 1], [1, 6, 1], [0, 1, 4]]


def test_absent_class_is_undefined_and_left_out_of_mean_and_variance():
    # "fear" has no true sample; one anger sample is predicted as fear
    y_true = ["anger"] * 4 + ["sad"] * 2
    y_pred = ["anger", "anger", "anger", "fear", "sad", "anger"]
    classes = ["anger", "fear", "sad"]
    assert math.isnan(sensitivity(y_true, y_pred, classes)["fear"])
    with pytest.warns(UserWarning, match="fear"):
        m = classification_metrics(y_true, y_pred, classes)
    assert m["sensitivity"] == {"anger": 0.75, "fear": None, "sad": 0.5}
    assert m["mean_sensitivity"] == pytest.approx(0.625)  # (0.75 + 0.5) / 2, fear not counted as 0 or 1
    assert m["sensitivity_variance"] == pytest.approx(0.015625)  # deviations +-0.125 -> 0.125^2
    assert m["accuracy"] == pytest.approx(4 / 6)  # the fear prediction is an error
    assert m["confusion"] == [[3, 1, 0], [0, 0, 0], [1, 0, 1]]
    json.dumps(m, allow_nan=False)
    # same rule as scikit-learn's balanced accuracy
    from sklearn.metrics import balanced_accuracy_score

    with pytest.warns(UserWarning):
        assert m["mean_sensitivity"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert math.isnan(mean_sensitivity({"a": None, "b": float("nan")}))
    assert math.isnan(sensitivity_variance([0.5], ddof=1))


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match="surprise"):
        classification_metrics(["anger", "surprise"], ["anger", "anger"], ["anger", "sad"])
    with pytest.raises(ValueError, match="y_pred.*'joy'"):
        classification_metrics(["anger"], ["joy"], ["anger", "sad"])
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [], ["anger"])
    with pytest.raises(ValueError, match="2 labels but y_pred has 1"):
        classification_metrics(["anger", "sad"], ["anger"], ["anger", "sad"])


def test_metrics_from_predictions_csv(tmp_path):
    import pandas as pd

    y_true, y_pred = labels_from(CM, CLASSES)
    df = pd.DataFrame({"source_id": range(15), "path": "x.png", "group": "g", "y_true": y_true, "y_pred": y_pred})
    for c in ["sad", "anger", "happy"]:  # p_<class> columns give the class order
        df[f"p_{c}"] = np.full(15, 1 / 3)
    df.to_csv(tmp_path / "predictions.csv", index=False)
    m = metrics_from_predictions(tmp_path / "predictions.csv")
    assert list(m["sensitivity"]) == ["sad", "anger", "happy"]
    assert m["accuracy"] == pytest.approx(11 / 15)
