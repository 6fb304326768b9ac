"""Temporal smoothing (checked against pandas), segments, and face tracking between detections."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from signfer.faces.types import Face
from signfer.annotate.segments import SegmentBuilder, build_segments
from signfer.annotate.smoothing import Smoothing, StreamingSmoother, smooth_probabilities
from signfer.faces.tracker import FaceTracker


@pytest.fixture(scope="module")
def noisy_probs():
    p = np.random.default_rng(0).dirichlet(np.ones(5), size=60)
    p[[0, 7, 8, 30, 59]] = np.nan  # frames without a face
    return p


@pytest.mark.parametrize("window", [2, 3, 4, 7])
def test_moving_average_equals_pandas_centred_rolling(noisy_probs, window):
    ours = smooth_probabilities(noisy_probs, "moving", window)
    ref = pd.DataFrame(noisy_probs).rolling(window, center=True, min_periods=1).mean().to_numpy().copy()
    no_face = np.isnan(noisy_probs[:, 0])
    ref[no_face] = np.nan
    assert np.array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours[~no_face], ref[~no_face], atol=1e-12)
    assert np.abs(ours[~no_face] - noisy_probs[~no_face]).max() > 0.05  # it did smooth


@pytest.mark.parametrize("window", [3, 9])
def test_exponential_equals_pandas_ewm(noisy_probs, window):
    ours = smooth_probabilities(noisy_probs, "exponential", window)
    ref = pd.DataFrame(noisy_probs).ewm(span=window, adjust=False, ignore_na=True).mean().to_numpy()
    ok = ~np.isnan(noisy_probs[:, 0])
    np.testing.assert_allclose(ours[ok], ref[ok], atol=1e-12)
    assert np.isnan(ours[~ok]).all()


def test_streaming_smoother_holds_at_most_a_window(noisy_probs):
    sm = StreamingSmoother(Smoothing("moving", 9))
    emitted = []
    for i, p in enumerate(noisy_probs):
        emitted += [k for k, _ in sm.push(i, p)]
        assert i + 1 - len(emitted) <= 4  # (9 - 1) // 2 frames wait for their future
    emitted += [k for k, _ in sm.flush()]
    assert emitted == list(range(len(noisy_probs)))
    with pytest.raises(ValueError, match="unknown smoothing method"):
        Smoothing("median", 3)


def test_segments_tile_the_timeline():
    labels = ["happy", "happy", "sad", None, None, "sad", "sad", "sad", "happy"]
    conf = [0.9, 0.7, 0.6, np.nan, np.nan, 0.5, 0.7, 0.9, 0.8]
    times = [40.0 * i for i in range(9)]
    segs = build_segments(range(9), times, labels, conf, end_ms=360.0)
    assert [(s.label, s.start_ms, s.end_ms, s.start_frame, s.end_frame, s.n_frames) for s in segs] == [
        ("happy", 0, 80, 0, 1, 2),
        ("sad", 80, 120, 2, 2, 1),  # ends where the first frame without a face starts
        ("sad", 200, 320, 5, 7, 3),  # no face in between: not merged
        ("happy", 320, 360, 8, 8, 1),
    ]
    assert segs[0].mean_confidence == pytest.approx(0.8)
    assert segs[2].mean_confidence == pytest.approx(0.7)


def test_min_duration_drops_flicker_and_merges_across_it():
    labels = ["happy"] * 5 + ["sad"] + ["happy"] * 4 + ["sad"] * 6
    probs = [np.array([0.8, 0.2]) if lab == "happy" else np.array([0.3, 0.7]) for lab in labels]
    b = SegmentBuilder(min_duration_ms=100)
    segs = []
    for i, (lab, p) in enumerate(zip(labels, probs)):
        segs += b.push(i, 40.0 * i, lab, float(p.max()), p)
    segs += b.finish(40.0 * len(labels))
    assert [(s.label, s.start_ms, s.end_ms, s.n_frames) for s in segs] == [("happy", 0, 400, 9), ("sad", 400, 640, 6)]
    assert segs[0].mean_probabilities == pytest.approx([0.8, 0.2])
    assert segs[1].mean_confidence == pytest.approx(0.7)


def test_tracker_follows_the_face_and_gives_up_on_a_blank_frame(astronaut):
    def frame(dx, dy):
        return cv2.warpAffine(astronaut, np.float32([[1, 0, dx], [0, 1, dy]]), (600, 560))

    face = Face((181, 62, 268, 172), 0.99, (205, 102), (247, 104))
    tracker = FaceTracker()
    tracker.reset(frame(0, 0), face)
    for dx, dy in [(4, 2), (15, 9), (33, -12)]:
        moved = tracker.track(frame(dx, dy))
        assert moved is not None and moved.score == face.score
        np.testing.assert_allclose(moved.box, np.add(face.box, [dx, dy, dx, dy]), atol=3)
        np.testing.assert_allclose(moved.left_eye, np.add(face.left_eye, [dx, dy]), atol=3)
    assert tracker.track(np.zeros((560, 600, 3), np.uint8)) is None and not tracker.active
