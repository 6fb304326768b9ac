"""Per-signer calibration: subtract each signer's neutral baseline from the logits before deciding.

A signer whose resting face looks "sad" or "angry" to the model shifts every logit by a roughly
constant offset. The baseline is the per-class median of that signer's logits over the video
(``method="median"``), or over a stretch the user marked as neutral (``--neutral``); it is
taken separately for each model used (full / upper / lower face), as their logits differ.
Calibrated probabilities are ``softmax(logits - baseline)``; both raw and calibrated outputs are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

METHODS = ("none", "median", "interval")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def neutral_baseline(logits: np.ndarray) -> np.ndarray:
    """Per-class median of (N, C) logits."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or len(logits) == 0:
        raise ValueError("a baseline needs at least one frame of logits (N, C)")
    return np.median(logits, axis=0)


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
        raise ValueError(f"neutral interval {text!r}: expected [SIGNER:]START-END in seconds, e.g. 0-2.5 or S2:10-12")
    start, end = float(m["start"]), float(m["end"])
    if end <= start:
        raise ValueError(f"neutral interval {text!r}: the end must come after the start")
    return NeutralInterval(start * 1000.0, end * 1000.0, m["signer"].strip() if m["signer"] else None)


def fit_baselines(keys: list, logits: np.ndarray, times_ms: np.ndarray | None = None, signers: list[str] | None = None,
                  intervals: list[NeutralInterval] | None = None) -> dict:
    """Baselines per key (e.g. ``(signer, model_used)``) from the frames' logits (N, C).

    With ``intervals``, only frames inside an interval of their signer count; a key with no frame
    inside one falls back to the median over all its frames (said in ``info[key]["source"]``).
    Returns ``{key: {"baseline": (C,) array, "frames": n, "source": "median" | "interval"}}``.
    """
    logits = np.asarray(logits, np.float64)
    out = {}
    for key in dict.fromkeys(keys):
        idx = np.flatnonzero([k == key for k in keys])
        source = "median"
        if intervals:
            inside = [i for i in idx if any(iv.contains(float(times_ms[i]), signers[i]) for iv in intervals)]
            if inside:
                idx, source = np.asarray(inside), "interval"
        out[key] = {"baseline": neutral_baseline(logits[idx]), "frames": int(len(idx)), "source": source}
    return out


def calibrate(logits: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """``logits - baseline`` (broadcast over frames)."""
    return np.asarray(logits, np.float64) - np.asarray(baseline, np.float64)
