"""Non-manual events per signer from the per-frame measures, with thresholds relative to the signer's own
robust statistics (median and MAD over the video), and the continuous curves as an ELAN time-series file.

Events (each with start, end and a strength):

- ``head_nod`` / ``head_shake``: pitch / yaw oscillating. The angle minus its centred moving average over
  ``oscillation_window_s`` (which keeps 1-6 Hz swings and drops slow turns) must swing beyond
  ``max(swing_deg, swing_k x the signer's robust SD of that residual)`` to either side at least
  ``min_swings`` times in a row, each swing within ``max_swing_s`` of the last; strength: peak-to-peak degrees. A
  nod overlapping a shake less than ``cross_ratio`` times as strong is the shake's echo on the other axis (and
  vice versa), and dropped.
- ``head_tilt``: roll away from the signer's median by more than ``max(tilt_deg, tilt_k x SD)`` for at least
  ``tilt_min_s``; strength: mean roll offset in degrees (> 0: towards the image's right).
- ``brow_raise`` / ``brow_furrow``: brow height (mean of left and right; for furrows the inner brows; both measured
  on the frontalised mesh and with the rest of their dependence on pitch removed, :func:`pitch_corrected`) above /
  below the signer's median by ``max(brow_raise, brow_k x SD)`` / ``max(brow_furrow, brow_k x SD)`` (shares of the
  inter-ocular distance) for at least ``brow_min_s``; strength: the largest offset.
- ``blink``: eye aperture (mean of both eyes) below ``blink_ratio`` x its running median over ``blink_window_s``
  (the eyes' level changes with gaze and smiling) for at most ``blink_max_s``; strength: 1 - smallest ratio.
- ``mouth_open``: mouth opening above the signer's closed level (the 10th percentile) by
  ``max(mouth_open, mouth_k x SD)`` (SD of the frames below the median) for at least ``mouth_min_s``;
  strength: the largest opening above the closed level.

Tilts, brows and mouth start where the offset crosses its threshold and last while it stays above ``hysteresis``
x the threshold.

These are kinematic pre-annotations for an annotator to confirm, not linguistic labels (docs/nonmanual.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from signfer.errors import OptionError
from signfer.nonmanual.measures import COLUMNS

EVENTS = ("head_nod", "head_shake", "head_tilt", "brow_raise", "brow_furrow", "blink", "mouth_open")
#: the curves of the ELAN time-series file: column, unit, display range
CURVES = (("head_pitch", "deg", (-30, 30)), ("head_yaw", "deg", (-45, 45)), ("head_roll", "deg", (-30, 30)),
          ("brow_height", "IOD", (-0.15, 0.15)), ("brow_inner", "IOD", (-0.15, 0.15)),
          ("eye_aperture", "IOD", (0.0, 0.2)), ("mouth_open", "IOD", (0.0, 0.6)))  # fmt: skip


@dataclass(frozen=True)
class EventThresholds:
    """Every threshold of the event detectors (see the module's docstring); ``*_k``: multiples of the signer's
    robust SD (1.4826 x MAD), the other numbers are floors in degrees, seconds or shares of the inter-ocular distance."""

    oscillation_window_s: float = 0.6
    swing_deg: float = 3.0
    swing_k: float = 3.0
    min_swings: int = 2
    max_swing_s: float = 0.5
    cross_ratio: float = 0.5
    tilt_deg: float = 8.0
    tilt_k: float = 3.0
    tilt_min_s: float = 0.4
    brow_raise: float = 0.02
    brow_furrow: float = 0.02
    brow_k: float = 3.0
    brow_min_s: float = 0.15
    blink_ratio: float = 0.85
    blink_window_s: float = 1.0
    blink_max_s: float = 0.5
    mouth_open: float = 0.08
    mouth_k: float = 3.0
    mouth_min_s: float = 0.1
    hysteresis: float = 0.5

    def __post_init__(self):
        for k, v in asdict(self).items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise OptionError(f"non-manual threshold {k} must be a number >= 0, got {v!r}")
        if self.min_swings < 1 or not 0 < self.blink_ratio < 1 or self.blink_window_s <= 0:
            raise OptionError("min_swings must be >= 1, blink_ratio between 0 and 1 and blink_window_s > 0")


@dataclass(frozen=True)
class Event:
    kind: str
    start_ms: float
    end_ms: float
    strength: float

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start_ms": round(self.start_ms, 1), "end_ms": round(self.end_ms, 1), "strength": round(self.strength, 4)}


def robust(x: np.ndarray) -> tuple[float, float]:
    """(median, robust SD = 1.4826 x MAD) of the finite values of ``x``."""
    x = x[np.isfinite(x)]
    if not len(x):
        return float("nan"), float("nan")
    med = float(np.median(x))
    return med, float(1.4826 * np.median(np.abs(x - med)))


def pitch_corrected(x: np.ndarray, pitch: np.ndarray, bin_deg: float = 2.0, min_frames: int = 5) -> np.ndarray:
    """``x`` (a brow height) with what the head's pitch explains removed: the line through the medians of ``x`` in
    ``bin_deg`` bins of pitch (bins of at least ``min_frames`` frames, weighted by their counts; medians, so brow
    raises and furrows, a minority at any pitch, do not pull it), subtracted about the signer's median pitch.
    The frontalised mesh already removes most of the pitch effect; this takes the signer-specific rest
    (Kuznetsova & Kimmelman 2024 correct 2D landmarks the same way)."""
    ok = np.isfinite(x) & np.isfinite(pitch)
    if ok.sum() < 2 * min_frames:
        return x
    b = np.floor(pitch[ok] / bin_deg).astype(np.int64)
    centres, medians, counts = [], [], []
    for k in np.unique(b):
        sel = b == k
        if sel.sum() >= min_frames:
            centres.append(float(np.median(pitch[ok][sel])))
            medians.append(float(np.median(x[ok][sel])))
            counts.append(float(sel.sum()))
    if len(centres) < 3 or np.ptp(centres) < 3 * bin_deg:
        return x
    slope, _ = np.polyfit(centres, medians, 1, w=np.sqrt(counts))
    return x - slope * (pitch - np.nanmedian(pitch[ok]))


def _fill(x: np.ndarray) -> np.ndarray:
    """Gaps (NaN) filled by linear interpolation (the ends by the nearest value)."""
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x.copy()
    i = np.arange(len(x))
    return np.interp(i, i[ok], x[ok])


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    n = max(1, n | 1)  # odd, centred
    pad = np.pad(x, n // 2, mode="edge")
    c = np.cumsum(np.concatenate([[0.0], pad]))
    return (c[n:] - c[:-n]) / n


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last)] index runs where ``mask`` is true."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))


class Detector:
    """The events of one signer from their per-frame measures (``times`` in ms; NaN where no face)."""

    def __init__(self, thresholds: EventThresholds | None = None):
        self.th = thresholds or EventThresholds()

    def _span(self, t: np.ndarray, i: int, j: int) -> tuple[float, float]:
        step = float(np.median(np.diff(t))) if len(t) > 1 else 40.0
        return float(t[i] - step / 2), float(t[j] + step / 2)

    def oscillations(self, kind: str, t: np.ndarray, angle: np.ndarray) -> list[Event]:
        th = self.th
        valid = np.isfinite(angle)
        if valid.sum() < 3:
            return []
        step_s = float(np.median(np.diff(t))) / 1000.0
        x = _fill(angle)
        r = x - _moving_mean(x, int(round(th.oscillation_window_s / step_s)))
        r[~valid] = 0.0
        _, sd = robust(r[valid])
        half = max(th.swing_deg / 2, th.swing_k * sd)
        # swings: maximal stretches beyond +half or -half; their extreme frames, alternating in sign
        sign = np.where(r > half, 1, np.where(r < -half, -1, 0))
        swings = []  # (index of the extreme, sign, first, last)
        for s in (1, -1):
            for i, j in _runs(sign == s):
                k = i + int(np.argmax(s * r[i:j + 1]))
                swings.append((k, s, i, j))
        swings.sort()
        events, chain = [], []
        max_gap = th.max_swing_s * 1000.0

        def close():
            if len(chain) >= th.min_swings:
                a, b = chain[0][2], chain[-1][3]
                seg = r[a:b + 1]
                events.append(Event(kind, *self._span(t, a, b), float(seg.max() - seg.min())))

        for sw in swings:
            if chain and (sw[1] == chain[-1][1] or t[sw[0]] - t[chain[-1][0]] > max_gap):
                close()
                chain = []
            chain.append(sw)
        close()
        return events

    def blinks(self, t: np.ndarray, eyes: np.ndarray) -> list[Event]:
        from scipy.ndimage import median_filter

        th = self.th
        valid = np.isfinite(eyes)
        if valid.sum() < 3:
            return []
        step_s = float(np.median(np.diff(t))) / 1000.0
        n = max(3, int(round(th.blink_window_s / step_s)) | 1)
        level = median_filter(_fill(eyes), size=n, mode="nearest")
        ratio = np.where(valid & (level > 0), eyes / np.where(level > 0, level, 1.0), np.nan)
        out = []
        for i, j in _runs(ratio < th.blink_ratio):
            start, end = self._span(t, i, j)
            if (end - start) / 1000.0 <= th.blink_max_s + 1e-9:
                out.append(Event("blink", start, end, 1.0 - float(np.nanmin(ratio[i:j + 1]))))
        return out

    def sustained(self, kind: str, t: np.ndarray, x: np.ndarray, floor: float, k: float, min_s: float, direction: int,
                  base: str = "median") -> list[Event]:  # fmt: skip
        med, sd = robust(x)
        if not math.isfinite(med):
            return []
        if base == "closed":  # mouth: the closed level and the noise of the frames at or below the median
            ok = x[np.isfinite(x)]
            sd = robust(ok[ok <= med])[1]
            med = float(np.percentile(ok, 10))
        d = direction * (x - med)
        thr = max(floor, k * sd)
        mask = (d > thr) & np.isfinite(x)
        if self.th.hysteresis < 1:  # extend each run while the offset stays above the lower level
            low = (d > thr * self.th.hysteresis) & np.isfinite(x)
            mask = np.zeros_like(mask)
            for i, j in _runs(low):
                if (d[i:j + 1] > thr).any():
                    mask[i:j + 1] = True
        out = []
        for i, j in _runs(mask):
            start, end = self._span(t, i, j)
            dur = (end - start) / 1000.0
            if dur + 1e-9 < min_s:
                continue
            if kind == "head_tilt":
                strength = float(np.nanmean(x[i:j + 1] - med))
            else:
                strength = float(np.nanmax(d[i:j + 1]))
            out.append(Event(kind, start, end, strength))
        return out

    def events(self, times, measures: dict[str, np.ndarray]) -> list[Event]:
        """Every event of one signer, by start time. ``measures``: column -> values per frame."""
        th = self.th
        t = np.asarray(times, np.float64)
        m = {k: np.asarray(measures[k], np.float64) for k in COLUMNS}
        brows = pitch_corrected((m["brow_left"] + m["brow_right"]) / 2, m["head_pitch"])
        inner = pitch_corrected(m["brow_inner"], m["head_pitch"])
        eyes = (m["eye_left"] + m["eye_right"]) / 2
        nods, shakes = self.oscillations("head_nod", t, m["head_pitch"]), self.oscillations("head_shake", t, m["head_yaw"])

        def echo(e: Event, others: list[Event]) -> bool:
            return any(min(e.end_ms, o.end_ms) > max(e.start_ms, o.start_ms) and e.strength < th.cross_ratio * o.strength for o in others)

        out = [e for e in nods if not echo(e, shakes)] + [e for e in shakes if not echo(e, nods)]
        out += self.sustained("head_tilt", t, m["head_roll"], th.tilt_deg, th.tilt_k, th.tilt_min_s, 1)
        out += [e for e in self.sustained("head_tilt", t, m["head_roll"], th.tilt_deg, th.tilt_k, th.tilt_min_s, -1)]
        out += self.sustained("brow_raise", t, brows, th.brow_raise, th.brow_k, th.brow_min_s, 1)
        out += self.sustained("brow_furrow", t, inner, th.brow_furrow, th.brow_k, th.brow_min_s, -1)
        out += self.blinks(t, eyes)
        out += self.sustained("mouth_open", t, m["mouth_open"], th.mouth_open, th.mouth_k, th.mouth_min_s, 1, base="closed")
        return sorted(out, key=lambda e: (e.start_ms, e.kind))


def curves(times, measures: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The continuous curves of :data:`CURVES` for one signer: angles as measured, brow height (mean of both
    brows) and inner brows corrected for pitch and relative to the signer's median, eye aperture (mean of both eyes)
    and mouth opening as measured."""
    m = {k: np.asarray(measures[k], np.float64) for k in COLUMNS}
    brows = pitch_corrected((m["brow_left"] + m["brow_right"]) / 2, m["head_pitch"])
    inner = pitch_corrected(m["brow_inner"], m["head_pitch"])
    return {
        "head_pitch": m["head_pitch"], "head_yaw": m["head_yaw"], "head_roll": m["head_roll"],
        "brow_height": brows - robust(brows)[0], "brow_inner": inner - robust(inner)[0],
        "eye_aperture": (m["eye_left"] + m["eye_right"]) / 2, "mouth_open": m["mouth_open"],
    }  # fmt: skip
