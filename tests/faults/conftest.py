"""Fixtures of the fault corpus tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A random FER mini-Xception that takes the whole frame as the face (preset none: no detector), so tests stay fast."""
    import torch

    from signfer.data.labels import EMOTIONS7
    from signfer.models.checkpoint import save_checkpoint
    from signfer.models.registry import create_model
    from signfer.models.spec import ModelSpec

    torch.manual_seed(0)
    spec = ModelSpec(arch="fer_mini_xception", class_names=list(EMOTIONS7), input_size=64, normalization="minus_one_one",
                     grayscale=True, preset="none", preset_overrides={}, region="full")
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, create_model("fer_mini_xception", len(EMOTIONS7)).eval(), spec)
    return path
