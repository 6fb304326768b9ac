"""Occlusion masks on aligned face crops: hide a face region and see what the model loses.

Regions are defined on the aligned, square face crop (``FaceCrop.pixels`` of a full-face
preset): ``upper`` / ``lower`` are the rows above / below the split line (``FaceLayout.split``:
the image middle, or the eye-mouth midline where the preset cuts its half-face models there),
``eyes`` is a box around both eyes and eyebrows, ``mouth`` a box around the mouth. The eye and
mouth positions come from a :class:`FaceLayout`: :data:`DEFAULT_LAYOUT` describes where they
fall in a crop made by the ``easier2025`` preset (square MTCNN box, zoomed x1.1, eyes
levelled); :func:`layout_for_preset` gives it per preset; :func:`layout_from_crop` maps a
crop's own detector landmarks into crop coordinates when they are known.

Fills: ``zero`` (black), ``gaussian`` (seeded Gaussian noise, mean 127.5, SD 64, clipped) and
``mean`` (the data set's mean colour, :func:`dataset_mean_colour` of the training crops).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from signfer.errors import OptionError
from signfer.faces.types import FaceCrop

REGIONS = ("upper", "lower", "eyes", "mouth")
FILLS = ("zero", "gaussian", "mean")

#: Gaussian fill: noise around mid-grey, clipped to 0..255.
NOISE_MEAN = 127.5
NOISE_STD = 64.0


@dataclass(frozen=True)
class FaceLayout:
    """Where the eyes and the mouth lie in an aligned crop, as fractions of its width / height.

    ``split`` is the row (fraction of the height) between the upper and the lower region.
    """

    eye_y: float = 0.38
    left_eye_x: float = 0.33
    right_eye_x: float = 0.67
    mouth_y: float = 0.71
    mouth_left_x: float = 0.35
    mouth_right_x: float = 0.65
    split: float = 0.5

    @property
    def eye_distance(self) -> float:
        return self.right_eye_x - self.left_eye_x

    def box(self, region: str) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)`` of ``region`` as fractions of the crop (x2, y2 exclusive)."""
        d = self.eye_distance
        if region == "upper":
            return (0.0, 0.0, 1.0, self.split)
        if region == "lower":
            return (0.0, self.split, 1.0, 1.0)
        if region == "eyes":  # both eyes and the eyebrows above them
            return (self.left_eye_x - 0.45 * d, self.eye_y - 0.6 * d, self.right_eye_x + 0.45 * d, self.eye_y + 0.3 * d)
        if region == "mouth":
            return (self.mouth_left_x - 0.3 * d, self.mouth_y - 0.3 * d, self.mouth_right_x + 0.3 * d, self.mouth_y + 0.35 * d)
        raise OptionError(f"unknown face region {region!r}; known: {', '.join(REGIONS)}")


#: Eye and mouth positions in an ``easier2025`` crop (MTCNN landmarks of frontal faces, e.g. the
#: astronaut and Grace Hopper photos, agree within 0.03).
DEFAULT_LAYOUT = FaceLayout()


