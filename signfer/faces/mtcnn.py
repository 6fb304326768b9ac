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

import hashlib
import importlib.util
import io
import math
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from signfer.faces.types import Face

#: bump when the exported graphs change, so stale cached ONNX files are not reused
_ONNX_EXPORT_VERSION = 1
_NET_NAMES = ("pnet", "rnet", "onet")


# --------------------------------------------------------------------------- weights
def weights_dir() -> Path:
    """The ``mtcnn/assets/weights`` folder of the installed ``mtcnn`` wheel, found without importing it."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the MTCNN weights come from the 'mtcnn' package (MIT), which is not installed: pip install mtcnn==1.0.0"
        )
    for root in spec.submodule_search_locations:
        folder = Path(root) / "assets" / "weights"
        if all((folder / f"{n}.lz4").is_file() for n in _NET_NAMES):
            return folder
    raise FileNotFoundError(f"no {{pnet,rnet,onet}}.lz4 under {list(spec.submodule_search_locations)}/assets/weights")


def load_keras_weights(name: str) -> list[np.ndarray]:
    """The Keras weight arrays of one net (``pnet``, ``rnet`` or ``onet``) from the ``mtcnn`` wheel."""
    import joblib

    return [np.asarray(a, dtype=np.float32) for a in joblib.load(weights_dir() / f"{name}.lz4")]


def _conv(arrays, i, conv: nn.Conv2d, prelu: nn.PReLU) -> int:
    """Copy kernel (HWIO), bias and PReLU slopes starting at ``arrays[i]``; return the next index."""
    conv.weight.data = torch.from_numpy(arrays[i].transpose(3, 2, 0, 1).copy())
    conv.bias.data = torch.from_numpy(arrays[i + 1].copy())
    prelu.weight.data = torch.from_numpy(arrays[i + 2].reshape(-1).copy())
    return i + 3


def _dense(arrays, i, fc: nn.Linear) -> int:
    fc.weight.data = torch.from_numpy(arrays[i].T.copy())
    fc.bias.data = torch.from_numpy(arrays[i + 1].copy())
    return i + 2


def _flatten_keras(x: torch.Tensor) -> torch.Tensor:
    """Keras ``Permute((2, 1, 3))`` + ``Flatten`` on NHWC, expressed on NCHW: flatten in (W, H, C) order."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


# --------------------------------------------------------------------------- networks
class PNet(nn.Module):
    """Proposal net, fully convolutional: (N, 3, H, W) -> box offsets (N, 4, h, w), face probability (N, h, w)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)  # Keras padding="same"
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 4, 1)  # box regression
        self.conv4_2 = nn.Conv2d(32, 2, 1)  # no-face / face

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_1(x), torch.softmax(self.conv4_2(x), dim=1)[:, 1]

    def load_keras(self, arrays: list[np.ndarray]) -> "PNet":
        if len(arrays) != 13:
            raise ValueError(f"P-Net expects 13 weight arrays, got {len(arrays)}")
        i = _conv(arrays, 0, self.conv1, self.prelu1)
        i = _conv(arrays, i, self.conv2, self.prelu2)
        i = _conv(arrays, i, self.conv3, self.prelu3)
        for conv in (self.conv4_1, self.conv4_2):
            conv.weight.data = torch.from_numpy(arrays[i].transpose(3, 2, 0, 1).copy())
            conv.bias.data = torch.from_numpy(arrays[i + 1].copy())
            i += 2
        return self


class RNet(nn.Module):
    """Refinement net: (N, 3, 24, 24) -> box offsets (N, 4), face probability (N,)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.fc4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.fc5_1 = nn.Linear(128, 4)
        self.fc5_2 = nn.Linear(128, 2)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.fc4(_flatten_keras(x)))
        return self.fc5_1(x), torch.softmax(self.fc5_2(x), dim=1)[:, 1]

    def load_keras(self, arrays: list[np.ndarray]) -> "RNet":
        if len(arrays) != 16:
            raise ValueError(f"R-Net expects 16 weight arrays, got {len(arrays)}")
        i = _conv(arrays, 0, self.conv1, self.prelu1)
        i = _conv(arrays, i, self.conv2, self.prelu2)
        i = _conv(arrays, i, self.conv3, self.prelu3)
        i = _dense(arrays, i, self.fc4)
        self.prelu4.weight.data = torch.from_numpy(arrays[i].copy())
        i = _dense(arrays, i + 1, self.fc5_1)
        _dense(arrays, i, self.fc5_2)
        return self


