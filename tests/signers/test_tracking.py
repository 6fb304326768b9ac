"""Two real faces crossing the frame and swapping sides keep their signer IDs."""

from __future__ import annotations

import pytest

from signfer.signers.tracking import SignerTracker, pick_signers
from tests.signers.conftest import ASTRONAUT_FACE, HOPPER_FACE


@pytest.fixture(scope="module")
def two_signers(tmp_path_factory, astronaut, grace_hopper):
    from signfer.signers.synthetic import face_portrait, make_two_signer_video

    faces = {"astronaut": face_portrait(astronaut, ASTRONAUT_FACE, size=120), "hopper": face_portrait(grace_hopper, HOPPER_FACE, size=120)}
    return make_two_signer_video(tmp_path_factory.mktemp("two") / "two.avi", faces)


def _who(tf, truth) -> str | None:
    cx, cy = (tf.face.box[0] + tf.face.box[2]) / 2, (tf.face.box[1] + tf.face.box[3]) / 2
    hits = [name for name, (x1, y1, x2, y2) in truth["boxes"].items() if x1 <= cx <= x2 and y1 <= cy <= y2]
    return hits[0] if len(hits) == 1 else None


def _track(video, detections, **kw) -> dict[str, set]:
    """signer ID -> the set of true faces it was given over the video."""
    from signfer.inference.video import open_media

    tracker = SignerTracker(**kw)
    ids: dict[str, set] = {}
    for frame, truth, faces in zip(open_media(video.path).frames(), video.truth, detections):
        for tf in tracker.update(frame.image, faces):
            if tf.status == "detected":
                ids.setdefault(tf.signer_id, set()).add(_who(tf, truth))
    return ids


@pytest.fixture(scope="module")
def detections(two_signers):
    from signfer.faces.detect import get_detector
    from signfer.inference.video import open_media

    det = get_detector("mtcnn")
    return [[f for f in det.detect(fr.image) if f.score >= 0.9] for fr in open_media(two_signers.path).frames()]


def test_ids_stay_with_their_faces(two_signers, detections):
    assert all(len(d) == 2 for d in detections)  # MTCNN finds both real faces in every frame
    ids = _track(two_signers, detections)
    assert ids == {"S1": {"astronaut"}, "S2": {"hopper"}}


def test_the_cut_needs_appearance(two_signers, detections):
    # after the cut each face jumps to the other lane's side; box overlap alone cannot follow it
    ids = _track(two_signers, detections, appearance_weight=0.0, min_similarity=0.05)
    assert len(ids) > 2


def test_pick_signers():
    stats = {"S1": {"area": 900.0, "x": 300.0, "frames": 10}, "S2": {"area": 1600.0, "x": 100.0, "frames": 8}}
    assert pick_signers(stats, "all") == ["S1", "S2"]
    assert pick_signers(stats, "largest") == ["S2"]
    assert pick_signers(stats, "left") == ["S2"]
    assert pick_signers(stats, "right") == ["S1"]
    assert pick_signers(stats, "S1") == ["S1"]
    with pytest.raises(ValueError, match="signers found: S1, S2"):
        pick_signers(stats, "S9")
