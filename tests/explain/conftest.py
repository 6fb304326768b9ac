"""A tiny k-fold run (timm ``test_efficientnet``, 64 px) trained with ``signfer cv`` on synthetic faces whose
expression is drawn only in the lower half, shared by the explain tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

@dataclass
class LowerRun:
    run_dir: Path
    data: Path
    recipe: Path
    cache: Path


@dataclass
class LowerModel:
    model: torch.nn.Module
    spec: object
    test_crops: np.ndarray
    test_labels: np.ndarray


@pytest.fixture(scope="session")
def lower_run(tmp_path_factory) -> LowerRun:
    from signfer.samples.feph_layout import make_synthetic_feph
    from signfer.experiments.examples import write_toy_recipe
    from signfer.training.cv import run_cv

    root = tmp_path_factory.mktemp("lower_run")
    data = make_synthetic_feph(root / "feph", n_sequences=28, frames_per_sequence=4, signal_region="lower", seed=0, awkward_rows=False)
    recipe = write_toy_recipe(root / "tiny-lower.yaml", folds=2)
    threads = torch.get_num_threads()
    try:
        run_cv(recipe, data, root / "run", progress=False, threads=1, cache_dir=root / "crops")
    finally:
        torch.set_num_threads(threads)
    return LowerRun(root / "run", data, recipe, root / "crops")


@pytest.fixture(scope="session")
def lower_model(lower_run) -> LowerModel:
    """Fold 0's best model of :func:`lower_run` and its test crops (64 x 64 RGB) with their class indices."""
    from signfer.data.dataset import FaceDataset
    from signfer.data.folds import fold_split, load_folds
    from signfer.data.feph import load_feph
    from signfer.models.checkpoint import load_checkpoint

    model, spec, _ = load_checkpoint(lower_run.run_dir / "fold_0" / "best.pt")
    df, _ = load_feph(lower_run.data, "sltat2022")
    _, test = fold_split(load_folds(lower_run.run_dir / "folds.csv", df), 0)
    ds = FaceDataset(test, spec.class_names, preset=spec.preset, size=spec.input_size, cache_dir=lower_run.cache)
    crops = np.stack([ds.crop(i) for i in range(len(ds))])
    return LowerModel(model, spec, crops, ds.labels)
