"""Which half of a face a hand covers: ``none``, ``upper``, ``lower`` or ``both``.

The face is taken in its own frame: the square around the detector's box (as the preprocessing
squares it), turned so the eyes are level when the detector gave eyes, split at its middle row,
as the upper / lower half-face models of the 2025 paper see it. Each hand's outline
(:attr:`signfer.signers.hands.Hand.outline`, or any polygon) is drawn into a ``grid`` x ``grid``
mask of that square; a half counts as covered when at least ``threshold`` of its area is under a hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from signfer.faces.types import Face

OCCLUSION_STATES = ("none", "upper", "lower", "both")
DEFAULT_THRESHOLD = 0.25


@dataclass(frozen=True)
class Occlusion:
    """``state`` and the covered fractions of the upper and lower half (0..1)."""

    state: str
    upper: float
    lower: float

    def to_dict(self) -> dict:
        return {"state": self.state, "upper": round(self.upper, 4), "lower": round(self.lower, 4)}


NO_OCCLUSION = Occlusion("none", 0.0, 0.0)


def face_axes(face: Face, zoom: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(centre, x axis, y axis (pointing down the face), side) of the face's square in image pixels."""
    x1, y1, x2, y2 = face.box
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float64)
    side = max(x2 - x1, y2 - y1) * zoom
    ex = np.array([1.0, 0.0])
    if face.has_eyes:
        d = np.asarray(face.right_eye, np.float64) - np.asarray(face.left_eye, np.float64)
        n = np.linalg.norm(d)
        if n > 1e-6:
            ex = d / n
    ey = np.array([-ex[1], ex[0]])
    return centre, ex, ey, float(side)


def to_face_coords(points: np.ndarray, face: Face, zoom: float = 1.0) -> np.ndarray:
    """Image points (N, 2) -> face-square coordinates (0..1 across, 0..1 down; outside = beyond the square)."""
    centre, ex, ey, side = face_axes(face, zoom)
    d = np.asarray(points, np.float64).reshape(-1, 2) - centre
    return np.stack([d @ ex / side + 0.5, d @ ey / side + 0.5], axis=1)


def covered_mask(face: Face, outlines: Iterable[np.ndarray], zoom: float = 1.0, grid: int = 64) -> np.ndarray:
    """Boolean ``grid`` x ``grid`` mask of the face square covered by any of ``outlines`` (image polygons)."""
    mask = np.zeros((grid, grid), np.uint8)
    for poly in outlines:
        uv = to_face_coords(poly, face, zoom) * grid
        if len(uv) >= 3:
            cv2.fillPoly(mask, [np.round(uv * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def occlusion_state(upper: float, lower: float, threshold: float = DEFAULT_THRESHOLD) -> str:
    up, low = upper >= threshold, lower >= threshold
    return "both" if up and low else "upper" if up else "lower" if low else "none"


def face_occlusion(face: Face, hands: Iterable, threshold: float = DEFAULT_THRESHOLD, zoom: float = 1.0, grid: int = 64) -> Occlusion:
    """How much of each face half ``hands`` cover (objects with ``.outline``, or polygons)."""
    outlines = [getattr(h, "outline", h) for h in hands]
    if not outlines:
        return NO_OCCLUSION
    m = covered_mask(face, outlines, zoom, grid)
    half = grid // 2
    upper, lower = float(m[:half].mean()), float(m[half:].mean())
    return Occlusion(occlusion_state(upper, lower, threshold), upper, lower)


def overlaps_box(face: Face, hands: Iterable, zoom: float = 1.0) -> bool:
    """Whether any hand outline reaches into the face square at all."""
    return bool(covered_mask(face, [getattr(h, "outline", h) for h in hands], zoom, grid=16).any())
