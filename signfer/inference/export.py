"""Writers for annotation results: CSV and JSON (streamed frame by frame), ELAN .eaf, overlay video.

Each writer writes into a temporary file that :mod:`signfer.io` renames over the target only
when the whole input was annotated, so a crash never leaves a half-written file. The CSV has
one row per analysed frame (:func:`frame_columns`); the JSON one record per frame plus the
segments; the EAF (written with ``pympi-ling``) links the video and holds an ``expression``
tier of segments, a ``confidence`` tier (mean top-class probability of each segment), a
``p_<class>`` tier per class (mean probability over each segment, or per frame) and, for a
model with extra outputs (HSEmotion's ``*_va_mtl``: ``valence``, ``arousal``), one numeric tier
each with its per-frame values; the CSV and JSON carry them as columns / fields too.
"""

from __future__ import annotations

import csv
import json
import math
import mimetypes
import os
from pathlib import Path
from typing import IO, Iterable

import numpy as np

from signfer.inference.segments import Segment

EXPRESSION_TIER = "expression"
CONFIDENCE_TIER = "confidence"
EAF_PROBABILITY_MODES = ("segments", "frames", "none")

FACE_COLUMNS = [
    "face_x1", "face_y1", "face_x2", "face_y2", "face_score",
    "left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y", "tracked",
]  # fmt: skip


def frame_columns(class_names: Iterable[str], smoothed: bool = False, source: bool = False, extra_names: Iterable[str] = ()) -> list[str]:
    """Columns of the per-frame table: ``frame, time_ms, [source,] status, error``, face box and eyes,
    ``label, confidence, p_<class>...``, the model's extra outputs (e.g. ``valence, arousal``) and, when
    smoothing is on, ``smooth_label, smooth_confidence, smooth_p_<class>..., smooth_<extra>...``."""
    names, extras = list(class_names), list(extra_names)
    cols = ["frame", "time_ms"] + (["source"] if source else []) + ["status", "error"] + FACE_COLUMNS
    cols += ["label", "confidence"] + [f"p_{c}" for c in names] + extras
    if smoothed:
        cols += ["smooth_label", "smooth_confidence"] + [f"smooth_p_{c}" for c in names] + [f"smooth_{e}" for e in extras]
    return cols


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(value) else repr(float(value))
    return str(value)


class CsvWriter:
    """Rows (dicts) to an open text file, one line each; missing values are empty."""

    def __init__(self, fh: IO[str], columns: list[str]):
        self.columns = columns
        self._w = csv.writer(fh, lineterminator="\n")
        self._w.writerow(columns)

    def write(self, row: dict) -> None:
        self._w.writerow([_fmt(row.get(c)) for c in self.columns])


def _json_value(v):
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_json_value(x) for x in v]
    return v


class JsonWriter:
    """``{"media", "model", "options", "class_names", "frames": [...], "segments": [...], "summary"}``, streamed."""

    def __init__(self, fh: IO[str], header: dict):
        self._fh = fh
        self._n = 0
        body = json.dumps(_json_value(header), ensure_ascii=False)[:-1]  # drop the closing brace
        fh.write(body + (", " if header else "") + '"frames": [\n')

    def write(self, record: dict) -> None:
        self._fh.write(("" if self._n == 0 else ",\n") + json.dumps(_json_value(record), ensure_ascii=False))
        self._n += 1

    def close(self, segments: list[Segment], summary: dict) -> None:
        self._fh.write("\n],\n")
        self._fh.write('"segments": ' + json.dumps(_json_value([s.to_dict() for s in segments]), ensure_ascii=False) + ",\n")
        self._fh.write('"summary": ' + json.dumps(_json_value(summary), ensure_ascii=False) + "}\n")


def frame_record(row: dict, class_names: list[str], smoothed: bool, extra_names: Iterable[str] = ()) -> dict:
    """A CSV row as a nested JSON record (extra outputs such as ``valence`` as top-level numbers, and in ``smoothed``)."""
    extras = list(extra_names)
    rec = {"frame": row["frame"], "time_ms": row["time_ms"]}
    if "source" in row:
        rec["source"] = row["source"]
    rec["status"] = row["status"]
    if row.get("error"):
        rec["error"] = row["error"]
    if row.get("face_x1") is not None:
        eye = lambda side: None if row.get(f"{side}_eye_x") is None else [row[f"{side}_eye_x"], row[f"{side}_eye_y"]]  # noqa: E731
        rec["face"] = {
            "box": [row["face_x1"], row["face_y1"], row["face_x2"], row["face_y2"]],
            "score": row.get("face_score"),
            "left_eye": eye("left"),
            "right_eye": eye("right"),
            "tracked": bool(row.get("tracked")),
        }
    else:
        rec["face"] = None
    rec["label"] = row.get("label")
    rec["confidence"] = row.get("confidence")
    rec["probabilities"] = None if row.get("label") is None else {c: row[f"p_{c}"] for c in class_names}
    rec.update({e: row.get(e) for e in extras})
    if smoothed:
        rec["smoothed"] = (
            None
            if row.get("smooth_label") is None
            else {
                "label": row["smooth_label"],
                "confidence": row["smooth_confidence"],
                "probabilities": {c: row[f"smooth_p_{c}"] for c in class_names},
                **{e: row.get(f"smooth_{e}") for e in extras},
            }
        )
    return rec


