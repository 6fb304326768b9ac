"""Annotating videos, image folders and images with the one pipeline of :mod:`signfer.annotate.stages`.

The pipeline streams: frames are decoded in batches, faces detected in batches (or, with
``detect_every > 1``, detected every N-th analysed frame and followed by template tracking in
between), optionally hands found and each face half's occlusion measured, faces assigned to signers
(the largest face in the plain mode; every face with a stable ID with ``signers``), cut as the model
for the visible part expects and classified in batches. Rows go straight to the CSV / JSON writers and
segments are built on the fly, so memory stays flat however long the video is. What needs the whole
video first (calibration's baselines, picking the largest / leftmost signer) runs in two passes: the
first keeps only each frame's faces and logits (spilled to a temporary file; the logits of the
candidate neutral frames stay in memory), the second writes (re-decoding the video for an overlay).

A row's ``status``: ``ok`` (a face, classified), ``no_face`` (the detector found none; a preset's
``no_face: whole_image`` policy is meant for face-crop data sets and is not applied to video frames),
``occluded`` (hands over both face halves under the ``switch`` policy: no guess), ``error`` (the frame
could not be read or processed; ``error`` says why).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
import pandas as pd

from signfer.errors import OptionError
from signfer.inference.classifier import softmax
from signfer.annotate.elan import EafTiers, enrich_eaf, participants_by_side, rename_signers, signfer_annotator, write_tiers
from signfer.annotate.writers import CsvWriter, JsonWriter, OverlayWriter, RowSchema
from signfer.annotate.options import FORMATS, AnnotationOptions, FaceOptions, HandOptions, SignerOptions  # noqa: F401 - re-exported
from signfer.annotate.stages import (
    ClassifyStage,
    CropStage,
    FaceStage,
    FrameData,
    HandStage,
    LargestFace,
    NonManualStage,
    SignerPost,
    Signers,
)
from signfer.annotate.segments import Segment
from signfer.annotate.video import MediaInfo, MediaReader, open_media
from signfer.io import atomic_path, atomic_write, refuse_overwrite
from signfer.signers import calibration as cal
from signfer.signers.identity import SignerTracker, pick_signers

REGIONS = ("full", "upper", "lower")




@dataclass
class AnnotationResult:
    """One annotated input: counts (rows by status), segments, the files written and (``collect=True``) the rows.

    ``segments``: every segment (all signers, by start time); ``signer_segments``: signer -> segments
    (``""`` in the plain mode); ``signers``: the signer IDs written; ``baselines``: calibration per
    ``signer/model``; ``notes``: messages for the user (e.g. calibration without evidence)."""

    path: str
    name: str
    info: MediaInfo
    model: str
    counts: dict[str, int]
    segments: list[Segment]
    outputs: dict[str, Path]
    seconds: float
    frames: pd.DataFrame | None = None
    signer_segments: dict[str, list[Segment]] = field(default_factory=dict)
    signers: list[str] = field(default_factory=list)
    baselines: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    n_analysed: int = 0  # analysed frames (rows may be more: one per signer)
    model_counts: dict[str, int] = field(default_factory=dict)  # rows per model used (full / upper / lower / none)

    @property
    def n_frames(self) -> int:
        return self.n_analysed or sum(self.counts.values())


# --------------------------------------------------------------------------- models
def as_models(recognizer_or_models) -> dict:
    """``{"full", "upper", "lower"}`` of a Recognizer or such a dict (missing half models: None), checked:
    half models trained on their region, the same classes and extra outputs as the full model."""
    models = dict(recognizer_or_models) if isinstance(recognizer_or_models, dict) else {"full": recognizer_or_models}
    full = models["full"]
    for region in ("upper", "lower"):
        rec = models.setdefault(region, None)
        if rec is None:
            continue
        if rec.spec.region != region:
            raise OptionError(f"the {region}-face model was trained on region {rec.spec.region!r}, not {region!r} ({rec.describe()})")
        if list(rec.class_names) != list(full.class_names):
            raise OptionError(f"the {region}-face model's classes {list(rec.class_names)} differ from the full model's {list(full.class_names)}")
        if tuple(rec.extra_outputs) != tuple(full.extra_outputs):
            raise OptionError(f"the {region}-face model's extra outputs {rec.extra_outputs} differ from the full model's {full.extra_outputs}")
    return models


def _hand_detector(options: HandOptions, given=None):
    if given is not None:
        return given
    det = options.detector
    if isinstance(det, str):
        from signfer.signers.hands import HandTracker, get_hand_detector

        return HandTracker(get_hand_detector(det), palm_every=options.palm_every)
    return det


# --------------------------------------------------------------------------- the frame pipeline
def analyse_frames(models, reader: MediaReader, options: AnnotationOptions, keep_images: bool = False, hand_detector=None) -> Iterator[FrameData]:
    """Decode, detect (or track), find hands, assign signers, crop and classify, batch by batch; one
    :class:`FrameData` per analysed frame, in order (logits, not yet probabilities).

    With ONNX Runtime on more than one CPU thread, a batch's faces are cropped and classified in a
    background thread while the next batch is decoded and its faces detected or tracked (OpenCV and
    ONNX Runtime release the GIL), so the two halves of the pipeline share the cores instead of taking
    turns. Results and their order are the same either way.
    """
    models = as_models(models)
    full = models["full"]
    video = reader.info.kind == "video"
    faces = FaceStage(full, options.faces, video=video, choice=full.preset.face_choice)
    hands = HandStage(_hand_detector(options.hands, hand_detector)) if options.hands is not None else None
    threshold = options.hands.threshold if options.hands is not None else None
    if options.signers is None:
        assign = LargestFace(faces, full.preset.face_choice, threshold)
    else:
        frame_ms = reader.info.frame_ms * (options.every if video else 1)
        so = options.signers
        tracker = SignerTracker(max_missing=so.frames(so.max_missing_s, frame_ms), coast=so.frames(so.coast_s, frame_ms), reid_similarity=so.reid_similarity)
        assign = Signers(faces, tracker, threshold)
    policy = options.hands.occlusion if options.hands is not None else "flag"
    if policy == "switch" and (models["upper"] is None or models["lower"] is None):
        raise OptionError("occlusion policy 'switch' needs an upper-face and a lower-face model (--upper-model, --lower-model); "
                         "use --occlusion flag to only record occlusion")  # fmt: skip
    nonmanual = NonManualStage(options.nonmanual) if options.nonmanual is not None else None
    crop = CropStage(models, policy, keep_images)
    classify_stage = ClassifyStage(models)

    def locate(batch) -> list[FrameData]:
        frames = [FrameData(f.index, f.time_ms, f.image, f.source or "", f.error or "", "error" if f.image is None else "ok") for f in batch]
        faces(frames)
        if hands is not None:
            hands(frames)
        assign(frames)
        return frames

    def classify(frames: list[FrameData]) -> list[FrameData]:
        if nonmanual is not None:  # beside the classifier, in the background thread, while the next batch is located
            nonmanual(frames)
        crop(frames)
        classify_stage(frames)
        return frames

    batches = reader.batches(options.batch_size, options.every)
    if not _classify_in_background(full):
        for batch in batches:
            yield from classify(locate(batch))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="signfer-classify") as pool, ReadAhead(batches) as batches:
        pending = None  # the previous batch, being classified
        for batch in batches:
            job = pool.submit(classify, locate(batch))
            if pending is not None:
                yield from pending.result()
            pending = job
        if pending is not None:
            yield from pending.result()


class ReadAhead:
    """Decodes the next batches in a thread while the caller works on the current one: an iterator over
    ``batches`` with at most ``depth`` decoded batches waiting (memory stays flat however long the video).
    The decoder (OpenCV, PyAV) releases the GIL, so decoding runs beside detection and classification.
    Closing it (or leaving the ``with`` block) stops and joins the thread before the reader may be closed;
    an exception in the decoder is raised in the caller, in order."""

    _END = object()

    def __init__(self, batches: Iterator, depth: int = 2):
        import queue
        import threading

        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._source = batches
        self._thread = threading.Thread(target=self._run, name="signfer-decode", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for batch in self._source:
                if not self._put(batch):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self._put(_Failure(exc))
            return
        self._put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            self._queue.put(item)  # stays at the end
            raise StopIteration
        if isinstance(item, _Failure):
            raise item.exc
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def _classify_in_background(recognizer) -> bool:
    """Overlap classification with the rest of the pipeline: ONNX Runtime (no spin-waiting threads, GIL
    released) with more than one CPU thread. Eager PyTorch is left inline: its OpenMP threads spin-wait
    and slow down badly when they share the cores with other work."""
    threads = getattr(recognizer, "threads", None)
    return getattr(recognizer, "backend", "") == "onnxruntime" and (threads is None or threads > 1) and (os.cpu_count() or 1) > 1


# --------------------------------------------------------------------------- whole-video pass (calibration, signer choice)
class _Spill:
    """Light frames (no pixels; :meth:`FrameData.to_record`) written as JSON lines to a temporary file in pass one,
    read back in order in pass two."""

    def __init__(self):
        self._fh = tempfile.TemporaryFile(mode="w+", encoding="utf-8")

    def write(self, frame: FrameData) -> None:
        self._fh.write(json.dumps(frame.to_record()) + "\n")

    def __iter__(self):
        self._fh.seek(0)
        for line in self._fh:
            yield FrameData.from_record(json.loads(line))

    def close(self) -> None:
        self._fh.close()


class _Evidence:
    """What pass one keeps for calibration and the signer choice: per signer face sizes and centres; per frame
    classified, its key (signer, model), time and logits (C floats)."""

    def __init__(self):
        self.keys, self.times, self.logits = [], [], []
        self.area: dict[str, list[float]] = {}
        self.x: dict[str, list[float]] = {}

    def add(self, frame: FrameData) -> None:
        for o in frame.faces:
            if o.source != "coasting" or o.status == "ok":
                self.area.setdefault(o.signer_id, []).append(o.face.area)
                self.x.setdefault(o.signer_id, []).append((o.face.box[0] + o.face.box[2]) / 2)
            if o.status == "ok" and o.logits is not None:
                self.keys.append((o.signer_id, o.region))
                self.times.append(frame.time_ms)
                self.logits.append(np.asarray(o.logits, np.float32))

    def stats(self) -> dict[str, dict]:
        return {s: {"area": float(np.median(a)), "x": float(np.median(self.x[s])), "frames": len(a)} for s, a in self.area.items()}


def fit_calibration(evidence: _Evidence, options: cal.CalibrationOptions, class_names: list[str]) -> tuple[dict, dict, list[str]]:
    """(baselines (signer, model) -> (C,) | None, their JSON description, notes) from pass one's evidence."""
    if not evidence.keys:
        return {}, {}, ["calibration: no classified face, nothing to calibrate"]
    logits = np.stack(evidence.logits).astype(np.float64)
    probs = softmax(logits)
    neutral = cal.evidence(options, probs, np.asarray(evidence.times), [k[0] for k in evidence.keys], class_names)
    fitted = cal.fit_baselines(evidence.keys, logits, neutral, options.min_frames)
    baselines, info, notes = {}, {}, []
    how = ("frames inside the --neutral stretches" if options.method == "interval"
           else f"frames the model rates neutral with p >= {options.min_confidence:g}")  # fmt: skip
    for (sid, region), v in fitted.items():
        who = f"{sid or 'the face'} ({region} model)"
        baselines[(sid, region)] = v["baseline"]
        label = f"{sid}/{region}" if sid else region
        info[label] = {"baseline": None if v["baseline"] is None else dict(zip(class_names, np.round(v["baseline"], 6).tolist())),
                       "frames": v["frames"], "of": v["of"], "source": options.method if v["baseline"] is not None else "none"}  # fmt: skip
        if v["baseline"] is None:
            notes.append(f"calibration: no evidence of neutrality for {who}: {v['frames']} of {v['of']} {how}, "
                         f"{options.min_frames} needed; its outputs stay raw")  # fmt: skip
    if options.method == "median" and cal.NEUTRAL not in class_names:
        notes.append("calibration: the model has no 'neutral' class, so no frame can be rated neutral; outputs stay raw")
    return baselines, info, notes


