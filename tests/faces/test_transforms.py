"""The crop / colour / alignment functions on synthetic images with known eye points."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from signfer.faces import transforms as T

EYES = ((70.0, 80.0), (130.0, 80.0))  # left (smaller x), right; level


def synthetic_face(size: int = 200) -> np.ndarray:
    """Skin-toned disc with two blue eye dots at EYES and a mouth bar, on a textured background."""
    rng = np.random.default_rng(0)
    img = rng.integers(90, 160, (size, size, 3), dtype=np.uint8)
    cv2.circle(img, (100, 100), 80, (200, 160, 140), -1)
    for x, y in EYES:
        cv2.circle(img, (int(x), int(y)), 6, (0, 0, 255), -1)
    cv2.rectangle(img, (80, 140), (120, 146), (150, 40, 40), -1)
    return img


def find_eye_dots(img: np.ndarray) -> list[tuple[float, float]]:
    """Centroids of the two largest blue blobs, ordered by x (the drawn eyes)."""
    blue = ((img[:, :, 2] > 150) & (img[:, :, :2].max(axis=2) < 80)).astype(np.uint8)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(blue)
    biggest = sorted(range(1, n), key=lambda i: -stats[i, cv2.CC_STAT_AREA])[:2]
    return sorted((float(centroids[i][0]), float(centroids[i][1])) for i in biggest)


def rotate(img: np.ndarray, angle: float, centre=(100.0, 100.0)) -> tuple[np.ndarray, np.ndarray]:
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    return cv2.warpAffine(img, matrix, img.shape[1::-1]), matrix


def uniformity_error(channel: np.ndarray) -> float:
    """Largest gap between the cumulative histogram and the uniform one (v / 255), over the levels present."""
    cdf = np.cumsum(np.bincount(channel.ravel(), minlength=256)) / channel.size
    levels = np.unique(channel)
    return float(np.max(np.abs(cdf[levels] - levels / 255.0)))


# --------------------------------------------------------------------------- boxes
def test_square_box_keeps_the_centre_and_takes_the_longer_side():
    x1, y1, x2, y2 = T.square_box((10, 20, 50, 120))
    assert (x2 - x1, y2 - y1) == (100, 100)
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == (30, 70)


def test_zoom_box_enlarges_by_the_factor_about_the_centre():
    x1, y1, x2, y2 = T.zoom_box((100, 100, 200, 200), 1.1)
    assert x2 - x1 == pytest.approx(110) and y2 - y1 == pytest.approx(110)
    assert (x1 + x2) / 2 == pytest.approx(150) and (y1 + y2) / 2 == pytest.approx(150)
    with pytest.raises(ValueError, match="zoom"):
        T.zoom_box((0, 0, 1, 1), 0)


def test_crop_box_inside_the_frame_is_the_plain_slice():
    img = synthetic_face()
    crop = T.crop_box(img, (30.4, 40.6, 90.4, 100.6))
    assert crop.shape == (60, 60, 3)
    np.testing.assert_array_equal(crop, img[41:101, 30:90])


@pytest.mark.parametrize("padding", ["black", "edge"])
def test_crop_box_pads_where_the_box_leaves_the_frame(padding):
    img = synthetic_face()
    crop = T.crop_box(img, (-20, 150, 60, 230), padding)  # 20 px left and 30 px below the frame
    assert crop.shape == (80, 80, 3)
    np.testing.assert_array_equal(crop[:50, 20:], img[150:200, 0:60])
    if padding == "black":
        assert crop[:, :20].max() == 0 and crop[50:].max() == 0
    else:
        np.testing.assert_array_equal(crop[:50, 0], img[150:200, 0])  # left border repeated
        np.testing.assert_array_equal(crop[79, 20:], img[199, 0:60])  # bottom border repeated


def test_crop_box_rejects_a_box_outside_the_image_and_unknown_padding():
    img = synthetic_face()
    with pytest.raises(ValueError, match="outside"):
        T.crop_box(img, (300, 300, 400, 400))
    with pytest.raises(ValueError, match="padding"):
        T.crop_box(img, (0, 0, 10, 10), "mirror")


# --------------------------------------------------------------------------- colour
def test_equalize_histogram_makes_each_channel_uniform_on_its_own():
    rng = np.random.default_rng(1)
    img = np.dstack([rng.normal(m, 12, (120, 100)).clip(0, 255).astype(np.uint8) for m in (110, 140, 90)])
    assert all(uniformity_error(img[:, :, c]) > 0.3 for c in range(3))  # low contrast before
    out = T.equalize_histogram(img)
    assert out.dtype == np.uint8 and out.shape == img.shape
    for c in range(3):
        assert uniformity_error(out[:, :, c]) < 0.01
        np.testing.assert_array_equal(out[:, :, c], cv2.equalizeHist(img[:, :, c]))
    changed_green = img.copy()
    changed_green[:, :, 1] = 255 - changed_green[:, :, 1]
    np.testing.assert_array_equal(T.equalize_histogram(changed_green)[:, :, 0], out[:, :, 0])


def test_standardize_channels_centres_each_channel_and_clips_at_2_5_sd():
    rng = np.random.default_rng(2)
    img = np.dstack([rng.normal(m, s, (100, 100)) for m, s in ((60, 5), (128, 20), (200, 10))]).clip(0, 255).astype(np.uint8)
    img[0, 0] = (255, 255, 255)  # far beyond 2.5 SD in every channel
    img[0, 1] = (0, 0, 0)
    out = T.standardize_channels(img)
    assert out.dtype == np.uint8
    x = img.astype(np.float64)
    z = (x - x.mean(axis=(0, 1))) / x.std(axis=(0, 1))
    np.testing.assert_allclose(out, np.round((np.clip(z, -2.5, 2.5) + 2.5) * 51), atol=1)
    assert tuple(out[0, 0]) == (255, 255, 255) and tuple(out[0, 1]) == (0, 0, 0)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), 127.5, atol=3)
    assert (T.standardize_channels(np.full((4, 4, 3), 77, np.uint8)) == 128).all()


# --------------------------------------------------------------------------- eyes
def test_eye_angle_is_the_counter_clockwise_tilt():
    assert T.eye_angle(*EYES) == 0
    for angle in (15, -10, 40):
        left, right = T.transform_points(EYES, cv2.getRotationMatrix2D((100, 100), angle, 1.0))
        assert T.eye_angle(left, right) == pytest.approx(angle)


@pytest.mark.parametrize("angle", [15.0, -10.0, 30.0])
def test_align_eyes_undoes_a_rotation(angle):
    rotated, matrix = rotate(synthetic_face(), angle)
    left, right = T.transform_points(EYES, matrix)
    found = find_eye_dots(rotated)
    assert T.eye_angle(*found) == pytest.approx(angle, abs=1.0)
    aligned = T.align_eyes(rotated, tuple(left), tuple(right))
    assert aligned.shape == rotated.shape
    new_left, new_right = find_eye_dots(aligned)
    assert abs(T.eye_angle(new_left, new_right)) < 0.5
    mid = T.eye_midpoint(left, right)  # the rotation centre stays put
    assert np.allclose(T.eye_midpoint(new_left, new_right), mid, atol=1.0)
    moved = T.transform_points([left, right], T.eye_rotation(left, right))
    assert moved[0, 1] == pytest.approx(moved[1, 1])


def test_align_eyes_leaves_black_corners():
    img = np.full((100, 100, 3), 200, np.uint8)
    out = T.align_eyes(img, (30, 40), (70, 60))  # about 26.6 degrees
    assert out[0, 0].max() == 0 and out[99, 99].max() == 0 and out[50, 50].min() == 200


def test_compose_and_translation_chain_coordinate_maps():
    shift = T.translation(-10, -20)
    rot = T.eye_rotation(*EYES)
    both = T.compose(rot, shift)
    point = [(33.0, 44.0)]
    np.testing.assert_allclose(T.transform_points(point, both), T.transform_points(T.transform_points(point, shift), rot))


# --------------------------------------------------------------------------- regions, size
def test_face_region_splits_at_the_given_row_or_the_middle():
    img = np.arange(100 * 80 * 3, dtype=np.uint32).reshape(100, 80, 3).astype(np.uint8)
    assert T.face_region(img, "full") is img
    assert T.face_region(img, "upper").shape == (50, 80, 3)
    np.testing.assert_array_equal(T.face_region(img, "lower", 62.4), img[62:])
    np.testing.assert_array_equal(T.face_region(img, "upper", 62.4), img[:62])
    assert T.face_region(img, "upper", -5).shape[0] == 1 and T.face_region(img, "lower", 500).shape[0] == 1
    with pytest.raises(ValueError, match="region"):
        T.face_region(img, "left")


def test_resize_face_square_or_height_width():
    img = synthetic_face(200)
    assert T.resize_face(img, 224).shape == (224, 224, 3)
    assert T.resize_face(img, (112, 224)).shape == (112, 224, 3)
    assert T.resize_face(img, 200) is img
    small = T.resize_face(img, 50)
    assert abs(float(small.mean()) - float(img.mean())) < 2  # area averaging keeps the brightness
