"""Following a detected face between detections (for ``detect_every > 1``).

The face found by the detector is kept as a grayscale template; on the next frames it is
found again by normalised cross-correlation (``cv2.matchTemplate``) in a window around its
last position, and the box and eye centres are shifted by the same offset. When the best
match scores below ``min_score`` the face counts as lost and the caller runs the detector.
Translation only: detections every few frames correct scale and rotation.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from signfer.faces.types import Face


def shift_face(face: Face, dx: float, dy: float, score: float | None = None) -> Face:
    """``face`` moved by (dx, dy) pixels (box, eyes and landmarks)."""

    def mv(p):
        return None if p is None else (p[0] + dx, p[1] + dy)

    x1, y1, x2, y2 = face.box
    return replace(
        face,
        box=(x1 + dx, y1 + dy, x2 + dx, y2 + dy),
        left_eye=mv(face.left_eye),
        right_eye=mv(face.right_eye),
        landmarks={k: mv(v) for k, v in face.landmarks.items()},
        score=face.score if score is None else float(score),
    )


def scale_face(face: Face, factor: float) -> Face:
    """``face`` with all coordinates multiplied by ``factor`` (detection on a resized frame)."""
    if factor == 1.0:
        return face

    def sc(p):
        return None if p is None else (p[0] * factor, p[1] * factor)

    return replace(
        face,
        box=tuple(v * factor for v in face.box),
        left_eye=sc(face.left_eye),
        right_eye=sc(face.right_eye),
        landmarks={k: sc(v) for k, v in face.landmarks.items()},
    )


class FaceTracker:
    """Template tracker for one face. ``work_size``: the template is matched at this width in pixels."""

    def __init__(self, search: float = 0.5, min_score: float = 0.6, work_size: int = 48):
        self.search = search
        self.min_score = min_score
        self.work_size = work_size
        self.face: Face | None = None
        self._template: np.ndarray | None = None
        self._scale = 1.0
        self._offset = (0.0, 0.0)
        self.last_score = float("nan")  # match score of the last track()

    @property
    def active(self) -> bool:
        return self.face is not None

    def clear(self) -> None:
        self.face, self._template = None, None

    def reset(self, frame: np.ndarray, face: Face | None) -> None:
        """Start following ``face`` (as detected in ``frame``); ``None`` stops tracking."""
        self.clear()
        if face is None:
            return
        x1, y1, x2, y2 = _int_box(face.box, frame.shape)
        if x2 - x1 < 8 or y2 - y1 < 8:
            return
        self._scale = self.work_size / max(x2 - x1, 1)
        self._template = self._gray(frame[y1:y2, x1:x2])
        self._offset = (x1 - face.box[0], y1 - face.box[1])  # template corner relative to the box corner
        self.face = face

    def track(self, frame: np.ndarray) -> Face | None:
        """The face in ``frame``, or ``None`` (and tracking stops) when it is lost."""
        if self.face is None or self._template is None:
            return None
        x1, y1, x2, y2 = self.face.box
        w, h = x2 - x1, y2 - y1
        mx, my = self.search * w, self.search * h
        sx1, sy1, sx2, sy2 = _int_box((x1 - mx, y1 - my, x2 + mx, y2 + my), frame.shape)
        region = self._gray(frame[sy1:sy2, sx1:sx2])
        th, tw = self._template.shape
        if region.shape[0] < th or region.shape[1] < tw:
            self.clear()
            return None
        result = cv2.matchTemplate(region, self._template, cv2.TM_CCOEFF_NORMED)
        _, score, _, (bx, by) = cv2.minMaxLoc(result)
        if not np.isfinite(score) or score < self.min_score:
            self.clear()
            return None
        # best template corner in full-resolution pixels -> new box corner
        nx = sx1 + bx / self._scale - self._offset[0]
        ny = sy1 + by / self._scale - self._offset[1]
        moved = shift_face(self.face, nx - self.face.box[0], ny - self.face.box[1])  # keeps the detection's score
        self.last_score = float(score)
        self.face = moved  # the template stays the detected one: no drift from re-templating
        return moved

    def _gray(self, rgb: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        return cv2.resize(g, None, fx=self._scale, fy=self._scale, interpolation=cv2.INTER_AREA)


def _int_box(box, shape) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x1, y1, x2, y2 = box
    return max(0, int(round(x1))), max(0, int(round(y1))), min(w, int(round(x2))), min(h, int(round(y2)))
