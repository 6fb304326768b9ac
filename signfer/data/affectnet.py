"""AffectNet, in its CSV layout or a folder-per-class layout, with 7 or 8 classes.

CSV layout (as distributed by its authors)::

    ROOT/Manually_Annotated_file_lists/training.csv, validation.csv
    ROOT/Manually_Annotated_Images/<subDirectory_filePath>

with columns ``subDirectory_filePath``, ``face_x``, ``face_y``, ``face_width``,
``face_height``, ``facial_landmarks``, ``expression``, ``valence``, ``arousal``. Expression
codes (:data:`~signfer.data.labels.AFFECTNET_CODES`): 0 neutral, 1 happy, 2 sad, 3 surprise,
4 fear, 5 disgust, 6 anger, 7 contempt; 8 none, 9 uncertain, 10 no face are never kept.

Folder layout: ``ROOT/<class>/`` or ``ROOT/<split>/<class>/`` with class folders named by
code (``0``..``7``) or by name (any spelling :func:`~signfer.data.labels.canonical_label`
knows); folders ``8``/``9``/``10`` (or ``none``, ``uncertain``, ``no_face``) are skipped and
counted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from signfer.data.folder import load_folder
from signfer.data.labels import AFFECTNET_CODES, AFFECTNET_OTHER_CODES, get_classes
from signfer.data.read_log import DropReport
from signfer.errors import OptionError
from signfer.io import InputError

LISTS_DIR = "Manually_Annotated_file_lists"
IMAGES_DIR = "Manually_Annotated_Images"
SPLIT_FILES = {"train": "training.csv", "validation": "validation.csv"}
PATH_COLUMN = "subDirectory_filePath"
LABEL_COLUMN = "expression"
_EXTRA_COLUMNS = ("face_x", "face_y", "face_width", "face_height", "valence", "arousal")
_IGNORED_FOLDERS = ("8", "9", "10", "none", "uncertain", "no_face", "no-face", "non-face", "noface")


def _split_name(split: str | None) -> str | None:
    if split is None:
        return None
    s = split.lower()
    if s in ("train", "training"):
        return "train"
    if s in ("val", "valid", "validation", "test"):
        return "validation"
    raise OptionError(f"split must be 'train', 'validation' or None, got {split!r}")


def find_affectnet_csvs(root: str | os.PathLike, split: str | None = None) -> list[tuple[str, Path]]:
    """[(split, csv path)] of an AffectNet CSV layout under ``root`` (or ``root`` itself if a CSV); [] if none."""
    root = Path(root)
    if root.is_file():
        return [(_split_name(split) or root.stem, root)]
    want = [_split_name(split)] if split is not None else list(SPLIT_FILES)
    out = []
    for base in (root / LISTS_DIR, root):
        for s in want:
            if (base / SPLIT_FILES[s]).is_file():
                out.append((s, base / SPLIT_FILES[s]))
        if out:
            return out
    return out


def load_affectnet(
    root: str | os.PathLike,
    classes: int | str | Sequence[str] = 8,
    split: str | None = None,
    group_col: str | None = None,
    images_dir: str | os.PathLike | None = None,
    check_files: bool = True,
) -> tuple[pd.DataFrame, DropReport]:
    """Read AffectNet (CSV layout if found, else folder-per-class). Returns ``(df, report)``.

    ``classes``: 8 (AffectNet-8, :data:`~signfer.data.labels.EMOTIONS8`) or 7 (contempt
    dropped and counted). ``split``: ``"train"`` / ``"validation"`` / None (both, in a
    ``split`` column). ``group_col``: a CSV column holding the group for grouped folds (e.g. a
    subject id you added); default: each image its own group. ``images_dir``: where
    ``subDirectory_filePath`` is relative to (default ``ROOT/Manually_Annotated_Images``).
    ``check_files``: drop (and count) rows whose image file does not exist.

    Columns: ``path``, ``label``, ``group``, ``source_id`` (``subDirectory_filePath``),
    ``split``, ``affectnet_code``, plus ``face_x`` .. ``arousal`` when the CSV has them.
    """
    vocab = get_classes(classes)
    root = Path(root)
    if not root.exists():
        raise InputError(root, "does not exist")
    csvs = find_affectnet_csvs(root, split)
    if not csvs:
        df, report = load_folder(root, classes=vocab, codes=AFFECTNET_CODES, ignore=_IGNORED_FOLDERS,
                                 split=split if split is None else _folder_split(root, split))
        df["affectnet_code"] = df["label"].map({v: k for k, v in AFFECTNET_CODES.items()}).astype("int64")
        return df, report

    if images_dir is None:
        base = root.parent if root.is_file() else root
        candidates = [base / IMAGES_DIR, base.parent / IMAGES_DIR, base]
        images_dir = next(c for c in candidates if c.is_dir())
    images_dir = Path(images_dir)
    report = DropReport(source=", ".join(str(p) for _, p in csvs), class_names=vocab)
    frames = []
    for split_name, csv in csvs:
        frames.append(_read_csv(csv, split_name, vocab, group_col, images_dir, check_files, report))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    dup = df["source_id"].duplicated(keep=False)
    if dup.any():
        conflicting = df[dup].groupby("source_id")["label"].transform("nunique") > 1
        drop_all = df[dup][conflicting].index
        drop_later = df[dup][~conflicting].index.difference(df[dup][~conflicting].drop_duplicates("source_id").index)
        for i in drop_all:
            report.drop("conflicting_duplicate_id", df.at[i, "source_id"])
        for i in drop_later:
            report.drop("duplicate_id", df.at[i, "source_id"])
        df = df.drop(index=drop_all.union(drop_later)).reset_index(drop=True)
    report.kept = len(df)
    df.attrs["class_names"] = vocab
    return df, report


def _folder_split(root: Path, split: str) -> str:
    names = {d.name.lower(): d.name for d in root.iterdir() if d.is_dir()}
    s = _split_name(split)
    aliases = ("train", "training", "train_set") if s == "train" else ("val", "valid", "validation", "val_set", "test")
    for a in aliases:
        if a in names:
            return names[a]
    raise InputError(root, f"no {s} folder (looked for {', '.join(aliases)}); found: {', '.join(sorted(names))}")


def _read_csv(csv: Path, split_name: str, vocab, group_col, images_dir: Path, check_files: bool, report: DropReport) -> pd.DataFrame:
    try:
        raw = pd.read_csv(csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(csv, f"not a readable CSV file ({exc})") from None
    needed = [PATH_COLUMN, LABEL_COLUMN] + ([group_col] if group_col else [])
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise InputError(csv, f"missing column(s) {missing}; found {list(raw.columns)}")
    report.rows += len(raw)
    rel = raw[PATH_COLUMN].map(lambda v: str(v).strip())
    text = raw[LABEL_COLUMN].map(lambda v: str(v).strip())
    code = pd.to_numeric(text, errors="coerce")
    reason = pd.Series("", index=raw.index, dtype=object)
    reason[rel == ""] = "empty_id"
    is_int = code.notna() & (code == code.round())
    reason[(reason == "") & ~is_int] = "unknown_code"
    code = code.where(is_int, -1).astype("int64")
    for c, name in AFFECTNET_OTHER_CODES.items():
        reason[(reason == "") & (code == c)] = f"{name} (code {c})"
    reason[(reason == "") & ~code.isin(list(AFFECTNET_CODES))] = "unknown_code"
    label = code.map(AFFECTNET_CODES)
    for name in set(AFFECTNET_CODES.values()) - set(vocab):
        reason[(reason == "") & (label == name)] = f"{name} not in the {len(vocab)}-class vocabulary"
    path = rel.map(lambda r: str((images_dir / r).resolve()) if r else "")
    if check_files:
        todo = reason == ""
        exists = path[todo].map(os.path.isfile)
        reason[todo & ~exists.reindex(raw.index, fill_value=True)] = "missing_image"
    for r in sorted(set(reason) - {""}):
        sel = reason == r
        if r == "empty_id":
            items = [f"{csv.name} row {i + 2}" for i in raw.index[sel]]
        elif r == "unknown_code":
            items = [f"{a} ({b!r})" for a, b in zip(rel[sel], text[sel])]
        elif r == "missing_image":
            items = list(path[sel])
        else:
            items = list(rel[sel])
        report.drop_many(r, items)
    keep = reason == ""
    group = raw[group_col].map(lambda v: str(v).strip()) if group_col else rel
    group = group.where(group != "", rel)
    df = pd.DataFrame({
        "path": path[keep], "label": label[keep], "group": group[keep], "source_id": rel[keep],
        "split": split_name, "affectnet_code": code[keep],
    })
    for c in _EXTRA_COLUMNS:
        if c in raw.columns:
            df[c] = pd.to_numeric(raw.loc[keep, c], errors="coerce")
    return df.reset_index(drop=True)
