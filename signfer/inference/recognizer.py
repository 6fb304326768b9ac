"""``signfer.Recognizer``: a face detector, the model's own preprocessing and a classifier in one object.

    >>> rec = signfer.Recognizer.from_pretrained("fer2013")          # offline default model
    >>> rec.predict(rgb_image).label                                 # RGB uint8 (signfer's convention)
    >>> rec.predict(cv2.imread("x.jpg"), channels="bgr")             # OpenCV images are BGR: say so
    >>> df = rec.annotate_video("clip.mp4", smooth=5)                # one row per frame

The preprocessing (preset, crop size, normalisation, class names) always comes from the
model's :class:`~signfer.models.spec.ModelSpec`, stored in its checkpoint or ONNX file.
Models: a name known to :func:`signfer.models.load_pretrained` (``fer2013``, HSEmotion names),
a ``.pt`` checkpoint, a ``signfer train`` run directory (its best fold, or ``fold=K``), or a
``.onnx`` file written by ``signfer export``. On CPU the model runs in ONNX Runtime (exported
once and cached); ``backend="torch"`` runs it eagerly in PyTorch.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from signfer.errors import OptionError, UserError
from signfer.faces.detect import DEFAULT_MIN_FACE_SCORE  # noqa: F401 - one floor for every path (faces.detect)
from signfer.faces.types import Face, FaceCrop
from signfer.inference.classifier import (  # noqa: F401 - re-exported: the names users import from here
    LookupNormalizer,
    ModelSource,
    TorchClassifier,
    load_torch_model,
    preset_for_spec,
    resolve_model,
    resolve_run_dir,
    softmax,
)
from signfer.io import InvalidImage, read_image, to_uint8_rgb
from signfer.models.spec import ModelSpec
from signfer.models.weights import WeightsUnavailable  # noqa: F401 - raised by load (documented there)

DEFAULT_MODEL = "fer2013"
CHANNEL_ORDERS = ("rgb", "bgr")
#: frames handed to the detector at once (detection memory grows with it; speed barely does on CPU)
DETECT_CHUNK = 4
#: frames per call of the detector's region search (``detect_near_batch``): measured on Wolfgang, 1 frame -> 257 MB
#: of peak growth while annotating, 4 -> 288, 16 -> 310; ONNX Runtime calls per frame 5.7 -> ~0.5
NEAR_CHUNK = 8


#: bump when the export or a named model's spec changes (a named model's key holds only its name and the signfer
#: version), so stale cached ONNX files are not reused
ONNX_CACHE_VERSION = 2  # 2: fer2013 finds faces with MTCNN


def onnx_cache_path(source: ModelSource, opset: int | None = None) -> Path:
    """Where the ONNX export of ``source`` is cached: keyed by the checkpoint's bytes (SHA-256), or for a
    named model by its name and the signfer version. Computing it needs no PyTorch."""
    import re

    import signfer
    from signfer.config import cache_dir
    from signfer.inference.onnx import DEFAULT_OPSET
    from signfer.models.weights import sha256sum

    opset = opset or DEFAULT_OPSET
    ident = sha256sum(source.location) if source.kind == "checkpoint" else f"name:{source.location.strip().lower()}"
    key = hashlib.sha256(f"{ident}|{signfer.__version__}|{opset}|{ONNX_CACHE_VERSION}".encode()).hexdigest()[:20]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source.location).stem if source.kind == "checkpoint" else source.location)
    return cache_dir() / "onnx" / f"{stem}-{key}.onnx"


def cached_onnx(source: ModelSource, opset: int | None = None) -> Path:
    """The ONNX file of ``source``, exported (and checked against PyTorch) on first use, then reused.

    A cache hit loads neither PyTorch nor the weights: the spec travels inside the file.
    """
    from signfer.inference.onnx import DEFAULT_OPSET
    from signfer.export.onnx import export_onnx

    if source.kind == "onnx":
        return Path(source.location)
    if source.kind == "name" and opset is None:
        from signfer.assets import shipped_model

        shipped = shipped_model(source.location)  # the offline default ships as ONNX: no PyTorch needed
        if shipped is not None:
            return shipped
    path = onnx_cache_path(source, opset)
    if not path.exists():
        model, spec = load_torch_model(source)
        # a private name first: processes exporting the same model at once never share a temporary file
        private = path.with_name(f"{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.onnx")
        try:
            export_onnx(model, spec, private, opset=opset or DEFAULT_OPSET, source=source.description)
            os.replace(private, path)
        finally:
            private.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------- predictions
@dataclass
class Prediction:
    """The result for one image: ``status`` ``ok`` or ``no_face``; ``label`` is ``None`` without a face."""

    status: str
    label: str | None = None
    confidence: float = float("nan")
    probabilities: dict[str, float] = field(default_factory=dict)
    face: Face | None = None
    crop: FaceCrop | None = field(default=None, repr=False)
    #: the model's extra per-image outputs (``spec.extra_outputs``), e.g. ``{"valence": 0.4, "arousal": 0.1}``
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def box(self):
        return None if self.face is None else self.face.box


def as_rgb(image, channels: str = "rgb") -> np.ndarray:
    """An image given as a path or an array, as RGB uint8; ``channels`` says how an array is ordered."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)  # files are decoded to RGB
    if image is None:
        raise InvalidImage("got None instead of an image (an RGB array, a file path or a FaceCrop); "
                           "cv2.imread returns None for a file it cannot read: pass the path instead to be told why")
    channels = str(channels).lower()
    if channels not in CHANNEL_ORDERS:
        raise OptionError(f"channels must be 'rgb' or 'bgr' (OpenCV's cv2.imread / VideoCapture give BGR), got {channels!r}")
    arr = np.asarray(image)
    return to_uint8_rgb(arr, bgr=channels == "bgr" and arr.ndim == 3)


