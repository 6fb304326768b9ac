"""The preprocessing pipeline on real face photos: alignment, colour order, zoom, regions, files, CLI."""

from __future__ import annotations

import contextlib
import io

import cv2
import numpy as np
import pandas as pd
import pytest

from signfer.faces import transforms as T
from signfer.faces.preprocessing import MANIFEST_COLUMNS, crop_box_for, preprocess, preprocess_image, preprocess_path, region_split_row
from signfer.faces.presets import FIELDS, get_preset
from signfer.faces.types import Face
from signfer.io import read_image

# The astronaut's face as MTCNN sees it (box, eyes, mouth corners), used where detection is not under test.
ASTRONAUT_FACE = Face(
    box=(179, 58, 268, 173), left_eye=(204, 101), right_eye=(246, 103),
    landmarks={"mouth_left": (201, 140), "mouth_right": (244, 141)},
)  # fmt: skip


def rotate_about(img: np.ndarray, angle: float, centre) -> tuple[np.ndarray, np.ndarray]:
    matrix = cv2.getRotationMatrix2D(tuple(map(float, centre)), angle, 1.0)
    return cv2.warpAffine(img, matrix, img.shape[1::-1], borderMode=cv2.BORDER_REFLECT), matrix


def rotated_face(face: Face, matrix: np.ndarray) -> Face:
    (le, re), mouth = T.transform_points([face.left_eye, face.right_eye], matrix), T.transform_points(face.landmarks.values(), matrix)
    return Face(box=face.box, left_eye=tuple(le), right_eye=tuple(re), landmarks=dict(zip(face.landmarks, map(tuple, mouth))))


def uniformity_error(values: np.ndarray) -> float:
    """Largest gap between the cumulative histogram of ``values`` (uint8) and the uniform one."""
    cdf = np.cumsum(np.bincount(values.ravel(), minlength=256)) / values.size
    levels = np.unique(values)
    return float(np.max(np.abs(cdf[levels] - levels / 255.0)))


@pytest.fixture(scope="module")
def mtcnn():
    from signfer.faces.detect import get_detector

    return get_detector("mtcnn", min_face_size=50)


@pytest.fixture(scope="module")
def tilted_astronaut(astronaut):
    """The astronaut turned by +15 degrees about her face, and her face in the turned photo."""
    img, matrix = rotate_about(astronaut, 15, (224.5, 117))
    return img, rotated_face(ASTRONAUT_FACE, matrix)


# --------------------------------------------------------------------------- steps on a known face
def test_preprocess_returns_square_crops_and_half_faces(astronaut):
    for region, shape in [("full", (224, 224, 3)), ("upper", (112, 224, 3)), ("lower", (112, 224, 3))]:
        crop = preprocess(astronaut, ASTRONAUT_FACE, "easier2025-refined", region)
        assert crop.pixels.shape == shape and crop.pixels.dtype == np.uint8
        assert (crop.region, crop.preset, crop.face) == (region, "easier2025-refined", ASTRONAUT_FACE)
    x1, y1, x2, y2 = crop.box
    assert x2 - x1 == y2 - y1 == pytest.approx(115 * 1.1, abs=1)
    assert crop.angle == pytest.approx(-T.eye_angle(ASTRONAUT_FACE.left_eye, ASTRONAUT_FACE.right_eye))
    square = get_preset("easier2025-refined", half_face_shape="square")
    assert preprocess(astronaut, ASTRONAUT_FACE, square, "upper").pixels.shape == (224, 224, 3)


def test_halves_split_at_the_eye_mouth_midline_or_the_middle(tilted_astronaut):
    img, face = tilted_astronaut
    preset = get_preset("easier2025-refined", colour="none")
    # the reference geometry, written out with OpenCV and numpy (not signfer's transforms): the square box x1.1 in
    # whole pixels, then a rotation about the eye midpoint by the eyes' own slope (OpenCV: counter-clockwise positive)
    x1, y1, x2, y2 = face.box
    side = max(x2 - x1, y2 - y1) * 1.1
    ox, oy = round((x1 + x2) / 2 - side / 2), round((y1 + y2) / 2 - side / 2)
    (lx, ly), (rx, ry) = (face.left_eye[0] - ox, face.left_eye[1] - oy), (face.right_eye[0] - ox, face.right_eye[1] - oy)
    rotation = cv2.getRotationMatrix2D(((lx + rx) / 2, (ly + ry) / 2), float(np.degrees(np.arctan2(ry - ly, rx - lx))), 1.0)
    to_crop = rotation @ np.array([[1.0, 0, -ox], [0, 1, -oy], [0, 0, 1]])

    def in_crop(points):
        return np.array([to_crop @ (x, y, 1.0) for x, y in points])

    eyes_y = in_crop([face.left_eye, face.right_eye])[:, 1]
    mouth_y = in_crop(face.landmarks.values())[:, 1]
    assert eyes_y[0] == pytest.approx(eyes_y[1])  # levelled
    signfer_to_crop = T.compose(T.eye_rotation((lx, ly), (rx, ry)), T.translation(-ox, -oy))
    np.testing.assert_allclose(signfer_to_crop, to_crop, atol=1e-9)  # signfer's transforms build the same map
    split = region_split_row(face, to_crop, preset)
    assert split == pytest.approx((eyes_y.mean() + mouth_y.mean()) / 2)
    assert eyes_y.mean() + 10 < split < mouth_y.mean() - 10
    assert region_split_row(face, to_crop, get_preset(preset, region_split="middle")) is None
    middle = get_preset(preset, region_split="middle")
    halves = np.vstack([preprocess(img, face, middle, r).pixels for r in ("upper", "lower")]).astype(int)
    full = preprocess(img, face, middle).pixels.astype(int)
    assert np.abs(halves - full).mean() < 4  # the two halves make up the full face
    upper = preprocess(img, face, preset, "upper").pixels.astype(int)
    assert np.abs(upper - full[:112]).mean() > 4  # the landmark split is not the middle


