"""Expression segments: consecutive analysed frames with the same label merged into intervals.

A segment starts at the time of its first frame and ends at the time of the next analysed
frame (or, for the last frame of the input, one frame step later), so segments tile the
timeline exactly as the per-frame rows do. Frames without a face (label ``None``) end a
segment and belong to none.

``min_duration_ms``: runs shorter than this are dropped; two runs of the same label that
were separated only by dropped runs and frames without a face (together shorter than
``min_duration_ms``) are merged into one segment: a face the detector misses for a frame or two
does not split a segment. A longer stretch without a face always does. ``mean_confidence`` is the mean top-class
probability over the frames of the segment that carry its label, ``mean_probabilities``
the mean probability vector over the same frames (when probabilities are pushed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from signfer.errors import OptionError


@dataclass
class Segment:
    label: str
    start_ms: float
    end_ms: float
    start_frame: int  # index of the first frame
    end_frame: int  # index of the last frame (inclusive)
    n_frames: int  # analysed frames carrying the label
    mean_confidence: float
    mean_probabilities: list[float] | None = None  # per class (model order), over the frames carrying the label

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms

    def to_dict(self) -> dict:
        d = asdict(self)
        d["duration_ms"] = self.duration_ms
        return d


class SegmentBuilder:
    """Build segments from a stream of frames; :meth:`push` / :meth:`finish` return finished segments."""

    def __init__(self, min_duration_ms: float = 0.0):
        if min_duration_ms < 0:
            raise OptionError(f"minimum segment duration must be >= 0 ms, got {min_duration_ms}")
        self.min_duration_ms = float(min_duration_ms)
        self._run: dict | None = None  # the run being extended
        self._kept: Segment | None = None  # last kept segment, may still absorb a later run of its label
        self._conf_sum = 0.0  # of self._kept
        self._prob_sum: np.ndarray | None = None  # of self._kept
        self._gap_ms = 0.0  # duration of dropped runs since self._kept
        self._gap_broken = False  # a long stretch without a face since self._kept
        self._no_face_since: float | None = None  # start of the current stretch without a face

    def push(
        self, frame: int, time_ms: float, label: str | None, confidence: float = float("nan"), probabilities=None
    ) -> list[Segment]:
        """Add the next analysed frame (``label`` None: no face); returns segments that became final."""
        out: list[Segment] = []
        probs = None if probabilities is None or label is None else np.asarray(probabilities, dtype=np.float64)
        run = self._run
        if run is not None and run["label"] == label:
            run["end_frame"] = frame
            run["n"] += 1
            run["conf"] += confidence
            run["probs"] = None if run["probs"] is None or probs is None else run["probs"] + probs
            return out
        if run is not None:
            out += self._close(run, time_ms)
        if label is None:
            self._run = None
            if self._no_face_since is None:
                self._no_face_since = time_ms
        else:
            if self._no_face_since is not None:
                missing = time_ms - self._no_face_since
                if 0 < self.min_duration_ms and missing < self.min_duration_ms:
                    self._gap_ms += missing  # a face missed briefly: like a dropped run
                else:
                    self._gap_broken = True
                self._no_face_since = None
            self._run = {"label": label, "start_ms": time_ms, "start_frame": frame, "end_frame": frame, "n": 1, "conf": confidence, "probs": probs}
        return out

    def finish(self, end_ms: float) -> list[Segment]:
        """Close the stream; ``end_ms`` is where the last analysed frame ends."""
        out = []
        if self._run is not None:
            out += self._close(self._run, end_ms)
            self._run = None
        if self._kept is not None:
            out.append(self._final(self._kept))
            self._kept = None
        return out

    # ------------------------------------------------------------------
    def _close(self, run: dict, end_ms: float) -> list[Segment]:
        seg = Segment(run["label"], run["start_ms"], end_ms, run["start_frame"], run["end_frame"], run["n"], 0.0)
        kept = self._kept
        continues = (  # the kept segment's label again, after no more than a short gap: it goes on (however short this run)
            kept is not None
            and kept.label == seg.label
            and not self._gap_broken
            and (self._gap_ms < self.min_duration_ms or self._gap_ms == 0)
        )
        if seg.duration_ms < self.min_duration_ms and not continues:
            self._gap_ms += seg.duration_ms
            return []
        if continues:
            kept.end_ms, kept.end_frame = seg.end_ms, seg.end_frame
            kept.n_frames += seg.n_frames
            self._conf_sum += run["conf"]
            self._prob_sum = None if self._prob_sum is None or run["probs"] is None else self._prob_sum + run["probs"]
            self._gap_ms, self._gap_broken = 0.0, False
            return []
        out = [self._final(kept)] if kept is not None else []
        self._kept, self._conf_sum, self._prob_sum = seg, run["conf"], run["probs"]
        self._gap_ms, self._gap_broken = 0.0, False
        return out

    def _final(self, seg: Segment) -> Segment:
        seg.mean_confidence = self._conf_sum / seg.n_frames if seg.n_frames else float("nan")
        if self._prob_sum is not None and seg.n_frames:
            seg.mean_probabilities = [float(v) for v in self._prob_sum / seg.n_frames]
        return seg


def build_segments(
    frames: Iterable[int],
    times_ms: Iterable[float],
    labels: Iterable[str | None],
    confidences: Iterable[float],
    end_ms: float,
    min_duration_ms: float = 0.0,
) -> list[Segment]:
    """Segments of a whole sequence of analysed frames (labels ``None`` or NaN: no face)."""
    builder = SegmentBuilder(min_duration_ms)
    out: list[Segment] = []
    for f, t, lab, c in zip(frames, times_ms, labels, confidences):
        if lab is not None and not isinstance(lab, str):
            lab = None  # NaN from pandas
        out += builder.push(int(f), float(t), lab or None, float(c))
    return out + builder.finish(end_ms)


def segments_table(segments: Iterable[Segment]) -> pd.DataFrame:
    """Segments as a DataFrame (one row each, with ``duration_ms``)."""
    cols = ["label", "start_ms", "end_ms", "duration_ms", "start_frame", "end_frame", "n_frames", "mean_confidence"]
    return pd.DataFrame([s.to_dict() for s in segments], columns=cols)
