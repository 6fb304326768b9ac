"""OpenCV Haar-cascade face detector (Viola-Jones), as the SLTAT 2022 paper used, with eye centres from an eye cascade.

Cascades come from ``cv2.data.haarcascades`` (shipped by opencv-python < 5). The face score is the
number of raw detections merged into the box (OpenCV's ``numDetections``, at least ``min_neighbors``):
more neighbours, more certain. Eyes are searched in the upper part of each face box; an eye not found
is ``None``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from signfer.errors import OptionError
from signfer.faces.types import Face


def cascade_path(filename: str) -> Path:
    """A cascade XML file: a path, or a file name in ``cv2.data.haarcascades``."""
    path = Path(filename)
    if path.is_file():
        return path
    folder = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or ".")
    path = folder / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"Haar cascade {filename!r} not found in {folder}; OpenCV 5 wheels ship no cascades: "
            "install opencv-python-headless<5 or pass the XML file's path"
        )
    return path


def _load(filename: str) -> cv2.CascadeClassifier:
    path = cascade_path(filename)
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise OptionError(f"{path}: not a readable OpenCV cascade")
    return cascade


class HaarDetector:
    """Haar-cascade face detector with eye centres.

    ``min_face_size``: smallest face in pixels; ``scale_factor`` and ``min_neighbors`` as in
    ``cv2.CascadeClassifier.detectMultiScale``; ``equalize``: equalise the grey image's histogram
    first (OpenCV's recipe); ``eyes``: look for eye centres; ``face_cascade`` / ``eye_cascade``:
    file names in ``cv2.data.haarcascades`` or paths (``haarcascade_eye_tree_eyeglasses.xml`` copes
    better with glasses). Picklable: the cascades are loaded lazily in each process.
    """

    name = "haar"

    #: eyes are searched in this band of the face box height, and each eye in its half of the width
    EYE_BAND = (0.15, 0.6)

    def __init__(
        self,
        min_face_size: float = 50,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        equalize: bool = True,
        eyes: bool = True,
        face_cascade: str = "haarcascade_frontalface_default.xml",
        eye_cascade: str = "haarcascade_eye.xml",
        eye_min_neighbors: int = 3,
    ):
        if scale_factor <= 1:
            raise OptionError(f"scale_factor must be > 1, got {scale_factor}")
        self.min_face_size = int(round(min_face_size))
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.equalize = bool(equalize)
        self.eyes = bool(eyes)
        self.face_cascade = face_cascade
        self.eye_cascade = eye_cascade
        self.eye_min_neighbors = int(eye_min_neighbors)
        self._cascades = None
        cascade_path(face_cascade)  # fail early, in the caller's process, when a cascade is missing
        if eyes:
            cascade_path(eye_cascade)

    def __repr__(self) -> str:
        return (f"HaarDetector(min_face_size={self.min_face_size}, scale_factor={self.scale_factor}, "
                f"min_neighbors={self.min_neighbors}, eyes={self.eyes})")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cascades"] = None
        return state

    @property
    def cascades(self) -> tuple[cv2.CascadeClassifier, cv2.CascadeClassifier | None]:
        if self._cascades is None:
            self._cascades = (_load(self.face_cascade), _load(self.eye_cascade) if self.eyes else None)
        return self._cascades

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in one RGB uint8 image, most neighbours first; ``[]`` when there is none."""
        img = np.asarray(rgb)
        if img.ndim == 3:
            gray = cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_RGB2GRAY)
        elif img.ndim == 2:
            gray = np.ascontiguousarray(img)
        else:
            raise OptionError(f"expected an image of shape (H, W[, 3]), got {img.shape}")
        if gray.dtype != np.uint8:
            from signfer.io import to_uint8_rgb

            gray = cv2.cvtColor(to_uint8_rgb(img), cv2.COLOR_RGB2GRAY)
        if min(gray.shape[:2]) < max(self.min_face_size, 24):
            return []
        if self.equalize:
            gray = cv2.equalizeHist(gray)
        face_cascade, eye_cascade = self.cascades
        rects, neighbours = face_cascade.detectMultiScale2(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_face_size, self.min_face_size),
        )
        faces = []
        for (x, y, w, h), n in zip(np.asarray(rects).reshape(-1, 4), np.asarray(neighbours).reshape(-1)):
            left, right = self._eyes(gray, x, y, w, h, eye_cascade) if eye_cascade is not None else (None, None)
            faces.append(Face(box=(float(x), float(y), float(x + w), float(y + h)), score=float(n),
                              left_eye=left, right_eye=right))
        faces.sort(key=lambda f: (-f.score, -f.area))
        return faces

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
        """:meth:`detect` for each image."""
        return [self.detect(im) for im in images]

    def _eyes(self, gray, x, y, w, h, cascade):
        """Centres of the best eye hit in the left and in the right half of the face's eye band."""
        top, bottom = y + int(self.EYE_BAND[0] * h), y + int(self.EYE_BAND[1] * h)
        roi = gray[top:bottom, x:x + w]
        if roi.size == 0:
            return None, None
        rects, neighbours = cascade.detectMultiScale2(
            roi, scaleFactor=1.1, minNeighbors=self.eye_min_neighbors,
            minSize=(max(w // 10, 5), max(w // 10, 5)), maxSize=(w // 2, w // 2),
        )
        best: dict[str, tuple] = {}
        for (ex, ey, ew, eh), n in zip(np.asarray(rects).reshape(-1, 4), np.asarray(neighbours).reshape(-1)):
            cx, cy = x + ex + ew / 2.0, top + ey + eh / 2.0
            side = "left" if cx < x + w / 2.0 else "right"
            key = (int(n), ew * eh)
            if side not in best or key > best[side][0]:
                best[side] = (key, (float(cx), float(cy)))
        return (best["left"][1] if "left" in best else None, best["right"][1] if "right" in best else None)
