"""Hand detection with MediaPipe's palm detector and hand-landmark model, run by a TFLite runtime.

The ``.tflite`` files (Apache-2.0) are taken at run time from the ``mediapipe`` 0.10.21 wheel
(``pip download --no-deps``; mediapipe itself is never installed, it pins numpy<2) and run with
``ai-edge-litert`` (or ``tflite-runtime`` where that is installed). The steps follow MediaPipe's
``palm_detection_cpu`` and ``hand_landmark_cpu`` graphs:

1. letterbox the frame to 192x192 (aspect kept, zero border, values in [0, 1]);
2. decode the 2016 SSD anchors (4 layers, strides 8/16/16/16, fixed anchor size, 2 anchors per
   cell per layer), sigmoid scores clipped at +-100, keep scores >= ``min_score`` (0.5);
3. weighted non-maximum suppression (IoU 0.3);
4. hand ROI from each palm: rotated so the wrist -> middle-finger-MCP line points up, shifted by
   half the palm height towards the fingers, squared on the long side and scaled by 2.6;
5. the landmark model on the 224x224 ROI crop: 21 landmarks and a hand-presence score
   (``min_presence`` 0.5); the hand's outline is the convex hull of its landmarks.

:class:`Hand` carries the palm box, the landmarks and the outline polygon used by the occlusion test.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from signfer.errors import OptionError
from signfer.faces.types import Box, box_iou
from signfer.models.weights import WeightSource, WeightsUnavailable, fetch_any

MEDIAPIPE_WHEEL = "mediapipe==0.10.21"
_MODELS = {
    "palm_lite": ("mediapipe/modules/palm_detection/palm_detection_lite.tflite", "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18"),
    "palm_full": ("mediapipe/modules/palm_detection/palm_detection_full.tflite", "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54"),
    "landmark_lite": ("mediapipe/modules/hand_landmark/hand_landmark_lite.tflite", "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6"),
    "landmark_full": ("mediapipe/modules/hand_landmark/hand_landmark_full.tflite", "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"),
    # the face mesh of signfer.nonmanual (468 landmarks, 192x192 input), from the same wheel
    "face_mesh": ("mediapipe/modules/face_landmark/face_landmark.tflite", "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
}
COMPLEXITIES = ("lite", "full")

# palm_detection_cpu.pbtxt: SsdAnchorsCalculator / TensorsToDetectionsCalculator / NonMaxSuppressionCalculator options
PALM_INPUT = 192
PALM_STRIDES = (8, 16, 16, 16)
PALM_SCALE = 192.0
PALM_NMS_IOU = 0.3
# palm_detection_detection_to_roi.pbtxt: DetectionsToRects + RectTransformation options
ROI_SCALE = 2.6
ROI_SHIFT_Y = -0.5
WRIST, MIDDLE_MCP = 0, 2  # palm keypoints giving the hand's rotation
LANDMARK_INPUT = 224


def model_file(kind: str) -> Path:
    """The local ``.tflite`` file of ``kind`` (``palm_lite``, ``palm_full``, ``landmark_lite``, ``landmark_full``),
    extracted from the mediapipe wheel into the signfer cache on first use and checked by SHA-256.
    The one-time wheel download says so (one line) and shows pip's progress bar."""
    member, sha = _MODELS[kind]
    src = WeightSource("wheel", MEDIAPIPE_WHEEL, member=member, sha256=sha)
    if not src.target(None).exists():
        fetch_wheel_announced()
    return fetch_any([src], what=Path(member).name)


def fetch_wheel_announced(log=None) -> Path | None:
    """Download the mediapipe wheel into ``$SIGNFER_CACHE/wheels`` unless it is there, announcing it on stderr (one
    line) with pip's progress bar; returns its path (None when the download failed: :func:`model_file` then
    raises :class:`WeightsUnavailable` with what to do)."""
    import subprocess
    import sys
    import tempfile

    from signfer.config import cache_dir

    name, version = MEDIAPIPE_WHEEL.split("==")
    dest = cache_dir() / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    have = [p for p in dest.glob(f"{name}-{version}-*.whl")]
    if have:
        return have[0]
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    say(f"signfer: fetching MediaPipe's hand and face-mesh models once: pip download --no-deps {MEDIAPIPE_WHEEL} (about 35 MB) into {dest}")
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "on", "-d", tmp, MEDIAPIPE_WHEEL]
        proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            return None
        final = dest / wheels[0].name
        wheels[0].replace(final)
    return final


