"""Helpers for the scaling tests: a free TCP port, running a command in a fresh process, a tiny model and short clips."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **kw.pop("env", {})}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, **kw)


def torchrun(nproc: int, *args) -> list:
    """``python -m torch.distributed.run`` with ``nproc`` local processes on a free port (CPU, gloo)."""
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
            "--master_port", str(free_port()), *map(str, args)]


@pytest.fixture
def signfer_cmd():
    return [sys.executable, "-m", "signfer.cli"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised FER mini-Xception (64 px grayscale) with the 2025 preprocessing (MTCNN, eyes levelled)."""
    import torch

    from signfer.data.labels import EMOTIONS7
    from signfer.models.checkpoint import save_checkpoint
    from signfer.models.registry import create_model
    from signfer.models.spec import ModelSpec

    torch.manual_seed(0)
    model = create_model("fer_mini_xception", len(EMOTIONS7)).eval()
    spec = ModelSpec(arch="fer_mini_xception", class_names=list(EMOTIONS7), input_size=64, normalization="minus_one_one",
                     grayscale=True, preset="easier2025-refined", preset_overrides={}, region="full")
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, model, spec)
    return path


@pytest.fixture(scope="module")
def onnx_model(tiny_checkpoint) -> Path:
    """The tiny model with its ONNX exports (classifier, MTCNN) cached, as after a first `signfer annotate`."""
    import numpy as np

    from signfer.inference.recognizer import Recognizer

    Recognizer.from_pretrained(tiny_checkpoint, backend="onnx", threads=1).predict(np.zeros((120, 100, 3), np.uint8))
    return tiny_checkpoint


def make_clips(folder: Path, frames: Sequence[int]) -> Path:
    """Short clips of the astronaut's face moving (one per entry of ``frames``, that many frames) and a list file naming them."""
    from skimage import data

    from signfer.samples.demo_clip import make_moving_face_clip

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, n in enumerate(frames):
        make_moving_face_clip(folder / f"clip{i}.avi", data.astronaut(), n_frames=n, blank=(2,) if i % 2 else ())
        names.append(f"clip{i}.avi")
    listing = folder / "corpus.txt"
    listing.write_text("\n".join(names) + "\n", encoding="utf-8")
    return listing
