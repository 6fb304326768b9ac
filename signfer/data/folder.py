"""Folder-per-class data sets: ``ROOT/<class>/*.png`` or ``ROOT/<split>/<class>/*.png``.

Class folders may be named in any vocabulary signfer knows (``angry``, ``Anger``,
``happiness``, ``Sadness``...; see :data:`signfer.data.labels.ALIASES`) or by numeric codes
through ``codes`` (e.g. AffectNet's ``0``..``7``). Images in sub-folders of a class folder
belong to that class. Groups (for grouped folds): by default (``group_by="auto"``) the sub-folder
inside the class folder when images sit in sub-folders (``ROOT/<class>/<video>/<frame>.png``: the frames
of one video never land in two folds, whatever their class), else one per image; ``groups`` (a
``source_id,group`` CSV, e.g. ``ROOT/groups.csv``) overrides it. The grouping used is in
``df.attrs["grouping"]``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from signfer.data.labels import ALIASES, canonical_label, get_classes
from signfer.data.read_log import DropReport
from signfer.errors import OptionError
from signfer.io import IMAGE_SUFFIXES, InputError, find_media


def _class_of(folder: str, codes: Mapping[int, str] | None) -> str | None:
    name = folder.strip()
    if codes is not None and name.isdigit():
        return codes.get(int(name))
    try:
        return canonical_label(name)
    except KeyError:
        return None


def _is_class_dir(name: str, codes, ignore) -> bool:
    return name.lower() in ignore or _class_of(name, codes) is not None


def _group(source_id: str, in_class: Path, group_by: str) -> str | None:
    """``source_id``: path from the root; ``in_class``: path inside the class folder."""
    if group_by == "file":
        return source_id
    if group_by == "subfolder":
        parent = in_class.parent.as_posix()
        return parent if parent not in ("", ".") else source_id
    m = re.search(group_by, in_class.name)
    if not m:
        return None
    return m.group(1) if m.groups() else m.group(0)


def load_folder(
    root: str | os.PathLike,
    classes: str | int | Sequence[str] | None = None,
    group_by: str = "auto",
    groups: str | os.PathLike | pd.DataFrame | None = None,
    codes: Mapping[int, str] | None = None,
    ignore: Sequence[str] = (),
    split: str | None = None,
) -> tuple[pd.DataFrame, DropReport]:
    """Read a folder-per-class data set. Returns ``(df, report)`` like :func:`signfer.data.feph.load_feph`.

    ``classes``: the vocabulary (7, 8, ``"emotions7"``, a list of names); by default 8 classes
    when a contempt folder exists, else 7. Images of classes outside it are dropped and counted.
    ``group_by``: ``"auto"`` (``"subfolder"`` when any image sits in a sub-folder of its class folder,
    else ``"file"``), ``"file"`` (each image its own group), ``"subfolder"`` (the folder path
    inside the class folder; an image directly in the class folder is its own group) or a regular expression applied to the file name whose first
    capture group is the group (``r"^(.*?)\\.avi_pid"`` for FePh-style names). ``groups``: a CSV
    file or DataFrame with columns ``source_id`` (path relative to ``root``, or file name) and
    ``group`` overriding ``group_by``. ``codes``: numeric folder names -> class (e.g.
    :data:`~signfer.data.labels.AFFECTNET_CODES`). ``ignore``: folder names skipped (counted).
    With ``ROOT/<split>/<class>/`` layouts every split is read into a ``split`` column unless
    ``split`` picks one. An unknown class folder raises ``InputError`` listing the known names.

    Columns: ``path``, ``label``, ``group``, ``source_id`` (path relative to ``root``), ``split``.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder (expected ROOT/<class>/images or ROOT/<split>/<class>/images)")
    ignore = {str(i).lower() for i in ignore}
    if group_by not in ("auto", "file", "subfolder"):
        try:
            re.compile(group_by)
        except re.error as exc:
            raise OptionError(f"group_by must be 'auto', 'file', 'subfolder' or a regular expression; {group_by!r}: {exc}") from None
    top = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not top:
        raise InputError(root, "has no class folders (expected ROOT/<class>/images or ROOT/<split>/<class>/images)")

    known = sorted(ALIASES) + (sorted(str(c) for c in codes) if codes else [])
    if all(_is_class_dir(d, codes, ignore) for d in top):
        class_dirs = [("", root / d) for d in top]
    elif any(_is_class_dir(d, codes, ignore) for d in top):  # ROOT/<class>/ with a misnamed class folder
        names = [d for d in top if not _is_class_dir(d, codes, ignore)]
        raise InputError(root, f"unknown class folder(s) {names}; class folders must be named one of: {', '.join(known)}")
    else:
        # ROOT/<split>/<class>/: every top folder must then hold only class folders
        class_dirs = []
        splits = [split] if split is not None else top
        for s in splits:
            sd = root / s
            if not sd.is_dir():
                raise InputError(sd, f"split folder not found; found: {', '.join(top)}")
            subs = sorted(d.name for d in sd.iterdir() if d.is_dir() and not d.name.startswith("."))
            bad = [d for d in subs if not _is_class_dir(d, codes, ignore)]
            if bad or not subs:
                where = sd if subs else root
                names = bad if subs else [d for d in top if not _is_class_dir(d, codes, ignore)]
                raise InputError(where, f"unknown class folder(s) {names}; class folders must be named one of: {', '.join(known)}")
            class_dirs += [(s, sd / d) for d in subs]

    found = {_class_of(d.name, codes) for _, d in class_dirs if d.name.lower() not in ignore}
    vocab = get_classes(classes) if classes is not None else get_classes(8 if "contempt" in found else 7)
    report = DropReport(source=str(root), class_names=vocab)

    rows = []
    listed = [(split_name, cdir, find_media(cdir, IMAGE_SUFFIXES)) for split_name, cdir in class_dirs]
    if group_by == "auto":
        nested = any(len(p.relative_to(cdir).parts) > 1 for _, cdir, files in listed for p in files)
        group_by = "subfolder" if nested else "file"
    for split_name, cdir, files in listed:
        report.rows += len(files)
        if cdir.name.lower() in ignore:
            if files:
                report.drop(f"ignored folder {cdir.name}", str(cdir), n=len(files))
            continue
        label = _class_of(cdir.name, codes)
        if label not in vocab:
            if files:
                report.drop(f"class {label} not in the {len(vocab)}-class vocabulary", str(cdir), n=len(files))
            continue
        for p in files:
            sid = p.relative_to(root).as_posix()
            group = _group(sid, p.relative_to(cdir), group_by)
            if group is None:
                report.note("group_by pattern did not match the file name (own group)", sid)
                group = sid
            rows.append((str(p.resolve()), label, group, sid, split_name))
    df = pd.DataFrame(rows, columns=["path", "label", "group", "source_id", "split"])
    grouping = {"file": "by image (each image its own group)",
                "subfolder": "by sub-folder of the class folder (one group per video folder)"}.get(group_by, f"by file-name pattern {group_by!r}")
    if groups is not None:
        df = _apply_groups(df, groups, report)
        grouping = f"by the groups file {groups if not isinstance(groups, pd.DataFrame) else 'table'}"
    report.kept = len(df)
    df.attrs["class_names"] = vocab
    df.attrs["grouping"] = f"{grouping}: {df['group'].nunique()} groups"
    return df, report


def _apply_groups(df: pd.DataFrame, groups, report: DropReport) -> pd.DataFrame:
    src = str(groups) if not isinstance(groups, pd.DataFrame) else "groups table"
    g = groups if isinstance(groups, pd.DataFrame) else pd.read_csv(groups, dtype=str, keep_default_na=False)
    missing = [c for c in ("source_id", "group") if c not in g.columns]
    if missing:
        raise InputError(src, f"missing column(s) {missing}; found {list(g.columns)}")
    g = g.astype({"source_id": str, "group": str})
    dup = g["source_id"][g["source_id"].duplicated()]
    if len(dup):
        raise InputError(src, f"source_id listed more than once: {list(dup.unique()[:5])}")
    by_id = dict(zip(g["source_id"], g["group"]))
    out = []
    for sid, group in zip(df["source_id"], df["group"]):
        hit = by_id.get(sid, by_id.get(Path(sid).name))
        if hit is None:
            report.note("no group in groups table (own group)", sid)
        out.append(hit if hit is not None else group)
    df = df.copy()
    df["group"] = out
    return df
