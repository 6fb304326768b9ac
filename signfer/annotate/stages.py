"""The one annotation pipeline: stages over batches of frames, plain data between them.

::

    MediaReader (frames, timestamps)
      -> FaceStage      detect every N-th analysed frame (batched); nothing in between
      -> HandStage      optional: MediaPipe palms when a hand is lost (or every N frames), landmark tracking otherwise
      -> SignerStage    faces -> signers: LargestFace (one signer, the plain case; template tracking between
                        detections) or Signers (every face, stable IDs re-identified after absences);
                        occlusion of each face half by the hands
      -> NonManualStage optional (--nmm): face mesh per signer, head pose, brows, eyes, mouth (signfer.nonmanual)
      -> CropStage      the face cut as the model that will read it expects (full / upper / lower face)
      -> ClassifyStage  batched, one classifier per region: logits (+ extra numeric outputs)
      -> SignerPost     per signer: calibration (logits only), softmax, smoothing, segments
      -> writers        CSV, JSON, ELAN, overlay (signfer.annotate.writers)

Each stage is a small object whose ``__call__`` takes a list of :class:`FrameData` and fills its
fields in place; every stage walks the frames in order, so trackers see the video as it runs.
:func:`signfer.annotate.media.annotate_media` builds the stages from one
:class:`~signfer.annotate.options.AnnotationOptions` and runs them.

This module imports no model: the recognizers are passed in (anything with ``detect_all_batch``,
``crop``, ``infer``, ``class_names``, ``extra_outputs`` and ``preset``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from signfer.faces.detect import pick_face
from signfer.faces.tracker import FaceTracker
from signfer.faces.types import Face
from signfer.inference.classifier import softmax
from signfer.annotate.options import FaceOptions, HandOptions, NonManualOptions, SignerOptions  # noqa: F401 - the stages' options (annotate.options)
from signfer.annotate.segments import Segment, SegmentBuilder
from signfer.annotate.smoothing import Smoothing, StreamingSmoother
from signfer.nonmanual.measures import face_measures
from signfer.signers.calibration import calibrate
from signfer.signers.covered_half import (
    NO_OCCLUSION,
    Occlusion,
    face_occlusion,
    overlaps_box,
)
from signfer.signers.identity import SignerTracker, clip_face

POLICIES = ("switch", "flag", "off")
#: which model predicts a face in each occlusion state under the ``switch`` policy
SWITCH = {"none": "full", "lower": "upper", "upper": "lower", "both": None}


# --------------------------------------------------------------------------- plain data
@dataclass
class FaceObs:
    """One signer's face in one frame, and what the stages found about it.

    ``signer_id`` is ``""`` in the plain (one-face) mode. ``source``: ``detected``, ``tracked`` (template)
    or ``coasting``. ``status``: ``ok`` (classified), ``occluded`` (both halves covered, no guess),
    ``no_face`` (lost and no hand explains it), ``error``. ``region``: the model used (``full``,
    ``upper``, ``lower``, ``none``)."""

    signer_id: str
    face: Face
    source: str = "detected"
    status: str = "ok"
    error: str = ""
    occlusion: Occlusion | None = None
    region: str = "full"
    crop: np.ndarray | None = field(default=None, repr=False)
    logits: np.ndarray | None = None  # (C,) float32
    extras: np.ndarray | None = None  # (E,) float32: the model's extra numeric outputs
    probs: np.ndarray | None = None  # raw probabilities
    calibrated: np.ndarray | None = None  # probabilities after calibration (when on)
    smoothed: np.ndarray | None = None  # decision probabilities + extras, smoothed (when on)
    box: tuple | None = None  # the box reported (clipped to the frame); None: face.box
    nonmanual: dict | None = None  # with --nmm: head pose, brows, eyes, mouth (signfer.nonmanual.measures.COLUMNS)

    @property
    def shown_box(self) -> tuple:
        return tuple(self.face.box) if self.box is None else self.box

    @property
    def tracked(self) -> bool:
        return self.source != "detected"


@dataclass
class FrameData:
    """One analysed frame on its way through the stages. ``image`` is dropped once nothing needs it."""

    index: int
    time_ms: float
    image: np.ndarray | None = field(default=None, repr=False)
    source: str = ""
    error: str = ""
    status: str = "ok"  # ok | error (the frame itself); faces carry their own status
    detections: list[Face] | None = None  # None: the detector did not run on this frame
    hands: list | None = None  # None: no hand detection
    faces: list[FaceObs] = field(default_factory=list)

    def fail(self, exc: BaseException, what: str = "") -> None:
        self.status, self.error, self.faces = "error", f"{what}{type(exc).__name__}: {exc}", []

    def to_record(self) -> dict:
        """This frame without pixels as JSON-able plain data (what a whole-video first pass spills to disk)."""

        def face(f: Face) -> dict:
            return {"box": [float(v) for v in f.box], "score": float(f.score), "left_eye": None if f.left_eye is None else [float(v) for v in f.left_eye],
                    "right_eye": None if f.right_eye is None else [float(v) for v in f.right_eye],
                    "landmarks": {k: [float(v) for v in p] for k, p in f.landmarks.items()}}  # fmt: skip

        def arr(a):
            return None if a is None else [float(v) for v in np.asarray(a, np.float32)]

        faces = [{"signer_id": o.signer_id, "face": face(o.face), "source": o.source, "status": o.status, "error": o.error,
                  "occlusion": None if o.occlusion is None else [o.occlusion.state, o.occlusion.upper, o.occlusion.lower],
                  "region": o.region, "logits": arr(o.logits), "extras": arr(o.extras), "box": None if o.box is None else [float(v) for v in o.box],
                  "nonmanual": o.nonmanual}
                 for o in self.faces]  # fmt: skip
        return {"index": self.index, "time_ms": self.time_ms, "source": self.source, "error": self.error, "status": self.status,
                "hands": None if self.hands is None else len(self.hands), "faces": faces}  # fmt: skip

    @classmethod
    def from_record(cls, rec: dict) -> "FrameData":
        """The inverse of :meth:`to_record` (hands come back as a list of ``None``: the rows need only how many)."""

        def face(d: dict) -> Face:
            pt = lambda p: None if p is None else (p[0], p[1])  # noqa: E731
            return Face(tuple(d["box"]), d["score"], pt(d["left_eye"]), pt(d["right_eye"]), {k: pt(v) for k, v in d["landmarks"].items()})

        def arr(a):
            return None if a is None else np.asarray(a, np.float32)

        faces = [FaceObs(o["signer_id"], face(o["face"]), o["source"], o["status"], o["error"],
                         None if o["occlusion"] is None else Occlusion(*o["occlusion"]), o["region"], None, arr(o["logits"]), arr(o["extras"]),
                         box=None if o["box"] is None else tuple(o["box"]), nonmanual=o.get("nonmanual"))
                 for o in rec["faces"]]  # fmt: skip
        hands = None if rec["hands"] is None else [None] * rec["hands"]
        return cls(rec["index"], rec["time_ms"], None, rec["source"], rec["error"], rec["status"], None, hands, faces)


# --------------------------------------------------------------------------- stages
class FaceStage:
    """Detect every face on the scheduled frames (batched); ``frame.detections`` stays ``None`` on the others."""

    def __init__(self, recognizer, options: FaceOptions, video: bool = True, choice: str = "largest"):
        self.recognizer = recognizer
        self.every = options.detect_every if video else 1  # images are unrelated to each other
        self._seen = 0
        self.near = bool(options.near and video and hasattr(recognizer, "detect_near"))
        self.choice = choice
        self._last: Face | None = None  # with ``near``: the face of the previous detection
        self._since_full = 0

    def detect_now(self, image: np.ndarray) -> list[Face]:
        return self.recognizer.detect_all_batch([image])[0]

    def __call__(self, frames: list[FrameData]) -> None:
        scheduled = []
        for f in frames:
            if f.status == "error":
                continue
            if self._seen % self.every == 0:
                scheduled.append(f)
            self._seen += 1
        if not scheduled:
            return
        if self.near:
            return self._detect_near(scheduled)
        try:
            found = self.recognizer.detect_all_batch([f.image for f in scheduled])
        except Exception:  # noqa: BLE001 - retry frame by frame to isolate the bad one
            found = []
            for f in scheduled:
                try:
                    found.append(self.detect_now(f.image))
                except Exception as exc:  # noqa: BLE001
                    f.fail(exc, "face detection failed: ")
                    found.append(None)
        for f, faces in zip(scheduled, found):
            if faces is not None:
                f.detections = faces


    def _detect_near(self, scheduled: list[FrameData]) -> None:
        """The frames between two whole-frame detections are searched together around the face found last
        before them (one detector call for the lot, :meth:`Recognizer.detect_near_batch`)."""
        near_batch = getattr(self.recognizer, "detect_near_batch", None)
        i = 0
        while i < len(scheduled):
            whole = self._last is None or self._since_full >= FULL_DETECT_EVERY - 1
            chunk = scheduled[i:i + 1] if whole or near_batch is None else scheduled[i:i + FULL_DETECT_EVERY - 1 - self._since_full]
            i += len(chunk)
            try:
                if whole:
                    faces = [pick_face(self.detect_now(chunk[0].image), self.choice)]
                elif near_batch is not None:
                    faces = near_batch([f.image for f in chunk], self._last)
                else:
                    faces = [self.recognizer.detect_near(chunk[0].image, self._last)]
            except Exception:  # noqa: BLE001 - retry frame by frame to isolate the bad one
                faces = [self._near_one(f, whole) for f in chunk]
            self._since_full = 0 if whole else self._since_full + len(chunk)
            for f, face in zip(chunk, faces):
                if face is _FAILED:
                    continue
                f.detections = [] if face is None else [face]
                self._last = face

    def _near_one(self, f: FrameData, whole: bool):
        try:
            if whole:
                return pick_face(self.detect_now(f.image), self.choice)
            return self.recognizer.detect_near(f.image, self._last)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not end the video
            f.fail(exc, "face detection failed: ")
            return _FAILED


_FAILED = object()

#: with ``FaceOptions.near``, every this many detections one searches the whole frame
FULL_DETECT_EVERY = 25


class HandStage:
    """Hands in every frame (``frame.hands``), by a hand detector or a :class:`~signfer.signers.hands.HandTracker`."""

    def __init__(self, hands):
        self.hands = hands

    def __call__(self, frames: list[FrameData]) -> None:
        for f in frames:
            if f.status == "error":
                continue
            try:
                f.hands = list(self.hands.detect(f.image))
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the video
                f.fail(exc, "hand detection failed: ")


class _Occlusion:
    def __init__(self, threshold: float | None):
        self.threshold = threshold  # None: hands are not looked for

    def __call__(self, face: Face, hands) -> Occlusion | None:
        if self.threshold is None:
            return None
        return face_occlusion(face, hands, self.threshold) if hands else NO_OCCLUSION


class _EachFrame:
    """A stage that handles frames one at a time; a frame it fails on is marked, never ends the video."""

    def __call__(self, frames: list[FrameData]) -> None:
        for f in frames:
            if f.status == "error":
                continue
            try:
                self._one(f)
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the video
                f.fail(exc)

    def _one(self, f: FrameData) -> None:
        raise NotImplementedError


class LargestFace(_EachFrame):
    """The plain case: one signer, the face the preset picks (the largest); between detections the face is
    followed by template matching and detected again at once when the template is lost."""

    def __init__(self, faces: FaceStage, face_choice: str = "largest", threshold: float | None = None):
        self.faces = faces
        self.choice = face_choice
        self.tracker = FaceTracker() if faces.every > 1 else None
        self.occlusion = _Occlusion(threshold)

    def _one(self, f: FrameData) -> None:
        tracked = False
        if f.detections is not None:
            face = pick_face(f.detections, self.choice)
            if self.tracker is not None:
                self.tracker.reset(f.image, face)
        else:
            face = self.tracker.track(f.image) if self.tracker is not None and self.tracker.active else None
            tracked = face is not None
            if face is None:
                face = pick_face(self.faces.detect_now(f.image), self.choice)
                if self.tracker is not None:
                    self.tracker.reset(f.image, face)
        if face is not None:
            f.faces = [FaceObs("", face, "tracked" if tracked else "detected", occlusion=self.occlusion(face, f.hands))]


class Signers(_EachFrame):
    """Every face with a stable signer ID (:class:`~signfer.signers.identity.SignerTracker`); occlusion per face.

    A face the tracker lost (``coasting``) is classified only while a hand overlaps it (a hand over the
    mouth often hides the face from the detector); otherwise its row says ``no_face``."""

    def __init__(self, faces: FaceStage, tracker: SignerTracker, threshold: float | None = None):
        self.faces = faces
        self.tracker = tracker
        self.occlusion = _Occlusion(threshold)

    def _one(self, f: FrameData) -> None:
        hands = f.hands or []

        def flags(faces):
            return [o is not None and o.state != "none" for o in (self.occlusion(face, hands) for face in faces)]

        if f.detections is None:

            def detect(image):  # a template was lost between detections: look now
                f.detections = self.faces.detect_now(image)
                return f.detections, flags(f.detections)

            tracked = self.tracker.update(f.image, None, detect=detect)
        else:
            tracked = self.tracker.update(f.image, f.detections, flags(f.detections))
        out = []
        for tf in tracked:
            obs = FaceObs(tf.signer_id, tf.face, tf.status, occlusion=self.occlusion(tf.face, hands), box=clip_face(tf.face, f.image.shape)[0].box)
            if tf.status == "coasting" and not (hands and overlaps_box(tf.face, hands)):
                obs.status, obs.region = "no_face", "none"  # lost, and no hand explains it
            out.append(obs)
        f.faces = out


class NonManualStage:
    """Face mesh and measures (``obs.nonmanual``) of every face seen in the frame (detected or tracked, not coasting);
    the mesh follows each signer from frame to frame (:class:`~signfer.nonmanual.mesh.MeshTracker`)."""

    def __init__(self, options: NonManualOptions):
        from signfer.nonmanual.mesh import FaceMesh, MeshTracker

        self.options = options
        mesh = FaceMesh(min_presence=options.min_presence)
        mesh.load()  # now: a missing runtime or model is said once, not on every frame
        self.tracker = MeshTracker(mesh)

    def __call__(self, frames: list[FrameData]) -> None:
        for f in frames:
            if f.status == "error" or f.image is None:
                continue
            seen = {o.signer_id: o for o in f.faces if o.status == "ok" and o.source != "coasting"}
            try:
                meshes = self.tracker.update(f.image, {sid: o.face for sid, o in seen.items()})
                h, w = f.image.shape[:2]
                for sid, mesh in meshes.items():
                    if mesh is not None:
                        seen[sid].nonmanual = face_measures(mesh.points, w, h, self.options.focal)[0]
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the video
                for o in seen.values():
                    o.nonmanual, o.error = None, f"non-manual: {type(exc).__name__}: {exc}"


class CropStage:
    """Cut each face as the model that will read it expects: ``policy`` ``switch`` takes the upper-face model when
    a hand covers the lower half (and vice versa) and gives up (``occluded``) when both are covered."""

    def __init__(self, models: dict, policy: str = "flag", keep_images: bool = False):
        self.models = models
        self.policy = policy
        self.keep_images = keep_images

    def __call__(self, frames: list[FrameData]) -> None:
        for f in frames:
            for obs in f.faces:
                if obs.status != "ok":
                    continue
                region = "full"
                if self.policy == "switch" and obs.occlusion is not None:
                    region = SWITCH[obs.occlusion.state]
                if region is None:
                    obs.status, obs.region = "occluded", "none"
                    continue
                obs.region = region
                try:
                    obs.crop = self.models[region].crop(f.image, obs.face).pixels
                except Exception as exc:  # noqa: BLE001 - one bad face must not end the video
                    obs.status, obs.error, obs.region = "error", f"{type(exc).__name__}: {exc}", "none"
            if not self.keep_images:
                f.image = None


class ClassifyStage:
    """Batched classification, one batch per model: ``obs.logits`` (and ``obs.extras``) of every cropped face."""

    def __init__(self, models: dict):
        self.models = models

    def __call__(self, frames: list[FrameData]) -> None:
        jobs: dict[str, list[FaceObs]] = {}
        for f in frames:
            for obs in f.faces:
                if obs.crop is not None:
                    jobs.setdefault(obs.region, []).append(obs)
        for region, items in jobs.items():
            logits, extras = self.models[region].infer(np.stack([o.crop for o in items]))
            for o, z, e in zip(items, logits, extras):
                o.logits, o.extras, o.crop = z, e, None


# --------------------------------------------------------------------------- per-signer post-processing
class SignerPost:
    """Per signer: calibration (from fitted baselines), softmax, smoothing, segments; frames come out in order.

    ``push(frame)`` returns the frames whose values became final (smoothing waits for later frames);
    ``finish(end_ms)`` the rest. A signer absent from a frame counts as a frame without a face for
    their smoothing and segments. ``segments``: signer -> list of :class:`Segment`.
    """

    def __init__(self, class_names: Sequence[str], smoothing: Smoothing, min_duration_ms: float = 0.0,
                 baselines: dict | None = None, reference: np.ndarray | None = None, keep=None):  # fmt: skip
        self.class_names = list(class_names)
        self.smoothing = smoothing
        self.min_duration_ms = min_duration_ms
        self.baselines = baselines  # (signer, region) -> baseline (C,) | None; None: calibration off
        self.reference = reference
        self.keep = keep  # signer IDs to keep (None: all)
        self._smoothers: dict[str, StreamingSmoother] = {}
        self._builders: dict[str, SegmentBuilder] = {}
        self._pending: list[FrameData] = []
        self.segments: dict[str, list[Segment]] = {}
        self._n = len(self.class_names)

    @property
    def calibrating(self) -> bool:
        return self.baselines is not None

    def decide(self, obs: FaceObs) -> np.ndarray | None:
        """The probabilities that label ``obs`` (calibrated when calibrating), before smoothing."""
        return obs.calibrated if self.calibrating else obs.probs

    def push(self, frame: FrameData) -> list[FrameData]:
        if self.keep is not None:
            frame.faces = [o for o in frame.faces if o.signer_id in self.keep]
        by_id = {}
        for obs in frame.faces:
            if obs.logits is not None and obs.status == "ok":
                obs.probs = softmax(obs.logits).astype(np.float32)
                if self.calibrating:
                    base = self.baselines.get((obs.signer_id, obs.region))
                    obs.calibrated = obs.probs if base is None else softmax(calibrate(obs.logits, base, self.reference)).astype(np.float32)
            by_id[obs.signer_id] = obs
        for sid in list(self._smoothers) + [s for s in by_id if s not in self._smoothers]:
            if sid not in self._smoothers:
                self._smoothers[sid] = StreamingSmoother(self.smoothing)
                self._builders[sid] = SegmentBuilder(self.min_duration_ms)
                self.segments[sid] = []
            obs = by_id.get(sid)
            vec = None
            if obs is not None and (p := self.decide(obs)) is not None:
                vec = p if obs.extras is None or not len(obs.extras) else np.concatenate([p, obs.extras])
            for (f, o), sm in self._smoothers[sid].push((frame, obs), vec):
                self._final(sid, f, o, sm)
        self._pending.append(frame)
        return self._release(self.smoothing.delay)

    def _final(self, sid: str, frame: FrameData, obs: FaceObs | None, vec: np.ndarray | None) -> None:
        if obs is not None and self.smoothing.enabled:
            obs.smoothed = vec
        probs = None if vec is None else vec[: self._n]
        k = None if probs is None else int(np.argmax(probs))
        label = None if k is None else self.class_names[k]
        self.segments[sid] += self._builders[sid].push(frame.index, frame.time_ms, label, float("nan") if k is None else float(probs[k]), probs)

    def _release(self, hold: int) -> list[FrameData]:
        n = max(len(self._pending) - hold, 0)
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def finish(self, end_ms: float) -> list[FrameData]:
        for sid, sm in self._smoothers.items():
            for (f, o), vec in sm.flush():
                self._final(sid, f, o, vec)
            self.segments[sid] += self._builders[sid].finish(end_ms)
        return self._release(0)
