"""Inference: the ``Recognizer`` facade, the classifier and the ONNX Runtime wrapper: models that read face crops.

Annotating videos is :mod:`signfer.annotate`; ``signfer export`` is :mod:`signfer.export`.

    >>> from signfer.inference import Recognizer
    >>> rec = Recognizer.from_pretrained("fer2013")     # offline model, ONNX Runtime on CPU
    >>> df = rec.annotate_video("clip.mp4", smooth=5)   # one row per frame

Names are imported on first use, so ``import signfer.inference`` stays cheap.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "recognizer": ("Recognizer", "Prediction"),
    "onnx": ("OnnxClassifier", "read_spec"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"signfer.inference.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'signfer.inference' has no attribute {name!r}")


__all__ = list(_WHERE)