def layout_from_crop(crop: FaceCrop, split: str | float = "landmarks") -> FaceLayout:
    """The layout of one full-face crop from its detector landmarks (eyes, ``mouth_left``/``mouth_right``).

    Landmarks are mapped from the source image into the crop exactly as
    :func:`signfer.faces.preprocessing.preprocess` moved the pixels (crop box, then the eye
    levelling rotation when ``crop.angle`` is not 0). Missing points fall back to
    :data:`DEFAULT_LAYOUT`. ``split``: ``"landmarks"`` = the eye-mouth midline (as the
    half-face models of the ``easier2025`` preset are cut), ``"middle"``, or a fraction.
    """
    from signfer.faces import transforms as T

    if crop.region != "full":
        raise OptionError(f"occlusion layouts are defined on full-face crops, not {crop.region!r} crops")
    face = crop.face
    layout = DEFAULT_LAYOUT
    if face is not None and face.has_eyes:
        x1, y1, x2, y2 = crop.box
        to_crop = T.translation(-x1, -y1)
        left, right = T.transform_points([face.left_eye, face.right_eye], to_crop)
        if crop.angle:
            to_crop = T.compose(T.eye_rotation(tuple(left), tuple(right)), to_crop)
        scale = np.array([x2 - x1, y2 - y1], float)

        def to_fraction(points) -> np.ndarray:
            return T.transform_points(points, to_crop) / scale

        (lx, ly), (rx, ry) = to_fraction([face.left_eye, face.right_eye])
        values = dict(eye_y=float(ly + ry) / 2, left_eye_x=float(lx), right_eye_x=float(rx))
        if "mouth_left" in face.landmarks and "mouth_right" in face.landmarks:
            (mlx, mly), (mrx, mry) = to_fraction([face.landmarks["mouth_left"], face.landmarks["mouth_right"]])
            values.update(mouth_y=float(mly + mry) / 2, mouth_left_x=float(min(mlx, mrx)), mouth_right_x=float(max(mlx, mrx)))
        layout = replace(layout, **values)
        if split == "landmarks" and "mouth_y" in values:
            return replace(layout, split=(layout.eye_y + layout.mouth_y) / 2)
    if isinstance(split, str):
        if split not in ("landmarks", "middle"):
            raise OptionError(f"split must be 'landmarks', 'middle' or a fraction, got {split!r}")
        return replace(layout, split=0.5)
    return replace(layout, split=float(split))


def layout_for_preset(preset) -> FaceLayout:
    """The typical layout of crops made by ``preset`` (name or Preset): :data:`DEFAULT_LAYOUT`, split
    at its eye-mouth midline when the preset cuts half faces there (``region_split: landmarks``)."""
    from signfer.faces.presets import get_preset

    preset = get_preset(preset)
    if preset.region_split == "landmarks" and preset.detector != "none":
        return replace(DEFAULT_LAYOUT, split=(DEFAULT_LAYOUT.eye_y + DEFAULT_LAYOUT.mouth_y) / 2)
    return DEFAULT_LAYOUT


def region_mask(shape: Sequence[int], region: str, layout: FaceLayout | None = None) -> np.ndarray:
    """Boolean (H, W) mask, True inside ``region`` of a crop of ``shape`` (H, W[, C])."""
    h, w = int(shape[0]), int(shape[1])
    x1, y1, x2, y2 = (layout or DEFAULT_LAYOUT).box(region)
    c1, c2 = (int(np.clip(round(v * w), 0, w)) for v in (x1, x2))
    r1, r2 = (int(np.clip(round(v * h), 0, h)) for v in (y1, y2))
    mask = np.zeros((h, w), bool)
    mask[r1:r2, c1:c2] = True
    return mask


def region_masks(shape: Sequence[int], regions: Iterable[str] = REGIONS, layout: FaceLayout | None = None) -> dict[str, np.ndarray]:
    """``{region: region_mask(shape, region, layout)}``."""
    return {r: region_mask(shape, r, layout) for r in regions}


def dataset_mean_colour(images: Iterable[np.ndarray]) -> np.ndarray:
    """Mean RGB colour (float64, shape (3,)) over every pixel of ``images`` (uint8 (H, W, 3) or (N, H, W, 3))."""
    total, count = np.zeros(3), 0
    for img in images:
        px = np.asarray(img).reshape(-1, 3)
        total += px.sum(axis=0, dtype=np.float64)
        count += len(px)
    if not count:
        raise OptionError("mean_colour needs at least one image")
    return total / count


