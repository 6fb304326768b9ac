"""A tiny timm model trained in seconds on synthetic faces whose expression is only in the lower half."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

SIZE = 64


def load_synthetic(root, seed: int, n_sequences: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic FePh images with the signal in the lower half, resized to SIZE, and their codes."""
    from signfer.data.synthetic import make_synthetic_feph
    from signfer.io import read_image

    make_synthetic_feph(root, n_sequences=n_sequences, frames_per_sequence=4, signal_region="lower", seed=seed, awkward_rows=False)
    df = pd.read_csv(root / "FePh_labels.csv")
    images = np.stack([cv2.resize(read_image(root / "FePh_images" / name), (SIZE, SIZE), interpolation=cv2.INTER_AREA) for name in df["External ID"]])
    return images, df["Facial_label"].astype(int).to_numpy()


@dataclass
class TrainedLowerModel:
    model: torch.nn.Module
    spec: object
    train_images: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


@pytest.fixture(scope="session")
def lower_model(tmp_path_factory) -> TrainedLowerModel:
    """timm ``test_efficientnet`` (0.1 M parameters) trained 40 Adam steps on lower-half synthetic faces."""
    import timm

    from signfer.models.spec import ModelSpec

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        root = tmp_path_factory.mktemp("lower")
        x_train, y_train = load_synthetic(root / "train", seed=0, n_sequences=35)
        x_test, y_test = load_synthetic(root / "test", seed=1, n_sequences=14)
        spec = ModelSpec("test_efficientnet", [str(c) for c in range(7)], input_size=SIZE, preset="none")
        model = timm.create_model("test_efficientnet", num_classes=7)
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        xt, yt = torch.from_numpy(spec.normalize(x_train).copy()), torch.from_numpy(y_train.copy())
        gen = torch.Generator().manual_seed(0)
        model.train()
        for _ in range(40):
            idx = torch.randint(0, len(xt), (32,), generator=gen)
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
    finally:
        torch.set_num_threads(threads)
    return TrainedLowerModel(model, spec, x_train, x_test, y_test)
