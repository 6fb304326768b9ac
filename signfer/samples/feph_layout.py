"""Small synthetic data sets in the real FePh layout, with a learnable visual signal.

Used by the tests, the benchmarks and the documentation examples: FePh itself cannot be
redistributed. Each image is a face-sized picture whose class is drawn as a coloured,
oriented bar (an "expression") in the upper half, the lower half or both
(``signal_region``), over a noisy skin-toned background. File names, CSV columns and the
awkward rows of the real labels file (missing ``.png`` suffix, multi-label codes, empty
labels, code 7, RGBA images) are reproduced.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

#: FePh codes 0-6 (0 neutral, 1 anger, 2 disgust, 3 fear, 4 happy, 5 sad, 6 surprise)
FEPH_SINGLE_CODES = tuple(range(7))

_COLOURS = [(230, 30, 30), (30, 200, 30), (40, 40, 230), (230, 230, 20), (220, 20, 220), (20, 220, 220), (250, 250, 250)]


def draw_expression(code: int, size: tuple[int, int], rng: np.random.Generator, signal_region: str = "full") -> np.ndarray:
    """An RGB uint8 image (h, w, 3) carrying the class ``code`` in ``signal_region``."""
    h, w = size
    img = np.empty((h, w, 3), np.float32)
    img[:] = (180, 140, 120)  # skin-ish
    img += rng.normal(0, 18, img.shape)
    halves = {"full": ("upper", "lower"), "upper": ("upper",), "lower": ("lower",)}[signal_region]
    for half in halves:
        cy = h * (0.27 if half == "upper" else 0.73) + rng.uniform(-0.04, 0.04) * h
        cx = w * 0.5 + rng.uniform(-0.06, 0.06) * w
        angle = np.deg2rad(code * 180.0 / 7.0 + rng.uniform(-6, 6))
        length = 0.32 * w
        dx, dy = np.cos(angle) * length, np.sin(angle) * length
        colour = np.array(_COLOURS[code % len(_COLOURS)], np.float32) * rng.uniform(0.85, 1.0)
        cv2.line(img, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), colour.tolist(), max(2, w // 14))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_synthetic_feph(
    root: str | Path,
    n_sequences: int = 21,
    frames_per_sequence: int = 4,
    size: tuple[int, int] = (52, 44),
    signal_region: str = "full",
    seed: int = 0,
    awkward_rows: bool = True,
) -> Path:
    """Write ``FePh_labels.csv`` and ``FePh_images/`` under ``root``; return ``root``.

    Sequence ``i`` shows class ``i % 7`` on all its frames, so grouped folds can be
    stratified. With ``awkward_rows`` a few extra rows reproduce the real file's
    quirks: a multi-label code (``"15"``), an empty label, code ``7``, an ID without
    the ``.png`` suffix and an RGBA image.
    """
    root = Path(root)
    images = root / "FePh_images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str]] = []

    def write(name: str, code: int, rgba: bool = False) -> None:
        rgb = draw_expression(code, size, rng, signal_region)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if rgba:
            bgr = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
        cv2.imwrite(str(images / name), bgr)

    for s in range(n_sequences):
        code = FEPH_SINGLE_CODES[s % 7]
        seq = f"{1 + s % 28:02d}January_2010_Thursday_tagesschau_default-{s}"
        for f in range(frames_per_sequence):
            name = f"{seq}.avi_pid0_fn{f * 7:06d}-0.png"
            rgba = awkward_rows and s == 1 and f == 0
            write(name, code, rgba=rgba)
            ext_id = name[:-4] if (awkward_rows and s == 2 and f == 0) else name
            rows.append((ext_id, str(code)))
    if awkward_rows:
        for k, label in enumerate(["15", "", "7", "36"]):
            name = f"28February_2011_Monday_heute_default-{k}.avi_pid0_fn000001-0.png"
            write(name, 0)
            rows.append((name, label))
    pd.DataFrame(rows, columns=["External ID", "Facial_label"]).to_csv(root / "FePh_labels.csv", index=False)
    return root


def make_synthetic_folder(
    root: str | Path,
    class_names=("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    videos_per_class: int = 3,
    frames_per_video: int = 2,
    size: tuple[int, int] = (40, 40),
    seed: int = 0,
) -> Path:
    """Write ``root/<class>/<video>/<frame>.png`` (the sub-folder is the video); return ``root``.

    Class folders are named as given (any spelling :func:`signfer.data.labels.canonical_label`
    accepts); the drawn class follows the canonical name's FePh code.
    """
    from signfer.data.labels import FEPH_CODES, canonical_label

    code_of = {v: k for k, v in FEPH_CODES.items()}
    root = Path(root)
    rng = np.random.default_rng(seed)
    for name in class_names:
        canon = canonical_label(name)
        code = code_of.get(canon, 7)
        for v in range(videos_per_class):
            d = root / name / f"{canon}_video{v}"
            d.mkdir(parents=True, exist_ok=True)
            for f in range(frames_per_video):
                rgb = draw_expression(code, size, rng)
                cv2.imwrite(str(d / f"frame{f:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return root


def make_synthetic_affectnet(root: str | Path, per_code: int = 3, size: tuple[int, int] = (40, 40), seed: int = 0) -> Path:
    """Write AffectNet's CSV layout (``Manually_Annotated_file_lists/{training,validation}.csv`` +
    ``Manually_Annotated_Images/``) with ``per_code`` training images for each code 0-10 and one
    validation image per code 0-7; return ``root``."""
    from signfer.data.labels import AFFECTNET_CODES, FEPH_CODES

    code_of = {v: k for k, v in FEPH_CODES.items()}
    root = Path(root)
    rng = np.random.default_rng(seed)
    cols = ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks", "expression", "valence", "arousal"]
    for split, n, codes in (("training", per_code, range(11)), ("validation", 1, range(8))):
        rows = []
        for code in codes:
            for i in range(n):
                rel = f"{code + 100}/{split}_{code}_{i}.jpg"
                path = root / "Manually_Annotated_Images" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                rgb = draw_expression(code_of.get(AFFECTNET_CODES.get(code, ""), 7), size, rng)
                cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                rows.append((rel, 2, 2, size[1] - 4, size[0] - 4, "1.0;2.0", code, 0.1, -0.2))
        (root / "Manually_Annotated_file_lists").mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows, columns=cols).to_csv(root / "Manually_Annotated_file_lists" / f"{split}.csv", index=False)
    return root
