"""Stratified k-fold splits grouped by video sequence, deterministic and saved to a file.

Frames of one group (FePh: one video sequence) always land in the same fold, so no
sequence is on both the training and the test side. Folds come from scikit-learn's
``StratifiedGroupKFold(shuffle=True, random_state=seed)``; save them with
:func:`save_folds` and reuse the file (``load_folds``) so runs on other machines or
library versions test on exactly the same images.

Folds file: CSV with columns ``source_id``, ``group``, ``label``, ``fold``, one row per image.

The 2025 paper's protocol is offered beside it (:func:`easier2025_split`): the single 80/20
frame-level split of EASIER-EkmanClassifier's ``Scripts/train_test_split_FePh.py``, not grouped
(frames of one video fall on both sides), reproduced row for row. Its folds table has fold ``0``
for the test images and :data:`TRAIN_ONLY` (-1) for the images that only ever train.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from signfer.errors import OptionError
from signfer.io import InputError, atomic_write

FOLD_COLUMNS = ["source_id", "group", "label", "fold"]
#: fold number of images that are never test data (the training side of a single split)
TRAIN_ONLY = -1


def _check_columns(df: pd.DataFrame, cols, what: str = "data") -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise OptionError(f"{what} lacks column(s) {missing}; has {list(df.columns)}")


def _grouped_kfold(df: pd.DataFrame, k: int, seed: int, group_col: str, label_col: str):
    _check_columns(df, [group_col, label_col])
    if k < 2:
        raise OptionError(f"k must be at least 2, got {k}")
    n_groups = df[group_col].nunique()
    if n_groups < k:
        raise OptionError(f"cannot make {k} grouped folds from {n_groups} group(s) in column {group_col!r}")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    y = df[label_col].astype(str).to_numpy()
    groups = df[group_col].astype(str).to_numpy()
    few = df.groupby(label_col)[group_col].nunique()
    few = few[few < k]
    if len(few):  # said once, in signfer's words, instead of scikit-learn's "least populated class" warning
        import sys

        shown = ", ".join(f"{label} ({n} {'group' if n == 1 else 'groups'})" for label, n in few.items())
        print(f"note: {shown}: fewer {group_col}s than the {k} folds, so these classes are tested in only some folds",
              file=sys.stderr)
    return _quiet_split(cv, y, groups)


def _quiet_split(cv, y, groups) -> list:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class in y has only", category=UserWarning)
        return list(cv.split(np.zeros(len(y)), y, groups))


def make_folds(df: pd.DataFrame, k: int = 5, seed: int = 0, group_col: str = "group", label_col: str = "label") -> pd.DataFrame:
    """A copy of ``df`` with an int column ``fold`` (0..k-1): the fold in which each row is test data.

    Stratified by ``label_col``, grouped by ``group_col`` (a group never spans two folds),
    shuffled with ``seed``: the same data and seed give the same folds.
    """
    out = df.copy()
    fold = np.full(len(df), -1, dtype=np.int64)
    for i, (_, test) in enumerate(_grouped_kfold(df, k, seed, group_col, label_col)):
        fold[test] = i
    out["fold"] = fold
    out.attrs = dict(df.attrs, folds_k=k, folds_seed=seed)
    return out


def check_grouped(df: pd.DataFrame, group_col: str = "group", fold_col: str = "fold") -> None:
    """Raise ``ValueError`` naming the groups found in more than one fold."""
    spread = df.groupby(group_col)[fold_col].nunique()
    bad = spread[spread > 1]
    if len(bad):
        raise OptionError(f"{len(bad)} group(s) appear in more than one fold, e.g. {list(bad.index[:5])}")


def save_folds(df: pd.DataFrame, path: str | os.PathLike, grouped: bool = True) -> Path:
    """Write ``source_id, group, label, fold`` of ``df`` (from :func:`make_folds`) to a CSV file.

    ``grouped=False`` for a split that may put frames of one group on both sides (:func:`easier2025_split`)."""
    _check_columns(df, FOLD_COLUMNS, "folds table")
    if df["source_id"].duplicated().any():
        raise OptionError(f"source_id is not unique: {list(df['source_id'][df['source_id'].duplicated()].unique()[:5])}")
    if grouped:
        check_grouped(df)
    with atomic_write(path) as fh:
        df[FOLD_COLUMNS].to_csv(fh, index=False)
    return Path(path)


def load_folds(path: str | os.PathLike, df: pd.DataFrame | None = None, strict: bool = True, grouped: bool = True) -> pd.DataFrame:
    """Read a folds file; with ``df``, return a copy of ``df`` with the file's ``fold`` column.

    Raises ``InputError`` naming the file when it is malformed (missing columns, duplicate
    ``source_id``, a group in two folds), when ``df`` has images the file does not list, or
    when an image's label differs from the file's (the data changed since the folds were made).
    With ``strict`` the file may not list images absent from ``df`` either.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "folds file does not exist")
    folds = pd.read_csv(path, dtype={"source_id": str, "group": str, "label": str}, keep_default_na=False)
    missing = [c for c in FOLD_COLUMNS if c not in folds.columns]
    if missing:
        raise InputError(path, f"not a folds file: missing column(s) {missing}; found {list(folds.columns)}")
    try:
        folds["fold"] = folds["fold"].astype("int64")
    except (ValueError, TypeError):
        raise InputError(path, "column 'fold' must hold whole numbers") from None
    dup = folds["source_id"][folds["source_id"].duplicated()]
    if len(dup):
        raise InputError(path, f"source_id listed more than once: {list(dup.unique()[:5])}")
    try:
        if grouped:
            check_grouped(folds)
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
    if df is None:
        return folds
    _check_columns(df, ["source_id", "label"])
    by_id = folds.set_index("source_id")
    ids = df["source_id"].astype(str)
    absent = ids[~ids.isin(by_id.index)]
    if len(absent):
        raise InputError(path, f"{len(absent)} of {len(df)} images are not in this folds file, e.g. {list(absent[:3])}; "
                         "make new folds for this data")
    extra = by_id.index.difference(ids)
    if strict and len(extra):
        raise InputError(path, f"lists {len(extra)} images absent from the data, e.g. {list(extra[:3])}; "
                         "pass strict=False to use the folds of a subset")
    file_label = by_id.loc[ids, "label"].to_numpy()
    differ = file_label != df["label"].astype(str).to_numpy()
    if differ.any():
        first = np.flatnonzero(differ)[0]
        raise InputError(path, f"{int(differ.sum())} images have another label than in this folds file, "
                         f"e.g. {ids.iloc[first]}: data {df['label'].iloc[first]!r}, file {file_label[first]!r}")
    out = df.copy()
    out["fold"] = by_id.loc[ids, "fold"].to_numpy()
    return out


