"""Every option of annotation in one place: what the pipeline does (:class:`AnnotationOptions` and its stages'
options), which models it loads (:class:`ModelOptions`) and what it writes (:class:`OutputOptions`).

``signfer annotate`` and ``signfer annotate-corpus`` build these from one argument group of the CLI;
:class:`signfer.annotate.annotator.Annotator` holds them. ``batch_size`` lives in :class:`AnnotationOptions`
only (the recognizers are loaded with it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

from signfer.errors import OptionError
from signfer.annotate.elan import EAF_PROBABILITY_MODES, EafInto
from signfer.annotate.smoothing import Smoothing
from signfer.nonmanual.events import EventThresholds
from signfer.nonmanual.pose import FOCAL
from signfer.signers.calibration import CalibrationOptions, NeutralInterval  # noqa: F401 - calibration's options (defined beside it, a floor below)
from signfer.signers.covered_half import DEFAULT_THRESHOLD

FORMATS = ("csv", "json", "eaf")


#: `signfer annotate`'s detection schedule for one face (the plain mode): detect every 2nd analysed frame, track in
#: between. Measured against detecting on every frame (benchmarks/detection_schedules.py, docs/benchmarks.md): the
#: fastest schedule with mean box IoU >= 0.9 and >= 98 % of a trained model's labels on both real clips.
DEFAULT_DETECT_EVERY = 2


@dataclass(frozen=True)
class FaceOptions:
    """Face detection: on every ``detect_every``-th analysed frame (batched), tracking in between. ``near``
    (one face wanted, a video): each detection searches around the previous one's face first
    (``recognizer.detect_near``), the whole frame when none is found there and on every
    :data:`FULL_DETECT_EVERY`-th detection, so a new, larger face is still found."""

    detect_every: int = 1
    near: bool = False

    def __post_init__(self):
        if self.detect_every < 1:
            raise OptionError("detect_every must be >= 1")


@dataclass(frozen=True)
class SignerOptions:
    """Several signers: every face gets a stable ID; ``signer`` picks whom to write (``all``, ``largest``, ``left``,
    ``right`` or an ID); a signer unseen for up to ``max_missing_s`` seconds comes back under the same ID (15 s:
    ``benchmarks/max_missing.py``, absences of 2-10 s with a stranger in the gap);
    a lost face is still reported (tracked / coasting) for ``coast_s`` seconds."""

    signer: str = "all"
    max_missing_s: float = 15.0
    coast_s: float = 0.5
    reid_similarity: float = 0.6

    def __post_init__(self):
        if self.max_missing_s < 0 or self.coast_s < 0:
            raise OptionError("max_missing and coast must be >= 0 seconds")

    def frames(self, seconds: float, frame_ms: float) -> int:
        return max(1, int(round(seconds * 1000.0 / frame_ms))) if frame_ms > 0 else max(1, int(round(seconds * 25)))

    def to_dict(self) -> dict:
        return {"signer": self.signer, "max_missing_s": self.max_missing_s, "coast_s": self.coast_s, "reid_similarity": self.reid_similarity}


@dataclass(frozen=True)
class HandOptions:
    """Hands over faces: ``detector`` (a name for :func:`signfer.signers.hands.get_hand_detector` or an object with
    ``.detect(rgb)``), ``occlusion`` policy (``switch`` | ``flag``), ``threshold`` (share of a half that counts
    as covered), ``palm_every`` (palm detection at least every N-th analysed frame while no hand is tracked;
    a tracked hand follows its landmarks)."""

    detector: object = "mediapipe"
    occlusion: str = "flag"
    threshold: float = DEFAULT_THRESHOLD
    palm_every: int = 10

    def __post_init__(self):
        if self.occlusion not in ("switch", "flag"):
            raise OptionError(f"occlusion policy must be one of switch, flag, off; got {self.occlusion!r}")
        if self.palm_every < 1:
            raise OptionError("palm_every must be >= 1")

    def to_dict(self) -> dict:
        det = self.detector if isinstance(self.detector, str) else type(self.detector).__name__
        return {"detector": det, "occlusion": self.occlusion, "threshold": self.threshold, "palm_every": self.palm_every}


@dataclass(frozen=True)
class NonManualOptions:
    """Non-manual markers (``--nmm``): MediaPipe's face mesh on each signer's face (kept below ``min_presence``:
    no mesh), head pose with a camera of focal length ``focal`` x the frame's long side, measures per frame and
    events per signer with ``thresholds`` (:class:`~signfer.nonmanual.events.EventThresholds`); ``curves``: the
    ELAN time-series files beside the EAF."""

    thresholds: EventThresholds = field(default_factory=EventThresholds)
    focal: float = FOCAL
    min_presence: float = 0.5
    curves: bool = True

    def __post_init__(self):
        if not self.focal > 0 or not 0 <= self.min_presence <= 1:
            raise OptionError("nmm focal must be > 0 and min_presence between 0 and 1")

    def to_dict(self) -> dict:
        return {"thresholds": asdict(self.thresholds), "focal": self.focal, "min_presence": self.min_presence, "curves": self.curves}


@dataclass
class AnnotationOptions:
    """How to annotate: analyse every ``every``-th frame; detect faces every ``detect_every``-th
    analysed frame (tracking in between); ``smoothing``; segments shorter than ``min_duration_ms``
    dropped; ``fps`` of image inputs; ``eaf_probabilities`` (``segments`` | ``frames`` | ``none``).

    The optional stages: ``signers`` (:class:`SignerOptions`: every face with a
    stable signer ID; ``None``: the plain mode, the largest face), ``hands``
    (:class:`HandOptions`: hands over face halves; ``None``: off) and
    ``calibration`` (:class:`CalibrationOptions`). ``eaf_into`` (:class:`~signfer.annotate.elan.EafInto`): the EAF is a
    copy of the corpus team's own EAF with signfer's tiers added."""

    every: int = 1
    detect_every: int = 1
    batch_size: int = 16
    smoothing: Smoothing = field(default_factory=Smoothing)
    min_duration_ms: float = 0.0
    fps: float | None = None
    eaf_probabilities: str = "segments"
    signers: SignerOptions | None = None
    hands: HandOptions | None = None
    calibration: CalibrationOptions = field(default_factory=CalibrationOptions)
    #: plain mode, videos: detect around the previous detection's face first (MTCNN's region search: the same
    #: faces at a fraction of the cost), the whole frame when none is found there and every 25th detection
    detect_near: bool = True
    eaf_into: EafInto | None = None
    #: non-manual markers (``--nmm``): head pose, brows, eyes, mouth per frame; events and curves per signer
    nonmanual: NonManualOptions | None = None

    def __post_init__(self):
        if self.every < 1 or self.detect_every < 1 or self.batch_size < 1:
            raise OptionError("every, detect_every and batch_size must be >= 1")
        if self.eaf_probabilities not in EAF_PROBABILITY_MODES:
            raise OptionError(f"eaf_probabilities must be one of {', '.join(EAF_PROBABILITY_MODES)}")

    @classmethod
    def from_kwargs(cls, smooth: int = 1, smooth_method: str = "moving", **kw) -> "AnnotationOptions":
        return cls(smoothing=Smoothing(smooth_method, smooth), **kw)

    @property
    def faces(self) -> FaceOptions:
        return FaceOptions(self.detect_every, near=self.detect_near and self.signers is None)

    @property
    def two_pass(self) -> bool:
        """Whether the whole video is needed before writing (calibration, or a signer picked by a whole-video statistic)."""
        return self.calibration.enabled or (self.signers is not None and self.signers.signer.strip().lower() != "all")

    def to_dict(self) -> dict:
        out = {
            "every": self.every,
            "detect_every": self.detect_every,
            "batch_size": self.batch_size,
            "smoothing": {"method": self.smoothing.method, "window": self.smoothing.window,
                          **({"seconds": self.smoothing.seconds} if self.smoothing.seconds is not None else {})},
            "min_duration_ms": self.min_duration_ms,
            "eaf_probabilities": self.eaf_probabilities,
            "detect_near": self.detect_near,
        }
        if self.signers is not None:
            out["signers"] = self.signers.to_dict()
        if self.hands is not None:
            out["hands"] = self.hands.to_dict()
        if self.calibration.enabled:
            out["calibration"] = self.calibration.to_dict()
        if self.eaf_into is not None:
            out["eaf_into"] = self.eaf_into.to_dict()
        if self.nonmanual is not None:
            out["nonmanual"] = self.nonmanual.to_dict()
        return out


@dataclass(frozen=True)
class ModelOptions:
    """Which models to load and how: ``model`` (a name, run dir, ``.pt`` or ``.onnx``), the half-face models
    ``upper`` / ``lower`` (for the ``switch`` occlusion policy), ``fold`` of a run dir, ``backend``
    (``onnx`` | ``torch``), ``device``, the face ``detector`` (default: the model's preset's), ``detect_scale``,
    ``min_face_score``, CPU ``threads`` and ``int8`` (run the int8 model ``signfer export --quantize int8`` wrote beside
    the float one when its recorded agreement is >= 99 %)."""

    model: str = "fer2013"
    upper: str | None = None
    lower: str | None = None
    fold: int | None = None
    backend: str | None = None
    device: str = "auto"
    detector: str | None = None
    detect_scale: float = 1.0
    min_face_score: float | None = None
    threads: int | None = None
    int8: bool = True

    def recognizer_kw(self, batch_size: int) -> dict:
        """Keywords of ``Recognizer.from_pretrained`` (the half models take the same, without a detector)."""
        return dict(device=self.device, backend=self.backend, fold=self.fold, detector=self.detector, detect_scale=self.detect_scale,
                    min_face_score=self.min_face_score, threads=self.threads, batch_size=batch_size, int8=self.int8)  # fmt: skip


@dataclass(frozen=True)
class OutputOptions:
    """What is written per input: ``formats`` (a subset of csv, json, eaf) and an ``overlay`` video."""

    formats: Sequence[str] = FORMATS
    overlay: bool = False

    def __post_init__(self):
        formats = tuple(f.strip().lower() for f in self.formats)
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown or not (formats or self.overlay):
            raise OptionError(f"unknown or no output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)} (comma-separated)")
        object.__setattr__(self, "formats", formats)

    def to_dict(self) -> dict:
        return {"formats": sorted(self.formats), "overlay": self.overlay}


__all__ = ["FORMATS", "AnnotationOptions", "CalibrationOptions", "FaceOptions", "HandOptions", "ModelOptions", "NeutralInterval",
           "OutputOptions", "SignerOptions"]
