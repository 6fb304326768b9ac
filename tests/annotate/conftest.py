"""Fixtures for the annotation tests: short clips of a real face (skimage's astronaut) with a list file naming them,
and `signfer train`-style run directories of a tiny model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def make_clips(folder: Path, frames, start: int = 0) -> list[Path]:
    """Clips ``clip<start>.avi``, ... of the astronaut's face moving (one per entry of ``frames``, that many frames;
    odd ones with a blank frame)."""
    from skimage import data

    from signfer.samples.demo_clip import make_moving_face_clip

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, n in enumerate(frames, start):
        path = folder / f"clip{i}.avi"
        make_moving_face_clip(path, data.astronaut(), n_frames=n, blank=(2,) if i % 2 else ())
        paths.append(path)
    return paths


def write_list(paths, listing: Path) -> Path:
    listing.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
    return listing


def run_cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "signfer.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    return make_clips(tmp_path_factory.mktemp("clips"), [6, 8, 5])


def tiny_checkpoint(path: Path, seed: int) -> Path:
    """A randomly initialised FER mini-Xception (64 px grayscale, MTCNN preprocessing) saved as a signfer checkpoint."""
    import torch

    from signfer.data.labels import EMOTIONS7
    from signfer.models.checkpoint import save_checkpoint
    from signfer.models.registry import create_model
    from signfer.models.spec import ModelSpec

    torch.manual_seed(seed)
    model = create_model("fer_mini_xception", len(EMOTIONS7)).eval()
    spec = ModelSpec(arch="fer_mini_xception", class_names=list(EMOTIONS7), input_size=64, normalization="minus_one_one",
                     grayscale=True, preset="easier2025", preset_overrides={}, region="full")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, spec)
    return path
