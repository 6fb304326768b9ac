"""The FePh data set (Facial Expression Phoenix): ``FePh_labels.csv`` + ``FePh_images/``.

``FePh_labels.csv`` has the columns ``External ID`` (image file name, sometimes without
``.png``) and ``Facial_label``: one digit per expression (0 neutral, 1 anger, 2 disgust,
3 fear, 4 happy, 5 sad, 6 surprise, 7 none of these), several digits concatenated for a
multi-label frame (``"15"``), empty when the face is not visible. The frame's video
sequence is the text of the file name before ``.avi_pid`` (e.g.
``07January_2010_Thursday_tagesschau_default-5``); frames of one sequence share a group so
grouped folds never split a sequence.

Nothing is dropped silently: :func:`load_feph` returns a :class:`~signfer.data.read_log.DropReport`
with a count and example IDs for every reason a row was left out.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from signfer.data.labels import EMOTIONS7, FEPH8, FEPH_CODES, FEPH_NONE, FEPH_NONE_CODE
from signfer.data.read_log import DropReport
from signfer.errors import UnknownName
from signfer.io import IMAGE_SUFFIXES, InputError, read_image

LABELS_FILE = "FePh_labels.csv"
IMAGES_DIR = "FePh_images"
ID_COLUMN = "External ID"
LABEL_COLUMN = "Facial_label"

_SEQUENCE = re.compile(r"^(?P<sequence>.+?)\.avi_pid\d+")

#: drop reasons, in the order they are checked
REASONS = {
    "empty_id": "row without an External ID",
    "duplicate_id": "External ID listed again with the same label (first row kept)",
    "conflicting_duplicate_id": "External ID listed more than once with different labels (all copies dropped)",
    "empty_label": "empty Facial_label: face not visible",
    "none_code": "code 7: none of the seven expressions",
    "multi_label": "several codes concatenated (multi-label frame)",
    "unknown_code": "Facial_label is not made of FePh codes 0-7",
    "missing_image": "no image file for this External ID in FePh_images/",
    "unreadable_image": "image file is corrupt or not an image (verify_images=True)",
}


@dataclass(frozen=True)
class FePhPolicy:
    """Which FePh rows become training examples, and in which class vocabulary."""

    name: str
    class_names: tuple[str, ...]
    description: str
    keep_none: bool = False  # code 7 ("none") is a class (FEPH_NONE) instead of a drop reason


#: SLTAT 2022 (seed 001, section 3.2): drop "none of the above" (code 7) and multi-label frames,
#: keep single-label codes 0-6 -> 2,531 images on the real set; 7 classes (HSEmotion-7 order).
SLTAT2022 = FePhPolicy(
    "sltat2022",
    EMOTIONS7,
    "single-label codes 0-6 only (drop empty, code 7, multi-label); 7 classes",
)

#: arXiv 2507.20197 (seed 000), as its public code (EASIER-EkmanClassifier) reads FePh: every single-label row
#: is kept, code 7 ("none") included, as an 8th class (``data_loader/data_loaders.py``,
#: ``FaceExpressionPhoenixDataset``: ``y_df = y_df[y_df["num_labels"] == 1]`` with ``idx_to_class`` 0 neutral ...
#: 7 none; ``Scripts/gen_FePh_fullset_onlysinglelabels.py`` the same filter). 2,531 single-label rows with codes
#: 0-6 (SLTAT's count) plus the single-label code-7 rows; the paper's 2,547 means 16 of them (not checkable
#: here: FePh is not on this machine). Class order = the code's output order (:data:`FEPH8`). The paper names
#: its 8th class "contempt" (AffectNet-8's class at index 7, whose head the FePh step fine-tunes); on FePh that
#: output is trained on code 7, so the paper's "contempt" row is FePh's "none".
EASIER2025 = FePhPolicy(
    "easier2025",
    FEPH8,
    "every single-label row, code 7 'none' included as the 8th class (drop empty and multi-label); 8 classes in FePh code order",
    keep_none=True,
)

POLICIES: dict[str, FePhPolicy] = {p.name: p for p in (SLTAT2022, EASIER2025)}


def get_policy(policy: str | FePhPolicy) -> FePhPolicy:
    if isinstance(policy, FePhPolicy):
        return policy
    try:
        return POLICIES[str(policy).lower()]
    except KeyError:
        raise UnknownName(f"unknown FePh policy {policy!r}; known: {', '.join(POLICIES)}") from None


def sequence_of(file_name: str) -> str | None:
    """The video sequence of a FePh frame: the file name before ``.avi_pid`` (None if absent)."""
    m = _SEQUENCE.match(Path(file_name).name)
    return m.group("sequence") if m else None


def parse_label(text: str) -> tuple[str, int | None]:
    """A ``Facial_label`` cell -> (``"ok"`` | drop reason, code). Accepts ``"5"``, ``" 5 "``, ``"5.0"``."""
    s = str(text).strip()
    if s.lower() in ("", "nan", "none", "null"):
        return "empty_label", None
    s = re.sub(r"\.0+$", "", s)  # a label column re-saved as floats
    s = re.sub(r"[\s,;/|+]+", "", s)
    if not s.isdigit() or any(int(ch) > FEPH_NONE_CODE for ch in s):
        return "unknown_code", None
    if len(s) > 1:
        return "multi_label", None
    code = int(s)
    if code == FEPH_NONE_CODE:
        return "none_code", code
    return "ok", code


def find_feph_files(root: str | os.PathLike) -> tuple[Path, Path]:
    """(labels CSV, images folder) for a FePh root folder (or the CSV itself)."""
    root = Path(root)
    if root.is_file():
        labels, images = root, root.parent / IMAGES_DIR
    else:
        labels, images = root / LABELS_FILE, root / IMAGES_DIR
    if not labels.exists():
        raise InputError(labels, f"FePh labels file not found (expected {LABELS_FILE} with an {IMAGES_DIR}/ folder beside it)")
    if not images.is_dir():
        raise InputError(images, f"FePh image folder not found beside {labels.name}")
    return labels, images


def _find_column(columns, wanted: str) -> str | None:
    norm = lambda c: re.sub(r"[\s_]+", "", str(c)).lower()  # noqa: E731
    for c in columns:
        if norm(c) == norm(wanted):
            return c
    return None


def read_feph_labels(labels_csv: str | os.PathLike) -> pd.DataFrame:
    """The raw labels file as strings, columns renamed to ``External ID`` / ``Facial_label``."""
    try:
        raw = pd.read_csv(labels_csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(labels_csv, f"not a readable CSV file ({exc})") from None
    cols = {want: _find_column(raw.columns, want) for want in (ID_COLUMN, LABEL_COLUMN)}
    missing = [w for w, c in cols.items() if c is None]
    if missing:
        raise InputError(labels_csv, f"missing column(s) {missing}; found {list(raw.columns)}")
    return raw[[cols[ID_COLUMN], cols[LABEL_COLUMN]]].set_axis([ID_COLUMN, LABEL_COLUMN], axis=1)


def load_feph(
    root: str | os.PathLike,
    policy: str | FePhPolicy = "sltat2022",
    verify_images: bool = False,
) -> tuple[pd.DataFrame, DropReport]:
    """Read FePh under ``root`` (holding ``FePh_labels.csv`` and ``FePh_images/``) with a policy.

    Returns ``(df, report)``. ``df`` has one row per kept image: ``path`` (absolute), ``label``
    (class name), ``group`` (video sequence), ``source_id`` (image file name), ``external_id``
    (as written in the CSV) and ``feph_code``; ``df.attrs["class_names"]`` is the policy's
    vocabulary. ``report`` counts every dropped row per reason (see :data:`REASONS`) and notes
    fixes (``.png`` suffix added, images without a label, names without a sequence).
    ``verify_images`` also decodes every kept image and drops unreadable ones (slower).
    Policies: ``sltat2022`` (default) and ``easier2025`` (see :data:`SLTAT2022`, :data:`EASIER2025`).
    """
    pol = get_policy(policy)
    labels_csv, images_dir = find_feph_files(root)
    raw = read_feph_labels(labels_csv)
    report = DropReport(source=str(labels_csv), rows=len(raw), class_names=pol.class_names, policy=pol.name)

    on_disk = {e.name for e in os.scandir(images_dir) if e.is_file()}
    ids = raw[ID_COLUMN].map(lambda s: str(s).strip())
    labels = raw[LABEL_COLUMN].map(lambda s: str(s).strip())

    def file_name(ext_id: str) -> str:
        if ext_id in on_disk or Path(ext_id).suffix.lower() in IMAGE_SUFFIXES:
            return ext_id
        return ext_id + ".png"

    names = ids.map(file_name)
    # duplicates of one image (after the suffix fix): same label -> keep the first; different -> drop all.
    # "Same" compares what the cells mean ("0", "0.0" and " 0 " are one code), not how they are written.
    parsed = labels.map(parse_label)
    meaning = pd.Series([code if code is not None else text for (_, code), text in zip(parsed, labels)], index=labels.index, dtype=object)
    dup_drop: dict[int, str] = {}
    for name, idx in names[ids != ""].groupby(names[ids != ""]).groups.items():
        if len(idx) > 1:
            if meaning.loc[idx].nunique() > 1:
                dup_drop.update({i: "conflicting_duplicate_id" for i in idx})
            else:
                dup_drop.update({i: "duplicate_id" for i in idx[1:]})

    rows = []
    for i in raw.index:
        ext_id, label_text, name = ids[i], labels[i], names[i]
        if not ext_id:
            report.drop("empty_id", f"row {i + 2}")
            continue
        if i in dup_drop:
            report.drop(dup_drop[i], ext_id)
            continue
        status, code = parsed[i]
        if status == "none_code" and pol.keep_none:
            status = "ok"
        if status != "ok":
            report.drop(status, f"{ext_id} ({label_text!r})" if status == "unknown_code" else ext_id)
            continue
        if name not in on_disk:
            report.drop("missing_image", str(images_dir / name))
            continue
        if name != ext_id:
            report.note("png_suffix_added", ext_id)
        group = sequence_of(name)
        if group is None:
            group = Path(name).stem
            report.note("no_sequence_in_name (own group)", name)
        label = FEPH_NONE if code == FEPH_NONE_CODE else FEPH_CODES[code]
        rows.append((str((images_dir / name).resolve()), label, group, name, ext_id, code))

    df = pd.DataFrame(rows, columns=["path", "label", "group", "source_id", "external_id", "feph_code"])
    if verify_images and len(df):
        ok = []
        for path, sid in zip(df["path"], df["source_id"]):
            try:
                read_image(path)
                ok.append(True)
            except InputError as exc:
                report.drop("unreadable_image", f"{sid}: {exc.reason}")
                ok.append(False)
        df = df[ok].reset_index(drop=True)
    labelled = set(names[ids != ""])
    unlabelled = sorted(n for n in on_disk if n not in labelled and Path(n).suffix.lower() in IMAGE_SUFFIXES)
    for n in unlabelled:
        report.note("image_without_label (ignored)", n)
    df["feph_code"] = df["feph_code"].astype("int64")
    report.kept = len(df)
    df.attrs["class_names"] = pol.class_names
    return df, report


def class_counts(df: pd.DataFrame, class_names=None) -> pd.Series:
    """Images per class, in vocabulary order (classes without images show 0)."""
    names = class_names or df.attrs.get("class_names") or sorted(df["label"].unique())
    counts = Counter(df["label"])
    return pd.Series({c: counts.get(c, 0) for c in names}, name="images", dtype="int64")