# --------------------------------------------------------------------------- the facade
def _int8_for(location: str, device, enabled: bool):
    """The int8 model beside ``location`` to run instead (CPU only), see :func:`signfer.inference.onnx.int8_beside`."""
    if not enabled or str(device) != "cpu":
        return None
    from signfer.inference.onnx import int8_beside

    return int8_beside(location)


def _int8_note(path: Path, agreement: float) -> str:
    return f" [int8: {path.name}, top-1 agreement {100 * agreement:.1f} % with float32; --no-int8 for float32]"


class Recognizer:
    """Detect the face, preprocess it as the model was trained, classify it.

    Build one with :meth:`from_pretrained`. ``detector``: a name for
    :func:`signfer.faces.detect.get_detector` or a detector object (default: the model's
    preset's). ``detect_scale`` < 1 runs detection on a smaller copy of the image (faster;
    MTCNN's minimum face size then applies to the smaller image). ``min_face_score``: faces the
    detector scores lower are ignored (default :data:`DEFAULT_MIN_FACE_SCORE` for the detector, else none).
    """

    def __init__(
        self,
        classifier,
        spec: ModelSpec,
        *,
        detector=None,
        source: str = "",
        detect_scale: float = 1.0,
        batch_size: int = 16,
        threads: int | None = None,
        min_face_score: float | None = None,
    ):
        if not 0 < detect_scale <= 1:
            raise OptionError(f"detect_scale must be in (0, 1], got {detect_scale}")
        self.classifier = classifier
        self.spec = spec
        self.preset = preset_for_spec(spec)
        self.source = source
        self.detect_scale = float(detect_scale)
        self.batch_size = int(batch_size)
        self.threads = threads
        self._min_face_score = min_face_score
        self._detector_arg = detector
        self._detector = None if isinstance(detector, (str, type(None))) else detector
        self._native_scale = False  # the detector resizes by detect_scale itself
        self._warned_channels = False  # the BGR hint of predict() is given once
        self._lookup = None  # LookupNormalizer of the spec (False: not applicable), built on first use
        #: the files the model was loaded from (checkpoint, ONNX file): their bytes identify the model (done-markers)
        self.model_files: tuple[str, ...] = ()

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike = DEFAULT_MODEL,
        device: str = "cpu",
        backend: str | None = None,
        *,
        fold: int | None = None,
        detector=None,
        detect_scale: float = 1.0,
        threads: int | None = None,
        batch_size: int = 16,
        min_face_score: float | None = None,
        int8: bool = True,
    ) -> "Recognizer":
        """Load a model by name or path (see the module docstring).

        ``backend``: ``onnx`` (ONNX Runtime, default on CPU) or ``torch`` (default on GPU).
        ``fold``: which fold of a run dir (default: the fold with the best accuracy in its
        metrics.json). Raises :class:`~signfer.models.weights.WeightsUnavailable` saying which
        file is needed and where to put it when the model cannot be had. ``int8``: on the CPU with ONNX Runtime,
        run the int8 model that ``signfer export --quantize int8`` wrote beside a checkpoint or ONNX file
        (``best.int8.onnx``) when its recorded top-1 agreement with float32 is at least 99 %
        (:func:`signfer.inference.onnx.int8_beside`); :meth:`describe` then says so. ``False``: always float32.
        """
        device = resolve_device(device, backend)
        source = resolve_model(name_or_path, fold)
        published_onnx = _published_onnx(source)
        files = [source.location] if source.kind in ("onnx", "checkpoint") else []  # what the model is loaded from
        backend = (backend or ("onnx" if str(device) == "cpu" or published_onnx else "torch")).lower()
        if backend in ("onnxruntime", "ort"):
            backend = "onnx"
        if backend not in ("onnx", "torch"):
            raise OptionError(f"backend must be 'onnx' or 'torch', got {backend!r}")
        if published_onnx and backend == "onnx":
            # a published ONNX export (HSEmotion's): downloaded once, run as it is, its spec from signfer's table
            from signfer.inference.onnx import OnnxClassifier
            from signfer.models import hsemotion

            path = hsemotion.onnx_model_file(source.location)
            spec = hsemotion.onnx_spec(source.location, path)
            clf = OnnxClassifier(path, threads=threads, providers=_ort_providers(device), spec=spec)
            desc = f"{source.description} ({hsemotion.onnx_model_info(source.location).backbone}, HSEmotion ONNX)"
            files = [path]
            return _with_files(cls(clf, spec, detector=detector, source=desc, detect_scale=detect_scale, batch_size=batch_size, threads=threads, min_face_score=min_face_score), files)
        if published_onnx and backend == "torch" and not _has_torch_weights(source):
            raise UserError(f"{source.location} is published as ONNX only; run it with backend 'onnx' (--backend onnx)")
        if source.kind == "onnx":
            if backend == "torch":
                raise OptionError(f"{source.location} is an ONNX file: use backend='onnx'")
            from signfer.inference.onnx import SPEC_KEY, OnnxClassifier, read_metadata
            from signfer.models import hsemotion

            spec = None
            published = hsemotion.onnx_model_info(Path(source.location).name)
            if published is not None and SPEC_KEY not in read_metadata(source.location):
                spec = hsemotion.onnx_spec(published.name, source.location)  # HSEmotion's own file, downloaded by hand
            quantized = _int8_for(source.location, device, int8) if spec is None else None
            clf = OnnxClassifier(quantized[0] if quantized else source.location, threads=threads, providers=_ort_providers(device), spec=spec)
            desc = source.description + (_int8_note(*quantized) if quantized else "")
            files = [*files, quantized[0]] if quantized else files
            return _with_files(cls(clf, clf.spec, detector=detector, source=desc, detect_scale=detect_scale, batch_size=batch_size, threads=threads, min_face_score=min_face_score), files)
        if backend == "onnx":
            from signfer.export.onnx import ExportMismatch
            from signfer.inference.onnx import OnnxClassifier

            quantized = _int8_for(source.location, device, int8) if source.kind == "checkpoint" else None
            if quantized:  # exported and checked beside the checkpoint: no float32 export needed
                clf = OnnxClassifier(quantized[0], threads=threads, providers=_ort_providers(device))
                rec = cls(clf, clf.spec, detector=detector, source=source.description + _int8_note(*quantized), detect_scale=detect_scale,
                          batch_size=batch_size, threads=threads, min_face_score=min_face_score)  # fmt: skip
                return _with_files(rec, [*files, quantized[0]])
            try:
                path = cached_onnx(source)
            except ExportMismatch as exc:  # never a silent (10x slower, retried every run) PyTorch fallback
                raise UserError(f"{exc}. Run the model in PyTorch with --backend torch (about 10x slower on CPU), "
                                "or export it yourself with `signfer export` to see the figures") from None
            else:
                clf = OnnxClassifier(path, threads=threads, providers=_ort_providers(device))
                files = files or [path]  # a named model: its shipped or exported ONNX file
                return _with_files(cls(clf, clf.spec, detector=detector, source=source.description, detect_scale=detect_scale, batch_size=batch_size, threads=threads, min_face_score=min_face_score), files)
        model, spec = load_torch_model(source)
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        clf = TorchClassifier(model, device)
        return _with_files(cls(clf, spec, detector=detector, source=source.description, detect_scale=detect_scale, batch_size=batch_size, threads=threads, min_face_score=min_face_score), files)

    # ---------------------------------------------------------------- properties
    @property
    def class_names(self) -> list[str]:
        return list(self.spec.class_names)

    @property
    def backend(self) -> str:
        return getattr(self.classifier, "backend", type(self.classifier).__name__)

    @property
    def detector(self):
        if self._detector is None:
            from signfer.faces.detect import get_detector

            name = self._detector_arg or self.preset.detector
            opts = dict(self.preset.detector_options) if name == self.preset.detector else {}
            if self.detect_scale != 1.0 and name == "mtcnn":
                opts["scale"] = self.detect_scale  # MTCNN resizes itself; min_face_size stays in frame pixels
                self._native_scale = True
            if name == "mtcnn" and self.threads:
                opts["threads"] = self.threads
            if self.detect_scale != 1.0 and name == "haar":
                opts["min_face_size"] = opts.get("min_face_size", 50) * self.detect_scale  # frame pixels, like MTCNN
            self._detector = get_detector(name, **opts)
        return self._detector

    @property
    def detector_name(self) -> str:
        if isinstance(self._detector_arg, str):
            return self._detector_arg
        if self._detector_arg is not None:
            from signfer.faces.detect import detector_name

            return detector_name(self._detector_arg)
        return self.preset.detector

    @property
    def min_face_score(self) -> float | None:
        if self._min_face_score is not None:
            return float(self._min_face_score)
        if self.preset.min_face_score is not None:  # the preset's floor (the 2025 code's pipeline: none)
            return float(self.preset.min_face_score)
        return DEFAULT_MIN_FACE_SCORE.get(self.detector_name)

    def describe(self) -> str:
        """One line: which model, classes, preprocessing, backend and detector."""
        s = self.spec
        return (
            f"{self.source or s.arch} ({s.arch}, {s.num_classes} classes: {', '.join(s.class_names)}; "
            f"preset {s.preset}, region {s.region}, {s.input_size}px, {s.normalization}"
            f"{', grayscale' if s.grayscale else ''}; backend {self.backend}; detector {self.detector_name}"
            f"{f' at {self.detect_scale:g}x' if self.detect_scale != 1 else ''}"
            f"{f', min face score {self.min_face_score:g}' if self.min_face_score is not None else ''})"
        )

    def __repr__(self) -> str:
        return f"Recognizer({self.describe()})"

    # ---------------------------------------------------------------- steps
    def detect(self, image: np.ndarray) -> Face | None:
        """The face the preset picks in an RGB image (``None`` without one)."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Face | None]:
        """The face the preset picks (``face_choice``) in each image, ``None`` where there is none."""
        from signfer.faces.detect import pick_face

        return [pick_face(f, self.preset.face_choice) for f in self.detect_all_batch(images)]

    def detect_all_batch(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Every face the detector finds (scoring at least :attr:`min_face_score`) in each RGB image, in frame pixels."""
        from signfer.faces.tracker import scale_face

        if not images:
            return []
        detector = self.detector
        s = 1.0 if self._native_scale else self.detect_scale
        if s != 1.0:
            import cv2

            small = [cv2.resize(im, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) for im in images]
        else:
            small = list(images)
        found = []
        for i in range(0, len(small), DETECT_CHUNK):  # bounded: a 16-frame MTCNN pyramid alone needs ~400 MB
            chunk = small[i : i + DETECT_CHUNK]
            found += detector.detect_batch(chunk) if len(chunk) > 1 else [detector.detect(chunk[0])]
        return [[scale_face(f, 1.0 / s) for f in self._confident(faces)] for faces in found]

    def _confident(self, faces: list[Face]) -> list[Face]:
        """The faces scoring at least :attr:`min_face_score` (all when it is None)."""
        low = self.min_face_score
        return faces if low is None else [f for f in faces if f.score >= low]

    def _pick(self, faces: list[Face]) -> Face | None:
        """The preset's choice among the faces scoring at least :attr:`min_face_score`."""
        from signfer.faces.detect import pick_face

        return pick_face(self._confident(faces), self.preset.face_choice)

    def detect_near(self, image: np.ndarray, near: Face | Sequence[float] | None) -> Face | None:
        """:meth:`detect`, searching first around ``near`` (a face or an x1, y1, x2, y2 box in image pixels,
        e.g. the face of the previous video frame) with the detector's ``detect_near`` (MTCNN's region
        search: the faces :meth:`detect` finds there, at a fraction of the cost), then the whole frame
        when no face is found there. Detectors without it, or no ``near``, detect on the whole frame."""
        detector = self.detector
        if near is None or not hasattr(detector, "detect_near") or (self.detect_scale != 1.0 and not self._native_scale):
            return self.detect(image)
        box = near.box if isinstance(near, Face) else tuple(near)
        face = self._pick(detector.detect_near(image, [box]))
        return face if face is not None else self.detect(image)

    def detect_near_batch(self, images: Sequence[np.ndarray], near: Face | Sequence[float] | None) -> list[Face | None]:
        """:meth:`detect_near` for many images around the same ``near``: each image gets what :meth:`detect_near`
        gives it alone; the detector's calls are shared by the batch (MTCNN's ``detect_near_batch``)."""
        detector = self.detector
        if near is None or not hasattr(detector, "detect_near_batch") or (self.detect_scale != 1.0 and not self._native_scale):
            return [self.detect_near(im, near) for im in images]
        box = near.box if isinstance(near, Face) else tuple(near)
        picked: list[Face | None] = []
        for i in range(0, len(images), NEAR_CHUNK):  # bounded: detection memory grows with the chunk
            picked += [self._pick(faces) for faces in detector.detect_near_batch(list(images[i : i + NEAR_CHUNK]), [box])]
        missing = [i for i, face in enumerate(picked) if face is None]
        for i, face in zip(missing, self.detect_batch([images[i] for i in missing])):
            picked[i] = face
        return picked

    def crop(self, image: np.ndarray, face: Face) -> FaceCrop:
        """Preprocess ``face`` of an RGB image as the model's preset and region say."""
        from signfer.faces.preprocessing import preprocess

        return preprocess(image, face, self.preset, region=self.spec.region)

    @property
    def extra_names(self) -> list[str]:
        """The model's extra per-image outputs besides the classes, e.g. valence, arousal (:attr:`extra_outputs`)."""
        return list(self.extra_outputs)

    def classify_full(self, crops: np.ndarray | Sequence[np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(probabilities (N, n_classes), {extra output: (N,) float32 values}) of preprocessed face crops.

        The extras are the model's own numbers as it outputs them (no softmax), e.g. HSEmotion's
        valence and arousal; ``{}`` for a model without any.
        """
        logits, extras = self.infer(crops)
        return softmax(logits).astype(np.float32), {k: extras[:, i] for i, k in enumerate(self.extra_outputs)}

    @property
    def extra_outputs(self) -> tuple[str, ...]:
        """Names of the model's numeric per-frame outputs beside the class logits (e.g. ``valence``, ``arousal``),
        from the spec's ``extra_outputs`` or the classifier's; empty for a plain classifier. The annotation
        pipeline carries each as a column, smooths it and writes it as a numeric ELAN tier."""
        names = getattr(self.spec, "extra_outputs", None) or getattr(self.classifier, "extra_outputs", None) or ()
        return tuple(str(n) for n in names)

    def infer(self, crops: np.ndarray | Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Logits (N, n_classes) and extra outputs (N, len(:attr:`extra_outputs`)) of preprocessed face crops
        (RGB uint8, the model's crop shape), both float32.

        The classifier may return the logits alone, a tuple ``(logits, extra...)`` or a dict with ``logits``
        and one entry per extra output name."""
        crops = np.asarray(crops) if not isinstance(crops, np.ndarray) else crops
        if crops.ndim == 3:
            crops = crops[None]
        names = self.extra_outputs
        if len(crops) == 0:
            return np.zeros((0, self.spec.num_classes), np.float32), np.zeros((0, len(names)), np.float32)
        normalize = self.spec.normalize
        if crops.dtype == np.uint8 and crops.ndim == 4 and crops.shape[3] == 3:
            if self._lookup is None:
                self._lookup = LookupNormalizer.for_spec(self.spec) or False
            normalize = self._lookup or normalize
        run = getattr(self.classifier, "run", None) if names else None
        logits, extras = [], []
        for i in range(0, len(crops), self.batch_size):
            x = normalize(crops[i : i + self.batch_size])
            if run is not None:  # ONNX Runtime: (logits, {extra name: values})
                z, more = run(x)
                out = {"logits": z, **more}
            else:
                out = self.classifier(x)
            z, e = _split_outputs(out, names)
            logits.append(z)
            extras.append(e)
        return np.concatenate(logits).astype(np.float32, copy=False), np.concatenate(extras).astype(np.float32, copy=False)

    def classify(self, crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (N, n_classes) of preprocessed face crops (RGB uint8, the model's crop shape)."""
        return softmax(self.infer(crops)[0]).astype(np.float32)

    def _check_crop(self, crop: FaceCrop) -> None:
        if crop.preset and crop.preset != self.preset.name:
            raise OptionError(
                f"this face crop was made with preset {crop.preset!r}, but the model expects preset {self.preset.name!r}; "
                "pass the image instead and the model's own preprocessing is used"
            )
        if crop.region != self.spec.region:
            raise OptionError(f"this face crop is region {crop.region!r}, but the model was trained on {self.spec.region!r}")

    def _prediction(self, probs: np.ndarray, face: Face | None, crop: FaceCrop | None, extras: dict | None = None) -> Prediction:
        k = int(np.argmax(probs))
        return Prediction(
            "ok", self.spec.class_names[k], float(probs[k]), {c: float(p) for c, p in zip(self.spec.class_names, probs)}, face, crop,
            {name: float(v) for name, v in (extras or {}).items()},
        )

    # ---------------------------------------------------------------- public API
    def predict(self, image_or_face, *, channels: str = "rgb", face: Face | None = None) -> Prediction:
        """Classify the face in an image (array or path) or an already preprocessed :class:`FaceCrop`.

        Arrays are taken as RGB; pass ``channels="bgr"`` for OpenCV images (``cv2.imread``,
        ``VideoCapture.read``). ``face``: use this face instead of detecting one.
        """
        return self.predict_batch([image_or_face], channels=channels, faces=None if face is None else [face])[0]

    def predict_batch(self, images: Iterable, *, channels: str = "rgb", faces: Sequence[Face | None] | None = None) -> list[Prediction]:
        """:meth:`predict` for many images, detecting and classifying in batches."""
        items = list(images)
        if faces is not None and len(faces) != len(items):
            raise OptionError(f"got {len(items)} images but {len(faces)} faces")
        crops: list[FaceCrop | None] = [None] * len(items)
        found: list[Face | None] = [None] * len(items)
        todo_idx, todo_img = [], []
        for i, item in enumerate(items):
            if isinstance(item, FaceCrop):
                self._check_crop(item)
                crops[i], found[i] = item, item.face
                continue
            rgb = as_rgb(item, channels)
            if faces is not None and faces[i] is not None:
                found[i] = faces[i]
                crops[i] = self.crop(rgb, faces[i])
            else:
                todo_idx.append(i)
                todo_img.append(rgb)
        for start in range(0, len(todo_img), self.batch_size):
            chunk = todo_img[start : start + self.batch_size]
            for j, (rgb, f) in enumerate(zip(chunk, self.detect_batch(chunk))):
                i = todo_idx[start + j]
                if f is not None:
                    found[i], crops[i] = f, self.crop(rgb, f)
        ok = [i for i, c in enumerate(crops) if c is not None]
        probs, extras = self.classify_full(np.stack([crops[i].pixels for i in ok])) if ok else (np.zeros((0, self.spec.num_classes)), {})
        out = [Prediction("no_face") for _ in items]
        if channels == "rgb" and not getattr(self, "_warned_channels", False) and any(
                crops[i] is None and isinstance(items[i], np.ndarray) for i in todo_idx):
            self._warned_channels = True  # once per Recognizer
            warnings.warn("no face found in an image array taken as RGB; if it comes from OpenCV (cv2.imread, "
                          "VideoCapture.read: BGR), pass channels='bgr'", stacklevel=3)
        for j, (i, p) in enumerate(zip(ok, probs)):
            out[i] = self._prediction(p, found[i], crops[i], {k: v[j] for k, v in extras.items()})
        return out

    def annotate_video(
        self,
        path: str | os.PathLike,
        *,
        every: int = 1,
        smooth: int = 1,
        smooth_method: str = "moving",
        min_duration_ms: float = 0.0,
        detect_every: int = 1,
        fps: float | None = None,
        progress: bool = False,
    ):
        """One row per analysed frame of a video, image folder or image, as a ``pandas.DataFrame``.

        Columns: see :data:`signfer.annotate.media.FRAME_COLUMNS` (``frame``, ``time_ms``,
        ``status``, face box and eye centres, ``label``, ``confidence``, ``p_<class>``, and with
        ``smooth > 1`` the smoothed ``smooth_label`` / ``smooth_confidence`` / ``smooth_p_<class>``).
        ``df.attrs["segments"]`` holds the expression segments (list of dicts). Raises
        :class:`InputError` naming the file when it cannot be read.
        """
        from signfer.annotate.annotator import Annotator
        from signfer.annotate.options import AnnotationOptions

        opts = AnnotationOptions.from_kwargs(every=every, detect_every=detect_every, smooth=smooth, smooth_method=smooth_method,
                                             min_duration_ms=min_duration_ms, fps=fps, batch_size=self.batch_size)  # fmt: skip
        return Annotator(self, opts).annotate(path, collect=True, progress=progress).frames

    def annotate(self, path: str | os.PathLike, out_dir: str | os.PathLike, *, formats: Sequence[str] = ("csv", "json", "eaf"), overlay: bool = False,
                 options=None, **option_kw):
        """Annotate ``path`` and write ``out_dir/<name>.{csv,json,eaf}`` (and an overlay video); returns the result.

        ``options``: an :class:`~signfer.annotate.options.AnnotationOptions`, or its fields as keywords
        (``smooth=5``, ``every=2``, ...)."""
        from signfer.annotate.annotator import Annotator
        from signfer.annotate.options import AnnotationOptions, OutputOptions

        if options is None:
            options = AnnotationOptions.from_kwargs(**{"batch_size": self.batch_size, **option_kw})
        return Annotator(self, options, OutputOptions(formats, overlay)).annotate(path, out_dir)


def _with_files(rec: "Recognizer", files) -> "Recognizer":
    rec.model_files = tuple(str(f) for f in files)
    return rec


def _published_onnx(source: ModelSource) -> bool:
    """Whether ``source`` names a published ONNX export (``hsemotion:NAME`` of HSEmotion's ONNX models)."""
    if source.kind != "name" or not source.location.strip().lower().startswith("hsemotion:"):
        return False
    from signfer.models.hsemotion import onnx_model_info

    return onnx_model_info(source.location) is not None


def _has_torch_weights(source: ModelSource) -> bool:
    from signfer.models.hsemotion import MODELS, model_key

    return model_key(source.location) in MODELS


def _split_outputs(out, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(logits, extras (N, len(names))) of a classifier's output: an array, a tuple or a dict."""
    if isinstance(out, dict):
        z = np.asarray(out["logits"])
        extra = [np.asarray(out[n]).reshape(len(z), -1)[:, 0] for n in names]
    elif isinstance(out, (tuple, list)):
        z = np.asarray(out[0])
        extra = [np.asarray(o).reshape(len(z), -1) for o in out[1:]]
        extra = list(np.concatenate(extra, axis=1).T) if extra else []
    else:
        z, extra = np.asarray(out), []
    if len(extra) != len(names):
        raise OptionError(f"the model gives {len(extra)} extra outputs, its spec names {len(names)} ({', '.join(names) or 'none'})")
    e = np.stack(extra, axis=1) if extra else np.zeros((len(z), 0), np.float32)
    return z, e


def resolve_device(device: str | None, backend: str | None = None) -> str:
    """``auto`` (the default of every command): ``cuda`` when the chosen runtime has a GPU here, else ``cpu``.

    With ONNX Runtime (the default backend) that is its CUDA provider, with PyTorch ``torch.cuda``; PyTorch is
    imported only when it is the backend asked for. Other values are kept as they are."""
    device = str(device or "auto").lower()
    if device != "auto":
        return device
    if (backend or "onnx").lower() == "torch":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    import onnxruntime as ort

    return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"


def _ort_providers(device: str) -> list[str]:
    if str(device).startswith("cuda"):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]
