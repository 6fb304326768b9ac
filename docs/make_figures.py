"""Make the figures under docs/images/ from real photos (run: ``python docs/make_figures.py``).

Each figure is one function; ``main`` makes them all. No downloads: the photos ship with
scikit-image and matplotlib, the MTCNN weights with the ``mtcnn`` package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from signfer.io import atomic_path  # noqa: E402

IMAGES = Path(__file__).resolve().parent / "images"


def preprocessing_figure(path: Path = IMAGES / "preprocessing.png", tilt: float = 12.0) -> Path:
    """The 2025 pipeline step by step on the astronaut photo, turned by ``tilt`` degrees so the
    alignment shows: detection, square x1.1 crop, equalised, aligned, upper and lower half."""
    from skimage import data

    from signfer.faces import transforms as T
    from signfer.faces.detect import get_detector
    from signfer.faces.preprocessing import crop_box_for, preprocess
    from signfer.faces.presets import get_preset

    photo = data.astronaut()
    turn = cv2.getRotationMatrix2D((224.0, 118.0), tilt, 1.0)
    photo = cv2.warpAffine(photo, turn, photo.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    preset = get_preset("easier2025")
    face = get_detector(preset.detector, **preset.detector_options).detect(photo)[0]

    box = crop_box_for(face, preset)
    crop = T.crop_box(photo, box, preset.padding)
    equalised = T.equalize_histogram(crop)
    shift = T.translation(-box[0], -box[1])
    left, right = (tuple(p) for p in T.transform_points([face.left_eye, face.right_eye], shift))
    aligned = T.align_eyes(equalised, left, right)
    upper = preprocess(photo, face, preset, "upper").pixels
    lower = preprocess(photo, face, preset, "lower").pixels

    fig, axes = plt.subplots(1, 6, figsize=(15, 3.1), gridspec_kw={"width_ratios": [1.5, 1, 1, 1, 1, 1]})
    ax = axes[0]
    view = photo[0:330, 60:400]
    ax.imshow(view, extent=(60, 400, 330, 0))
    for b, style, label in [(face.box, "-", "MTCNN box"), (box, "--", "square x1.1")]:
        ax.add_patch(plt.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ls=style, lw=1.5, color="yellow" if style == "-" else "cyan", label=label))
    eyes = np.array([face.left_eye, face.right_eye])
    ax.plot(eyes[:, 0], eyes[:, 1], "o-", color="red", ms=4, lw=1, label=f"eyes ({T.eye_angle(left, right):+.1f}°)")
    ax.legend(loc="lower left", fontsize=7, framealpha=0.8)
    ax.set_title(f"input (turned {tilt:g}°) + detection", fontsize=9)
    panels = [
        (crop, f"square x{preset.zoom:g} crop ({crop.shape[1]} px)"),
        (equalised, "equalised R, G, B"),
        (aligned, f"eyes levelled (rotated {-T.eye_angle(left, right):+.1f}°)"),
        (upper, f"upper half {upper.shape[1]}x{upper.shape[0]}"),
        (lower, f"lower half {lower.shape[1]}x{lower.shape[0]}"),
    ]
    for ax, (img, title) in zip(axes[1:], panels):
        ax.imshow(img)
        ax.set_title(title, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("easier2025 preprocessing: detect -> square x1.1 -> crop -> equalise -> level the eyes -> 224 px (full / halves)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


FIGURES = [preprocessing_figure]


def main(argv: list[str] | None = None) -> int:
    for make in FIGURES:
        print(make())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
