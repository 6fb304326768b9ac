"""Writers for annotation results: CSV and JSON (streamed frame by frame), ELAN .eaf, overlay video.

Each writer writes into a temporary file that :mod:`signfer.io` renames over the target only
when the whole input was annotated, so a crash never leaves a half-written file.

:class:`RowSchema` turns one analysed frame of the pipeline (:class:`~signfer.annotate.stages.FrameData`)
into table rows: one per frame in the plain mode, one per frame and signer with ``--signer``;
the CSV has those rows (:func:`frame_columns`), the JSON one record per row plus the segments.
The EAF (written with ``pympi-ling``, EAF 3.0) links the video and holds, per signer (tier names
prefixed ``<ID>_``; none in the plain mode): an ``expression`` tier of segments, ``confidence``
(mean top-class probability of each segment), ``p_<class>`` per class (mean probability over each
segment, or per frame), ``occlusion`` and ``model_used`` runs (with hands / signers), and one numeric
tier per extra model output (``valence``, ``arousal``...: per-frame values, equal neighbours merged).
:func:`signfer.annotate.elan.write_tiers` is signfer's one ELAN writer.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Sequence

import numpy as np

from signfer.annotate.segments import Segment
from signfer.nonmanual.measures import COLUMNS as NONMANUAL_COLUMNS

#: EAF properties recording the media an annotation was made on (checked by ``train --from-elan``)
MEDIA_PROPERTIES = ("signfer_media", "signfer_media_duration_ms", "signfer_media_frames")

FACE_COLUMNS = [
    "face_x1", "face_y1", "face_x2", "face_y2", "face_score",
    "left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y", "tracked",
]  # fmt: skip
HAND_COLUMNS = ["hands", "occlusion", "occluded_upper", "occluded_lower"]


def _probability_columns(prefix: str, names: list[str], extras: Sequence[str] = ()) -> list[str]:
    return [f"{prefix}label", f"{prefix}confidence"] + [f"{prefix}p_{c}" for c in names] + [f"{prefix}{e}" for e in extras]


def frame_columns(class_names: Iterable[str], smoothed: bool = False, source: bool = False, *, signers: bool = False, hands: bool = False,
                  calibrated: bool = False, extras: Sequence[str] = (), nonmanual: bool = False) -> list[str]:  # fmt: skip
    """Columns of the per-frame table: ``frame, time_ms, [source,] [signer_id,] status, error``, face box and eyes,
    ``tracked``, [``face_source``], [``hands, occlusion, occluded_upper, occluded_lower``], [``model_used``],
    ``label, confidence, p_<class>...``, the extra outputs, then ``calibrated_*`` (calibration on) and
    ``smooth_*`` (smoothing on; extras smoothed too), then the non-manual measures (``--nmm``: ``head_yaw``,
    ``head_pitch``, ``head_roll`` in degrees, ``brow_left/right/inner``, ``eye_left/right``, ``mouth_open/width``
    as shares of the inter-ocular distance; see signfer.nonmanual.measures)."""
    names = list(class_names)
    cols = ["frame", "time_ms"] + (["source"] if source else []) + (["signer_id"] if signers else []) + ["status", "error"] + FACE_COLUMNS
    if signers or hands:
        cols += ["face_source"]
    if hands:
        cols += HAND_COLUMNS
    if signers or hands:
        cols += ["model_used"]
    cols += _probability_columns("", names, extras)
    if calibrated:
        cols += _probability_columns("calibrated_", names)
    if smoothed:
        cols += _probability_columns("smooth_", names, extras)
    if nonmanual:
        cols += list(NONMANUAL_COLUMNS)
    return cols


def _r(v, nd):
    return None if v is None else round(float(v), nd)


@dataclass
class RowSchema:
    """What a row holds for one annotation run (see :func:`frame_columns`)."""

    class_names: list[str]
    smoothed: bool = False
    source: bool = False
    signers: bool = False
    hands: bool = False
    calibrated: bool = False
    extras: tuple[str, ...] = ()
    nonmanual: bool = False

    @property
    def columns(self) -> list[str]:
        return frame_columns(self.class_names, self.smoothed, self.source, signers=self.signers, hands=self.hands,
                             calibrated=self.calibrated, extras=self.extras, nonmanual=self.nonmanual)  # fmt: skip

    def _probs(self, row: dict, prefix: str, probs, extras=None) -> None:
        if probs is None:
            return
        probs = np.asarray(probs)
        n = len(self.class_names)
        p = probs[:n]
        k = int(np.argmax(p))
        row[f"{prefix}label"], row[f"{prefix}confidence"] = self.class_names[k], round(float(p[k]), 6)
        row.update({f"{prefix}p_{c}": round(float(v), 6) for c, v in zip(self.class_names, p)})
        extra = probs[n:] if extras is None else extras
        if extra is not None and len(extra):
            row.update({f"{prefix}{e}": round(float(v), 6) for e, v in zip(self.extras, extra)})

    def rows(self, frame) -> list[dict]:
        """The rows of one analysed frame (:class:`~signfer.annotate.stages.FrameData`)."""
        base = {"frame": frame.index, "time_ms": round(frame.time_ms, 3)}
        if self.source:
            base["source"] = frame.source
        if frame.status == "error" or not frame.faces:
            row = {**base, "status": "error" if frame.status == "error" else "no_face", "error": frame.error or None}
            if self.signers:
                row["signer_id"] = ""
            if self.hands and frame.hands is not None:
                row["hands"] = len(frame.hands)
            return [row]
        out = []
        for obs in frame.faces:
            row = dict(base)
            if self.signers:
                row["signer_id"] = obs.signer_id
            row["status"], row["error"] = obs.status, obs.error or None
            face = obs.face
            row.update(zip(("face_x1", "face_y1", "face_x2", "face_y2"), (round(float(v), 2) for v in obs.shown_box)))
            row["face_score"] = _r(face.score, 4)
            if face.left_eye is not None:
                row["left_eye_x"], row["left_eye_y"] = _r(face.left_eye[0], 2), _r(face.left_eye[1], 2)
            if face.right_eye is not None:
                row["right_eye_x"], row["right_eye_y"] = _r(face.right_eye[0], 2), _r(face.right_eye[1], 2)
            row["tracked"] = obs.tracked
            if self.signers or self.hands:
                row["face_source"] = obs.source
                row["model_used"] = obs.region if obs.status == "ok" else "none"
            if self.hands:
                occ = obs.occlusion
                row["hands"] = len(frame.hands or [])
                if occ is not None:
                    row.update(occlusion=occ.state, occluded_upper=round(occ.upper, 4), occluded_lower=round(occ.lower, 4))
            self._probs(row, "", obs.probs, obs.extras)
            if self.calibrated:
                self._probs(row, "calibrated_", obs.calibrated, ())
            if self.smoothed:
                self._probs(row, "smooth_", obs.smoothed)
            if self.nonmanual and obs.nonmanual:
                row.update({c: round(float(obs.nonmanual[c]), 4) for c in NONMANUAL_COLUMNS})
            out.append(row)
        return out

    def record(self, row: dict) -> dict:
        """A row as a nested JSON record."""
        names = self.class_names
        rec = {"frame": row["frame"], "time_ms": row["time_ms"]}
        if "source" in row:
            rec["source"] = row["source"]
        if self.signers:
            rec["signer_id"] = row.get("signer_id")
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
            if "face_source" in row:
                rec["face"]["source"] = row["face_source"]
        else:
            rec["face"] = None
        if self.hands:
            rec["hands"] = row.get("hands")
            rec["occlusion"] = None if row.get("occlusion") is None else {"state": row["occlusion"], "upper": row["occluded_upper"], "lower": row["occluded_lower"]}
        if "model_used" in row:
            rec["model_used"] = row["model_used"]

        def block(prefix: str, extras: Sequence[str]) -> dict | None:
            if row.get(f"{prefix}label") is None:
                return None
            out = {"label": row[f"{prefix}label"], "confidence": row[f"{prefix}confidence"], "probabilities": {c: row[f"{prefix}p_{c}"] for c in names}}
            out.update({e: row.get(f"{prefix}{e}") for e in extras})
            return out

        rec["label"] = row.get("label")
        rec["confidence"] = row.get("confidence")
        rec["probabilities"] = None if row.get("label") is None else {c: row[f"p_{c}"] for c in names}
        for e in self.extras:
            rec[e] = row.get(e)
        if self.calibrated:
            rec["calibrated"] = block("calibrated_", ())
        if self.smoothed:
            rec["smoothed"] = block("smooth_", self.extras)
        if self.nonmanual:
            rec["nonmanual"] = None if row.get("head_yaw") is None else {c: row.get(c) for c in NONMANUAL_COLUMNS}
        return rec


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
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_json_value(x) for x in v]
    return v


class JsonWriter:
    """``{"media", "model", "options", "class_names", ..., "frames": [...], "segments": [...], "summary", ...}``, streamed."""

    def __init__(self, fh: IO[str], header: dict):
        self._fh = fh
        self._n = 0
        body = json.dumps(_json_value(header), ensure_ascii=False)[:-1]  # drop the closing brace
        fh.write(body + (", " if header else "") + '"frames": [\n')

    def write(self, record: dict) -> None:
        self._fh.write(("" if self._n == 0 else ",\n") + json.dumps(_json_value(record), ensure_ascii=False))
        self._n += 1

    def close(self, segments: list[Segment] | dict[str, list[Segment]], summary: dict, **more) -> None:
        """``segments``: a list (plain mode) or signer -> list; ``more``: further top-level entries (e.g. baselines)."""
        if isinstance(segments, dict):
            segs = {k: [s.to_dict() for s in v] for k, v in segments.items()}
        else:
            segs = [s.to_dict() for s in segments]
        self._fh.write("\n],\n")
        self._fh.write('"segments": ' + json.dumps(_json_value(segs), ensure_ascii=False) + ",\n")
        for key, value in more.items():
            self._fh.write(json.dumps(key) + ": " + json.dumps(_json_value(value), ensure_ascii=False) + ",\n")
        self._fh.write('"summary": ' + json.dumps(_json_value(summary), ensure_ascii=False) + "}\n")


_GREEN, _WHITE, _BLACK, _BAR = (60, 200, 60), (255, 255, 255), (0, 0, 0), (230, 160, 40)


def draw_overlay(rgb: np.ndarray, rows: dict | list[dict], class_names: list[str], smoothed: bool = False) -> np.ndarray:
    """A copy of the frame (RGB) with each row's face box, eyes and label (with its signer ID) and one probability bar
    per class (of the first row's face)."""
    rows = [rows] if isinstance(rows, dict) else list(rows)
    img = np.ascontiguousarray(rgb).copy()
    for row in rows[1:]:
        _draw_face(img, row, smoothed)
    return _draw_face(img, rows[0], smoothed, class_names) if rows else img


def _draw_face(img: np.ndarray, row: dict, smoothed: bool, class_names: list[str] | None = None) -> np.ndarray:
    import cv2

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
        if label is not None or row.get("signer_id"):
            text = " ".join(t for t in (row.get("signer_id") or "", "" if label is None else f"{label} {conf:.2f}") if t)
            cv2.putText(img, text, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, _BLACK, thick + 2, cv2.LINE_AA)
            cv2.putText(img, text, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, _WHITE, thick, cv2.LINE_AA)
    else:
        cv2.putText(img, row.get("status", ""), (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, _WHITE, thick, cv2.LINE_AA)
    if class_names is None:
        return img
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
        from signfer.annotate.video import opencv_can_open

        self.path, self.fps, self.class_names, self.smoothed = Path(path), float(fps), class_names, smoothed
        # OpenCV crashes on a file name that is not valid UTF-8: write under an ASCII name, rename on close
        self._open_path = self.path if opencv_can_open(self.path) else self.path.with_name(f".signfer-overlay-{os.getpid()}-{id(self)}.mp4")
        self._writer = None
        self._size = None

    def write(self, rgb: np.ndarray, rows: dict | list[dict]) -> None:
        import cv2

        frame = draw_overlay(rgb, rows, self.class_names, self.smoothed)
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
