"""sampler: published-2025 against EASIER-EkmanClassifier's BaseDataLoader._split_sampler, transcribed, with one seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import WeightedRandomSampler

TINY = Path(__file__).with_name("tiny.yaml")


class CodeDataset:
    """FaceExpressionPhoenixDataset's reorder_samples / get_sample_weights (data_loader/data_loaders.py), labels only."""

    def __init__(self, names, labels):
        self.image_inputs, self.labels = list(names), np.asarray(labels)

    def reorder_samples(self, new_idxs):
        self.image_inputs = [self.image_inputs[i] for i in new_idxs]
        self.labels = self.labels[new_idxs]

    def get_sample_weights(self, idxs):
        labels_array = self.labels[idxs]
        class_weights = compute_class_weight(class_weight="balanced", classes=np.unique(labels_array), y=labels_array)
        sampler_weights = np.zeros(len(labels_array))
        for i in range(len(labels_array)):
            sampler_weights[i] = class_weights[int(labels_array[i])]
        return sampler_weights


def code_draws(dataset: CodeDataset, split: float, generator: torch.Generator) -> list[str]:
    """base/base_data_loader.py _split_sampler(split, is_imbalanced_classes=True), then one epoch of the train sampler."""
    n_samples = len(dataset.labels)
    idx_full = np.arange(n_samples)
    np.random.seed(0)
    np.random.shuffle(idx_full)
    len_valid = int(n_samples * split)
    dataset.reorder_samples(idx_full)
    idx_full_in_order = np.arange(n_samples)
    train_idx = np.delete(idx_full_in_order, np.arange(0, len_valid))
    train_sample_weights = dataset.get_sample_weights(train_idx)
    train_sampler = WeightedRandomSampler(train_sample_weights, len(train_sample_weights), replacement=True, generator=generator)
    return [dataset.image_inputs[i] for i in train_sampler]  # the DataLoader reads dataset[i]


class Rows(torch.utils.data.Dataset):
    def __init__(self, df: pd.DataFrame):
        self.labels = df["y"].to_numpy()
        self.names = df["source_id"].tolist()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return i, int(self.labels[i])


@pytest.fixture(scope="module")
def training_file():
    rng = np.random.default_rng(3)
    labels = rng.permutation(np.repeat([0, 1, 2, 3], [240, 100, 40, 20]))  # 400 rows, imbalanced, file order
    return pd.DataFrame({"source_id": [f"img{i:03d}" for i in range(len(labels))], "y": labels})


def signfer_draws(df: pd.DataFrame, seed: int, val_fraction: float = 0.1):
    from signfer.data.sampler import published_2025_order
    from signfer.training.loop import make_loader
    from signfer.training.recipes import load_recipe

    recipe = load_recipe(TINY, ["sampler=published-2025", "split=easier2025", f"val_fraction={val_fraction}", "batch_size=16"])
    ordered, valid_rows = published_2025_order(df, recipe.val_fraction)
    ds = Rows(ordered)
    loader = make_loader(ds, recipe, True, generator=torch.Generator().manual_seed(seed), valid_rows=valid_rows)
    drawn = [ds.names[int(i)] for batch, _ in loader for i in batch]
    return drawn, ordered, valid_rows


@pytest.mark.parametrize("seed", [0, 7])
def test_draws_are_the_codes(training_file, seed):
    want = code_draws(CodeDataset(training_file["source_id"], training_file["y"]), 0.1, torch.Generator().manual_seed(seed))
    drawn, _, _ = signfer_draws(training_file, seed)
    assert drawn == want and len(drawn) == 360


def test_what_the_published_sampler_does_to_the_training_order(training_file):
    from signfer.data.folds import easier2025_validation_split

    drawn, ordered, valid_rows = signfer_draws(training_file, 0)
    assert valid_rows == 40
    val = set(ordered["source_id"][:valid_rows])
    assert val == set(easier2025_validation_split(training_file, 0.1)[1]["source_id"])  # the code's validation rows
    never = set(ordered["source_id"][-valid_rows:])
    share_val = np.mean([d in val for d in drawn])
    assert 0.04 < share_val < 0.2  # validation images are trained on (about 10 % of the draws)
    assert not never & set(drawn)  # the last 10 % of the training rows are never drawn
    # the class mix: the misaligned weights leave it near the natural one, far from balanced (25 % each)
    label = dict(zip(training_file["source_id"], training_file["y"]))
    mix = np.bincount([label[d] for d in drawn], minlength=4) / len(drawn)
    natural = np.bincount(training_file["y"], minlength=4) / len(training_file)
    assert abs(mix - natural).max() < abs(mix - 0.25).max()
    assert mix[0] > 0.4  # the largest class (60 % of the rows) stays the majority; balanced would give 25 %


def test_published_sampler_needs_the_codes_split():
    from signfer.errors import OptionError
    from signfer.training.recipes import load_recipe

    with pytest.raises(OptionError, match="split easier2025"):
        load_recipe(TINY, ["sampler=published-2025"])
    assert load_recipe("easier2025-published").sampler == "published-2025"