def tflite_interpreter_class():
    """The TFLite ``Interpreter`` class (ai-edge-litert, or the older tflite-runtime), or :class:`MissingExtra` naming
    ``[mediapipe]`` (``[hands]`` is its old name, still accepted)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            from signfer.errors import MissingExtra

            raise MissingExtra("MediaPipe's models (hands: --occlusion, --upper-model/--lower-model; face mesh: --nmm)", "mediapipe", "ai_edge_litert") from None
    return Interpreter


def _interpreter(path: Path, threads: int | None):
    Interpreter = tflite_interpreter_class()
    with _quiet_stderr():  # the runtime's C++ "INFO: Created TensorFlow Lite XNNPACK delegate" lines would cut into progress bars
        it = Interpreter(model_path=str(path), num_threads=threads)
        it.allocate_tensors()
    return it


@contextlib.contextmanager
def _quiet_stderr():
    """File descriptor 2 to /dev/null for the block (C++ logging bypasses ``sys.stderr``); Python's own errors still raise."""
    import sys

    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured): nothing to silence
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


# --------------------------------------------------------------------------- SSD decoding
def ssd_anchors(input_size: int = PALM_INPUT, strides=PALM_STRIDES, anchors_per_layer: int = 2) -> np.ndarray:
    """Anchor centres (N, 2), normalised, in the model's output order.

    As MediaPipe's ``SsdAnchorsCalculator`` with ``fixed_anchor_size: true``: consecutive layers of
    equal stride share one grid; each layer adds ``anchors_per_layer`` anchors per cell (aspect
    ratio 1.0 plus the interpolated one), ordered row, column, anchor.
    """
    out = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        last = layer
        while last < len(strides) and strides[last] == stride:
            last += 1
        per_cell = anchors_per_layer * (last - layer)
        n = int(math.ceil(input_size / stride))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float = PALM_NMS_IOU):
    """MediaPipe's ``WEIGHTED`` non-maximum suppression: each kept detection is the score-weighted mean
    of the boxes (and keypoints) overlapping the best remaining one by more than ``iou``; it keeps the
    best one's score. Returns lists (boxes, keypoints, scores)."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    alive = np.ones(len(scores), bool)
    out_b, out_k, out_s = [], [], []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        idx = np.flatnonzero(alive)
        overlap = box_iou(boxes[i], boxes[idx])
        members = idx[overlap > iou]
        members = np.union1d(members, [i])
        w = scores[members][:, None]
        out_b.append((boxes[members] * w).sum(0) / w.sum())
        out_k.append((keypoints[members] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(float(scores[i]))
        alive[members] = False
    return out_b, out_k, out_s


def decode_palms(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float = 0.5):
    """Palm detections from the model's outputs (2016, 18) and (2016, 1), in normalised input coordinates.

    Returns (boxes (N, 4) x1 y1 x2 y2, keypoints (N, 7, 2), scores (N,)) above ``min_score``.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -100.0, 100.0)))
    keep = scores >= min_score
    if not keep.any():
        return np.zeros((0, 4), np.float32), np.zeros((0, 7, 2), np.float32), np.zeros(0, np.float32)
    r, a, s = raw_boxes[keep], anchors[keep], scores[keep]
    cx = r[:, 0] / PALM_SCALE + a[:, 0]
    cy = r[:, 1] / PALM_SCALE + a[:, 1]
    w = r[:, 2] / PALM_SCALE
    h = r[:, 3] / PALM_SCALE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kp = r[:, 4:18].reshape(-1, 7, 2) / PALM_SCALE + a[:, None, :]
    return boxes.astype(np.float32), kp.astype(np.float32), s.astype(np.float32)


