"""The preprocessing stage: image -> detected face -> normalised crop, for one image or a whole folder.

``preprocess`` applies a :class:`~signfer.faces.presets.Preset` to a face already found;
``preprocess_image`` also detects it; ``preprocess_path`` runs over files and folders
(``signfer preprocess``), writing the crops in the input's relative layout and a manifest.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pandas as pd

from signfer.errors import OptionError, UserError
from signfer.faces import transforms as T
from signfer.faces.presets import Preset, get_preset
from signfer.faces.types import Face, FaceCrop
from signfer.io import (
    IMAGE_SUFFIXES,
    InputError,
    atomic_write,
    check_exists,
    find_media,
    read_image,
    refuse_overwrite,
    resolve,
    write_image,
)

#: columns of OUTPUT/manifest.csv; coordinates are in the source image, ``angle`` is the
#: rotation applied to level the eyes (degrees, counter-clockwise positive).
MANIFEST_COLUMNS = [
    "source", "output", "status", "reason", "width", "height",
    "face_x1", "face_y1", "face_x2", "face_y2", "score",
    "left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y",
    "crop_x1", "crop_y1", "crop_x2", "crop_y2", "angle", "preset", "region",
]  # fmt: skip

FEPH_IMAGES, FEPH_LABELS = "FePh_images", "FePh_labels.csv"


# --------------------------------------------------------------------------- one face
def _as_preset(preset: str | os.PathLike | Preset) -> Preset:
    return preset if isinstance(preset, Preset) else get_preset(preset)


def crop_box_for(face: Face, preset: Preset) -> T.Box:
    """The box the preset cuts around ``face``: squared and zoomed as it says, in whole pixels."""
    box = T.square_box(face.box) if preset.square else face.box
    return tuple(float(v) for v in T.pixel_box(T.zoom_box(box, preset.zoom)))


def normalize_colour(img: np.ndarray, preset: Preset) -> np.ndarray:
    """The preset's colour step: ``equalize``, ``standardize`` or ``none``."""
    if preset.colour == "equalize":
        return T.equalize_histogram(img)
    if preset.colour == "standardize":
        return T.standardize_channels(img, preset.clip_sd)
    return img


def region_split_row(face: Face, to_crop: np.ndarray, preset: Preset) -> float | None:
    """Row of the eye-mouth midline in the (aligned) crop, or None for the middle."""
    mouth = [face.landmarks.get("mouth_left"), face.landmarks.get("mouth_right")]
    if preset.region_split != "landmarks" or not face.has_eyes or None in mouth:
        return None
    eyes_y = T.transform_points([face.left_eye, face.right_eye], to_crop)[:, 1].mean()
    mouth_y = T.transform_points(mouth, to_crop)[:, 1].mean()
    return float(eyes_y + mouth_y) / 2


def preprocess(img: np.ndarray, face: Face, preset: str | Preset = "easier2025", region: str = "full") -> FaceCrop:
    """Crop, normalise, align and resize ``face`` of the RGB image ``img`` as ``preset`` says."""
    preset = _as_preset(preset)
    if region not in T.REGIONS:
        raise OptionError(f"region must be one of {T.REGIONS}, got {region!r}")
    box = crop_box_for(face, preset)
    pixels = T.crop_box(img, box, preset.padding)
    to_crop = T.translation(-box[0], -box[1])  # source -> crop coordinates
    if preset.colour_order == "before_rotation":
        pixels = normalize_colour(pixels, preset)
    angle = 0.0
    if preset.align and face.has_eyes:
        left, right = T.transform_points([face.left_eye, face.right_eye], to_crop)
        pixels, rotation = T.level_eyes(pixels, tuple(left), tuple(right), preset.rotate_about, preset.rotate_filter)
        angle = -T.eye_angle(tuple(left), tuple(right))
        to_crop = T.compose(rotation, to_crop)
    if preset.colour_order == "after_rotation":
        pixels = normalize_colour(pixels, preset)
    split = region_split_row(face, to_crop, preset) if region != "full" else None
    pixels = T.resize_face(T.face_region(pixels, region, split), preset.output_shape(region), preset.resize)
    return FaceCrop(pixels=pixels, box=box, angle=angle, face=face, preset=preset.name, region=region)