class ProbabilityTiers:
    """Per-frame values as EAF intervals, one tier per name, equal consecutive values (rounded) merged: the
    per-class probabilities in ``frames`` mode, and a model's extra outputs (valence, arousal) always."""

    def __init__(self, class_names: list[str], decimals: int = 2):
        self.class_names = class_names
        self.decimals = decimals
        self.intervals: dict[str, list[list]] = {c: [] for c in class_names}
        self._open: dict[str, list | None] = dict.fromkeys(class_names)

    def push(self, time_ms: float, probs: np.ndarray | None) -> None:
        for k, c in enumerate(self.class_names):
            cur = self._open[c]
            if cur is not None:
                cur[1] = time_ms  # the previous interval lasts until this frame
            if probs is None:
                if cur is not None:
                    self.intervals[c].append(cur)
                self._open[c] = None
                continue
            value = round(float(probs[k]), self.decimals)
            if cur is not None and cur[2] == value:
                continue
            if cur is not None:
                self.intervals[c].append(cur)
            self._open[c] = [time_ms, time_ms, value]

    def finish(self, end_ms: float) -> None:
        for c in self.class_names:
            if self._open[c] is not None:
                self._open[c][1] = end_ms
                self.intervals[c].append(self._open[c])
                self._open[c] = None


def _mime(path: str) -> str:
    mime, _ = mimetypes.guess_type(path)
    return mime or "video/*"


def write_eaf(
    path: str | os.PathLike,
    segments: list[Segment],
    class_names: list[str],
    *,
    media: str | os.PathLike | None = None,
    probabilities: str = "segments",
    frame_tiers: ProbabilityTiers | None = None,
    properties: dict | None = None,
    decimals: int = 2,
    value_tiers: ProbabilityTiers | None = None,
) -> Path:
    """Write an ELAN file (directly to ``path``; callers pass a temporary path from ``atomic_path``).

    Tiers: ``expression`` (one annotation per segment, its label), ``confidence`` (the
    segment's mean confidence) and ``p_<class>`` per class: ``probabilities="segments"`` gives
    each segment's mean probability, ``"frames"`` the per-frame values of ``frame_tiers``,
    ``"none"`` leaves them out. ``value_tiers``: one more numeric tier per name it holds (a model's
    extra outputs, e.g. ``valence`` and ``arousal``), its per-frame intervals.
    ``media`` is linked (absolute URL plus a path relative to the EAF).
    """
    from pympi import Elan

    if probabilities not in EAF_PROBABILITY_MODES:
        raise ValueError(f"probabilities must be one of {', '.join(EAF_PROBABILITY_MODES)}, got {probabilities!r}")
    path = Path(path)
    eaf = Elan.Eaf(author="signfer")
    for key, value in (properties or {}).items():
        eaf.add_property(str(key), str(value))
    if media is not None:
        media = Path(media).resolve()
        rel = os.path.relpath(media, path.resolve().parent)
        eaf.add_linked_file(media.as_uri(), relpath=Path(rel).as_posix(), mimetype=_mime(str(media)))
    eaf.add_tier(EXPRESSION_TIER)
    eaf.add_tier(CONFIDENCE_TIER)
    prob_tiers = [f"p_{c}" for c in class_names] if probabilities != "none" else []
    for tier in prob_tiers:
        eaf.add_tier(tier)
    value_names = list(value_tiers.class_names) if value_tiers is not None else []
    for tier in value_names:  # [extra outputs]
        eaf.add_tier(tier)
    if "default" in eaf.tiers:
        eaf.remove_tier("default")
    for seg in segments:
        start, end = int(round(seg.start_ms)), int(round(seg.end_ms))
        if end <= start:
            continue
        eaf.add_annotation(EXPRESSION_TIER, start, end, seg.label)
        eaf.add_annotation(CONFIDENCE_TIER, start, end, f"{seg.mean_confidence:.{decimals}f}")
        if probabilities == "segments" and seg.mean_probabilities is not None:
            for tier, p in zip(prob_tiers, seg.mean_probabilities):
                eaf.add_annotation(tier, start, end, f"{p:.{decimals}f}")
    if probabilities == "frames" and frame_tiers is not None:
        for c, tier in zip(class_names, prob_tiers):
            for start, end, value in frame_tiers.intervals[c]:
                s, e = int(round(start)), int(round(end))
                if e > s:
                    eaf.add_annotation(tier, s, e, f"{value:.{frame_tiers.decimals}f}")
    for tier in value_names:  # [extra outputs]
        for start, end, value in value_tiers.intervals[tier]:
            s, e = int(round(start)), int(round(end))
            if e > s:
                eaf.add_annotation(tier, s, e, f"{value:.{value_tiers.decimals}f}")
    from signfer.signers.elan import set_current_schema

    set_current_schema(eaf)  # EAF 3.0, the current ELAN schema
    eaf.to_file(str(path))
    return path


