import math
from dataclasses import replace

import numpy as np
import pytest

from signfer.explain.masks import (
    DEFAULT_LAYOUT,
    FILLS,
    NOISE_MEAN,
    NOISE_STD,
    REGIONS,
    FaceLayout,
    Occluder,
    dataset_mean_colour,
    layout_for_preset,
    layout_from_crop,
    occlude,
    occlusion_figure,
    region_mask,
)
from signfer.faces.types import Face, FaceCrop


@pytest.fixture()
def image():
    return np.random.default_rng(3).integers(1, 255, (120, 120, 3), dtype=np.uint8)


def test_upper_lower_split_the_crop_at_the_middle():
    upper, lower = region_mask((120, 100), "upper"), region_mask((120, 100), "lower")
    assert upper[:60].all() and not upper[60:].any()
    assert lower[60:].all() and not lower[:60].any()
    eyes, mouth = region_mask((120, 100), "eyes"), region_mask((120, 100), "mouth")
    # eyes (with brows) lie in the upper half, the mouth in the lower half, neither touches the border
    assert eyes.any() and not (eyes & lower).any() and not eyes[:, 0].any() and not eyes[:, -1].any()
    assert mouth.any() and not (mouth & upper).any() and not mouth[-1].any()
    rows, cols = np.nonzero(eyes)
    assert rows.min() < DEFAULT_LAYOUT.eye_y * 120 < rows.max()
    assert cols.min() < DEFAULT_LAYOUT.left_eye_x * 100 and DEFAULT_LAYOUT.right_eye_x * 100 < cols.max()
    with pytest.raises(ValueError, match="unknown face region"):
        region_mask((10, 10), "nose")


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("region", REGIONS)
def test_mask_covers_exactly_the_region(image, region, fill):
    colour = (12.4, 200.6, 99.5)
    out = occlude(image, region, fill, mean_colour=colour, seed=7)
    mask = region_mask(image.shape, region)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(out[~mask], image[~mask])  # nothing outside the region changes
    inside = out[mask].astype(float)
    if fill == "zero":
        assert (inside == 0).all()
    elif fill == "mean":
        assert (inside == [12, 201, 100]).all()
    else:
        assert abs(inside.mean() - NOISE_MEAN) < 4 and abs(inside.std() - NOISE_STD) < 6
        assert (out[mask] != image[mask]).mean() > 0.95
        np.testing.assert_array_equal(occlude(image, region, fill, seed=7), out)  # seeded
        assert not np.array_equal(occlude(image, region, fill, seed=8), out)
    assert np.array_equal(image, np.random.default_rng(3).integers(1, 255, (120, 120, 3), dtype=np.uint8))  # input untouched


def test_mean_fill_uses_the_data_set_mean_not_the_image_mean(image):
    rng = np.random.default_rng(0)
    data = [rng.integers(0, 80, (30, 40, 3), dtype=np.uint8), rng.integers(100, 256, (50, 20, 3), dtype=np.uint8)]
    expected = np.concatenate([d.reshape(-1, 3) for d in data]).astype(float).mean(axis=0)
    colour = dataset_mean_colour(data)
    np.testing.assert_allclose(colour, expected)
    out = Occluder("mouth", "mean", mean_colour=colour)(image[None])[0]
    mask = region_mask(image.shape, "mouth")
    assert (out[mask] == np.round(expected).astype(np.uint8)).all()
    assert not np.allclose(np.round(expected), image.reshape(-1, 3).mean(axis=0), atol=3)
    with pytest.raises(ValueError, match="mean colour"):
        Occluder("mouth", "mean")
    with pytest.raises(ValueError, match="unknown fill"):
        occlude(image, "upper", "blur")


def test_occluder_batches_and_baseline(image):
    batch = np.stack([image, image[::-1]])
    a, b = Occluder("lower", "gaussian", seed=1)(batch), Occluder("lower", "gaussian", seed=1)(batch)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0, 60:], a[1, 60:])  # one noise stream, different noise per image
    np.testing.assert_array_equal(a[:, :60], batch[:, :60])
    np.testing.assert_array_equal(Occluder(None, None)(batch), batch)


