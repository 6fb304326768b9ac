"""Two real faces crossing the frame and swapping sides keep their signer IDs."""

from __future__ import annotations

import pytest

from signfer.signers.identity import SignerTracker, pick_signers
from tests.signers.conftest import ASTRONAUT_FACE, HOPPER_FACE


@pytest.fixture(scope="module")
def two_signers(tmp_path_factory, astronaut, grace_hopper):
    from signfer.samples.signer_scenes import face_portrait, make_two_signer_video

    faces = {"astronaut": face_portrait(astronaut, ASTRONAUT_FACE, size=120), "hopper": face_portrait(grace_hopper, HOPPER_FACE, size=120)}
    return make_two_signer_video(tmp_path_factory.mktemp("two") / "two.avi", faces)


def _who(tf, truth) -> str | None:
    cx, cy = (tf.face.box[0] + tf.face.box[2]) / 2, (tf.face.box[1] + tf.face.box[3]) / 2
    hits = [name for name, (x1, y1, x2, y2) in truth["boxes"].items() if x1 <= cx <= x2 and y1 <= cy <= y2]
    return hits[0] if len(hits) == 1 else None


def _track(video, detections, **kw) -> dict[str, set]:
    """signer ID -> the set of true faces it was given over the video."""
    from signfer.annotate.video import open_media

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
    from signfer.annotate.video import open_media

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


@pytest.fixture(scope="module")
def absence_video(tmp_path_factory, astronaut, grace_hopper):
    """Astronaut and Grace Hopper side by side; Hopper walks out of the frame, stays out 1 s (10 frames) and comes back."""
    from signfer.samples.signer_scenes import face_portrait, make_absence_video

    faces = {"astronaut": face_portrait(astronaut, ASTRONAUT_FACE, size=120), "hopper": face_portrait(grace_hopper, HOPPER_FACE, size=120)}
    return make_absence_video(tmp_path_factory.mktemp("absence") / "absence.avi", faces, away=range(20, 30))


def _id_shares(frames, video) -> dict[str, dict[str, int]]:
    """true face -> {signer ID: frames}, and how many frames each face is visible."""
    ids, visible = {}, {}
    for i, truth in enumerate(video.truth):
        for name in truth["boxes"]:
            visible[name] = visible.get(name, 0) + 1
        for r in frames[(frames["frame"] == i) & frames["face_x1"].notna()].itertuples():
            cx, cy = (r.face_x1 + r.face_x2) / 2, (r.face_y1 + r.face_y2) / 2
            hits = [n for n, (x1, y1, x2, y2) in truth["boxes"].items() if x1 <= cx <= x2 and y1 <= cy <= y2]
            if len(hits) == 1:
                ids.setdefault(hits[0], {}).setdefault(r.signer_id, 0)
                ids[hits[0]][r.signer_id] += 1
    return ids, visible


def test_a_signer_out_of_frame_for_a_second_comes_back_under_her_id(absence_video, recognizers):
    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.stages import SignerOptions

    res = annotate_media(recognizers["full"], absence_video.path, None, options=AnnotationOptions(signers=SignerOptions()), collect=True)
    f = res.frames
    ids, visible = _id_shares(f, absence_video)
    assert visible == {"astronaut": 50, "hopper": 37}
    for name, got in ids.items():
        assert max(got.values()) / visible[name] >= 0.98, (name, got)  # one ID for >= 98 % of the frames she is visible
    assert ids["astronaut"] == {"S1": 50} and set(ids["hopper"]) == {"S2"}
    assert res.signers == ["S1", "S2"]  # nobody new
    assert f["face_x1"].min() >= 0 and f["face_x2"].max() <= 480 and f["face_y2"].max() <= 200  # no box outside the frame
    # while she is out, no row claims to see her
    away = f[f["frame"].between(21, 29) & (f["signer_id"] == "S2")]
    assert away.empty, away[["frame", "face_source", "face_x1", "face_x2"]]
    # a shorter --max-missing than her absence: she comes back as someone new
    short = annotate_media(recognizers["full"], absence_video.path, None, options=AnnotationOptions(signers=SignerOptions(max_missing_s=0.5)), collect=True)
    assert short.signers == ["S1", "S2", "S3"]


def test_a_hand_over_a_face_for_two_seconds_keeps_the_id(tmp_path, astronaut, grace_hopper, recognizers):
    """A drawn hand lies across the astronaut's mouth for 18 frames (1.8 s; the old tracker ended a track after 15
    missed frames), then the shot cuts: both keep one ID on every frame."""
    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.stages import SignerOptions
    from signfer.samples.signer_scenes import face_portrait, make_two_signer_video

    faces = {"astronaut": face_portrait(astronaut, ASTRONAUT_FACE, size=120), "hopper": face_portrait(grace_hopper, HOPPER_FACE, size=120)}
    video = make_two_signer_video(tmp_path / "long_hand.avi", faces, n_frames=30, cut=22, hand_over={"astronaut": range(2, 20)})
    res = annotate_media(recognizers["full"], video.path, None, options=AnnotationOptions(signers=SignerOptions()), collect=True)
    ids, visible = _id_shares(res.frames, video)
    assert res.signers == ["S1", "S2"]
    assert ids == {"astronaut": {"S1": 30}, "hopper": {"S2": 30}}, ids