# --------------------------------------------------------------------------- one input
def annotate_media(
    recognizer,
    path: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    formats: Sequence[str] = FORMATS,
    overlay: bool = False,
    options: AnnotationOptions | None = None,
    collect: bool = False,
    name: str | None = None,
    progress: bool = False,
    hand_detector=None,
) -> AnnotationResult:
    """Annotate one video, image folder or image.

    ``recognizer``: a :class:`~signfer.inference.recognizer.Recognizer` or ``{"full", "upper", "lower"}`` of them
    (the half-face models for the ``switch`` occlusion policy). With ``out_dir``, writes ``<name>.csv``,
    ``<name>.json``, ``<name>.eaf`` (as ``formats`` says) and, with ``overlay`` (videos only),
    ``<name>.overlay.mp4``; all appear together when the input is done, none on failure. ``collect=True``
    also returns the rows as a DataFrame. ``hand_detector``: an object with ``.detect(rgb) -> hands``
    instead of ``options.hands.detector``. Raises :class:`InputError` naming the file when it cannot be
    read (also when a video turns out to be truncated part-way).
    """
    options = options or AnnotationOptions()
    formats = [f.lower() for f in formats]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise OptionError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    started = time.perf_counter()
    models = as_models(recognizer)
    full = models["full"]
    class_names = full.class_names
    reader = open_media(path, fps=options.fps)
    info = reader.info
    name = name or Path(path).stem or "annotation"
    signers_on, hands_on = options.signers is not None, options.hands is not None
    step_ms = info.frame_ms * (options.every if info.kind == "video" else 1)
    smoothing = options.smoothing.for_media(info.kind == "video", step_ms)  # a window in seconds -> frames of this video
    nmm = options.nonmanual
    schema = RowSchema(class_names, smoothing.enabled, info.kind != "video", signers_on, hands_on, options.calibration.enabled, tuple(full.extra_outputs),
                       nonmanual=nmm is not None)  # fmt: skip
    header = {
        "media": {"path": str(Path(path).resolve()), "kind": info.kind, "fps": info.fps, "frame_count": info.frame_count, "width": info.width, "height": info.height, "decoder": info.backend},
        "model": _describe_model(full),
        "options": options.to_dict(),
        "class_names": class_names,
    }
    if models["upper"] is not None or models["lower"] is not None:
        header["models"] = {r: None if m is None else _describe_model(m) for r, m in models.items()}
    if full.extra_outputs:
        header["extra_outputs"] = list(full.extra_outputs)
    do_overlay = bool(out_dir) and overlay and info.kind == "video"
    rows: list[dict] = []
    counts: dict[str, int] = {"ok": 0, "no_face": 0, "error": 0}
    notes: list[str] = []
    model_counts: dict[str, int] = {}
    baselines, baseline_info, chosen = None, {}, None
    outputs: dict[str, Path] = {}
    n_analysed = 0
    with contextlib.ExitStack() as stack:
        stack.callback(reader.close)
        bar = _progress(progress, info, options, name)
        stack.callback(bar.close)
        frames_iter: Iterator[FrameData] = analyse_frames(models, reader, options, keep_images=do_overlay and not options.two_pass, hand_detector=hand_detector)
        stack.callback(frames_iter.close)  # stops its decoding thread before the reader closes (LIFO)
        overlay_frames = None
        if options.two_pass:  # pass one: faces and logits only
            spill = _Spill()
            stack.callback(spill.close)
            evidence = _Evidence()
            for fr in frames_iter:
                evidence.add(fr)
                spill.write(fr)
                bar.update()
            if options.calibration.enabled:
                baselines, baseline_info, notes = fit_calibration(evidence, options.calibration, class_names)
            stats = evidence.stats()
            if signers_on:
                chosen = pick_signers(stats, options.signers.signer)
                header["signers"] = {s: stats[s] for s in chosen}
            frames_iter = iter(spill)
            if do_overlay:
                again = open_media(path, fps=options.fps)
                stack.callback(again.close)
                overlay_frames = again.frames(options.every)
        post = SignerPost(class_names, smoothing, options.min_duration_ms, baselines,
                          cal.reference_logits(class_names, options.calibration.reference_confidence) if baselines is not None else None,
                          None if chosen is None else set(chosen))  # fmt: skip
        csv_w = json_w = eaf_tmp = ovl = None
        team_eaf = options.eaf_into.team_eaf(path) if options.eaf_into is not None and "eaf" in formats else None
        if options.eaf_into is not None and "eaf" in formats and team_eaf is None:
            notes.append(f"--eaf-into: no {options.eaf_into.source / (Path(path).stem + '.eaf')}; wrote signfer's own EAF")
        if out_dir is not None:
            out_dir = Path(out_dir)
            planned = [out_dir / f"{name}.{fmt}" for fmt in formats] + ([out_dir / f"{name}.overlay.mp4"] if do_overlay else [])
            if nmm is not None and nmm.curves and "eaf" in formats:  # ELAN time-series files, linked from the EAF
                outputs["curves"], outputs["tsconf"] = out_dir / f"{name}_curves.csv", out_dir / f"{name}_tsconf.xml"
                planned += [outputs["curves"], outputs["tsconf"]]
            refuse_overwrite(planned, [path] + ([team_eaf] if team_eaf is not None and not options.eaf_into.in_place else []), writes="annotations")
            if "csv" in formats:
                outputs["csv"] = out_dir / f"{name}.csv"
                csv_w = CsvWriter(stack.enter_context(atomic_write(outputs["csv"])), schema.columns)
            if "json" in formats:
                outputs["json"] = out_dir / f"{name}.json"
                json_w = JsonWriter(stack.enter_context(atomic_write(outputs["json"])), header)
            if "eaf" in formats:
                outputs["eaf"] = team_eaf if team_eaf is not None and options.eaf_into.in_place else out_dir / f"{name}.eaf"
                eaf_tmp = stack.enter_context(atomic_path(outputs["eaf"]))
            if do_overlay:
                outputs["overlay"] = out_dir / f"{name}.overlay.mp4"
                ovl_stack = stack.enter_context(contextlib.ExitStack())  # its own: a failed overlay loses only itself
                ovl_tmp = ovl_stack.enter_context(atomic_path(outputs["overlay"]))
                ovl = OverlayWriter(ovl_tmp, info.fps / options.every, class_names, schema.smoothed)
                ovl_stack.callback(ovl.close)  # runs before the rename (LIFO)
        side_x: dict[str, list] = {}  # signer -> [sum of face-centre x, frames]
        tiers = EafTiers(class_names, options.eaf_probabilities, occlusion=hands_on, model_used=signers_on or hands_on, extras=schema.extras) if eaf_tmp is not None else None
        nmm_tracks = None
        if nmm is not None:
            from signfer.nonmanual.tracks import Tracks

            nmm_tracks = Tracks(nmm.thresholds)

        def drop_overlay(exc: BaseException) -> None:
            """The overlay failed (codec, disk): discard it alone (its temporary file), keep the CSV / JSON / EAF."""
            nonlocal ovl
            ovl = None
            outputs.pop("overlay", None)
            ovl_stack.__exit__(type(exc), exc, exc.__traceback__)
            notes.append(f"overlay not written: {exc}")

        def finalize(fr: FrameData) -> None:
            nonlocal n_analysed
            n_analysed += 1
            frame_rows = schema.rows(fr)
            for row in frame_rows:
                counts[row["status"]] = counts.get(row["status"], 0) + 1
                if team_eaf is not None and row.get("face_x1") is not None:  # --participants: screen side of each signer
                    sx = side_x.setdefault(row.get("signer_id") or "", [0.0, 0])
                    sx[0], sx[1] = sx[0] + (row["face_x1"] + row["face_x2"]) / 2, sx[1] + 1
                if row.get("model_used") is not None:
                    model_counts[row["model_used"]] = model_counts.get(row["model_used"], 0) + 1
                if csv_w is not None:
                    csv_w.write(row)
                if json_w is not None:
                    json_w.write(schema.record(row))
                if collect:
                    rows.append(row)
            if tiers is not None:
                tiers.push(fr.time_ms, frame_rows, schema.smoothed)
            if nmm_tracks is not None:
                nmm_tracks.push(fr.time_ms, frame_rows)
            if ovl is not None:
                image = fr.image
                if overlay_frames is not None:
                    image = next(overlay_frames).image
                if image is not None:
                    try:
                        ovl.write(image, frame_rows)
                    except (OSError, cv2.error) as exc:  # a full disk, a codec that fails
                        drop_overlay(exc)
            fr.image = None

        last_pushed = None
        for fr in frames_iter:
            last_pushed = fr.time_ms
            for done in post.push(fr):
                finalize(done)
            if not options.two_pass:
                bar.update()
        end_ms = (last_pushed or 0.0) + (step_ms or 1.0)
        for done in post.finish(end_ms):
            finalize(done)
        post_segments = post.segments
        order = [""] if not signers_on else (chosen if chosen is not None else sorted(post_segments, key=_id_key))
        signer_segments = {s: post_segments.get(s, []) for s in order}
        segments = sorted((seg for segs in signer_segments.values() for seg in segs), key=lambda s: (s.start_ms, s.label))
        nmm_tiers = nmm_parts = nmm_events = None
        if nmm_tracks is not None:
            from signfer.annotate.elan import signer_tier
            from signfer.nonmanual.tracks import event_tiers

            nmm_tiers, nmm_parts, nmm_events = event_tiers(nmm_tracks, order, signer_tier)
        summary = {"frames": n_analysed, **{f"rows_{k}" if signers_on else f"frames_{k}": v for k, v in counts.items()}, "segments": len(segments), "end_ms": end_ms}
        notes = [*reader.notes, *notes]  # how the file was read (stream chosen, times repaired) first
        if reader.repaired_times:
            summary["timestamps_repaired"] = list(reader.repaired_times)
        if json_w is not None:
            more = {}
            if signers_on:
                more["signer_ids"] = order
            if options.calibration.enabled:
                more["baselines"] = baseline_info
            if options.calibration.enabled or notes:
                more["notes"] = notes
            if nmm_events is not None:
                more["nonmanual_events"] = nmm_events
            json_w.close(signer_segments if signers_on else segments, summary, **more)
        if eaf_tmp is not None:
            named, parts = tiers.tiers(signer_segments, end_ms, order)
            linked = []
            if nmm_tiers is not None:
                named, parts = {**named, **nmm_tiers}, {**parts, **nmm_parts}
            if "curves" in outputs:
                from signfer.nonmanual.tracks import write_timeseries

                csv_tmp = stack.enter_context(atomic_path(outputs["curves"]))
                ts_tmp = stack.enter_context(atomic_path(outputs["tsconf"]))
                write_timeseries(nmm_tracks, csv_tmp, ts_tmp, order, csv_url=outputs["curves"])
                linked = [(outputs["curves"], "text/csv"), (outputs["tsconf"], "text/xml")]
            props = {"signfer_model": full.source or full.spec.arch, "signfer_media": str(Path(path).resolve())}
            if signers_on:  # retraining follows the signers again as this run did
                props["signfer_max_missing_s"] = f"{options.signers.max_missing_s:g}"
            if info.kind == "video":
                props["signfer_media_duration_ms"] = f"{(info.frame_count or 0) * info.frame_ms:.0f}" if info.frame_count else f"{end_ms:.0f}"
                if info.frame_count:
                    props["signfer_media_frames"] = str(info.frame_count)
            if team_eaf is not None:
                mean_x = {s: v[0] / v[1] for s, v in side_x.items() if s and v[1]}
                names = participants_by_side(options.eaf_into.participants, mean_x, info.width)
                if names:  # which signer ID each participant's tiers hold (signer IDs are what --from-elan follows)
                    props["signfer_participants"] = ",".join(f"{p}={sid}" for p, sid in sorted((p, sid) for sid, p in names.items()))
                named, parts = rename_signers(named, parts, names)
                enrich_eaf(team_eaf, named, eaf_tmp, participants=parts, annotator=signfer_annotator(props["signfer_model"]), properties=props)
            else:
                write_tiers(eaf_tmp, named, media=path if info.kind == "video" else None, participants=parts, properties=props, linked_files=linked)
            # the temporary file sits beside the final one, so the media's relative path holds
        if ovl is not None:
            try:
                ovl.close()
            except (OSError, cv2.error) as exc:
                drop_overlay(exc)
    frames = None
    if collect:
        frames = pd.DataFrame(rows, columns=schema.columns)
        frames.attrs["segments"] = {s: [x.to_dict() for x in v] for s, v in signer_segments.items()} if signers_on else [s.to_dict() for s in segments]
        frames.attrs["model"] = full.describe()
        frames.attrs["media"] = header["media"]
    return AnnotationResult(str(path), name, info, full.describe(), counts, segments, outputs, time.perf_counter() - started, frames,
                            signer_segments, [s for s in order if s], baseline_info, notes, n_analysed, model_counts)  # fmt: skip


def _describe_model(rec) -> dict:
    return {"source": rec.source, "backend": rec.backend, "detector": rec.detector_name, "detect_scale": rec.detect_scale,
            "min_face_score": rec.min_face_score, "spec": rec.spec.to_dict()}  # fmt: skip


def _id_key(signer_id: str):
    digits = "".join(ch for ch in signer_id if ch.isdigit())
    return (int(digits) if digits else 0, signer_id)


def _progress(enabled: bool, info: MediaInfo, options: AnnotationOptions, name: str):
    from tqdm.auto import tqdm

    total = None if not info.frame_count else math.ceil(info.frame_count / (options.every if info.kind == "video" else 1))
    return tqdm(total=total, desc=name, unit="frame", disable=not enabled, leave=False)