# --------------------------------------------------------------------------- overlay video
_GREEN, _WHITE, _BLACK, _BAR = (60, 200, 60), (255, 255, 255), (0, 0, 0), (230, 160, 40)


def draw_overlay(rgb: np.ndarray, row: dict, class_names: list[str], smoothed: bool = False) -> np.ndarray:
    """A copy of the frame (RGB) with the face box, eyes, label and one probability bar per class."""
    import cv2

    img = np.ascontiguousarray(rgb).copy()
    h, w = img.shape[:2]
    scale = max(0.4, min(w, h) / 720)
    thick = max(1, int(round(2 * scale)))
    prefix = "smooth_" if smoothed else ""
    label, conf = row.get(f"{prefix}label"), row.get(f"{prefix}confidence")
    if row.get("face_x1") is not None:
        x1, y1, x2, y2 = (int(round(row[k])) for k in ("face_x1", "face_y1", "face_x2", "face_y2"))
        cv2.rectangle(img, (x1, y1), (x2, y2), _GREEN, thick)
        for side in ("left", "right"):
            if row.get(f"{side}_eye_x") is not None:
                cv2.circle(img, (int(round(row[f"{side}_eye_x"])), int(round(row[f"{side}_eye_y"]))), thick + 1, _GREEN, -1)
        if label is not None:
            text = f"{label} {conf:.2f}"
            cv2.putText(img, text, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, _BLACK, thick + 2, cv2.LINE_AA)
            cv2.putText(img, text, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, _WHITE, thick, cv2.LINE_AA)
    else:
        cv2.putText(img, row.get("status", ""), (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, _WHITE, thick, cv2.LINE_AA)
    line = int(16 * scale) + 2
    bar_w = int(100 * scale)
    for k, c in enumerate(class_names):
        y = 6 + k * line
        p = row.get(f"{prefix}p_{c}")
        cv2.rectangle(img, (6, y), (6 + bar_w, y + line - 4), _BLACK, -1)
        if p is not None and math.isfinite(p):
            cv2.rectangle(img, (6, y), (6 + int(round(bar_w * p)), y + line - 4), _BAR, -1)
        cv2.putText(img, c, (12 + bar_w, y + line - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, _WHITE, max(1, thick - 1), cv2.LINE_AA)
    return img


class OverlayWriter:
    """Frames with :func:`draw_overlay` into an MP4 (``mp4v``) at ``path``; :meth:`close` before renaming."""

    def __init__(self, path: str | os.PathLike, fps: float, class_names: list[str], smoothed: bool = False):
        from signfer.inference.video import opencv_can_open

        self.path, self.fps, self.class_names, self.smoothed = Path(path), float(fps), class_names, smoothed
        # OpenCV crashes on a file name that is not valid UTF-8: write under an ASCII name, rename on close
        self._open_path = self.path if opencv_can_open(self.path) else self.path.with_name(f".signfer-overlay-{os.getpid()}-{id(self)}.mp4")
        self._writer = None
        self._size = None

    def write(self, rgb: np.ndarray, row: dict) -> None:
        import cv2

        frame = draw_overlay(rgb, row, self.class_names, self.smoothed)
        if self._writer is None:
            self._size = (frame.shape[1], frame.shape[0])
            self._writer = cv2.VideoWriter(str(self._open_path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self._size)
            if not self._writer.isOpened():
                raise OSError(f"{self.path}: OpenCV cannot write an mp4v video here")
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size)
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if self._open_path != self.path:
                os.replace(self._open_path, self.path)
