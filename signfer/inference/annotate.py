"""Annotating videos, image folders and images: per-frame rows, smoothing, segments, exports.

The pipeline streams: frames are decoded in batches, faces detected in batches (or, with
``detect_every > 1``, detected every N-th analysed frame and followed by template tracking in
between), preprocessed with the model's preset and classified in batches. Rows go straight to
the CSV / JSON writers and segments are built on the fly, so memory stays flat however long
the video is (only ``collect=True``, used by ``Recognizer.annotate_video``, keeps the rows).

A frame's ``status``: ``ok`` (a face, classified), ``no_face`` (the detector found none; a
preset's ``no_face: whole_image`` policy is meant for face-crop data sets and is not applied
to video frames), ``error`` (the frame could not be read or processed; ``error`` says why).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from signfer.faces.types import Face
from signfer.inference.export import (
    EAF_PROBABILITY_MODES,
    CsvWriter,
    JsonWriter,
    OverlayWriter,
    ProbabilityTiers,
    frame_columns,
    frame_record,
    write_eaf,
)
from signfer.inference.segments import Segment, SegmentBuilder
from signfer.inference.smoothing import Smoothing, StreamingSmoother
from signfer.inference.tracking import FaceTracker
from signfer.inference.video import MediaInfo, MediaReader, open_media
from signfer.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, DoneMarkers, InputError, atomic_path, atomic_write, file_fingerprint, find_media, refuse_overwrite

FORMATS = ("csv", "json", "eaf")
SUMMARY_FILE = "annotate_summary.csv"


@dataclass
class AnnotationOptions:
    """How to annotate: analyse every ``every``-th frame; detect faces every ``detect_every``-th
    analysed frame (tracking in between); ``smoothing``; segments shorter than ``min_duration_ms``
    dropped; ``fps`` of image inputs; ``eaf_probabilities`` (``segments`` | ``frames`` | ``none``).
    ``detect_near``: in videos, detect around the previous analysed frame's face first
    (:meth:`Recognizer.detect_near`; the same faces, a fraction of the cost), the whole frame when
    none is found there and on every :data:`FULL_DETECT_EVERY`-th detection, so a new, larger face is found."""

    every: int = 1
    detect_every: int = 1
    batch_size: int = 16
    smoothing: Smoothing = field(default_factory=Smoothing)
    min_duration_ms: float = 0.0
    fps: float | None = None
    eaf_probabilities: str = "segments"
    detect_near: bool = True

    def __post_init__(self):
        if self.every < 1 or self.detect_every < 1 or self.batch_size < 1:
            raise ValueError("every, detect_every and batch_size must be >= 1")
        if self.eaf_probabilities not in EAF_PROBABILITY_MODES:
            raise ValueError(f"eaf_probabilities must be one of {', '.join(EAF_PROBABILITY_MODES)}")

    @classmethod
    def from_kwargs(cls, smooth: int = 1, smooth_method: str = "moving", **kw) -> "AnnotationOptions":
        return cls(smoothing=Smoothing(smooth_method, smooth), **kw)

    def to_dict(self) -> dict:
        return {
            "every": self.every,
            "detect_every": self.detect_every,
            "batch_size": self.batch_size,
            "smoothing": {"method": self.smoothing.method, "window": self.smoothing.window},
            "min_duration_ms": self.min_duration_ms,
            "eaf_probabilities": self.eaf_probabilities,
            "detect_near": self.detect_near,
        }


@dataclass
class FrameResult:
    """What the pipeline found in one analysed frame."""

    frame: int
    time_ms: float
    status: str
    source: str = ""
    error: str = ""
    face: Face | None = None
    tracked: bool = False
    probs: np.ndarray | None = None
    smoothed: np.ndarray | None = None
    image: np.ndarray | None = None  # kept only for the overlay video
    # [extra outputs] the model's extra per-image values (spec.extra_outputs, e.g. valence/arousal), raw and smoothed
    extras: np.ndarray | None = None
    smoothed_extras: np.ndarray | None = None


@dataclass
class AnnotationResult:
    """One annotated input: counts, segments, the files written and (``collect=True``) the rows."""

    path: str
    name: str
    info: MediaInfo
    model: str
    counts: dict[str, int]
    segments: list[Segment]
    outputs: dict[str, Path]
    seconds: float
    frames: pd.DataFrame | None = None

    @property
    def n_frames(self) -> int:
        return sum(self.counts.values())


# --------------------------------------------------------------------------- the frame pipeline
def analyse_frames(recognizer, reader: MediaReader, options: AnnotationOptions, keep_images: bool = False) -> Iterator[FrameResult]:
    """Decode, detect (or track), preprocess and classify, batch by batch; one result per analysed frame.

    With ONNX Runtime on more than one CPU thread, a batch's faces are preprocessed and classified in a
    background thread while the next batch is decoded and its faces detected or tracked (OpenCV and
    ONNX Runtime release the GIL), so the two halves of the pipeline share the cores instead of taking
    turns. Results and their order are the same either way.
    """
    detect_every = options.detect_every if reader.info.kind == "video" else 1  # images are unrelated to each other
    extra_names = list(getattr(recognizer, "extra_names", []))
    tracker = FaceTracker() if detect_every > 1 else None
    near = options.detect_near and reader.info.kind == "video" and hasattr(recognizer, "detect_near")
    n_seen = 0
    last: list = [None, 0]  # the last analysed frame's face, detections since the last whole-frame one

    def locate(batch: list) -> list[FrameResult]:
        """Decoded frames -> results with the face of each frame (detected or tracked), not yet classified."""
        nonlocal n_seen
        results = [FrameResult(f.index, f.time_ms, "error" if f.image is None else "no_face", f.source, f.error or "") for f in batch]
        scheduled = []
        for k, f in enumerate(batch):
            if f.image is None:
                continue
            if tracker is None or n_seen % detect_every == 0:
                scheduled.append(k)
            n_seen += 1
        if near:
            detections = _detect_near_safely(recognizer, [batch[k].image for k in scheduled], results, scheduled, last)
        else:
            detections = _detect_safely(recognizer, [batch[k].image for k in scheduled], results, scheduled)
        for k, f in enumerate(batch):
            res = results[k]
            if f.image is None or res.status == "error":
                continue
            try:
                if k in detections:
                    face = detections[k]
                    if tracker is not None:
                        tracker.reset(f.image, face)
                else:
                    face = tracker.track(f.image) if tracker is not None and tracker.active else None
                    res.tracked = face is not None
                    if face is None:
                        face = recognizer.detect(f.image)
                        if tracker is not None:
                            tracker.reset(f.image, face)
                res.face = face
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the video
                res.status, res.error, res.face = "error", f"{type(exc).__name__}: {exc}", None
            last[0] = res.face
        return results

    def classify(batch: list, results: list[FrameResult]) -> list[FrameResult]:
        """Crop and classify the faces found by :func:`locate` (in place); returns ``results``."""
        crops, crop_idx = [], []
        for k, (f, res) in enumerate(zip(batch, results)):
            if res.face is None or res.status == "error":
                continue
            try:
                crops.append(recognizer.crop(f.image, res.face).pixels)
                crop_idx.append(k)
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the video
                res.status, res.error, res.face = "error", f"{type(exc).__name__}: {exc}", None
        if crops:
            if extra_names:  # [extra outputs] the model's extra values ride along with the probabilities
                probs, extras = recognizer.classify_full(np.stack(crops))
                extra_rows = np.stack([extras[n] for n in extra_names], axis=1)
                for k, e in zip(crop_idx, extra_rows):
                    results[k].extras = e
            else:
                probs = recognizer.classify(np.stack(crops))
            for k, p in zip(crop_idx, probs):
                results[k].status, results[k].probs = "ok", p
        if keep_images:
            for f, res in zip(batch, results):
                res.image = f.image
        return results

    batches = reader.batches(options.batch_size, options.every)
    if not _classify_in_background(recognizer):
        for batch in batches:
            yield from classify(batch, locate(batch))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="signfer-classify") as pool:
        pending = None  # the previous batch, being classified
        for batch in batches:
            job = pool.submit(classify, batch, locate(batch))
            if pending is not None:
                yield from pending.result()
            pending = job
        if pending is not None:
            yield from pending.result()


def _classify_in_background(recognizer) -> bool:
    """Overlap classification with the rest of the pipeline: ONNX Runtime (no spin-waiting threads, GIL
    released) with more than one CPU thread. Eager PyTorch is left inline: its OpenMP threads spin-wait
    and slow down badly when they share the cores with other work."""
    threads = getattr(recognizer, "threads", None)
    return getattr(recognizer, "backend", "") == "onnxruntime" and (threads is None or threads > 1) and (os.cpu_count() or 1) > 1


def _detect_safely(recognizer, images: list, results: list[FrameResult], scheduled: list[int]) -> dict[int, Face | None]:
    if not images:
        return {}
    try:
        return dict(zip(scheduled, recognizer.detect_batch(images)))
    except Exception:  # noqa: BLE001 - retry frame by frame to isolate the bad one
        out = {}
        for k, img in zip(scheduled, images):
            try:
                out[k] = recognizer.detect(img)
            except Exception as exc:  # noqa: BLE001
                results[k].status, results[k].error = "error", f"face detection failed: {type(exc).__name__}: {exc}"
        return out


#: with ``AnnotationOptions.detect_near``, every this many detections one searches the whole frame
FULL_DETECT_EVERY = 25


def _detect_near_safely(recognizer, images: list, results: list[FrameResult], scheduled: list[int], last: list) -> dict[int, Face | None]:
    """Detect frame after frame around the previous frame's face (``last[0]``); the whole frame when there
    is none and on every :data:`FULL_DETECT_EVERY`-th detection (``last[1]`` counts them)."""
    out = {}
    for k, img in zip(scheduled, images):
        try:
            if last[0] is None or last[1] >= FULL_DETECT_EVERY - 1:
                face, last[1] = recognizer.detect(img), 0
            else:
                face, last[1] = recognizer.detect_near(img, last[0]), last[1] + 1
        except Exception as exc:  # noqa: BLE001 - one bad frame must not end the video
            results[k].status, results[k].error = "error", f"face detection failed: {type(exc).__name__}: {exc}"
            face = None
        out[k] = last[0] = face
    return out


# --------------------------------------------------------------------------- rows
def _r(v, nd):
    return None if v is None else round(float(v), nd)


def frame_row(res: FrameResult, class_names: list[str], smoothed: bool, with_source: bool, extra_names: Sequence[str] = ()) -> dict:
    row = {"frame": res.frame, "time_ms": round(res.time_ms, 3), "status": res.status, "error": res.error or None}
    if with_source:
        row["source"] = res.source
    face = res.face
    if face is not None:
        row.update(zip(("face_x1", "face_y1", "face_x2", "face_y2"), (round(float(v), 2) for v in face.box)))
        row["face_score"] = _r(face.score, 4)
        row["tracked"] = res.tracked
        if face.left_eye is not None:
            row["left_eye_x"], row["left_eye_y"] = _r(face.left_eye[0], 2), _r(face.left_eye[1], 2)
        if face.right_eye is not None:
            row["right_eye_x"], row["right_eye_y"] = _r(face.right_eye[0], 2), _r(face.right_eye[1], 2)
    for prefix, probs in (("", res.probs), ("smooth_", res.smoothed if smoothed else None)):
        if probs is None:
            continue
        k = int(np.argmax(probs))
        row[f"{prefix}label"], row[f"{prefix}confidence"] = class_names[k], round(float(probs[k]), 6)
        row.update({f"{prefix}p_{c}": round(float(p), 6) for c, p in zip(class_names, probs)})
    # [extra outputs] raw and smoothed values, one column each
    for prefix, values in (("", res.extras), ("smooth_", res.smoothed_extras if smoothed else None)):
        if values is not None:
            row.update({f"{prefix}{n}": round(float(v), 6) for n, v in zip(extra_names, values)})
    return row


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
) -> AnnotationResult:
    """Annotate one video, image folder or image.

    With ``out_dir``, writes ``<name>.csv``, ``<name>.json``, ``<name>.eaf`` (as ``formats``
    says) and, with ``overlay`` (videos only), ``<name>.overlay.mp4``; all appear together when
    the input is done, none on failure. ``collect=True`` also returns the rows as a DataFrame.
    Raises :class:`InputError` naming the file when it cannot be read (also when a video turns
    out to be truncated part-way).
    """
    options = options or AnnotationOptions()
    formats = [f.lower() for f in formats]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    started = time.perf_counter()
    class_names = recognizer.class_names
    extra_names = list(getattr(recognizer, "extra_names", []))  # [extra outputs]
    n_classes = len(class_names)
    smoothed = options.smoothing.enabled
    reader = open_media(path, fps=options.fps)
    info = reader.info
    name = name or Path(path).stem or "annotation"
    with_source = info.kind != "video"
    columns = frame_columns(class_names, smoothed, with_source, extra_names)
    step_ms = info.frame_ms * (options.every if info.kind == "video" else 1)
    header = {
        "media": {"path": str(Path(path).resolve()), "kind": info.kind, "fps": info.fps, "frame_count": info.frame_count, "width": info.width, "height": info.height, "decoder": info.backend},
        "model": {"source": recognizer.source, "backend": recognizer.backend, "detector": recognizer.detector_name, "detect_scale": recognizer.detect_scale, "min_face_score": recognizer.min_face_score, "spec": recognizer.spec.to_dict()},
        "options": options.to_dict(),
        "class_names": class_names,
    }
    if extra_names:  # [extra outputs]
        header["extra_outputs"] = extra_names
    outputs: dict[str, Path] = {}
    rows: list[dict] = []
    segments: list[Segment] = []
    counts = {"ok": 0, "no_face": 0, "error": 0}
    do_overlay = bool(out_dir) and overlay and info.kind == "video"
    with contextlib.ExitStack() as stack:
        stack.callback(reader.close)
        csv_w = json_w = eaf_tmp = ovl = None
        if out_dir is not None:
            out_dir = Path(out_dir)
            if "csv" in formats:
                outputs["csv"] = out_dir / f"{name}.csv"
                csv_w = CsvWriter(stack.enter_context(atomic_write(outputs["csv"])), columns)
            if "json" in formats:
                outputs["json"] = out_dir / f"{name}.json"
                json_w = JsonWriter(stack.enter_context(atomic_write(outputs["json"])), header)
            if "eaf" in formats:
                outputs["eaf"] = out_dir / f"{name}.eaf"
                eaf_tmp = stack.enter_context(atomic_path(outputs["eaf"]))
            if do_overlay:
                outputs["overlay"] = out_dir / f"{name}.overlay.mp4"
            refuse_overwrite(outputs.values(), [path], writes="annotations")
            if do_overlay:
                ovl_tmp = stack.enter_context(atomic_path(outputs["overlay"]))
                ovl = OverlayWriter(ovl_tmp, info.fps / options.every, class_names, smoothed)
                stack.callback(ovl.close)  # runs before the rename (LIFO)
        smoother = StreamingSmoother(options.smoothing)
        builder = SegmentBuilder(options.min_duration_ms)
        tiers = ProbabilityTiers(class_names) if eaf_tmp is not None and options.eaf_probabilities == "frames" else None
        # [extra outputs] one numeric EAF tier per extra output, per frame (equal rounded neighbours merged)
        extra_tiers = ProbabilityTiers(extra_names) if eaf_tmp is not None and extra_names else None
        last_time = [None]

        def finalize(res: FrameResult) -> None:
            counts[res.status] = counts.get(res.status, 0) + 1
            probs = res.smoothed if smoothed else res.probs
            k = None if probs is None else int(np.argmax(probs))
            segments.extend(builder.push(res.frame, res.time_ms, None if k is None else class_names[k], float("nan") if k is None else float(probs[k]), probs))
            if tiers is not None:
                tiers.push(res.time_ms, probs)
            if extra_tiers is not None:
                extra_tiers.push(res.time_ms, res.smoothed_extras if smoothed else res.extras)
            row = frame_row(res, class_names, smoothed, with_source, extra_names)
            if csv_w is not None:
                csv_w.write(row)
            if json_w is not None:
                json_w.write(frame_record(row, class_names, smoothed, extra_names))
            if ovl is not None and res.image is not None:
                ovl.write(res.image, row)
            if collect:
                rows.append(row)
            last_time[0] = res.time_ms
            res.image = None

        bar = _progress(progress, info, options, name)

        def smoothed_parts(item: FrameResult, sm) -> None:
            # [extra outputs] probabilities and extra values are smoothed together, as one vector
            item.smoothed = None if sm is None else sm[:n_classes]
            item.smoothed_extras = None if sm is None or not extra_names else sm[n_classes:]

        def joint(res: FrameResult):
            if not extra_names or res.probs is None or res.extras is None:
                return res.probs
            return np.concatenate([res.probs, res.extras])

        for res in analyse_frames(recognizer, reader, options, keep_images=ovl is not None):
            for item, sm in smoother.push(res, joint(res)):
                smoothed_parts(item, sm)
                finalize(item)
            bar.update()
        for item, sm in smoother.flush():
            smoothed_parts(item, sm)
            finalize(item)
        bar.close()
        end_ms = (last_time[0] or 0.0) + (step_ms or 1.0)
        segments.extend(builder.finish(end_ms))
        if tiers is not None:
            tiers.finish(end_ms)
        if extra_tiers is not None:
            extra_tiers.finish(end_ms)
        summary = {"frames": sum(counts.values()), **{f"frames_{k}": v for k, v in counts.items()}, "segments": len(segments), "end_ms": end_ms}
        if json_w is not None:
            json_w.close(segments, summary)
        if eaf_tmp is not None:
            write_eaf(
                eaf_tmp,
                segments,
                class_names,
                media=path if info.kind == "video" else None,
                probabilities=options.eaf_probabilities,
                frame_tiers=tiers,
                value_tiers=extra_tiers,
                properties={"signfer_model": recognizer.source or recognizer.spec.arch, "signfer_media": str(Path(path).resolve())},
            )  # the temporary file sits beside the final one, so the media's relative path holds
        if ovl is not None:
            ovl.close()
    frames = None
    if collect:
        frames = pd.DataFrame(rows, columns=columns)
        frames.attrs["segments"] = [s.to_dict() for s in segments]
        frames.attrs["model"] = recognizer.describe()
        frames.attrs["media"] = header["media"]
    return AnnotationResult(str(path), name, info, recognizer.describe(), counts, segments, outputs, time.perf_counter() - started, frames)


def _progress(enabled: bool, info: MediaInfo, options: AnnotationOptions, name: str):
    from tqdm.auto import tqdm

    total = None if not info.frame_count else math.ceil(info.frame_count / (options.every if info.kind == "video" else 1))
    return tqdm(total=total, desc=name, unit="frame", disable=not enabled, leave=False)


# --------------------------------------------------------------------------- many inputs (signfer annotate)
def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Videos and images as given; a folder gives its videos (each an input) and, if it holds images, itself
    (an image sequence). Missing paths stay in the list (their error is reported in turn)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            media = find_media(p, VIDEO_SUFFIXES | IMAGE_SUFFIXES)  # one walk of the folder
            videos = [q for q in media if q.suffix.lower() in VIDEO_SUFFIXES]
            has_images = len(videos) < len(media)
            out += videos
            if has_images or not videos:
                out.append(p)
        else:
            out.append(p)
    return out


def unique_names(paths: list[Path]) -> list[str]:
    """Output base names for ``paths``: the file stem, with ``-2``, ``-3`` ... for repeated stems."""
    names, seen = [], {}
    for p in paths:
        base = p.stem if p.suffix else p.name
        base = base or "annotation"
        n = seen.get(base, 0)
        seen[base] = n + 1
        names.append(base if n == 0 else f"{base}-{n + 1}")
    return names


def annotate_inputs(
    inputs: Sequence[str | os.PathLike],
    model: str = "fer2013",
    out: str | os.PathLike = "annotations",
    *,
    formats: Sequence[str] = FORMATS,
    overlay: bool = False,
    every: int = 1,
    detect_every: int = 1,
    smooth: int = 1,
    smooth_method: str = "moving",
    min_duration_ms: float = 0.0,
    eaf_probabilities: str = "segments",
    fps: float | None = None,
    batch_size: int = 16,
    backend: str | None = None,
    device: str = "cpu",
    detector: str | None = None,
    detect_scale: float = 1.0,
    min_face_score: float | None = None,
    fold: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> int:
    """``signfer annotate``: annotate every input into ``out``; a failed input is reported and skipped.

    Writes ``out/<name>.{csv,json,eaf}`` per input and ``out/annotate_summary.csv`` (one row per
    input: status, frame counts, outputs, error). Returns 0 when every input was annotated, 1 otherwise.
    """
    from signfer.inference.recognizer import Recognizer

    unknown = sorted(set(f.lower() for f in formats) - set(FORMATS))
    if unknown or not (formats or overlay):
        raise ValueError(f"unknown or no output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)} (comma-separated)")
    options = AnnotationOptions(
        every=every,
        detect_every=detect_every,
        batch_size=batch_size,
        smoothing=Smoothing(smooth_method, smooth),
        min_duration_ms=min_duration_ms,
        fps=fps,
        eaf_probabilities=eaf_probabilities,
    )
    rec = Recognizer.from_pretrained(model, device=device, backend=backend, fold=fold, detector=detector, detect_scale=detect_scale, threads=threads, batch_size=batch_size, min_face_score=min_face_score)
    log(f"model: {rec.describe()}")
    out = Path(out)
    paths = expand_inputs(inputs)
    defaults = {"frames": 0, "frames_ok": 0, "frames_no_face": 0, "frames_error": 0, "segments": 0, "seconds": None}

    def summarize(path, res):
        c = res.counts
        fields = dict(frames=res.n_frames, frames_ok=c.get("ok", 0), frames_no_face=c.get("no_face", 0), frames_error=c.get("error", 0), segments=len(res.segments), seconds=round(res.seconds, 2))
        fps_txt = f", {res.n_frames / res.seconds:.1f} frames/s" if res.seconds > 0 else ""
        message = (f"{path}: {res.n_frames} frames ({c.get('ok', 0)} with a face, {c.get('no_face', 0)} without, {c.get('error', 0)} errors), "
                   f"{len(res.segments)} segments{fps_txt}")
        return fields, message

    def annotate_one(path, name):
        return annotate_media(rec, path, out, formats=formats, overlay=overlay, options=options, name=name, progress=progress)

    settings = dict(model=rec.describe(), model_file=file_fingerprint(rec.source), options=options.to_dict(), formats=sorted(formats),
                    overlay=overlay, detect_scale=detect_scale, min_face_score=min_face_score)
    return annotate_each(paths, out, annotate_one, summarize, defaults, log, done=DoneMarkers(out, settings))


def annotate_each(paths: list[Path], out: Path, annotate_one: Callable, summarize: Callable, defaults: dict, log: Callable[[str], None] = print,
                  done: DoneMarkers | None = None) -> int:
    """Annotate every input with ``annotate_one(path, name)``; a failed input is reported and skipped, never stops the others.

    ``summarize(path, result) -> (fields, message)`` gives the summary fields and the log line of a success;
    ``defaults`` the fields of a row before (or without) a result. Writes ``out/annotate_summary.csv`` (one row
    per input: status, ``defaults``' fields, outputs, error). Returns 0 when every input was annotated, 1 otherwise.
    With ``done``, inputs whose outputs are complete from an earlier run with the same settings are skipped
    (status ``skipped``), so a rerun after an interruption continues.
    """
    summary = []
    for path, name in zip(paths, unique_names(paths)):
        row = {"input": str(path), "name": name, "status": "ok", **defaults, "outputs": "", "error": ""}
        finished = done.complete(name, path) if done is not None else None
        if finished:
            row.update(status="skipped", outputs=" ".join(map(str, finished)), error="outputs complete from an earlier run with the same settings")
            log(f"{path}: skipped, its outputs are complete from an earlier run with the same settings (delete them to redo it)")
            summary.append(row)
            continue
        try:
            res = annotate_one(path, name)
        except (InputError, ValueError) as exc:
            row.update(status="error", error=str(exc))
            log(f"error: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
            row.update(status="error", error=f"{path}: {type(exc).__name__}: {exc}")
            log(f"error: {row['error']}")
        else:
            fields, message = summarize(path, res)
            outputs = [str(p) for p in res.outputs.values()]
            row.update(fields, outputs=" ".join(outputs))
            log(f"{message} -> {', '.join(outputs)}")
            if done is not None:
                done.mark(name, path, res.outputs.values())
        summary.append(row)
    table = pd.DataFrame(summary, columns=list(summary[0]) if summary else ["input", "name", "status", *defaults, "outputs", "error"])
    with atomic_write(out / SUMMARY_FILE) as fh:
        table.to_csv(fh, index=False)
    failed = int((table["status"] == "error").sum())
    log(f"{len(table) - failed} of {len(table)} inputs annotated; summary {out / SUMMARY_FILE}")
    return 0 if failed == 0 else 1
