"""A fake k-fold run directory in the format of the run-dir contract (fold_<k>/metrics.json, history.csv, predictions.csv)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CLASSES7 = ["anger", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
PER_CLASS = 10  # test samples of each class in each fold


def correct_count(fold: int, cls: int, offset: int = 0) -> int:
    """How many of the PER_CLASS samples of class ``cls`` fold ``fold`` gets right (0..10)."""
    return (3 + fold + 2 * cls + offset) % (PER_CLASS + 1)


def make_run(root: Path, k: int = 5, offset: int = 0, classes=CLASSES7, metrics_json: bool = True) -> Path:
    """Write RUN_DIR with k folds; in fold f, class i has PER_CLASS samples, correct_count(f, i) right,
    the others predicted as the next class."""
    from signfer.evaluation.metrics import classification_metrics

    root.mkdir(parents=True, exist_ok=True)
    (root / "run.yaml").write_text(f"recipe: fake\nk: {k}\n")
    rng = np.random.default_rng(offset)
    for f in range(k):
        fold = root / f"fold_{f}"
        fold.mkdir()
        rows = []
        for i, c in enumerate(classes):
            right = correct_count(f, i, offset)
            for j in range(PER_CLASS):
                pred = c if j < right else classes[(i + 1) % len(classes)]
                p = rng.dirichlet(np.ones(len(classes)))
                rows.append({"source_id": f"{c}_{f}_{j}", "path": f"/data/{c}_{f}_{j}.png", "group": f"seq{f}_{i}",
                             "y_true": c, "y_pred": pred, **{f"p_{n}": v for n, v in zip(classes, p)}})
        pred = pd.DataFrame(rows)
        pred.to_csv(fold / "predictions.csv", index=False)
        if metrics_json:
            (fold / "metrics.json").write_text(json.dumps(classification_metrics(pred["y_true"], pred["y_pred"], classes), allow_nan=False))
        epochs = [("head", 1), ("head", 2), ("all", 1), ("all", 2), ("all", 3)]
        pd.DataFrame(
            [{"stage": s, "epoch": e, "train_loss": 2.0 / (n + 1), "train_acc": 0.3 + 0.1 * n, "val_loss": 2.2 / (n + 1) + 0.05 * f,
              "val_acc": 0.25 + 0.08 * n, "val_mean_sensitivity": 0.2 + 0.08 * n, "lr": 1e-3 if s == "head" else 1e-4, "seconds": 1.5}
             for n, (s, e) in enumerate(epochs)]
        ).to_csv(fold / "history.csv", index=False)
    return root


@pytest.fixture
def fake_run(tmp_path) -> Path:
    return make_run(tmp_path / "runA")
