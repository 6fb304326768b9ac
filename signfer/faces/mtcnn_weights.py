"""MTCNN's source weights: the Keras arrays in the ``mtcnn`` 1.0.0 wheel (MIT), read without importing that package.

Used only to rebuild the shipped ONNX graphs (:mod:`signfer.export.assets`) and by the PyTorch nets
(:mod:`signfer.faces.mtcnn_nets`); detection itself runs the shipped graphs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

NET_NAMES = ("pnet", "rnet", "onet")


def weights_dir() -> Path:
    """The ``mtcnn/assets/weights`` folder of the installed ``mtcnn`` wheel, found without importing it."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the MTCNN weights come from the 'mtcnn' package (MIT), which is not installed: pip install mtcnn==1.0.0"
        )
    for root in spec.submodule_search_locations:
        folder = Path(root) / "assets" / "weights"
        if all((folder / f"{n}.lz4").is_file() for n in NET_NAMES):
            return folder
    raise FileNotFoundError(f"no {{pnet,rnet,onet}}.lz4 under {list(spec.submodule_search_locations)}/assets/weights")


def load_keras_weights(name: str) -> list[np.ndarray]:
    """The Keras weight arrays of one net (``pnet``, ``rnet`` or ``onet``) from the ``mtcnn`` wheel."""
    import joblib

    return [np.asarray(a, dtype=np.float32) for a in joblib.load(weights_dir() / f"{name}.lz4")]
