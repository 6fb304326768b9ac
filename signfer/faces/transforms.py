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


ROTATE_ABOUT = ("eyes", "centre")
ROTATE_FILTERS = ("bilinear", "nearest")


def rotation_centre(img: np.ndarray, left_eye: Point, right_eye: Point, about: str = "eyes") -> Point:
    """Where the alignment rotates ``img``: the eye midpoint, or the image centre (``(w - 1) / 2``, ``(h - 1) / 2``
    in pixel-index coordinates: PIL's ``Image.rotate`` centre ``(w / 2, h / 2)`` in pixel-corner coordinates)."""
    if about not in ROTATE_ABOUT:
        raise OptionError(f"rotate_about must be one of {ROTATE_ABOUT}, got {about!r}")
    if about == "eyes":
        return eye_midpoint(left_eye, right_eye)
    h, w = img.shape[:2]
    return ((w - 1) / 2, (h - 1) / 2)


def level_eyes(img: np.ndarray, left_eye: Point, right_eye: Point, about: str = "eyes",
               interpolation: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """Rotate ``img`` so the eyes are level, about ``about`` (:data:`ROTATE_ABOUT`) with ``interpolation``
    (:data:`ROTATE_FILTERS`); same size, black corners. Returns (pixels, 2x3 matrix image -> rotated image).

    ``about="eyes", interpolation="bilinear"`` is :func:`align_eyes`. ``about="centre", interpolation="nearest"``
    is the 2025 code's ``img_cropped.rotate(angle=theta_degs, resample=PIL.Image.NEAREST)`` pixel for pixel
    (:func:`pil_rotate_nearest`)."""
    if interpolation not in ROTATE_FILTERS:
        raise OptionError(f"rotate_filter must be one of {ROTATE_FILTERS}, got {interpolation!r}")
    angle = -eye_angle(left_eye, right_eye)  # counter-clockwise on screen, as PIL's rotate(angle) and OpenCV
    matrix = cv2.getRotationMatrix2D(rotation_centre(img, left_eye, right_eye, about), angle, 1.0)
    if about == "centre" and interpolation == "nearest":
        return pil_rotate_nearest(img, angle), matrix
    h, w = img.shape[:2]
    flags = cv2.INTER_LINEAR if interpolation == "bilinear" else cv2.INTER_NEAREST
    out = cv2.warpAffine(img, matrix, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return out, matrix


def pil_rotate_nearest(img: np.ndarray, angle: float) -> np.ndarray:
    """``PIL.Image.fromarray(img).rotate(angle, resample=PIL.Image.NEAREST)`` without Pillow: counter-clockwise by
    ``angle`` degrees about the image centre, same size, black outside.

    Pillow's code transcribed: the inverse affine matrix with ``round(cos, 15)`` / ``round(sin, 15)``, its
    16.16 fixed-point nearest-neighbour loop (``affine_fixed`` in Geometry.c: sample points at pixel centres,
    ``>> 16``), and the exact cases of ``rotate`` (0 and 180 degrees; 90 / 270 for square images) as transposes.
    """
    h, w = img.shape[:2]
    angle = angle % 360.0
    if angle == 0:
        return img.copy()
    if angle == 180:
        return np.ascontiguousarray(img[::-1, ::-1])
    if angle in (90, 270) and w == h:
        return np.ascontiguousarray(np.rot90(img, 1 if angle == 90 else -1))
    rad = -math.radians(angle)
    a = [round(math.cos(rad), 15), round(math.sin(rad), 15), 0.0, round(-math.sin(rad), 15), round(math.cos(rad), 15), 0.0]
    cx, cy = w / 2.0, h / 2.0
    a[2], a[5] = a[0] * -cx + a[1] * -cy + a[2], a[3] * -cx + a[4] * -cy + a[5]
    a[2] += cx
    a[5] += cy

    def fix(v: float) -> int:
        return math.floor(v * 65536.0 + 0.5)

    corners = [(0, 0), (w, 0), (0, h), (w, h)]
    if not all(abs(x * a[0] + y * a[1] + a[2]) < 32768.0 and abs(x * a[3] + y * a[4] + a[5]) < 32768.0 for x, y in corners):
        raise OptionError(f"image of {w}x{h} pixels too large for Pillow's fixed-point rotation")
    a0, a1, a3, a4 = fix(a[0]), fix(a[1]), fix(a[3]), fix(a[4])
    a2, a5 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5), fix(a[5] + a[3] * 0.5 + a[4] * 0.5)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.int64)
    xin = (a2 + ys * a1 + xs * a0) >> 16
    yin = (a5 + ys * a4 + xs * a3) >> 16
    inside = (xin >= 0) & (xin < w) & (yin >= 0) & (yin < h)
    out = np.zeros_like(img)
    out[inside] = img[yin[inside], xin[inside]]
    return out


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


RESIZES = ("auto", "nearest")


def resize_face(img: np.ndarray, size: int | Sequence[int] = 224, method: str = "auto") -> np.ndarray:
    """Resize to ``size`` x ``size``, or to ``(height, width)`` when ``size`` is a pair.

    ``method="auto"``: shrinking uses area averaging, enlarging bilinear interpolation. ``"nearest"``: PIL's
    nearest neighbour (``cv2.INTER_NEAREST_EXACT``), what Keras' ``flow_from_directory`` (``load_img``,
    ``interpolation='nearest'``) does to the SLTAT notebooks' training images.
    """
    if method not in RESIZES:
        raise OptionError(f"resize must be one of {RESIZES}, got {method!r}")
    height, width = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if img.shape[:2] == (height, width):
        return img
    if method == "nearest":
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
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
    "level_eyes",
    "pil_rotate_nearest",
    "rotation_centre",
    "transform_points",
    "translation",
    "compose",
    "face_region",
    "resize_face",
]