class ONet(nn.Module):
    """Output net: (N, 3, 48, 48) -> box offsets (N, 4), landmarks (N, 10: x1..x5, y1..y5 in [0, 1] of the box),
    face probability (N,)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.fc5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.fc6_1 = nn.Linear(256, 4)
        self.fc6_2 = nn.Linear(256, 10)
        self.fc6_3 = nn.Linear(256, 2)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.fc5(_flatten_keras(x)))
        return self.fc6_1(x), self.fc6_2(x), torch.softmax(self.fc6_3(x), dim=1)[:, 1]

    def load_keras(self, arrays: list[np.ndarray]) -> "ONet":
        if len(arrays) != 21:
            raise ValueError(f"O-Net expects 21 weight arrays, got {len(arrays)}")
        i = _conv(arrays, 0, self.conv1, self.prelu1)
        i = _conv(arrays, i, self.conv2, self.prelu2)
        i = _conv(arrays, i, self.conv3, self.prelu3)
        i = _conv(arrays, i, self.conv4, self.prelu4)
        i = _dense(arrays, i, self.fc5)
        self.prelu5.weight.data = torch.from_numpy(arrays[i].copy())
        i = _dense(arrays, i + 1, self.fc6_1)
        i = _dense(arrays, i, self.fc6_2)
        _dense(arrays, i, self.fc6_3)
        return self


_NET_CLASSES = {"pnet": PNet, "rnet": RNet, "onet": ONet}
_NET_OUTPUTS = {"pnet": ["box", "prob"], "rnet": ["box", "prob"], "onet": ["box", "landmarks", "prob"]}
_NET_INPUT = {"pnet": (1, 3, 24, 24), "rnet": (2, 3, 24, 24), "onet": (2, 3, 48, 48)}


def load_nets() -> dict[str, nn.Module]:
    """The three nets with the ``mtcnn`` wheel's weights, in eval mode."""
    nets = {}
    for name, cls in _NET_CLASSES.items():
        net = cls().load_keras(load_keras_weights(name)).eval()
        for p in net.parameters():
            p.requires_grad_(False)
        nets[name] = net
    return nets


def export_onnx(folder: str | os.PathLike | None = None) -> dict[str, Path]:
    """Export the three nets to ONNX (dynamic batch and, for P-Net, spatial axes), once; return their paths.

    Files are cached under ``signfer.config.cache_dir() / "mtcnn"`` with the weights' digest in the name.
    """
    from signfer.config import cache_dir
    from signfer.io import atomic_write

    folder = Path(folder) if folder is not None else cache_dir() / "mtcnn"
    paths, nets = {}, None
    for name in _NET_NAMES:
        digest = hashlib.sha256((weights_dir() / f"{name}.lz4").read_bytes()).hexdigest()[:12]
        path = folder / f"{name}-{digest}-v{_ONNX_EXPORT_VERSION}.onnx"
        paths[name] = path
        if path.is_file():
            continue
        nets = nets or load_nets()
        dynamic = {0: "n", 2: "h", 3: "w"} if name == "pnet" else {0: "n"}
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                nets[name], (torch.zeros(_NET_INPUT[name]),), buf, dynamo=False, opset_version=17,
                input_names=["image"], output_names=_NET_OUTPUTS[name],
                dynamic_axes={"image": dynamic, **{o: {0: "n"} for o in _NET_OUTPUTS[name]}},
            )
        with atomic_write(path, "wb") as fh:  # a unique temp file: safe when several workers export at once
            fh.write(buf.getvalue())
    return paths


# --------------------------------------------------------------------------- backends
class _TorchNets:
    """Runs the nets with PyTorch on numpy float32 NCHW batches."""

    name = "torch"

    def __init__(self, threads: int | None = None):
        self.nets = load_nets()
        self.threads = threads

    def __call__(self, name: str, x: np.ndarray) -> list[np.ndarray]:
        old = torch.get_num_threads()
        switch = bool(self.threads) and self.threads != old
        if switch:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                return [o.numpy() for o in self.nets[name](torch.from_numpy(x))]
        finally:
            if switch:
                torch.set_num_threads(old)