# --------------------------------------------------------------------------- detection
_DETECTORS: dict[tuple, object] = {}


def cached_detector(name: str, options: dict | None = None):
    """``get_detector(name, **options)``, built once per process."""
    key = (name, json.dumps(options or {}, sort_keys=True, default=str))
    if key not in _DETECTORS:
        from signfer.faces.detect import get_detector

        _DETECTORS[key] = get_detector(name, **(options or {}))
    return _DETECTORS[key]


def detector_for(preset: Preset):
    """The preset's face detector, built once per process."""
    return cached_detector(preset.detector, preset.detector_options)


def whole_image_face(img: np.ndarray) -> Face:
    h, w = img.shape[:2]
    return Face(box=(0.0, 0.0, float(w), float(h)), score=0.0)


def preprocess_image(img: np.ndarray, preset: str | Preset = "easier2025", detector=None, region: str = "full") -> FaceCrop | None:
    """Detect the face in ``img`` and preprocess it. ``detector``: a detector object, a detector
    name, or ``None`` for the preset's.

    Without a face: ``None`` when ``preset.no_face == "skip"``; with ``"whole_image"`` the
    whole image is used (no square, zoom or rotation; ``"whole_image_as_is"``: no colour step either)
    and the crop's ``face`` is ``None``.
    """
    from signfer.faces.detect import confident_faces, pick_face

    preset = _as_preset(preset)
    if detector is None:
        detector = detector_for(preset)
    elif isinstance(detector, str):
        detector = cached_detector(detector)
    faces = confident_faces(detector.detect(img), detector, preset.min_face_score)  # the same floor as Recognizer / annotate
    face = pick_face(faces, preset.face_choice)
    if face is not None:
        return preprocess(img, face, preset, region)
    if preset.no_face == "skip":
        return None
    whole = dataclasses.replace(preset, square=False, zoom=1.0, align=False)
    if preset.no_face == "whole_image_as_is":  # the 2025 code: the whole frame, not equalised
        whole = dataclasses.replace(whole, colour="none")
    return dataclasses.replace(preprocess(img, whole_image_face(img), whole, region), face=None)


# --------------------------------------------------------------------------- files and folders
def list_inputs(source: str | os.PathLike, output: str | os.PathLike) -> tuple[Path, list[Path]]:
    """(root, image files below it): an image, a folder (recursive) or a FePh folder; ``output`` is left out."""
    check_exists(source)
    source, output = resolve(source), resolve(output)
    if output == (source.parent if source.is_file() else source):
        raise OptionError(f"OUTPUT {output} is the input folder: the crops would overwrite the source images; choose another folder")
    if source.is_file():
        return source.parent, [source]
    files = [p for p in find_media(source, IMAGE_SUFFIXES) if output not in p.resolve().parents]
    return source, files


def _row(source: str, **values) -> dict:
    row = dict.fromkeys(MANIFEST_COLUMNS, None)
    row.update(source=source, **values)
    return row


def _crop_values(crop: FaceCrop) -> dict:
    values = dict(zip(("crop_x1", "crop_y1", "crop_x2", "crop_y2"), crop.box), angle=round(crop.angle, 2))
    face = crop.face
    if face is not None:
        values.update(zip(("face_x1", "face_y1", "face_x2", "face_y2"), (round(float(v), 2) for v in face.box)))
        values["score"] = round(float(face.score), 4)
        if face.has_eyes:
            eyes = (*face.left_eye, *face.right_eye)
            values.update(zip(("left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y"), (round(float(v), 2) for v in eyes)))
    return values


def process_file(path: Path, rel: str, out_root: Path, preset: Preset, region: str) -> dict:
    """Preprocess one file into ``out_root / rel``; the manifest row, never an exception."""
    common = dict(preset=preset.name, region=region)
    try:
        img = read_image(path)
        size = dict(width=img.shape[1], height=img.shape[0])
        crop = preprocess_image(img, preset, region=region)
        if crop is None:
            return _row(rel, status="no_face", reason=f"no face found by the {preset.detector} detector", **size, **common)
        write_image(out_root / rel, crop.pixels)
        reason = "no face found; whole image used" if crop.face is None else ""
        return _row(rel, output=rel, status="ok", reason=reason, **size, **_crop_values(crop), **common)
    except InputError as exc:
        return _row(rel, status="error", reason=exc.reason, **common)
    except Exception as exc:  # noqa: BLE001 - a bad file must never stop the run
        return _row(rel, status="error", reason=f"{type(exc).__name__}: {exc}", **common)


