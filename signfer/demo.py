"""``signfer demo``: the main job on real face photos that ship with the dependencies (no downloads).

Step 1 (preprocessing): scikit-image's astronaut and matplotlib's Grace Hopper photo go through
the 2025 pipeline (``easier2025``: MTCNN, square, x1.1, equalise, level the eyes; full face and
both halves) and the 2022 one (``sltat2022``: Haar crop).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

#: (preset, region) pairs the demo preprocesses
DEMO_PREPROCESSING = [("easier2025", "full"), ("easier2025", "upper"), ("easier2025", "lower"), ("sltat2022", "full")]


def demo_photos() -> dict[str, np.ndarray]:
    """Real face photos available offline: ``astronaut.png`` (scikit-image), ``grace_hopper.jpg`` (matplotlib)."""
    import matplotlib.cbook
    from skimage import data

    from signfer.io import read_image

    return {
        "astronaut.png": data.astronaut(),
        "grace_hopper.jpg": read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
    }


def write_demo_photos(folder: str | os.PathLike) -> Path:
    """Write :func:`demo_photos` into ``folder``; returns it."""
    from signfer.io import write_image

    folder = Path(folder)
    for name, rgb in demo_photos().items():
        write_image(folder / name, rgb)
    return folder


def demo_preprocessing(out: str | os.PathLike) -> dict[tuple[str, str], pd.DataFrame]:
    """Preprocess the demo photos with each of :data:`DEMO_PREPROCESSING` into ``out/faces/<preset>/<region>``."""
    from signfer.faces.pipeline import preprocess_path

    out = Path(out)
    photos = write_demo_photos(out / "photos")
    manifests = {}
    for preset, region in DEMO_PREPROCESSING:
        dest = out / "faces" / preset / region
        manifest = preprocess_path(photos, dest, preset=preset, region=region, progress=False)
        ok = int((manifest["status"] == "ok").sum())
        print(f"{preset:>10} {region:<5}: {ok}/{len(manifest)} faces -> {dest}  (manifest: {dest / 'manifest.csv'})")
        manifests[(preset, region)] = manifest
    return manifests


def run_demo(out: str | os.PathLike = "signfer-demo") -> dict:
    """Run every demo step into ``out``, printing where the results went; returns them by step."""
    out = Path(out)
    print(f"signfer demo -> {out.resolve()}")
    print("1. face preprocessing (real photos: scikit-image astronaut, matplotlib grace_hopper.jpg)")
    results = {"preprocessing": demo_preprocessing(out)}
    print("2. video annotation (offline FER2013 model): the astronaut photo moving through a short clip, then a real face video")
    from signfer.inference.democlip import demo_annotation

    results["annotation"] = demo_annotation(out / "annotation")
    return results


__all__ = ["run_demo", "demo_photos", "write_demo_photos", "demo_preprocessing", "DEMO_PREPROCESSING"]