def test_equalised_real_crop_has_a_uniform_cumulative_histogram(astronaut):
    crop = preprocess(astronaut, ASTRONAUT_FACE, get_preset("easier2025-refined", align=False)).pixels
    plain = preprocess(astronaut, ASTRONAUT_FACE, get_preset("easier2025-refined", align=False, colour="none")).pixels
    for c in range(3):
        assert uniformity_error(plain[:, :, c]) > 0.1  # measured 0.13 to 0.23
        assert uniformity_error(crop[:, :, c]) < 0.03


def test_equalising_before_rotation_keeps_the_black_corners_out_of_the_histogram(tilted_astronaut):
    """The 2025 paper's order: equalise, then rotate. Equalising after the rotation feeds the
    black corners (a spike at 0) into the histogram. cv2.equalizeHist leaves the lowest bin out
    of its cumulative histogram, so only the corners' interpolated rim moves the face's tones."""
    img, face = tilted_astronaut
    box = crop_box_for(face, get_preset("easier2025-refined"))
    native = dict(size=int(box[2] - box[0]))  # no resize: every step can be checked exactly
    plain = get_preset("easier2025-refined", colour="none", **native)
    white = preprocess(np.full_like(img, 255), face, plain).pixels
    inside = white.min(axis=2) == 255  # neither a rotation corner nor its rim
    rim = (white.max(axis=2) > 0) & ~inside
    corners = (white.max(axis=2) == 0).mean()  # pure black
    assert 0.05 < corners < 0.3 and rim.mean() < 0.05
    crop = preprocess(img, face, get_preset(plain, align=False)).pixels
    rotated = preprocess(img, face, plain).pixels
    eyes = T.transform_points([face.left_eye, face.right_eye], T.translation(-box[0], -box[1]))
    np.testing.assert_array_equal(rotated, T.align_eyes(crop, *map(tuple, eyes)))
    # what each order equalises: the crop (before) or the rotated crop with its black corners (after)
    good = preprocess(img, face, get_preset("easier2025-refined", **native)).pixels
    bad = preprocess(img, face, get_preset("easier2025_equalize_after_rotation", **native)).pixels
    np.testing.assert_array_equal(good, T.align_eyes(T.equalize_histogram(crop), *map(tuple, eyes)))
    np.testing.assert_array_equal(bad, T.equalize_histogram(rotated))
    assert (rotated == 0).all(axis=2).mean() > 0.95 * corners  # the spike at 0 equalised after rotation
    assert (crop == 0).all(axis=2).mean() < 0.2 * corners  # ... absent from the crop equalised before
    shift = np.abs(good.astype(int) - bad)[inside].mean()
    assert 0.5 < shift < rim.mean() * 255  # the order changes the face, by at most the rim's share


def test_standardize_colour_option(astronaut):
    crop = preprocess(astronaut, ASTRONAUT_FACE, get_preset("easier2025_standardize", align=False)).pixels
    np.testing.assert_allclose(crop.reshape(-1, 3).mean(axis=0), 127.5, atol=6)
    plain = preprocess(astronaut, ASTRONAUT_FACE, get_preset("easier2025-refined", colour="none", align=False)).pixels
    assert np.abs(crop.astype(int) - plain).mean() > 10


