"""Data sets: FePh, AffectNet and folder-per-class readers, one label vocabulary, grouped folds, crop cache.

Every reader returns ``(DataFrame, DropReport)``; the DataFrame has at least ``path``
(absolute), ``label`` (a class name of :data:`labels.EMOTIONS7` / :data:`labels.EMOTIONS8`),
``group`` (video sequence or other grouping unit) and ``source_id`` (unique key, used by the
folds file); ``df.attrs["class_names"]`` and ``report.class_names`` give the vocabulary.

Modules: ``labels``, ``feph`` (``load_feph``), ``affectnet`` (``load_affectnet``), ``folder``
(``load_folder``), ``folds`` (``make_folds``, ``save_folds``, ``load_folds``,
``split_train_val``), ``cache`` (``CropCache``), ``dataset`` (``FaceDataset``),
``synthetic`` (test data in the FePh / AffectNet / folder layouts), ``report`` (``DropReport``).
"""

from __future__ import annotations

import os
from pathlib import Path

from signfer.errors import OptionError

_LAZY = {
    "load_feph": "signfer.data.feph",
    "load_affectnet": "signfer.data.affectnet",
    "load_folder": "signfer.data.folder",
    "make_folds": "signfer.data.folds",
    "save_folds": "signfer.data.folds",
    "load_folds": "signfer.data.folds",
    "split_train_val": "signfer.data.folds",
    "FaceDataset": "signfer.data.dataset",
    "CropCache": "signfer.data.cache",
    "DropReport": "signfer.data.read_log",
    "EMOTIONS7": "signfer.data.labels",
    "EMOTIONS8": "signfer.data.labels",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


def detect_layout(root: str | os.PathLike) -> str:
    """``"feph"``, ``"affectnet"`` (CSV layout) or ``"folder"`` for a data path."""
    from signfer.data.affectnet import find_affectnet_csvs
    from signfer.data.feph import LABELS_FILE

    root = Path(root)
    if (root / LABELS_FILE).is_file() or root.name == LABELS_FILE:
        return "feph"
    if find_affectnet_csvs(root):
        return "affectnet"
    return "folder"


def load_dataset(root: str | os.PathLike, layout: str = "auto", **options):
    """Read any supported data set: ``layout`` ``auto`` | ``feph`` | ``affectnet`` | ``folder``.

    ``options`` go to the reader (``policy`` for FePh, ``classes`` / ``split`` /
    ``group_col`` for AffectNet, ``classes`` / ``group_by`` / ``groups`` for folders).
    Returns ``(df, report)``.
    """
    kind = detect_layout(root) if layout == "auto" else layout
    if kind == "feph":
        from signfer.data.feph import load_feph

        return load_feph(root, **options)
    if kind == "affectnet":
        from signfer.data.affectnet import load_affectnet

        return load_affectnet(root, **options)
    if kind == "folder":
        from signfer.data.folder import load_folder

        return load_folder(root, **options)
    raise OptionError(f"layout must be auto, feph, affectnet or folder; got {layout!r}")


__all__ = sorted([*_LAZY, "detect_layout", "load_dataset"])