def test_layout_from_landmarks_levels_a_tilted_face():
    # eyes tilted by 45 degrees about (50, 50); mouth 30 px below the eye midpoint in the face's frame
    le, re = (50 - 10, 50 - 10), (50 + 10, 50 + 10)
    down = np.array([-1.0, 1.0]) / math.sqrt(2)  # perpendicular to the eye line, towards the chin
    along = np.array([1.0, 1.0]) / math.sqrt(2)
    ml, mr = tuple(np.array([50, 50]) + 30 * down - 8 * along), tuple(np.array([50, 50]) + 30 * down + 8 * along)
    face = Face(box=(10, 10, 90, 90), left_eye=le, right_eye=re, landmarks={"mouth_left": ml, "mouth_right": mr})
    crop = FaceCrop(pixels=np.zeros((200, 200, 3), np.uint8), box=(0, 0, 100, 100), angle=45.0, face=face)
    lay = layout_from_crop(crop, split="middle")
    d = math.hypot(20, 20) / 2 / 100
    assert lay.eye_y == pytest.approx(0.5) and lay.left_eye_x == pytest.approx(0.5 - d) and lay.right_eye_x == pytest.approx(0.5 + d)
    assert lay.mouth_y == pytest.approx(0.8) and lay.mouth_left_x == pytest.approx(0.42) and lay.mouth_right_x == pytest.approx(0.58)
    mask = region_mask(crop.pixels.shape, "mouth", lay)
    assert mask[160, 100] and not mask[100, 100]
    assert layout_from_crop(crop).split == pytest.approx((0.5 + 0.8) / 2)  # eye-mouth midline
    assert layout_from_crop(crop, split=0.3) == replace(lay, split=0.3)
    # without eyes the default geometry is used; half-face crops are refused
    assert layout_from_crop(FaceCrop(np.zeros((8, 8, 3), np.uint8), (0, 0, 8, 8), face=Face((0, 0, 8, 8)))) == DEFAULT_LAYOUT
    with pytest.raises(ValueError, match="full-face"):
        layout_from_crop(FaceCrop(np.zeros((4, 8, 3), np.uint8), (0, 0, 8, 8), region="upper"))


def test_layout_split_follows_the_preset():
    lay = FaceLayout(split=0.6)
    assert region_mask((100, 10), "upper", lay)[:60].all() and not region_mask((100, 10), "upper", lay)[60:].any()
    assert layout_for_preset("none").split == 0.5 and layout_for_preset("sltat2022").split == 0.5
    assert layout_for_preset("easier2025").split == pytest.approx((DEFAULT_LAYOUT.eye_y + DEFAULT_LAYOUT.mouth_y) / 2)


def test_occlusion_figure(tmp_path, astronaut):
    from signfer.io import read_image

    path = occlusion_figure(astronaut[:256:2, 128:384:2], tmp_path / "masks.png", mean_colour=(120, 100, 90), title="synthetic")
    fig = read_image(path)
    assert fig.shape[1] > fig.shape[0] > 300  # 3 fills x (original + 4 regions)


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_default_layout_matches_real_mtcnn_crops(photo, request):
    from signfer.faces import transforms as T
    from signfer.faces.preprocessing import preprocess_image

    crop = preprocess_image(request.getfixturevalue(photo), "easier2025")
    lay = layout_from_crop(crop)
    typical = layout_for_preset("easier2025")
    for key in ("eye_y", "left_eye_x", "right_eye_x", "mouth_y", "split"):
        assert getattr(lay, key) == pytest.approx(getattr(typical, key), abs=0.035), key
    # the default boxes hold this face's eyes and mouth corners
    size = crop.pixels.shape[0]
    x1, y1 = crop.box[:2]
    to_crop = T.compose(T.eye_rotation(*[tuple(p) for p in T.transform_points([crop.face.left_eye, crop.face.right_eye], T.translation(-x1, -y1))]), T.translation(-x1, -y1))
    scale = size / (crop.box[2] - crop.box[0])
    face = crop.face
    for region, points in (("eyes", [face.left_eye, face.right_eye]), ("mouth", [face.landmarks["mouth_left"], face.landmarks["mouth_right"]])):
        mask = region_mask(crop.pixels.shape, region)
        for x, y in T.transform_points(points, to_crop) * scale:
            assert mask[int(y), int(x)], (region, x, y)
