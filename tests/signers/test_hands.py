"""MediaPipe's palm detector and hand-landmark model (from the mediapipe wheel) run by ai-edge-litert.

No real hand photo ships in any installed package: the detector is checked on a drawn hand
(signfer.samples.signer_scenes.draw_hand) on a plain background and on real face photos without hands.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from signfer.faces.types import Face
from signfer.signers.hands import ssd_anchors, weighted_nms
from signfer.signers.covered_half import face_occlusion
from signfer.samples.signer_scenes import draw_hand, paste


def test_anchor_layout_matches_the_palm_model():
    a = ssd_anchors()
    assert a.shape == (2016, 2)  # TensorsToDetectionsCalculator num_boxes
    # stride 8: a 24 x 24 grid with 2 anchors per cell; then strides 16/16/16 share a 12 x 12 grid, 6 per cell
    np.testing.assert_allclose(a[0], [0.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(a[1152:1158], np.tile([0.5 / 12, 0.5 / 12], (6, 1)))
    np.testing.assert_allclose(a[1158], [1.5 / 12, 0.5 / 12])


def test_weighted_nms_averages_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    kps = np.zeros((3, 7, 2), np.float32)
    kps[1] += 1.0
    scores = np.array([0.9, 0.3, 0.6], np.float32)
    b, k, s = weighted_nms(boxes, kps, scores)
    assert s == pytest.approx([0.9, 0.6])
    np.testing.assert_allclose(b[0], [0.25, 0, 10.25, 10], atol=1e-5)  # (0.9 * 0 + 0.3 * 1) / 1.2
    np.testing.assert_allclose(k[0], 0.25, atol=1e-5)
    np.testing.assert_allclose(b[1], boxes[2])


@pytest.fixture(scope="module")
def hands_detector():
    pytest.importorskip("ai_edge_litert")
    from signfer.signers.hands import MediaPipeHands

    det = MediaPipeHands(complexity="full")
    det.detect(np.zeros((64, 64, 3), np.uint8))  # fetches the wheel's .tflite files once (package registry)
    return det


@pytest.mark.registry
def test_finds_a_drawn_hand_with_landmarks_on_its_fingers(hands_detector):
    hand = draw_hand(160)
    img = paste(np.full((400, 400, 3), 90, np.uint8), hand, 100, 100)
    found = hands_detector.detect(img)
    assert len(found) == 1
    h = found[0]
    assert h.score > 0.5 and h.presence > 0.5
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[100:260, 100:260] = hand[..., 3]
    mask = cv2.dilate(mask, np.ones((9, 9), np.uint8))
    tips = h.landmarks[[4, 8, 12, 16, 20]]  # MediaPipe's fingertip landmarks
    assert all(mask[int(round(y)), int(round(x))] for x, y in tips), tips
    wrist, middle_tip = h.landmarks[0], h.landmarks[12]
    assert wrist[1] - middle_tip[1] > 60  # an upright hand: the wrist well below the middle fingertip
    x1, y1, x2, y2 = h.box
    assert 90 <= x1 and x2 <= 270 and 90 <= y1 and y2 <= 270  # the outline stays on the drawn hand


@pytest.mark.registry
def test_no_hands_in_face_photos(hands_detector, astronaut, grace_hopper):
    assert hands_detector.detect(astronaut) == []
    assert hands_detector.detect(grace_hopper) == []
    assert hands_detector.detect(np.full((200, 300, 3), 128, np.uint8)) == []


@pytest.mark.registry
def test_detected_hand_outline_flags_the_covered_face_half(hands_detector):
    img = paste(np.full((400, 400, 3), 90, np.uint8), draw_hand(160), 100, 100)
    (h,) = hands_detector.detect(img)
    x1, y1, x2, y2 = h.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = 0.8 * (x2 - x1)
    face_below = Face((cx - side / 2, y2 - 0.45 * side, cx + side / 2, y2 + 0.55 * side))  # the hand's lower end over its upper half
    face_above = Face((cx - side / 2, y1 - 0.55 * side, cx + side / 2, y1 + 0.45 * side))  # the fingers over its lower half
    far = Face((x2 + 50, y2 + 50, x2 + 120, y2 + 120))
    assert face_occlusion(face_below, [h]).state == "upper"
    assert face_occlusion(face_above, [h]).state == "lower"
    assert face_occlusion(far, [h]).state == "none"


@pytest.mark.registry
def test_real_hand_over_the_mouth_keeps_the_id_and_flags_the_lower_half(hands_detector, hand_over_mouth_video, recognizers):
    """A real hand photo (with its wrist) slides over the astronaut's mouth for 2 s: MediaPipe finds it beside the face,
    the video-mode tracker keeps it while it lies over the face, the lower half is flagged exactly then, the upper-face
    model predicts, and the signer keeps one ID throughout."""
    from signfer.annotate.media import AnnotationOptions, annotate_media
    from signfer.annotate.stages import HandOptions, SignerOptions
    from signfer.signers.hands import HandTracker, MediaPipeHands

    video = hand_over_mouth_video
    tracker = HandTracker(MediaPipeHands(complexity="full"), palm_every=5)
    opts = AnnotationOptions(signers=SignerOptions(), hands=HandOptions(occlusion="switch"))
    res = annotate_media(recognizers, video.path, None, options=opts, hand_detector=tracker, collect=True)
    f = res.frames.set_index("frame")
    over = [i for i, t in enumerate(video.truth) if t["over_mouth"]]
    assert len(over) == 20
    assert res.signers == ["S1"] and set(f["signer_id"]) == {"S1"} and list(f.index) == list(range(50))
    assert (f.loc[over, "occlusion"] == "lower").all(), f.loc[over, ["occlusion", "occluded_upper", "occluded_lower"]]
    assert (f.loc[over, "model_used"] == "upper").all() and (f.loc[over, "status"] == "ok").all()
    free = [i for i, t in enumerate(video.truth) if t["hand"] is None]
    assert (f.loc[free, "occlusion"] == "none").all() and (f.loc[free, "model_used"] == "full").all() and (f.loc[free, "hands"] == 0).all()
    assert (f.loc[over, "hands"] == 1).all()
    # the palm detector ran on far fewer frames than there are: the tracked hand follows its landmarks
    assert tracker.palm_runs < 25, tracker.palm_runs


@pytest.mark.registry
def test_tracked_landmarks_stay_on_a_moving_real_hand(hands_detector, real_hand):
    """landmark_roi + the landmark model follow a real hand moving 12 px a frame as well as detecting it afresh does."""
    from signfer.signers.hands import HandTracker, MediaPipeHands

    rgba = cv2.resize(real_hand, None, fx=0.5, fy=0.5)
    tracker = HandTracker(MediaPipeHands(complexity="full"), palm_every=100)
    errors = []
    for i in range(10):
        img = paste(np.full((320, 480, 3), 60, np.uint8), rgba, 40 + 12 * i, 80)
        (fresh,) = hands_detector.detect(img)
        (followed,) = tracker.detect(img)
        errors.append(float(np.abs(followed.landmarks - fresh.landmarks).mean()))
    assert tracker.palm_runs == 1  # found once, then tracked
    assert max(errors) < 6.0, errors  # pixels, for a hand ~ 160 px tall
