"""Faces: detect, crop, normalise and align (the preprocessing stage).

    >>> from signfer.faces import get_detector, preprocess_image, preprocess_path
    >>> crop = preprocess_image(rgb, "easier2025")          # FaceCrop or None
    >>> manifest = preprocess_path("photos/", "crops/", preset="sltat2022", region="upper")

Names are imported on first use, so ``import signfer.faces`` stays cheap.
"""

from __future__ import annotations

import importlib

from signfer.faces.types import Face, FaceCrop

_LAZY = {
    "detect": ("get_detector", "pick_face"),
    "presets": ("Preset", "get_preset", "list_presets"),
    "preprocessing": ("preprocess", "preprocess_image", "preprocess_path"),
    "transforms": (
        "square_box", "zoom_box", "crop_box", "equalize_histogram", "standardize_channels",
        "eye_angle", "align_eyes", "face_region", "resize_face",
    ),
}  # fmt: skip
_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"signfer.faces.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'signfer.faces' has no attribute {name!r}")


__all__ = ["Face", "FaceCrop", *_WHERE]
