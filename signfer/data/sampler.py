"""Training-order samplers that reproduce published code: EASIER-EkmanClassifier's weighted sampler as it runs.

``base/base_data_loader.py`` (``BaseDataLoader._split_sampler`` with ``is_imbalanced_classes=True``) does::

    idx_full = np.arange(self.n_samples); np.random.seed(0); np.random.shuffle(idx_full)
    len_valid = int(self.n_samples * split)
    self.dataset.reorder_samples(idx_full)                 # the whole training file, shuffled
    idx_full_in_order = np.arange(self.n_samples)
    valid_idx = idx_full_in_order[0:len_valid]; train_idx = np.delete(idx_full_in_order, np.arange(0, len_valid))
    train_sample_weights = self.dataset.get_sample_weights(train_idx)
    train_sampler = WeightedRandomSampler(train_sample_weights, len(train_sample_weights), replacement=True)

and ``get_sample_weights`` gives sample i the ``compute_class_weight('balanced', classes=np.unique(labels), y=labels)``
entry at index ``int(label_i)``. The sampler draws indices ``0 .. n_train - 1`` and the loader reads those rows
of the WHOLE reordered set: rows ``0 .. len_valid - 1`` are the validation rows (about 10 % of the draws), the last
``len_valid`` training rows are never drawn, and row j is drawn with the weight of row ``j + len_valid``'s class, so
the class mix stays near the natural one (with ``split == 0.0`` the code uses no sampler: a plain shuffle). signfer's ``sampler: balanced`` is what the code meant;
``sampler: published-2025`` (recipe ``easier2025-published``) is what it did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from signfer.errors import OptionError


def published_2025_order(train_part: pd.DataFrame, val_fraction: float) -> tuple[pd.DataFrame, int]:
    """The training file reordered as ``reorder_samples(idx_full)`` leaves it, and ``len_valid``.

    Rows ``0 .. len_valid - 1`` of the result are the validation rows (the same rows as
    :func:`signfer.data.folds.easier2025_validation_split`), the rest the training rows, in the shuffled order.
    ``train_part`` must be in the labels file's row order.
    """
    if not 0 < val_fraction < 1:
        raise OptionError(f"sampler published-2025 needs a validation split (0 < val_fraction < 1), got {val_fraction}")
    idx = np.arange(len(train_part))
    np.random.RandomState(0).shuffle(idx)  # np.random.seed(0); np.random.shuffle(idx_full)
    return train_part.iloc[idx].reset_index(drop=True), int(len(train_part) * val_fraction)


def published_2025_weights(labels_in_order, len_valid: int) -> np.ndarray:
    """``train_sample_weights``: for each training row (rows ``len_valid ..`` of the reordered set) the balanced
    class weight indexed by its label value (``class_weights[int(labels_array[i])]``); length ``n - len_valid``.

    The sampler uses entry j as the weight of row j of the whole set (not of row ``j + len_valid``)."""
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels_in_order)[len_valid:]
    if len(labels) == 0:
        raise OptionError("sampler published-2025: no training rows after the validation rows")
    classes = np.unique(labels)
    per_class = compute_class_weight(class_weight="balanced", classes=classes, y=labels)
    if labels.max() >= len(per_class):
        raise OptionError(f"sampler published-2025: class {int(labels.max())} is present but only {len(per_class)} classes "
                          "are; the published code indexes its class weights by label value and would fail here")
    return per_class[labels.astype(int)]


__all__ = ["published_2025_order", "published_2025_weights"]
