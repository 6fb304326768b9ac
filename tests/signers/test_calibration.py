"""Per-signer calibration: a personal resting-face offset is removed, measured on neutral frames only."""

from __future__ import annotations

import numpy as np
import pytest

from signfer.data.labels import EMOTIONS7
from signfer.inference.classifier import softmax
from signfer.signers import calibration as cal

NEUTRAL = EMOTIONS7.index("neutral")
SAD, ANGER, HAPPY = EMOTIONS7.index("sad"), EMOTIONS7.index("anger"), EMOTIONS7.index("happy")


def _signer(offset: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """60 frames: 30 resting (neutral) then 30 smiling, as logits of a model that sees ``offset`` in this face."""
    rest = np.zeros(7)
    rest[NEUTRAL] = 3.0
    smile = np.zeros(7)
    smile[HAPPY] = 4.0
    truth = np.array([NEUTRAL] * 30 + [HAPPY] * 30)
    logits = np.stack([rest] * 30 + [smile] * 30) + offset + rng.normal(0, 0.2, size=(60, 7))
    return logits, truth


def test_resting_face_offset_is_removed_from_neutral_stretches():
    rng = np.random.default_rng(0)
    off_a = np.zeros(7)
    off_a[SAD] = 4.0  # signer A's resting face reads "sad"
    off_b = np.zeros(7)
    off_b[ANGER] = 4.5  # signer B's reads "angry"
    (za, truth), (zb, _) = _signer(off_a, rng), _signer(off_b, rng)
    assert (za[:30].argmax(1) == SAD).all() and (zb[:30].argmax(1) == ANGER).all()  # raw: the resting faces are misread
    times = np.arange(60) * 100.0
    opts = cal.CalibrationOptions("interval", neutral=(cal.parse_neutral("A:0-1"), cal.parse_neutral("B:0-1")))
    keys = [("A", "full")] * 60 + [("B", "full")] * 60
    logits = np.concatenate([za, zb])
    probs = softmax(logits)
    neutral = cal.evidence(opts, probs, np.concatenate([times, times]), [k[0] for k in keys], EMOTIONS7)
    assert neutral.sum() == 22  # frames 0..1000 ms of each signer
    fitted = cal.fit_baselines(keys, logits, neutral, opts.min_frames)
    ref = cal.reference_logits(EMOTIONS7, opts.reference_confidence)
    np.testing.assert_allclose(softmax(ref)[NEUTRAL], 0.9)
    ca = cal.calibrate(za, fitted[("A", "full")]["baseline"], ref).argmax(1)
    cb = cal.calibrate(zb, fitted[("B", "full")]["baseline"], ref).argmax(1)
    assert (ca == truth).all() and (cb == truth).all()  # calibrated: rest reads neutral, the smile happy, for both
    assert fitted[("A", "full")]["frames"] == 11 and fitted[("A", "full")]["of"] == 60


def test_no_evidence_of_neutrality_leaves_a_steady_smile_raw():
    rng = np.random.default_rng(1)
    smile = np.zeros(7)
    smile[HAPPY] = 4.0
    logits = smile + rng.normal(0, 0.5, size=(200, 7))  # a signer who smiles throughout, lighting flickering
    opts = cal.CalibrationOptions("median")
    neutral = cal.evidence(opts, softmax(logits), np.arange(200) * 40.0, ["S1"] * 200, EMOTIONS7)
    assert not neutral.any()
    fitted = cal.fit_baselines([("S1", "full")] * 200, logits, neutral, opts.min_frames)
    assert fitted[("S1", "full")]["baseline"] is None  # no baseline: outputs stay raw
    # what the whole-video median (the old behaviour) did to the same smile: the label follows the noise
    wrecked = cal.calibrate(logits, cal.neutral_baseline(logits)).argmax(1)
    assert (logits.argmax(1) == HAPPY).all() and (wrecked == HAPPY).mean() < 0.5


def test_model_rated_neutral_frames_are_the_evidence_for_median():
    rng = np.random.default_rng(2)
    rest = np.zeros(7)
    rest[NEUTRAL], rest[SAD] = 3.0, 2.2  # read neutral (p ~ 0.6), with a sad tilt
    smile = np.zeros(7)
    smile[HAPPY] = 5.0
    logits = np.concatenate([rest + rng.normal(0, 0.1, (40, 7)), smile + rest + rng.normal(0, 0.1, (20, 7))])
    opts = cal.CalibrationOptions("median", min_confidence=0.5)
    neutral = cal.evidence(opts, softmax(logits), np.arange(60) * 40.0, ["S1"] * 60, EMOTIONS7)
    assert neutral[:40].all() and not neutral[40:].any()
    base = cal.fit_baselines([("S1", "full")] * 60, logits, neutral, opts.min_frames)[("S1", "full")]["baseline"]
    calibrated = softmax(cal.calibrate(logits, base, cal.reference_logits(EMOTIONS7)))
    assert (calibrated[:40].argmax(1) == NEUTRAL).all() and calibrated[:40, SAD].max() < 0.05  # the sad tilt is gone
    assert (calibrated[40:].argmax(1) == HAPPY).all()


def test_parse_neutral_and_options():
    assert cal.parse_neutral("1.5-3") == cal.NeutralInterval(1500.0, 3000.0, None)
    assert cal.parse_neutral("S2:10-12").signer == "S2"
    with pytest.raises(ValueError, match="START-END"):
        cal.parse_neutral("soon")
    with pytest.raises(ValueError, match="after the start"):
        cal.parse_neutral("3-1")
    with pytest.raises(ValueError, match="needs at least one neutral interval"):
        cal.CalibrationOptions("interval")
    assert not cal.evidence(cal.CalibrationOptions("median"), np.full((3, 2), 0.5), np.zeros(3), ["S1"] * 3, ["a", "b"]).any()  # no neutral class