# --------------------------------------------------------------------------- hands
@dataclass(frozen=True)
class Hand:
    """One detected hand in image pixels.

    ``palm_box``/``palm_keypoints`` (7 points: wrist, index/middle/ring/pinky bases, thumb) come
    from the palm detector, ``score`` is its confidence; ``landmarks`` (21 x 2) and ``presence``
    from the landmark model (``None`` when it was not run). ``outline`` is the polygon that counts
    as covered by the hand: the convex hull of the landmarks widened by ``margin`` of the hand's
    size (fingers are wider than their joint centres), or the palm box when there are no landmarks.
    """

    palm_box: Box
    score: float
    palm_keypoints: np.ndarray = field(repr=False)
    landmarks: np.ndarray | None = field(default=None, repr=False)
    presence: float | None = None
    roi: tuple[float, float, float, float] | None = None  # centre x, centre y, side, rotation (radians)
    margin: float = 0.08

    @property
    def outline(self) -> np.ndarray:
        if self.landmarks is None:
            x1, y1, x2, y2 = self.palm_box
            return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
        hull = cv2.convexHull(self.landmarks.astype(np.float32)).reshape(-1, 2)
        centre = hull.mean(0)
        size = float(np.max(self.landmarks.max(0) - self.landmarks.min(0)))
        d = hull - centre
        norm = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
        return (hull + d / norm * self.margin * size).astype(np.float32)

    @property
    def box(self) -> Box:
        """Bounding box of :attr:`outline`."""
        o = self.outline
        return (float(o[:, 0].min()), float(o[:, 1].min()), float(o[:, 0].max()), float(o[:, 1].max()))

    def to_dict(self) -> dict:
        return {
            "box": [round(v, 2) for v in self.box],
            "score": round(self.score, 4),
            "presence": None if self.presence is None else round(self.presence, 4),
        }


def hand_roi(palm_box, palm_keypoints) -> tuple[float, float, float, float]:
    """(centre x, centre y, side, rotation) in pixels of the square hand region MediaPipe derives from a palm."""
    x1, y1, x2, y2 = palm_box
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    (x0, y0), (xe, ye) = palm_keypoints[WRIST], palm_keypoints[MIDDLE_MCP]
    rotation = math.pi / 2 - math.atan2(-(ye - y0), xe - x0)
    rotation = rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    # RectTransformationCalculator: shift in the rotated frame, square on the long side, scale
    cx += -h * ROI_SHIFT_Y * math.sin(rotation)
    cy += h * ROI_SHIFT_Y * math.cos(rotation)
    side = max(w, h) * ROI_SCALE
    return cx, cy, side, rotation


def roi_to_image(roi, size: int = LANDMARK_INPUT) -> np.ndarray:
    """2x3 affine matrix mapping the ROI tensor's pixels (``size`` x ``size``) to image pixels."""
    cx, cy, side, r = roi
    c, s = math.cos(r), math.sin(r)
    k = side / size
    # x = cx + (a - size/2) k cos - (b - size/2) k sin ; y = cy + (a - size/2) k sin + (b - size/2) k cos
    return np.array(
        [[k * c, -k * s, cx - size / 2 * k * c + size / 2 * k * s], [k * s, k * c, cy - size / 2 * k * s - size / 2 * k * c]],
        np.float64,
    )


