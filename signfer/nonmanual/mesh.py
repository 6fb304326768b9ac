"""MediaPipe's face mesh (468 landmarks with relative depth) on signfer's own face boxes, followed between frames.

The model ``mediapipe/modules/face_landmark/face_landmark.tflite`` (Apache-2.0) comes from the same mediapipe
wheel as the hand models (:func:`signfer.signers.hands.model_file`: fetched once, SHA-256 pinned, cached) and
runs on the TFLite runtime (``ai-edge-litert``). Steps, as MediaPipe's ``face_landmark_front_cpu`` graph:

1. the face region: from a detector box (square on the long side, scaled by :data:`BOX_SCALE`, rotated so the
   eyes are level) or, in video, from the previous frame's landmarks (their bounding box in the eye-levelled
   frame, scaled by :data:`TRACK_SCALE`: MediaPipe's ``FaceLandmarksToRectCalculator`` + 1.5 scale);
2. the 192x192 crop (values in [0, 1]) -> 468 x (x, y, z) in crop pixels and a face-presence logit;
3. landmarks back to image pixels; ``z`` in the same pixel scale as x (relative depth, smaller = nearer).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from signfer.models.weights import WeightsUnavailable
from signfer.signers.hands import _interpreter, model_file, roi_to_image

MESH_INPUT = 192
#: detector box -> mesh region: square on the long side times this (MTCNN's box is tight around the face)
BOX_SCALE = 1.5
#: landmarks -> next frame's region (MediaPipe: bounding box of the landmarks scaled by 1.5)
TRACK_SCALE = 1.5
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # the signer's right and left eye corners (image left / right when facing)


@dataclass
class Mesh:
    """One face's mesh: ``points`` (468, 3) in image pixels (x, y, relative depth z), ``presence`` in [0, 1]
    and the region it was read from (centre x, centre y, side, rotation in radians)."""

    points: np.ndarray = field(repr=False)
    presence: float
    roi: tuple[float, float, float, float]

    @property
    def box(self) -> tuple[float, float, float, float]:
        p = self.points
        return (float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max()))


def _level(rotation: float) -> float:
    return rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))


def box_roi(box, left_eye=None, right_eye=None, scale: float = BOX_SCALE) -> tuple[float, float, float, float]:
    """The mesh region of a detector face box: centred, square on the long side times ``scale``, rotated so the
    eyes (when given) are level."""
    x1, y1, x2, y2 = (float(v) for v in box)
    rotation = 0.0
    if left_eye is not None and right_eye is not None:
        (lx, ly), (rx, ry) = left_eye, right_eye  # left_eye = smaller x in the image
        rotation = _level(math.atan2(ry - ly, rx - lx))
    return (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * scale, rotation


def landmark_roi(points: np.ndarray, scale: float = TRACK_SCALE) -> tuple[float, float, float, float]:
    """The next frame's region from this frame's landmarks: rotation from the eye corners, the landmarks' box in
    that rotated frame, squared on the long side and scaled by ``scale``."""
    p = np.asarray(points, np.float64)[:, :2]
    (lx, ly), (rx, ry) = p[RIGHT_EYE_OUTER], p[LEFT_EYE_OUTER]
    rotation = _level(math.atan2(ry - ly, rx - lx))
    c, s = math.cos(rotation), math.sin(rotation)
    centre = p.mean(0)
    q = (p - centre) @ np.array([[c, -s], [s, c]])  # into the levelled frame
    lo, hi = q.min(0), q.max(0)
    mid = (lo + hi) / 2
    cx, cy = centre + np.array([[c, -s], [s, c]]) @ mid
    return float(cx), float(cy), float(max(hi - lo) * scale), rotation


class FaceMesh:
    """The face-mesh model on RGB uint8 frames. ``min_presence``: meshes the model scores below it are dropped.
    ``model``: a local ``.tflite`` path instead of the wheel's. Picklable: the interpreter is built lazily."""

    def __init__(self, min_presence: float = 0.5, threads: int | None = 1, model: str | Path | None = None):
        self.min_presence = float(min_presence)
        self.threads = threads
        self.model = model
        self._it = None
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_it"] = state["_lock"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def load(self):
        """The TFLite interpreter (built on first use; raises ``WeightsUnavailable`` / ``MissingExtra``)."""
        if self._it is None:
            path = Path(self.model) if self.model else model_file("face_mesh")
            if not path.is_file():
                raise WeightsUnavailable(f"face mesh model {path} does not exist")
            self._it = _interpreter(path, self.threads)
            self._in = self._it.get_input_details()[0]["index"]
            self._out = [d["index"] for d in self._it.get_output_details()]
        return self._it

    def run(self, rgb: np.ndarray, roi) -> Mesh | None:
        """The mesh in region ``roi`` (centre x, centre y, side, rotation), or None when the model sees no face."""
        m = roi_to_image(roi, MESH_INPUT)
        crop = cv2.warpAffine(np.ascontiguousarray(rgb), m, (MESH_INPUT, MESH_INPUT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
        with self._lock:
            it = self.load()
            it.set_tensor(self._in, (crop.astype(np.float32) / 255.0)[None])
            it.invoke()
            outs = [it.get_tensor(i) for i in self._out]
        raw = next(o for o in outs if o.size == 1404).reshape(468, 3).astype(np.float64)
        logit = float(next(o for o in outs if o.size == 1).ravel()[0])
        presence = 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))
        if presence < self.min_presence:
            return None
        pts = np.empty_like(raw)
        pts[:, :2] = raw[:, :2] @ m[:, :2].T + m[:, 2]
        pts[:, 2] = raw[:, 2] * (roi[2] / MESH_INPUT)
        return Mesh(pts.astype(np.float32), presence, tuple(float(v) for v in roi))


class MeshTracker:
    """Meshes per signer across frames, as MediaPipe's video mode: a signer's region comes from their previous
    mesh while it still lies on their face box (IoU >= ``min_iou`` with the detector's or tracker's box),
    otherwise from the face box; a signer unseen this frame is forgotten."""

    def __init__(self, mesh: FaceMesh, min_iou: float = 0.3):
        self.mesh = mesh
        self.min_iou = min_iou
        self._last: dict[str, Mesh] = {}

    def update(self, rgb: np.ndarray, faces: dict) -> dict:
        """``faces``: signer ID -> :class:`~signfer.faces.types.Face`; returns signer ID -> :class:`Mesh` (or None)."""
        from signfer.faces.types import box_iou

        out = {}
        for sid, face in faces.items():
            prev = self._last.get(sid)
            found = None
            if prev is not None and float(box_iou(np.asarray(face.box, np.float64), np.asarray([prev.box], np.float64))[0]) >= self.min_iou:
                found = self.mesh.run(rgb, landmark_roi(prev.points))
            if found is None:
                found = self.mesh.run(rgb, box_roi(face.box, face.left_eye, face.right_eye))
            out[sid] = found
        self._last = {k: v for k, v in out.items() if v is not None}
        return out
