"""Per-signer calibration removes a constant per-signer logit offset."""

from __future__ import annotations

import numpy as np
import pytest

from signfer.signers import calibration as cal


def test_constant_offset_per_signer_is_removed():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1.5, size=(60, 7))  # the same expressions shown by two signers
    off_a = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 2.5, 0.0])  # signer A's resting face reads "sad"
    off_b = np.array([1.8, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0])  # signer B's reads "angry"
    logits = np.concatenate([base + off_a, base + off_b])
    signers = ["A"] * 60 + ["B"] * 60
    keys = [(s, "full") for s in signers]
    fitted = cal.fit_baselines(keys, logits)
    a = cal.calibrate(logits[:60], fitted[("A", "full")]["baseline"])
    b = cal.calibrate(logits[60:], fitted[("B", "full")]["baseline"])
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(a, base - np.median(base, axis=0), atol=1e-9)
    raw_a, raw_b = logits[:60].argmax(1), logits[60:].argmax(1)
    assert (raw_a != raw_b).mean() > 0.3  # raw decisions disagree on many frames ...
    assert (cal.softmax(a).argmax(1) == cal.softmax(b).argmax(1)).all()  # ... calibrated ones never
    assert fitted[("A", "full")]["frames"] == 60 and fitted[("A", "full")]["source"] == "median"


def test_neutral_interval_baseline():
    times = np.arange(40) * 100.0
    logits = np.zeros((40, 3))
    logits[:10] = [0.0, 2.0, 0.0]  # the first second: resting face
    logits[10:] = [3.0, 2.0, 0.0]
    iv = cal.parse_neutral("S1:0-0.95")
    fitted = cal.fit_baselines([("S1", "full")] * 40, logits, times, ["S1"] * 40, [iv])
    info = fitted[("S1", "full")]
    assert info["source"] == "interval" and info["frames"] == 10
    np.testing.assert_allclose(info["baseline"], [0.0, 2.0, 0.0])
    # a signer with no frame in its interval falls back to the median of all its frames
    other = cal.fit_baselines([("S2", "full")] * 40, logits, times, ["S2"] * 40, [iv])[("S2", "full")]
    assert other["source"] == "median" and other["frames"] == 40


def test_parse_neutral():
    assert cal.parse_neutral("1.5-3") == cal.NeutralInterval(1500.0, 3000.0, None)
    assert cal.parse_neutral("S2:10-12").signer == "S2"
    with pytest.raises(ValueError, match="START-END"):
        cal.parse_neutral("soon")
    with pytest.raises(ValueError, match="after the start"):
        cal.parse_neutral("3-1")