class MediaPipeHands:
    """Palm detector + hand-landmark model (MediaPipe's, from the mediapipe wheel) on RGB uint8 frames.

    ``complexity``: ``lite`` or ``full`` (both models). ``min_score``: palm detector threshold
    (MediaPipe: 0.5). ``landmarks``: also run the landmark model (needed for the hand's outline;
    hands it scores below ``min_presence`` are dropped). ``max_hands``: most confident first.
    ``palm_model``/``landmark_model``: local ``.tflite`` paths instead of the wheel's.
    Picklable: the interpreters are built lazily in each process.
    """

    name = "mediapipe"

    def __init__(
        self,
        complexity: str = "full",
        min_score: float = 0.5,
        min_presence: float = 0.5,
        landmarks: bool = True,
        max_hands: int = 4,
        threads: int | None = 1,
        palm_model: str | Path | None = None,
        landmark_model: str | Path | None = None,
    ):
        if complexity not in COMPLEXITIES:
            raise OptionError(f"complexity must be one of {', '.join(COMPLEXITIES)}, got {complexity!r}")
        self.complexity = complexity
        self.min_score = float(min_score)
        self.min_presence = float(min_presence)
        self.landmarks = bool(landmarks)
        self.max_hands = int(max_hands)
        self.threads = threads
        self.palm_model = palm_model
        self.landmark_model = landmark_model
        self._palm = self._lm = None
        self._lock = threading.Lock()
        self._anchors = ssd_anchors()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_palm"] = state["_lm"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _load(self) -> None:
        if self._palm is None:
            path = Path(self.palm_model) if self.palm_model else model_file(f"palm_{self.complexity}")
            if not path.is_file():
                raise WeightsUnavailable(f"palm detection model {path} does not exist")
            self._palm = _interpreter(path, self.threads)
        if self.landmarks and self._lm is None:
            path = Path(self.landmark_model) if self.landmark_model else model_file(f"landmark_{self.complexity}")
            if not path.is_file():
                raise WeightsUnavailable(f"hand landmark model {path} does not exist")
            self._lm = _interpreter(path, self.threads)

    @staticmethod
    def _run(it, x: np.ndarray) -> list[np.ndarray]:
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return [it.get_tensor(d["index"]) for d in it.get_output_details()]

    def detect_palms(self, rgb: np.ndarray) -> list[Hand]:
        """Palms only (no landmarks), in image pixels, most confident first."""
        with self._lock:
            self._load()
            h, w = rgb.shape[:2]
            s = PALM_INPUT / max(h, w)
            ox, oy = (PALM_INPUT - w * s) / 2, (PALM_INPUT - h * s) / 2
            m = np.array([[s, 0, ox], [0, s, oy]], np.float64)
            tensor = cv2.warpAffine(np.ascontiguousarray(rgb), m, (PALM_INPUT, PALM_INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            x = (tensor.astype(np.float32) / 255.0)[None]
            outs = self._run(self._palm, x)
        raw_boxes = next(o for o in outs if o.shape[-1] == 18)[0]
        raw_scores = next(o for o in outs if o.shape[-1] == 1)[0]
        boxes, kps, scores = decode_palms(raw_boxes, raw_scores, self._anchors, self.min_score)
        if not len(scores):
            return []
        boxes, kps, scores = weighted_nms(boxes, kps, scores)
        hands = []
        for b, k, sc in zip(boxes, kps, scores):
            px = (np.asarray(b).reshape(2, 2) * PALM_INPUT - (ox, oy)) / s
            pk = (np.asarray(k) * PALM_INPUT - (ox, oy)) / s
            hands.append(Hand(tuple(float(v) for v in px.ravel()), float(sc), pk.astype(np.float32)))
        return hands[: max(self.max_hands, 0) or None]

    def landmarks_for(self, rgb: np.ndarray, palm: Hand, roi=None) -> Hand | None:
        """``palm`` with its 21 landmarks (image pixels) and presence score, or ``None`` when the landmark
        model says there is no hand. ``roi``: the hand region to look in (default: derived from the palm;
        :func:`landmark_roi` of the last frame's landmarks when tracking)."""
        roi = hand_roi(palm.palm_box, palm.palm_keypoints) if roi is None else roi
        m = roi_to_image(roi)
        crop = cv2.warpAffine(np.ascontiguousarray(rgb), m, (LANDMARK_INPUT, LANDMARK_INPUT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        with self._lock:
            self._load()
            outs = self._run(self._lm, (crop.astype(np.float32) / 255.0)[None])
        sixty3 = [o for o in outs if o.size == 63]
        flags = [float(o.ravel()[0]) for o in outs if o.size == 1]
        pts = sixty3[0].reshape(21, 3)[:, :2].astype(np.float64)  # screen landmarks come first
        presence = flags[0]
        if not 0.0 <= presence <= 1.0:  # a logit in some model versions
            presence = 1.0 / (1.0 + math.exp(-presence))
        if presence < self.min_presence:
            return None
        img_pts = pts @ m[:, :2].T + m[:, 2]
        return Hand(palm.palm_box, palm.score, palm.palm_keypoints, img_pts.astype(np.float32), presence, roi)

    def detect(self, rgb: np.ndarray) -> list[Hand]:
        """Hands in an RGB uint8 frame, most confident first (empty list when none)."""
        palms = self.detect_palms(rgb)
        if not self.landmarks:
            return palms
        out = []
        for palm in palms:
            hand = self.landmarks_for(rgb, palm)
            if hand is not None:
                out.append(hand)
        return out

    def detect_batch(self, images) -> list[list[Hand]]:
        return [self.detect(img) for img in images]


# hand_landmark_landmarks_to_roi.pbtxt: the landmarks that bound the next frame's hand region, and its transformation
ROI_LANDMARKS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)
TRACK_SCALE = 2.0
TRACK_SHIFT_Y = -0.1


def landmark_roi(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """The hand region of the next frame from this frame's 21 landmarks, as MediaPipe's video mode derives it
    (``HandLandmarksToRectCalculator``: rotation from the wrist towards the middle of the index, middle and
    ring finger bases; the box of the palm and finger-base landmarks in that rotated frame; then
    ``RectTransformationCalculator`` with scale 2.0, shift -0.1, square on the long side)."""
    lm = np.asarray(landmarks, np.float64)
    x0, y0 = lm[0]
    x1, y1 = ((lm[5] + lm[13]) / 2 + lm[9]) / 2
    rotation = math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0)
    rotation = rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    pts = lm[list(ROI_LANDMARKS)]
    centre = (pts.min(0) + pts.max(0)) / 2
    c, s = math.cos(-rotation), math.sin(-rotation)
    d = pts - centre
    proj = np.stack([d[:, 0] * c - d[:, 1] * s, d[:, 0] * s + d[:, 1] * c], axis=1)
    lo, hi = proj.min(0), proj.max(0)
    mid = (lo + hi) / 2
    c, s = math.cos(rotation), math.sin(rotation)
    cx = mid[0] * c - mid[1] * s + centre[0]
    cy = mid[0] * s + mid[1] * c + centre[1]
    w, h = hi - lo
    cx += -h * TRACK_SHIFT_Y * math.sin(rotation)
    cy += h * TRACK_SHIFT_Y * math.cos(rotation)
    return float(cx), float(cy), float(max(w, h) * TRACK_SCALE), float(rotation)


class HandTracker:
    """MediaPipe's video mode around a :class:`MediaPipeHands`: a hand found once is followed frame to frame by
    the landmark model alone, in the region its last landmarks give (:func:`landmark_roi`); the palm
    detector runs only when a tracked hand was lost, and otherwise every ``palm_every``-th frame while
    fewer than ``max_hands`` are tracked (to find new hands). So a hand found beside the face is still
    known while it passes over the face, where the palm detector alone would not find it.
    Call :meth:`detect` once per analysed frame, in order."""

    name = "mediapipe-video"

    def __init__(self, hands: "MediaPipeHands", palm_every: int = 10, max_hands: int | None = None, same_iou: float = 0.4):
        self.hands = hands
        self.palm_every = int(palm_every)
        self.max_hands = int(max_hands or hands.max_hands)
        self.same_iou = same_iou
        self.tracked: list[Hand] = []
        self._since_palms = None  # frames since the palm detector last ran (None: never)
        self.palm_runs = 0  # how often the palm detector ran (for the benchmark)

    def reset(self) -> None:
        self.tracked, self._since_palms = [], None

    def detect(self, rgb: np.ndarray) -> list[Hand]:
        kept = []
        for hand in self.tracked:
            moved = self.hands.landmarks_for(rgb, hand, roi=landmark_roi(hand.landmarks))
            if moved is not None and not any(box_iou(moved.box, k.box)[0] > self.same_iou for k in kept):
                kept.append(moved)
        lost = len(kept) < len(self.tracked)
        due = self._since_palms is None or self._since_palms + 1 >= self.palm_every
        if lost or (len(kept) < self.max_hands and due):
            self.palm_runs += 1
            self._since_palms = 0
            for palm in self.hands.detect_palms(rgb):
                if len(kept) >= self.max_hands:
                    break
                if any(box_iou(palm.palm_box, k.box)[0] > 0.0 and _inside(palm.palm_box, k.box) for k in kept):
                    continue  # a hand already tracked
                hand = self.hands.landmarks_for(rgb, palm)
                if hand is not None and not any(box_iou(hand.box, k.box)[0] > self.same_iou for k in kept):
                    kept.append(hand)
        else:
            self._since_palms += 1
        self.tracked = kept
        return list(kept)

    def detect_batch(self, images) -> list[list[Hand]]:
        return [self.detect(img) for img in images]


def _inside(box, outer) -> bool:
    """Whether the centre of ``box`` lies in ``outer``."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def get_hand_detector(name: str = "mediapipe", **kw):
    """A hand detector by name: ``mediapipe`` (:class:`MediaPipeHands`, ``complexity=lite|full``)."""
    if name in ("mediapipe", "mediapipe-full", "full"):
        return MediaPipeHands(**{"complexity": "full", **kw})
    if name in ("mediapipe-lite", "lite"):
        return MediaPipeHands(**{"complexity": "lite", **kw})
    if name == "none":
        return None
    raise OptionError(f"unknown hand detector {name!r}; use mediapipe, mediapipe-lite or none")