# --------------------------------------------------------------------------- with the real detectors
@pytest.mark.parametrize("angle", [15.0, -10.0])
def test_alignment_levels_the_eyes_of_a_rotated_photo(astronaut, mtcnn, angle):
    upright = mtcnn.detect(astronaut)[0]
    tilt0 = T.eye_angle(upright.left_eye, upright.right_eye)
    img, matrix = rotate_about(astronaut, angle, (256, 256))
    crop = preprocess_image(img, "easier2025-refined", detector=mtcnn)
    assert crop is not None
    assert crop.angle == pytest.approx(-(angle + tilt0), abs=2.0)
    expected_eyes = T.transform_points([upright.left_eye, upright.right_eye], matrix)
    np.testing.assert_allclose([crop.face.left_eye, crop.face.right_eye], expected_eyes, atol=6)  # source coordinates
    again = mtcnn.detect(cv2.copyMakeBorder(crop.pixels, 40, 40, 40, 40, cv2.BORDER_REPLICATE))
    assert again and again[0].has_eyes
    assert abs(T.eye_angle(again[0].left_eye, again[0].right_eye)) < 1.5


def test_zoomed_crop_is_square_10_percent_larger_and_padded_at_the_frame(astronaut, mtcnn):
    img = np.ascontiguousarray(astronaut[:320, 175:460])  # the enlarged box leaves the frame on the left
    face = mtcnn.detect(img)[0]
    side = max(face.width, face.height)
    fixed = dict(colour="none", align=False, size=200)
    crop = preprocess(img, face, get_preset("easier2025-refined", padding="black", **fixed))
    x1, y1, x2, y2 = crop.box
    assert x2 - x1 == y2 - y1 == pytest.approx(1.1 * side, abs=1)
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == pytest.approx(((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2), abs=1)
    assert x1 < 0 <= y1
    pad = int(-x1 * 200 / (x2 - x1))  # padded columns in the 200 px output
    assert pad >= 3
    assert crop.pixels[:, : pad - 1].max() == 0 and crop.pixels[:, pad + 2 :].min(axis=2).mean() > 20
    edge = preprocess(img, face, get_preset("easier2025-refined", padding="edge", **fixed)).pixels.astype(int)
    assert np.abs(np.diff(edge[:, : pad - 1], axis=1)).max() <= 1  # edge pixels repeated
    assert edge[:, : pad - 1].mean() > 20


def test_sltat2022_is_a_plain_haar_crop(astronaut):
    preset = get_preset("sltat2022")
    crop = preprocess_image(astronaut, preset)
    assert crop is not None and crop.angle == 0 and crop.face is not None
    x1, y1, x2, y2 = map(int, crop.box)
    assert (x1, y1, x2, y2) == tuple(map(round, crop.face.box))
    assert 140 < (x1 + x2) / 2 < 300 and 60 < (y1 + y2) / 2 < 200  # around the astronaut's face
    expected = cv2.resize(astronaut[y1:y2, x1:x2], (224, 224), interpolation=cv2.INTER_AREA if x2 - x1 > 224 else cv2.INTER_LINEAR)
    np.testing.assert_array_equal(crop.pixels, expected)  # no colour change, no rotation


def test_no_face_is_skipped_or_uses_the_whole_image(mtcnn):
    blank = np.tile(np.linspace(0, 255, 160, dtype=np.uint8)[None, :, None], (120, 1, 3))
    assert preprocess_image(blank, "easier2025-refined", detector=mtcnn) is None
    whole = preprocess_image(blank, get_preset("easier2025-refined", no_face="whole_image", colour="none"), detector=mtcnn)
    assert whole.face is None and whole.box == (0.0, 0.0, 160.0, 120.0) and whole.pixels.shape == (224, 224, 3)
    np.testing.assert_array_equal(whole.pixels, cv2.resize(blank, (224, 224), interpolation=cv2.INTER_LINEAR))


# --------------------------------------------------------------------------- files, folders, CLI
def _write(path, rgb_or_bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(rgb_or_bytes, bytes):
        path.write_bytes(rgb_or_bytes)
    else:
        assert cv2.imwrite(str(path), rgb_or_bytes)


@pytest.fixture()
def messy_folder(tmp_path, astronaut, grace_hopper):
    """Good photos in several formats next to broken files; returns (folder, expected status by file)."""
    face = np.ascontiguousarray(astronaut[20:300, 110:380])
    bgr = cv2.cvtColor(face, cv2.COLOR_RGB2BGR)
    png = cv2.imencode(".png", bgr)[1].tobytes()
    root = tmp_path / "in"
    _write(root / "astronaut.png", bgr)
    _write(root / "people" / "grace_hopper.jpg", cv2.cvtColor(cv2.resize(grace_hopper, (256, 300)), cv2.COLOR_RGB2BGR))
    _write(root / "gray.png", cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    _write(root / "rgba.png", np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)]))
    _write(root / "deep.png", bgr.astype(np.uint16) * 257)
    _write(root / "empty.png", b"")
    _write(root / "broken" / "truncated.png", png[: len(png) // 2])
    _write(root / "text.png", b"this is not an image\n")
    _write(root / "no_face.png", np.tile(np.linspace(0, 255, 200, dtype=np.uint8)[None, :, None], (150, 1, 3)))
    _write(root / "README.txt", b"not an image suffix: ignored\n")
    expected = {
        "astronaut.png": "ok", "people/grace_hopper.jpg": "ok", "gray.png": "ok", "rgba.png": "ok", "deep.png": "ok",
        "empty.png": "error", "broken/truncated.png": "error", "text.png": "error", "no_face.png": "no_face",
    }  # fmt: skip
    return root, expected


def test_cli_preprocess_survives_bad_files_with_two_workers(messy_folder, tmp_path):
    from signfer.cli import main

    root, expected = messy_folder
    out = tmp_path / "out"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["preprocess", str(root), str(out), "--preset", "easier2025-refined", "--workers", "2", "--no-progress"])
    assert rc == 0
    assert "9 files" in stdout.getvalue() and "manifest" in stdout.getvalue()
    manifest = pd.read_csv(out / "manifest.csv")
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert dict(zip(manifest.source, manifest.status)) == expected
    reasons = dict(zip(manifest.source, manifest.reason))
    assert "empty file" in reasons["empty.png"]
    assert "not a readable image" in reasons["broken/truncated.png"] and "not a readable image" in reasons["text.png"]
    assert "no face" in reasons["no_face.png"]
    for row in manifest[manifest.status == "ok"].itertuples():
        crop = read_image(out / row.output)
        assert row.output == row.source and crop.shape == (224, 224, 3)
        assert row.crop_x2 - row.crop_x1 == row.crop_y2 - row.crop_y1 > 80
        assert row.left_eye_x < row.right_eye_x and abs(float(row.angle)) < 15
    astronaut_rows = manifest[manifest.source.isin(["astronaut.png", "gray.png", "rgba.png", "deep.png"])]
    assert np.ptp(astronaut_rows.left_eye_x.astype(float)) < 3  # same face found in every format
    row = manifest.set_index("source").loc["astronaut.png"]  # source coordinates (the photo cut at x 110, y 20)
    assert (row.left_eye_x, row.left_eye_y, row.right_eye_x) == pytest.approx((204 - 110, 101 - 20, 246 - 110), abs=4)
    assert (row.width, row.height) == (270, 280)
    assert not (out / "empty.png").exists() and not (out / "README.txt").exists()


def test_preprocess_path_single_image_and_regions(tmp_path, astronaut):
    src = tmp_path / "photo.png"
    cv2.imwrite(str(src), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    manifest = preprocess_path(src, tmp_path / "out", "easier2025-refined", region="lower", progress=False)
    assert manifest.status.tolist() == ["ok"] and manifest.region.tolist() == ["lower"]
    assert read_image(tmp_path / "out" / "photo.png").shape == (112, 224, 3)
    again = preprocess_path(tmp_path, tmp_path / "out", "none", overrides={"size": 64}, progress=False)
    assert again.source.tolist() == ["photo.png"]  # the output folder inside the input is not read back
    with pytest.raises(ValueError, match="unknown preset key"):
        preprocess_path(src, tmp_path / "x", overrides={"zooom": 1.2}, progress=False)
    for same in (tmp_path, src):
        with pytest.raises(ValueError, match="overwrite the source"):
            preprocess_path(same, tmp_path, "none", progress=False)
    assert read_image(src).shape == astronaut.shape


def test_preprocess_path_keeps_the_feph_layout(synthetic_feph, tmp_path):
    out = tmp_path / "feph224"
    manifest = preprocess_path(synthetic_feph, out, "none", overrides={"size": 32}, progress=False)
    n_images = len(list((synthetic_feph / "FePh_images").glob("*.png")))
    assert len(manifest) == n_images and set(manifest.status) == {"ok"}
    assert all(s.startswith("FePh_images/") for s in manifest.source)
    assert (out / "FePh_labels.csv").read_bytes() == (synthetic_feph / "FePh_labels.csv").read_bytes()
    assert read_image(out / manifest.output[0]).shape == (32, 32, 3)


def test_cli_preprocess_help_mentions_every_option(capsys):
    from signfer.cli import main

    with pytest.raises(SystemExit):
        main(["preprocess", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ["INPUT", "OUTPUT", "--preset", "--region", "--set", "--size", "--workers", "--no-progress", "manifest.csv"]:
        assert option in text, option
    for name in ["easier2025-refined", "sltat2022", "full", "upper", "lower"]:
        assert name in text
    for key in set(FIELDS) - {"name", "description"}:
        assert key in text, key


def test_cli_preprocess_reports_a_bad_preset(tmp_path, capsys):
    from signfer.cli import main

    assert main(["preprocess", str(tmp_path), str(tmp_path / "o"), "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert main(["preprocess", str(tmp_path), str(tmp_path / "o"), "--set", "colour=blue"]) == 2
    assert "colour must be one of" in capsys.readouterr().err