class _OnnxNets:
    """Runs the exported nets with ONNX Runtime (CPU) on numpy float32 NCHW batches."""

    name = "onnx"

    def __init__(self, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting worker threads: the nets are small and the CPU is shared with the classifier
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            paths = export_onnx()
        except OSError:  # read-only cache: export for this process only
            import tempfile

            paths = export_onnx(tempfile.mkdtemp(prefix="signfer-mtcnn-"))
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
    """Indices kept by non-maximum suppression (IoU over the union) within each group, best first."""
    from torchvision.ops import batched_nms

    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    keep = batched_nms(torch.from_numpy(boxes.astype(np.float32)), torch.from_numpy(scores.astype(np.float32)),
                       torch.from_numpy(groups.astype(np.int64)), iou)
    return keep.numpy()


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
    as the ``mtcnn`` package's ``crop_and_resize`` pads.
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
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return _normalize(out)


def _normalize(batch_nhwc: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) as ``(x - 127.5) / 128``."""
    x = np.ascontiguousarray(batch_nhwc.transpose(0, 3, 1, 2), dtype=np.float32)
    x -= 127.5
    x *= 1.0 / 128.0
    return x


# --------------------------------------------------------------------------- detector
class MTCNNDetector:
    """MTCNN face detector with five landmarks (eyes, nose, mouth corners).

    ``min_face_size``: smallest face searched for, in pixels of the input image (50 as in the 2025
    paper). ``thresholds``: face probability needed by P-, R- and O-Net. ``factor``: pyramid step.
    ``backend``: ``"onnx"`` (ONNX Runtime; default when it imports) or ``"torch"``. ``scale``: run
    on a copy resized by this factor (e.g. 0.5) and map the results back; ``min_face_size`` still
    counts input pixels. ``threads``: CPU threads for the nets (default: ``torch.get_num_threads()``).
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
        if min_face_size <= 0:
            raise ValueError(f"min_face_size must be positive, got {min_face_size}")
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if not 0 < scale <= 4:
            raise ValueError(f"scale must be in (0, 4], got {scale}")
        backend = backend or default_backend()
        if backend not in ("torch", "onnx"):
            raise ValueError(f"unknown MTCNN backend {backend!r}; use 'onnx' or 'torch'")
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
            self._nets = _OnnxNets(self.threads) if self.backend == "onnx" else _TorchNets(self.threads)
        return self._nets

    # ------------------------------------------------------------------ public
    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in one RGB uint8 image, most confident first; ``[]`` when there is none."""
        return self.detect_batch([rgb])[0]

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
        """:meth:`detect` for many images; frames of the same size share each network call."""
        images = [_as_rgb(im) for im in images]
        results: list[list[Face]] = [[] for _ in images]
        groups: dict[tuple, list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(im.shape, []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), self.max_batch):
                chunk = idx[start:start + self.max_batch]
                for i, faces in zip(chunk, self._detect_same_size([images[i] for i in chunk])):
                    results[i] = faces
        return results

    # ------------------------------------------------------------------ cascade
    def _detect_same_size(self, frames: list[np.ndarray]) -> list[list[Face]]:
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
        boxes, index = self._stage_pnet(frames, min_face)
        if len(boxes) == 0:
            return [[] for _ in frames]

        # R-Net: refine and filter the squared proposals
        box_off, prob = self.nets("rnet", _crops(frames, boxes, index, 24))
        ok = prob > self.thresholds[1]
        boxes, index, prob, box_off = boxes[ok], index[ok], prob[ok], box_off[ok]
        keep = _nms(boxes, prob, index, 0.7)
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

    def _stage_pnet(self, frames: list[np.ndarray], min_face: float) -> tuple[np.ndarray, np.ndarray]:
        """Proposals from the image pyramid: squared boxes (K, 4) in detection pixels and their frame index (K,)."""
        h, w = frames[0].shape[:2]
        m = 12.0 / min_face
        all_boxes, all_scores, all_index = [], [], []
        level, pyramid = 0, frames
        while min(h, w) * m * self.factor ** level >= 12:
            s = m * self.factor ** level
            level += 1
            hs, ws = max(12, int(math.ceil(h * s))), max(12, int(math.ceil(w * s)))
            # levels after the first are resampled from the first: area resizing costs what the source is large
            interp = cv2.INTER_AREA if hs <= pyramid[0].shape[0] else cv2.INTER_LINEAR
            level_images = [cv2.resize(f, (ws, hs), interpolation=interp) for f in pyramid]
            if level == 1:
                pyramid = level_images
            x = _normalize(np.stack(level_images))
            reg, prob = self.nets("pnet", x)
            fi, iy, ix = np.nonzero(prob > self.thresholds[0])
            if len(fi) == 0:
                continue
            rx, ry = w / ws, h / hs  # pyramid pixels -> detection pixels
            cells = np.stack([2 * ix * rx, 2 * iy * ry, (2 * ix + 12) * rx, (2 * iy + 12) * ry], axis=1)
            score = prob[fi, iy, ix]
            keep = _nms(cells, score, fi, 0.5)
            all_boxes.append(_regress(cells[keep], reg[fi[keep], :, iy[keep], ix[keep]]))
            all_scores.append(score[keep])
            all_index.append(fi[keep])
        if not all_boxes:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
        boxes, scores, index = (np.concatenate(a) for a in (all_boxes, all_scores, all_index))
        keep = _nms(boxes, scores, index, 0.7)
        return _square(boxes[keep]), index[keep]


def _as_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        return img
    from signfer.io import to_uint8_rgb

    return to_uint8_rgb(img)