def _process_job(job: tuple) -> dict:
    return process_file(*job)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def _worker_context(preset: Preset):
    """Worker processes start from a fork server that has imported the detector once
    (``spawn`` where there is no fork server, e.g. Windows)."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    modules = [__name__, "signfer.faces.detect", f"signfer.faces.{preset.detector}"]  # e.g. signfer.faces.mtcnn
    context.set_forkserver_preload([m for m in modules if _module_exists(m)])
    return context


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _run_jobs(jobs: list[tuple], workers: int, progress: bool) -> list[dict]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="preprocess", unit="img", disable=not progress)
    rows: list[dict] = []
    try:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                rows.append(_process_job(job))
                bar.update()
            return rows
        chunk = max(1, min(16, len(jobs) // (workers * 4)))
        with ProcessPoolExecutor(workers, mp_context=_worker_context(jobs[0][3]), initializer=_init_worker) as pool:
            try:
                for row in pool.map(_process_job, jobs, chunksize=chunk):
                    rows.append(row)
                    bar.update()
            except BrokenProcessPool:
                reason = ("a worker process crashed or could not start (a script using workers > 1 needs "
                          "`if __name__ == '__main__':`); rerun with workers=1 to find the file")
                rows += [_row(job[1], status="error", reason=reason, preset=job[3].name, region=job[4]) for job in jobs[len(rows) :]]
        return rows
    finally:
        bar.close()


def _copy_feph_labels(root: Path, output: Path) -> None:
    """A FePh folder's labels file goes along, so OUTPUT is itself a FePh folder."""
    labels = root / FEPH_LABELS
    if (root / FEPH_IMAGES).is_dir() and labels.is_file():
        with open(labels, "rb") as src, atomic_write(output / FEPH_LABELS, "wb") as dst:
            shutil.copyfileobj(src, dst)


def checked_preset(preset: str | os.PathLike | Preset, overrides: dict | None = None) -> Preset:
    """The preset with ``overrides``, checked before any file is touched: its values and that its face detector
    can be built (an unknown detector or detector option would otherwise fail on every file)."""
    try:
        preset = get_preset(preset, **(overrides or {}))
        detector_for(preset)
    except UserError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise OptionError(f"invalid preprocessing settings: {msg}") from None
    return preset


def preprocess_path(
    input: str | os.PathLike,
    output: str | os.PathLike,
    preset: str | Preset = "easier2025",
    region: str = "full",
    overrides: dict | None = None,
    workers: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Preprocess an image, a folder (recursive) or a FePh folder into ``output``.

    Crops keep their relative path and file name (so label files still match; a ``.jpg`` source
    gives a ``.jpg`` crop) under ``output``; ``output/manifest.csv``
    gets one row per input file (:data:`MANIFEST_COLUMNS`; ``status`` ok / no_face / error
    with the ``reason``). A bad file is recorded and skipped, never stops the run.
    """
    preset = checked_preset(preset, overrides)
    if region not in T.REGIONS:
        raise OptionError(f"region must be one of {', '.join(T.REGIONS)}, got {region!r}")
    output = Path(output)
    root, files = list_inputs(input, output)
    jobs = [(path, path.relative_to(root).as_posix(), output, preset, region) for path in files]
    refuse_overwrite([output / job[1] for job in jobs] + [output / "manifest.csv", output / FEPH_LABELS], files, writes="crops")
    manifest = pd.DataFrame(_run_jobs(jobs, workers, progress), columns=MANIFEST_COLUMNS)
    with atomic_write(output / "manifest.csv", "w") as fh:
        manifest.to_csv(fh, index=False)
    _copy_feph_labels(root, output)
    return manifest


__all__ = [
    "MANIFEST_COLUMNS",
    "preprocess",
    "preprocess_image",
    "preprocess_path",
    "crop_box_for",
    "normalize_colour",
    "region_split_row",
    "detector_for",
    "cached_detector",
    "list_inputs",
    "process_file",
    "checked_preset",
]
