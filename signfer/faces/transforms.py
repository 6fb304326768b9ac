"""Face crop, colour normalisation and eye alignment, one small function per step.

Every function takes and returns RGB uint8 images (H, W, 3) and boxes ``(x1, y1, x2, y2)``
in pixels (x2/y2 exclusive). The 2025 pipeline chains them as::

    square_box -> zoom_box -> crop_box -> equalize_histogram -> align_eyes -> face_region -> resize_face

Angles are in degrees, counter-clockwise positive as seen on screen (OpenCV's
``cv2.getRotationMatrix2D`` convention): a face turned by ``+15`` has
``eye_angle == +15`` and ``align_eyes`` rotates it by ``-15``.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import cv2
import numpy as np

from signfer.errors import OptionError
from signfer.faces.types import Box, Point

PADDINGS = ("black", "edge")
REGIONS = ("full", "upper", "lower")

_BORDERS = {"black": cv2.BORDER_CONSTANT, "edge": cv2.BORDER_REPLICATE}


# --------------------------------------------------------------------------- boxes
def square_box(box: Box) -> Box:
    """The square with the same centre whose side is the longer side of ``box``."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(x2 - x1, y2 - y1) / 2
    return (cx - half, cy - half, cx + half, cy + half)


def zoom_box(box: Box, zoom: float = 1.1) -> Box:
    """``box`` scaled by ``zoom`` about its centre (1.1 = 10 % wider and taller)."""
    if zoom <= 0:
        raise OptionError(f"zoom must be positive, got {zoom}")
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    hw, hh = (x2 - x1) * zoom / 2, (y2 - y1) * zoom / 2
    return (cx - hw, cy - hh, cx + hw, cy + hh)


def pixel_box(box: Box) -> tuple[int, int, int, int]:
    """Whole-pixel box: corner rounded, width and height rounded separately (a square stays square)."""
    x1, y1 = round(box[0]), round(box[1])
    return (x1, y1, x1 + max(1, round(box[2] - box[0])), y1 + max(1, round(box[3] - box[1])))


def crop_box(img: np.ndarray, box: Box, padding: str = "black") -> np.ndarray:
    """Cut ``box`` (rounded by :func:`pixel_box`) out of ``img``; parts outside the frame are padded.

    ``padding="black"`` fills them with zeros, ``"edge"`` repeats the nearest border pixel.
    The result is always ``(y2 - y1, x2 - x1, 3)``.
    """
    if padding not in _BORDERS:
        raise OptionError(f"padding must be one of {PADDINGS}, got {padding!r}")
    x1, y1, x2, y2 = pixel_box(box)
    h, w = img.shape[:2]
    inner = img[max(y1, 0) : min(y2, h), max(x1, 0) : min(x2, w)]
    if inner.size == 0:
        raise OptionError(f"box {box} lies outside the {w}x{h} image")
    top, left = max(0, -y1), max(0, -x1)
    bottom, right = max(0, y2 - h), max(0, x2 - w)
    if not (top or left or bottom or right):
        return inner.copy()
    return cv2.copyMakeBorder(inner, top, bottom, left, right, _BORDERS[padding], value=(0, 0, 0))


# --------------------------------------------------------------------------- colour
def equalize_histogram(img: np.ndarray) -> np.ndarray:
    """Histogram equalisation of each of R, G and B on its own (``cv2.equalizeHist`` per channel)."""
    return np.dstack([cv2.equalizeHist(np.ascontiguousarray(img[:, :, c])) for c in range(img.shape[2])])


def standardize_channels(img: np.ndarray, clip_sd: float = 2.5) -> np.ndarray:
    """Per-channel (x - mean) / std, clipped at ``clip_sd`` SD, mapped back to uint8.

    ``-clip_sd`` becomes 0, the channel mean 127.5 and ``+clip_sd`` 255, so the result can
    be stored and fed to a model like any other crop. A constant channel becomes mid-grey.
    """
    x = img.astype(np.float32)
    mean = x.mean(axis=(0, 1))
    std = np.maximum(x.std(axis=(0, 1)), 1e-6)
    z = np.clip((x - mean) / std, -clip_sd, clip_sd)
    return np.round((z + clip_sd) * (255.0 / (2 * clip_sd))).astype(np.uint8)


# --------------------------------------------------------------------------- eye alignment
def eye_angle(left_eye: Point, right_eye: Point) -> float:
    """Tilt of the eye line in degrees, counter-clockwise positive (0 = level eyes).

    ``left_eye`` is the eye with the smaller x. Rotating a level face with
    ``cv2.getRotationMatrix2D(c, 15, 1)`` gives ``eye_angle == 15``.
    """
    dx, dy = right_eye[0] - left_eye[0], right_eye[1] - left_eye[1]
    return -math.degrees(math.atan2(dy, dx))


def eye_midpoint(left_eye: Point, right_eye: Point) -> Point:
    return ((left_eye[0] + right_eye[0]) / 2, (left_eye[1] + right_eye[1]) / 2)


def eye_rotation(left_eye: Point, right_eye: Point) -> np.ndarray:
    """2x3 affine matrix rotating about the eye midpoint so that the eyes become level."""
    return cv2.getRotationMatrix2D(eye_midpoint(left_eye, right_eye), -eye_angle(left_eye, right_eye), 1.0)


def align_eyes(img: np.ndarray, left_eye: Point, right_eye: Point) -> np.ndarray:
    """Rotate ``img`` about the eye midpoint so the eyes are level; same size, black corners."""
    h, w = img.shape[:2]
    matrix = eye_rotation(left_eye, right_eye)
    return cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def transform_points(points: Iterable[Point], matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to (x, y) points; returns an (N, 2) float array."""
    pts = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
    return pts @ np.asarray(matrix, dtype=np.float64)[:, :2].T + np.asarray(matrix, dtype=np.float64)[:, 2]


def translation(dx: float, dy: float) -> np.ndarray:
    """2x3 affine matrix of a shift by (dx, dy)."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The 2x3 affine matrix applying ``first`` then ``second``."""
    full = np.vstack([second, [0.0, 0.0, 1.0]]) @ np.vstack([first, [0.0, 0.0, 1.0]])
    return full[:2]


# --------------------------------------------------------------------------- regions and size
def face_region(img: np.ndarray, region: str = "full", split_row: float | None = None) -> np.ndarray:
    """The ``"full"`` face, or its ``"upper"`` / ``"lower"`` part split at row ``split_row``.

    ``split_row`` defaults to the middle; it is kept at least one row from either edge.
    """
    if region not in REGIONS:
        raise OptionError(f"region must be one of {REGIONS}, got {region!r}")
    if region == "full":
        return img
    h = img.shape[0]
    row = h // 2 if split_row is None else int(round(min(max(split_row, 1), h - 1)))
    return img[:row] if region == "upper" else img[row:]


def resize_face(img: np.ndarray, size: int | Sequence[int] = 224) -> np.ndarray:
    """Resize to ``size`` x ``size``, or to ``(height, width)`` when ``size`` is a pair.

    Shrinking uses area averaging, enlarging bilinear interpolation.
    """
    height, width = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if img.shape[:2] == (height, width):
        return img
    shrinking = height * width < img.shape[0] * img.shape[1]
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


__all__ = [
    "square_box",
    "zoom_box",
    "pixel_box",
    "crop_box",
    "equalize_histogram",
    "standardize_channels",
    "eye_angle",
    "eye_midpoint",
    "eye_rotation",
    "align_eyes",
    "transform_points",
    "translation",
    "compose",
    "face_region",
    "resize_face",
]
