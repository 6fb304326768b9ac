"""On-disk cache of preprocessed face crops, so k-fold runs detect each face only once.

A crop is stored under ``<cache_dir>/<preset name>-<preset key>-<region>-<size>/`` (the
preset key hashes every preset field, overrides included) in a file named by a hash of the
source file's absolute path, modification time and size: editing a source image, a preset
file or an override yields a new entry, never a stale crop. Each crop has a JSON sidecar
recording how it was made (``status``: ``face`` or ``whole_image`` = no face found, the
whole image used; box, angle).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from signfer.config import cache_dir as default_cache_dir
from signfer.io import InputError, atomic_write, read_image, write_image

CACHE_VERSION = 1


def _source_key(path: Path) -> str:
    st = path.stat()
    text = f"v{CACHE_VERSION}|{path.resolve()}|{st.st_mtime_ns}|{st.st_size}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class CropCache:
    """Preprocessed crops of image files for one (preset, overrides, region, size).

    ``preset``: name, YAML path or :class:`~signfer.faces.presets.Preset`; ``overrides``:
    preset fields to switch. Data sets hold images that must each give a crop, so unless
    ``overrides`` sets ``no_face``, a preset that skips an image without a detected face uses it whole
    (``no_face: whole_image``; a preset with ``whole_image_as_is`` keeps that) and records it as such. ``cache_dir``: folder of the cache
    (default ``signfer.config.cache_dir() / "crops"``); ``False`` keeps nothing on disk.
    """

    def __init__(self, preset="none", region: str = "full", size: int = 224, overrides: dict | None = None,
                 cache_dir: str | os.PathLike | bool | None = None):
        from signfer.faces.presets import get_preset

        overrides = dict(overrides or {})
        overrides["size"] = int(size)
        self.preset = get_preset(preset, **overrides)
        if "no_face" not in overrides and self.preset.no_face == "skip":  # whole_image_as_is (the 2025 code) stays
            self.preset = get_preset(self.preset, no_face="whole_image")
        self.region = region
        self.size = int(size)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.preset.name) or "preset"
        self.key = f"{name}-{self.preset.key()}-{region}-{self.size}"
        if cache_dir is False:
            self.root = None
        else:
            self.root = Path(cache_dir) if cache_dir not in (None, True) else default_cache_dir() / "crops"
            self.root = self.root / self.key

    # ------------------------------------------------------------------ entries
    def entry(self, path: str | os.PathLike) -> Path | None:
        """Where the crop of ``path`` is (or would be) stored; None without a disk cache."""
        path = Path(path)
        if self.root is None:
            return None
        if not path.is_file():
            raise InputError(path, "file does not exist")
        k = _source_key(path)
        return self.root / k[:2] / f"{k}.png"

    def _make(self, path: Path) -> tuple[np.ndarray, dict]:
        from signfer.faces.preprocessing import detector_for, preprocess_image

        img = read_image(path)
        crop = preprocess_image(img, self.preset, detector=detector_for(self.preset), region=self.region)
        if crop is None:
            raise InputError(path, f"no face found (preset {self.preset.name!r} has no_face: skip)")
        meta = {
            "source": str(Path(path).resolve()),
            "status": "face" if crop.face is not None else "whole_image",
            "box": [float(v) for v in crop.box],
            "angle": float(crop.angle),
            "preset": self.key,
            "region": self.region,
        }
        return crop.pixels, meta

    def get(self, path: str | os.PathLike) -> np.ndarray:
        """The RGB uint8 crop of the image file ``path`` (computed and stored on first use)."""
        return self.get_with_meta(path)[0]

    def get_with_meta(self, path: str | os.PathLike) -> tuple[np.ndarray, dict]:
        path = Path(path)
        entry = self.entry(path)
        if entry is not None and entry.exists():
            try:
                return read_image(entry), json.loads(entry.with_suffix(".json").read_text(encoding="utf-8"))
            except (InputError, OSError, ValueError):
                pass  # damaged entry: rebuild it
        pixels, meta = self._make(path)
        if entry is not None:
            with atomic_write(entry.with_suffix(".json")) as fh:  # sidecar first: a PNG means complete
                json.dump(meta, fh)
            write_image(entry, pixels)
        return pixels, meta

    def prepare(self, paths: Iterable[str | os.PathLike], progress: bool = False) -> pd.DataFrame:
        """Fill the cache for ``paths``; one row per path: ``path``, ``status`` (face / whole_image /
        error), ``reason``. A bad file is recorded, never stops the others."""
        from tqdm.auto import tqdm

        rows = []
        for p in tqdm(list(paths), desc=f"crops {self.key}", disable=not progress, unit="img"):
            try:
                _, meta = self.get_with_meta(p)
                rows.append((str(p), meta["status"], ""))
            except InputError as exc:
                rows.append((str(p), "error", exc.reason))
        return pd.DataFrame(rows, columns=["path", "status", "reason"])
