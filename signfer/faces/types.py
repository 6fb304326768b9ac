"""Plain data passed between the face stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels, x2/y2 exclusive


def box_iou(box, boxes) -> np.ndarray:
    """Intersection over union of ``box`` (x1, y1, x2, y2) with each row of ``boxes`` (N, 4); 0 where the union is empty."""
    box, boxes = np.asarray(box, dtype=np.float64), np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``left_eye`` is the eye with the smaller x in the image (the viewer's left, the
    person's right eye); ``right_eye`` the other one. Either may be ``None`` when the
    detector found no eyes (e.g. Haar without an eye hit). ``landmarks`` holds any
    further points by name (``nose``, ``mouth_left``, ``mouth_right``).
    """

    box: Box
    score: float = 1.0
    left_eye: Point | None = None
    right_eye: Point | None = None
    landmarks: dict[str, Point] = field(default_factory=dict)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def has_eyes(self) -> bool:
        return self.left_eye is not None and self.right_eye is not None


@dataclass
class FaceCrop:
    """A preprocessed face ready for a model, with what was done to get it.

    ``box`` is the (square, zoomed) crop box in the source image, ``angle`` the rotation
    in degrees applied to level the eyes (0 when alignment is off), ``eyes`` the eye
    centres in the source image.
    """

    pixels: np.ndarray  # RGB uint8 (size, size, 3), or (h, size, 3) for half faces
    box: Box
    angle: float = 0.0
    face: Face | None = None
    preset: str = ""
    region: str = "full"
