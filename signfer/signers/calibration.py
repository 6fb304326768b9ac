"""Per-signer calibration: remove a signer's resting-face bias from the logits, from evidence of neutrality only.

Some people's resting face reads as sad or angry to any model: every logit is shifted by a roughly
constant, personal offset. If a signer's neutral face gives logits ``b`` (the *baseline*), the
calibrated logits of a frame are ``z - b + r``: the personal offset is removed and the neutral face is
mapped onto a fixed reference ``r`` (the logits of a distribution that reads ``neutral`` with
``reference_confidence``, default 0.9, the rest shared equally), so a calibrated neutral face reads
neutral and an expression reads as its difference from that person's neutral face.

The baseline must come from frames that *are* neutral, never from the whole video (the median of a
video in which a signer smiles throughout is a smile; subtracting it turns the smile into noise):

- ``interval``: the frames inside the ``--neutral`` stretches (known to be neutral);
- ``median``: the frames the model itself rates ``neutral`` with probability >= ``min_confidence``
  (default 0.6), the per-class median of their logits;

taken separately for each signer and model used (full / upper / lower face: their logits differ), and
only when at least ``min_frames`` such frames exist. Without that evidence a signer's outputs stay raw,
and the result says so (``source: none``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from signfer.errors import OptionError

METHODS = ("none", "median", "interval")
NEUTRAL = "neutral"


@dataclass(frozen=True)
class NeutralInterval:
    """A stretch of video marked neutral: ``signer`` (None = every signer), start and end in milliseconds."""

    start_ms: float
    end_ms: float
    signer: str | None = None

    def contains(self, time_ms: float, signer: str) -> bool:
        return self.start_ms <= time_ms <= self.end_ms and (self.signer is None or self.signer == signer)


_INTERVAL = re.compile(r"^\s*(?:(?P<signer>[^:]+):)?\s*(?P<start>\d+(?:\.\d*)?)\s*-\s*(?P<end>\d+(?:\.\d*)?)\s*$")


def parse_neutral(text: str) -> NeutralInterval:
    """``"[SIGNER:]START-END"`` in seconds (``"S2:1.5-4"``) -> :class:`NeutralInterval`."""
    m = _INTERVAL.match(text)
    if not m:
        raise OptionError(f"neutral interval {text!r}: expected [SIGNER:]START-END in seconds, e.g. 0-2.5 or S2:10-12")
    start, end = float(m["start"]), float(m["end"])
    if end <= start:
        raise OptionError(f"neutral interval {text!r}: the end must come after the start")
    return NeutralInterval(start * 1000.0, end * 1000.0, m["signer"].strip() if m["signer"] else None)


@dataclass(frozen=True)
class CalibrationOptions:
    """How to calibrate: ``method`` (``none`` | ``median`` | ``interval``), the ``neutral`` stretches, and the
    evidence needed (``min_confidence`` for the model's own neutral frames, ``min_frames`` per signer and model)."""

    method: str = "none"
    neutral: Sequence[NeutralInterval] = field(default_factory=tuple)
    min_confidence: float = 0.6
    min_frames: int = 5
    reference_confidence: float = 0.9

    def __post_init__(self):
        if self.method not in METHODS:
            raise OptionError(f"calibration must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.method == "interval" and not self.neutral:
            raise OptionError("calibration 'interval' needs at least one neutral interval ([SIGNER:]START-END in seconds)")
        if not 0 < self.reference_confidence < 1 or not 0 <= self.min_confidence <= 1 or self.min_frames < 1:
            raise OptionError("reference_confidence must be in (0, 1), min_confidence in [0, 1], min_frames >= 1")

    @property
    def enabled(self) -> bool:
        return self.method != "none"

    def to_dict(self) -> dict:
        return {"method": self.method, "neutral": [vars(n) for n in self.neutral], "min_confidence": self.min_confidence,
                "min_frames": self.min_frames, "reference_confidence": self.reference_confidence}  # fmt: skip


def neutral_baseline(logits: np.ndarray) -> np.ndarray:
    """Per-class median of (N, C) logits."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or len(logits) == 0:
        raise OptionError("a baseline needs at least one frame of logits (N, C)")
    return np.median(logits, axis=0)


def evidence(options: CalibrationOptions, probs: np.ndarray, times_ms: np.ndarray, signers: Sequence[str], class_names: Sequence[str]) -> np.ndarray:
    """Which frames (rows of ``probs``, raw probabilities) count as neutral for ``options.method``."""
    n = len(probs)
    if options.method == "interval":
        return np.array([any(iv.contains(float(t), s) for iv in options.neutral) for t, s in zip(times_ms, signers)], bool).reshape(n)
    if options.method == "median":
        if NEUTRAL not in class_names:
            return np.zeros(n, bool)
        return np.asarray(probs, np.float64)[:, list(class_names).index(NEUTRAL)] >= options.min_confidence
    return np.zeros(n, bool)


def fit_baselines(keys: list, logits: np.ndarray, neutral: np.ndarray, min_frames: int = 1) -> dict:
    """Baselines per key (e.g. ``(signer, model_used)``) from the logits (N, C) of the frames marked ``neutral``.

    Returns ``{key: {"baseline": (C,) array | None, "frames": neutral frames, "of": all frames}}``; the
    baseline is ``None`` where fewer than ``min_frames`` neutral frames exist (no evidence: stay raw).
    """
    logits = np.asarray(logits, np.float64)
    neutral = np.asarray(neutral, bool)
    out = {}
    for key in dict.fromkeys(keys):
        mine = np.array([k == key for k in keys], bool)
        idx = np.flatnonzero(mine & neutral)
        base = neutral_baseline(logits[idx]) if len(idx) >= min_frames else None
        out[key] = {"baseline": base, "frames": int(len(idx)), "of": int(mine.sum())}
    return out


def reference_logits(class_names: Sequence[str], confidence: float = 0.9) -> np.ndarray:
    """Logits of the distribution a calibrated neutral face maps onto: ``neutral`` at ``confidence``, the rest equal
    (zeros without a neutral class: then only the personal offset is removed)."""
    names = list(class_names)
    if NEUTRAL not in names or len(names) < 2:
        return np.zeros(len(names))
    p = np.full(len(names), (1 - confidence) / (len(names) - 1))
    p[names.index(NEUTRAL)] = confidence
    return np.log(p)


def calibrate(logits: np.ndarray, baseline: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """``logits - baseline + reference`` (broadcast over frames)."""
    out = np.asarray(logits, np.float64) - np.asarray(baseline, np.float64)
    return out if reference is None else out + np.asarray(reference, np.float64)