def _fill_values(fill: str, n: int, rng: np.random.Generator | None, colour) -> np.ndarray:
    if fill == "zero":
        return np.zeros((n, 3), np.uint8)
    if fill == "mean":
        if colour is None:
            raise OptionError("fill 'mean' needs the data set mean colour (mean_colour=...)")
        colour = np.asarray(colour, float).reshape(3)
        return np.broadcast_to(np.clip(np.round(colour), 0, 255).astype(np.uint8), (n, 3))
    if fill == "gaussian":
        if rng is None:
            raise OptionError("fill 'gaussian' needs a random generator")
        return np.clip(np.round(rng.normal(NOISE_MEAN, NOISE_STD, (n, 3))), 0, 255).astype(np.uint8)
    raise OptionError(f"unknown fill {fill!r}; known: {', '.join(FILLS)}")


def occlude(
    image: np.ndarray,
    region: str,
    fill: str,
    *,
    layout: FaceLayout | None = None,
    mean_colour: Sequence[float] | None = None,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """A copy of the RGB uint8 crop ``image`` with ``region`` filled by ``fill``.

    ``mean_colour`` (RGB, 0-255) is required for ``fill="mean"``; ``seed`` (or a generator)
    makes the ``gaussian`` fill reproducible.
    """
    img = np.array(image, dtype=np.uint8, copy=True)
    mask = region_mask(img.shape, region, layout)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    img[mask] = _fill_values(fill, int(mask.sum()), rng, mean_colour)
    return img


class Occluder:
    """Callable that occludes a batch (N, H, W, 3) of uint8 crops; the noise stream is seeded once.

    ``Occluder(region, fill, mean_colour=..., seed=...)`` can wrap a model's normaliser
    (``lambda b: spec.normalize(occluder(b))``) so a data set is evaluated occluded.
    ``region=None`` or ``fill=None`` leaves the images unchanged (the baseline).
    """

    def __init__(self, region: str | None, fill: str | None, *, layout: FaceLayout | None = None,
                 mean_colour: Sequence[float] | None = None, seed: int = 0):
        if region is not None and region not in REGIONS:
            raise OptionError(f"unknown face region {region!r}; known: {', '.join(REGIONS)}")
        if fill is not None and fill not in FILLS:
            raise OptionError(f"unknown fill {fill!r}; known: {', '.join(FILLS)}")
        if fill == "mean" and mean_colour is None:
            raise OptionError("fill 'mean' needs the data set mean colour (mean_colour=...)")
        self.region, self.fill, self.layout = region, fill, layout
        self.mean_colour = None if mean_colour is None else np.asarray(mean_colour, float)
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, np.uint8)
        if self.region is None or self.fill is None:
            return batch
        single = batch.ndim == 3
        out = np.array(batch[None] if single else batch, copy=True)
        for i in range(len(out)):
            out[i] = occlude(out[i], self.region, self.fill, layout=self.layout, mean_colour=self.mean_colour, seed=self.rng)
        return out[0] if single else out


def occlusion_figure(image: np.ndarray, path, *, regions: Sequence[str] = REGIONS, fills: Sequence[str] = FILLS,
                     mean_colour: Sequence[float] | None = None, layout: FaceLayout | None = None, seed: int = 0,
                     title: str | None = None):
    """Save a grid (rows: fills, columns: regions) of ``image`` under every mask to ``path``; return the path.

    Without ``mean_colour`` the ``mean`` fill uses the image's own mean colour.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from signfer.io import atomic_path

    if mean_colour is None and "mean" in fills:
        mean_colour = dataset_mean_colour([image])
    fig, axes = plt.subplots(len(fills), len(regions) + 1, figsize=(1.8 * (len(regions) + 1), 1.9 * len(fills)), squeeze=False)
    for i, fill in enumerate(fills):
        axes[i, 0].imshow(image)
        axes[i, 0].set_ylabel(fill)
        axes[i, 0].set_title("original" if i == 0 else "", fontsize=9)
        for j, region in enumerate(regions):
            axes[i, j + 1].imshow(occlude(image, region, fill, layout=layout, mean_colour=mean_colour, seed=seed))
            if i == 0:
                axes[i, j + 1].set_title(region, fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path