def fold_split(df: pd.DataFrame, fold: int, fold_col: str = "fold") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training part, test part) of ``df`` for ``fold``."""
    _check_columns(df, [fold_col])
    if fold not in set(df[fold_col]):
        raise OptionError(f"fold {fold} not in the folds {sorted(set(df[fold_col]))}")
    test = df[fold_col] == fold
    return df[~test].reset_index(drop=True), df[test].reset_index(drop=True)


def split_train_val(
    df: pd.DataFrame,
    val_fraction: float = 0.2,
    seed: int = 0,
    group_col: str = "group",
    label_col: str = "label",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a fold's training part into (train, validation), stratified and grouped.

    The validation part is one fold of a ``round(1 / val_fraction)``-fold grouped split
    (about ``val_fraction`` of the images), so no group is on both sides.
    """
    if not 0 < val_fraction < 1:
        raise OptionError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    k = max(2, int(round(1 / val_fraction)))
    _, val = next(iter(_grouped_kfold(df, k, seed, group_col, label_col)))
    mask = np.zeros(len(df), bool)
    mask[val] = True
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


# --------------------------------------------------------------------------- the 2025 code's split
def easier2025_test_ids(labels_csv: str | os.PathLike, test_fraction: float = 0.2, random_state: int = 1) -> list[str]:
    """External IDs of the test side of EASIER-EkmanClassifier's ``Scripts/train_test_split_FePh.py``, in its order.

    The script's steps, on the labels file itself: drop rows with an empty cell (``dropna``), keep
    single-label rows (code 7 "none" included), ``n_test = round(test_fraction * n)``, give each row
    the weight ``count(its label) / n`` and draw ``y_df.sample(n=n_test, weights="class_weight",
    random_state=1)`` (pandas: ``numpy.random.RandomState(1).choice`` without replacement). Not
    stratified and not grouped: a row's chance grows with the size of its class, and frames of
    one video land on both sides.
    """
    y_df = pd.read_csv(labels_csv, dtype=str)  # the labels as text, as data_loaders.py reads the split files
    y_df = y_df.dropna()
    labels = y_df["Facial_label"].map(lambda x: [int(i) for i in str(x).strip()])
    y_df = y_df.assign(Facial_label=labels.map(lambda x: x[0]), num_labels=labels.map(len))
    y_df = y_df[y_df["num_labels"] == 1]
    n_r = len(y_df)
    n_test = round(test_fraction * n_r)
    proportion = y_df["Facial_label"].value_counts() / n_r
    y_df = y_df.assign(class_weight=y_df["Facial_label"].map(proportion))
    test_df = y_df.sample(n=n_test, weights="class_weight", random_state=random_state)
    return [str(v).strip() for v in test_df["External ID"]]


def easier2025_split(df: pd.DataFrame, labels_csv: str | os.PathLike, test_fraction: float = 0.2, random_state: int = 1) -> pd.DataFrame:
    """A copy of ``df`` (a FePh reader's table with ``external_id``) with ``fold`` 0 on the 2025 code's test rows, :data:`TRAIN_ONLY` elsewhere.

    See :func:`easier2025_test_ids`. Row for row the published split when ``df`` keeps every row
    the script keeps (policy ``easier2025``, every image present).
    """
    _check_columns(df, ["external_id"])
    test = set(easier2025_test_ids(labels_csv, test_fraction, random_state))
    out = df.copy()
    out["fold"] = np.where(df["external_id"].astype(str).str.strip().isin(test), 0, TRAIN_ONLY).astype(np.int64)
    if not (out["fold"] == 0).any():
        raise OptionError(f"none of the {len(df)} images is on the test side of the 2025 split of {labels_csv}")
    out.attrs = dict(df.attrs, folds_k=1, split="easier2025")
    return out


def easier2025_validation_split(train: pd.DataFrame, val_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, validation) as EASIER-EkmanClassifier's ``BaseDataLoader._split_sampler``: frame level, seed 0.

    ``np.random.seed(0)``, shuffle the row indices, the first ``int(n * val_fraction)`` validate.
    ``train`` must be in the labels file's row order (as the readers keep it).
    """
    if not 0 < val_fraction < 1:
        raise OptionError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    idx = np.arange(len(train))
    np.random.RandomState(0).shuffle(idx)  # the stream of np.random.seed(0); np.random.shuffle(idx)
    n_val = int(len(train) * val_fraction)
    mask = np.zeros(len(train), bool)
    mask[idx[:n_val]] = True
    return train[~mask].reset_index(drop=True), train[mask].reset_index(drop=True)
