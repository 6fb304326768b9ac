"""A torch Dataset over a reader's DataFrame: cached face crops -> model input tensors."""

from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from signfer.data.cache import CropCache
from signfer.data.labels import get_classes, label_indices
from signfer.errors import OptionError


def _default_normalize(batch: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [0, 1]."""
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


class FaceDataset(Dataset):
    """Items ``(float32 tensor (C, H, W), int label index)`` for the rows of ``df``.

    ``df``: a reader's DataFrame (columns ``path`` and ``label``); ``class_names``: the label
    order (tuple, or ``7`` / ``8`` / a vocabulary name); a label outside it raises
    ``ValueError``. Crops come from a :class:`~signfer.data.cache.CropCache` for (``preset``,
    ``overrides``, ``region``, ``size``) under ``cache_dir``. ``normalize``: callable on an
    (N, H, W, 3) uint8 batch returning (N, C, H, W) float32, usually ``ModelSpec.normalize``;
    default: scale to [0, 1]. ``hflip``: flip each crop horizontally with probability 0.5
    (training data only), drawn from torch's random generator, which ``torch.manual_seed``
    seeds in the main process and the DataLoader seeds in each worker (pass
    ``generator=torch.Generator().manual_seed(seed)`` to the DataLoader for runs that repeat
    exactly). ``memory_mb``: decoded crops are kept in memory up to this many MiB (default
    ``$SIGNFER_CROP_MEMORY_MB`` or 1024; 0 = read the disk cache every time), so epochs after
    the first decode nothing. A DataLoader batch is built in one pass (:meth:`__getitems__`:
    one normalisation of the stacked batch) with the same flips as item by item.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        class_names: Sequence[str] | int | str,
        preset="none",
        region: str = "full",
        size: int = 224,
        normalize: Callable[[np.ndarray], np.ndarray] | None = None,
        hflip: bool = False,
        overrides: dict | None = None,
        cache_dir: str | os.PathLike | bool | None = None,
        memory_mb: float | None = None,
    ):
        missing = [c for c in ("path", "label") if c not in df.columns]
        if missing:
            raise OptionError(f"data table lacks column(s) {missing}; has {list(df.columns)}")
        self.df = df.reset_index(drop=True)
        self.class_names = get_classes(class_names)
        self.labels = label_indices(self.df["label"], self.class_names)
        self.paths = [str(p) for p in self.df["path"]]
        self.cache = CropCache(preset, region=region, size=size, overrides=overrides, cache_dir=cache_dir)
        self.normalize = normalize or _default_normalize
        self.hflip = bool(hflip)
        if memory_mb is None:
            memory_mb = float(os.environ.get("SIGNFER_CROP_MEMORY_MB", 1024))
        self._memory_left = int(float(memory_mb) * 2**20)
        self._memory: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def crop(self, index: int) -> np.ndarray:
        """The cached RGB uint8 crop of row ``index`` (no flip, no normalisation; read-only when kept in memory)."""
        pixels = self._memory.get(index)
        if pixels is None:
            pixels = self.cache.get(self.paths[index])
            if pixels.nbytes <= self._memory_left:
                pixels.setflags(write=False)
                self._memory[index] = pixels
                self._memory_left -= pixels.nbytes
        return pixels

    def _flip(self) -> bool:
        """This item's random flip (one draw of torch's generator per item when ``hflip`` is on)."""
        return bool(self.hflip and torch.rand(()) < 0.5)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        pixels = self.crop(index)
        if self._flip():
            pixels = pixels[:, ::-1]
        x = self.normalize(np.ascontiguousarray(pixels)[None])[0]
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), int(self.labels[index])

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        """Items ``indices`` (a DataLoader batch): the crops flipped and stacked, normalised in one call."""
        crops = []
        for index in indices:  # crop, then its flip draw: the order of item-by-item loading
            pixels = self.crop(index)
            crops.append(pixels[:, ::-1] if self._flip() else pixels)
        if len({c.shape for c in crops}) > 1:  # crops of different sizes cannot be stacked
            return [(torch.from_numpy(self.normalize(np.ascontiguousarray(c)[None])[0]), int(self.labels[i]))
                    for c, i in zip(crops, indices)]
        x = torch.from_numpy(np.ascontiguousarray(self.normalize(np.stack(crops)), dtype=np.float32))
        return [(x[k], int(self.labels[i])) for k, i in enumerate(indices)]

    def class_counts(self) -> np.ndarray:
        """Images per class, in ``class_names`` order."""
        return np.bincount(self.labels, minlength=len(self.class_names))

    def prepare(self, progress: bool = False) -> pd.DataFrame:
        """Compute every crop now (see :meth:`CropCache.prepare`); rows ``path, status, reason``."""
        return self.cache.prepare(self.paths, progress=progress)
