"""Stable signer identities: faces followed over time by box overlap and appearance, re-identified after absences.

Each detected face is matched to a track by ``motion_weight`` x IoU with the track's last box
(worth less the longer the track has been unseen: x ``0.5 ** missed frames``) plus
``appearance_weight`` x the similarity of hue-saturation histograms of the inner face
(1 - Bhattacharyya distance; the track's histogram is a running mean over its clear, unoccluded
detections). Matching is one-to-one (Hungarian, :func:`scipy.optimize.linear_sum_assignment`);
pairs below ``min_similarity`` stay apart.

A track that finds no face is followed by template matching (:class:`signfer.faces.tracker.FaceTracker`),
else kept moving at its last velocity (``coasting``) for up to ``coast`` frames, its box clipped to the
frame; once it has left the frame or coasted that long it is *absent*: not reported, but remembered
for ``max_missing`` frames. A face that then appears and looks like it (appearance similarity at least
``reid_similarity``, wherever it appears: after leaving the frame, turning away, a hand over the face
or a scene cut) gets the old ID back. Only after ``max_missing`` frames unseen is a track forgotten;
an unmatched face starts a new track ``S<n>`` (IDs are never reused).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from signfer.errors import OptionError
from signfer.faces.tracker import FaceTracker, shift_face
from signfer.faces.types import Face, box_iou

STATUSES = ("detected", "tracked", "coasting")
#: a box is reported only while at least this share of it lies inside the frame
MIN_INSIDE = 0.5


def face_histogram(rgb: np.ndarray, box, bins: tuple[int, int] = (16, 8), inner: float = 0.6) -> np.ndarray | None:
    """Normalised hue-saturation histogram of the central ``inner`` part of ``box`` (None if empty)."""
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = box
    cx, cy, bw, bh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * inner, (y2 - y1) * inner
    xa, ya = max(0, int(round(cx - bw / 2))), max(0, int(round(cy - bh / 2)))
    xb, yb = min(w, int(round(cx + bw / 2))), min(h, int(round(cy + bh / 2)))
    if xb - xa < 2 or yb - ya < 2:
        return None
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb[ya:yb, xa:xb]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(bins), [0, 180, 0, 256]).astype(np.float32)
    total = hist.sum()
    return hist / total if total > 0 else None


def histogram_similarity(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return 0.0
    return float(1.0 - cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def clip_face(face: Face, shape) -> tuple[Face, float]:
    """``face`` with its box clipped to a frame of ``shape`` (h, w, ...), and the share of the box that was inside."""
    h, w = shape[:2]
    x1, y1, x2, y2 = face.box
    cx1, cy1, cx2, cy2 = min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w), min(max(y2, 0.0), h)
    area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    inside = max(cx2 - cx1, 0.0) * max(cy2 - cy1, 0.0) / area if area > 0 else 0.0
    if (cx1, cy1, cx2, cy2) == tuple(face.box):
        return face, inside
    return replace(face, box=(float(cx1), float(cy1), float(cx2), float(cy2))), inside


@dataclass
class TrackedFace:
    """A face with its signer ID in one frame; ``status`` is ``detected``, ``tracked`` (template) or ``coasting``."""

    signer_id: str
    face: Face
    status: str
    similarity: float = float("nan")
    reidentified: bool = False  # the ID came back after an absence


@dataclass
class _Track:
    signer_id: str
    face: Face
    hist: np.ndarray | None
    missed: int = 0
    seen: int = 1
    template: FaceTracker | None = field(default=None, repr=False)
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre, pixels per analysed frame
    observed: Face | None = None  # the last detected face
    absent: bool = False  # out of frame or lost for longer than `coast`: not reported, kept for re-identification


class SignerTracker:
    """Give every face a stable ``signer_id`` over a video. Call :meth:`update` once per analysed frame.

    ``max_missing``: frames a signer may be unseen and still come back under the same ID (the CLI's
    ``--max-missing SECONDS`` times the analysed frame rate); ``coast``: frames a lost face is still
    reported (followed by its template or moving as it last moved) before it counts as absent.

    No phantom signers: a new face that a hand covers (``occluded``) and that lies on a tracked signer's face
    (:data:`ON_SIGNER` of its box) is the hand over that face (MTCNN takes palm plus cheek for a face) and never
    starts a signer; a new face that only one of the two holds for becomes a signer once it was detected on
    ``confirm`` analysed frames in a row (until then it has no rows). A clear face away from every signer gets its
    ID at once. A lost face's template is not followed onto a face another signer was given in the same frame
    (someone passing in front of her): she coasts, then is absent, and comes back by appearance.
    """

    def __init__(
        self,
        motion_weight: float = 0.5,
        appearance_weight: float = 0.5,
        min_similarity: float = 0.25,
        max_missing: int = 75,
        coast: int = 15,
        reid_similarity: float = 0.6,
        momentum: float = 0.9,
        template: bool = True,
        prefix: str = "S",
        confirm: int = 3,
    ):
        self.motion_weight = motion_weight
        self.appearance_weight = appearance_weight
        self.min_similarity = min_similarity
        self.max_missing = int(max_missing)
        self.coast = int(min(coast, max_missing))
        self.reid_similarity = reid_similarity
        self.momentum = momentum
        self.template = template
        self.prefix = prefix
        self.confirm = max(1, int(confirm))
        self.tracks: list[_Track] = []
        self.candidates: list[tuple[Face, int]] = []  # doubtful new faces: (last box, detections in a row)
        self._next = 1

    def similarity(self, track: _Track, face: Face, hist: np.ndarray | None) -> float:
        looks = histogram_similarity(track.hist, hist)
        if track.absent:  # gone for a while: only appearance can bring it back
            return self.appearance_weight * looks if looks >= self.reid_similarity else -1.0
        motion = float(box_iou(track.face.box, face.box)[0]) * 0.5 ** track.missed
        return self.motion_weight * motion + self.appearance_weight * looks

    @property
    def live(self) -> list[_Track]:
        """Tracks reported in the last frame (not absent)."""
        return [t for t in self.tracks if not t.absent]

    def update(self, rgb: np.ndarray, faces: list[Face] | None, occluded: list[bool] | None = None, detect=None) -> list[TrackedFace]:
        """Match ``faces`` (one frame's detections; ``None``: the detector did not run on this frame, the tracks
        follow their templates) to tracks; returns one :class:`TrackedFace` per reported track, in signer-ID
        order. ``occluded[i]``: face ``i`` is partly hidden (its appearance is not learnt). ``detect``: with
        ``faces=None``, called as ``detect(rgb) -> (faces, occluded)`` when a template is lost, so the frame
        is matched to fresh detections instead."""
        if faces is None:
            return self._follow(rgb, detect)
        occluded = occluded or [False] * len(faces)
        hists = [face_histogram(rgb, f.box) for f in faces]
        sim = np.array([[self.similarity(t, f, h) for f, h in zip(faces, hists)] for t in self.tracks], np.float64).reshape(len(self.tracks), len(faces))
        pairs = []
        if sim.size:
            rows, cols = linear_sum_assignment(-sim)
            pairs = [(r, c) for r, c in zip(rows, cols) if sim[r, c] >= self.min_similarity]
        matched_t, matched_f = {r for r, _ in pairs}, {c for _, c in pairs}
        out: list[TrackedFace] = []
        for r, c in pairs:
            t = self.tracks[r]
            back = t.absent
            self._observe(t, rgb, faces[c], hists[c], occluded[c])
            out.append(TrackedFace(t.signer_id, faces[c], "detected", float(sim[r, c]), back))
        live = [t.face for i, t in enumerate(self.tracks) if not t.absent]
        candidates, self.candidates = self.candidates, []
        for c, face in enumerate(faces):
            if c not in matched_f:
                on_signer = any(_share_of(face.box, f.box) >= ON_SIGNER for f in live)
                if occluded[c] and on_signer:
                    continue  # a hand over a tracked face: palm and cheek are no new signer
                if occluded[c] or on_signer:  # doubtful: a new signer only once seen on `confirm` frames in a row
                    seen = 1 + max((n for f, n in candidates if box_iou(f.box, face.box)[0] >= 0.3), default=0)
                    if seen < self.confirm:
                        self.candidates.append((face, seen))
                        continue
                t = _Track(f"{self.prefix}{self._next}", face, None, seen=0)
                self._next += 1
                self._observe(t, rgb, face, hists[c], occluded[c])
                self.tracks.append(t)
                matched_t.add(len(self.tracks) - 1)
                out.append(TrackedFace(t.signer_id, face, "detected"))
        keep = []
        taken = [tf.face.box for tf in out]  # faces this frame gave to a signer
        for i, t in enumerate(self.tracks):
            if i in matched_t:
                keep.append(t)
                continue
            t.missed += 1
            if t.missed > self.max_missing:
                continue  # forgotten
            keep.append(t)
            if not t.absent:
                tf = self._lost(t, rgb, taken)
                if tf is not None:
                    out.append(tf)
        self.tracks = keep
        return sorted(out, key=lambda tf: _id_key(tf.signer_id))

    def _follow(self, rgb: np.ndarray, detect=None) -> list[TrackedFace]:
        """A frame without detection: live tracks follow their templates; a track whose template is lost coasts
        (or, with ``detect``, the frame is detected at once and matched as usual)."""
        moves = {}
        for i, t in enumerate(self.tracks):
            if t.absent:
                continue
            moved = t.template.track(rgb) if t.template is not None and t.template.active else None
            if moved is not None and clip_face(moved, rgb.shape)[1] < MIN_INSIDE:
                moved = None
            moves[i] = moved
            if moved is None and detect is not None:
                faces, occluded = detect(rgb)
                return self.update(rgb, faces, occluded)
        out = []
        for i, t in enumerate(self.tracks):
            if t.absent:
                t.missed += 1
                continue
            moved = moves[i]
            if moved is not None:
                t.face = moved
                out.append(TrackedFace(t.signer_id, clip_face(moved, rgb.shape)[0], "tracked", t.template.last_score))
                continue
            t.missed += 1
            tf = self._coast(t, rgb)
            if tf is not None:
                out.append(tf)
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missing]
        return sorted(out, key=lambda tf: _id_key(tf.signer_id))

    def _lost(self, t: _Track, rgb: np.ndarray, taken=()) -> TrackedFace | None:
        moved = t.template.track(rgb) if t.template is not None and t.template.active else None
        if moved is not None and any(_share_of(moved.box, box) >= 0.5 for box in taken):
            moved = None  # the template found someone else's face: she is behind the person passing in front of her
        if moved is not None:
            face, inside = clip_face(moved, rgb.shape)
            if inside >= MIN_INSIDE:
                t.face = moved
                return TrackedFace(t.signer_id, face, "tracked", t.template.last_score)
        return self._coast(t, rgb)

    def _coast(self, t: _Track, rgb: np.ndarray) -> TrackedFace | None:
        if t.missed > self.coast:
            t.absent = True
            return None
        t.face = shift_face(t.face, *t.velocity)  # keeps moving as it last moved
        face, inside = clip_face(t.face, rgb.shape)
        if inside < MIN_INSIDE:  # it left the frame
            t.absent = True
            return None
        return TrackedFace(t.signer_id, face, "coasting")

    def _observe(self, t: _Track, rgb: np.ndarray, face: Face, hist: np.ndarray | None, occluded: bool) -> None:
        if t.seen > 0 and not t.absent:  # velocity from the last observed face (t.face may have coasted since)
            (ox, oy), (nx, ny) = _centre(t.observed.box), _centre(face.box)
            v = ((nx - ox) / (t.missed + 1), (ny - oy) / (t.missed + 1))
            t.velocity = v if t.seen == 1 else (0.5 * (t.velocity[0] + v[0]), 0.5 * (t.velocity[1] + v[1]))
        elif t.absent:
            t.velocity = (0.0, 0.0)
        t.observed = face
        t.face, t.missed, t.seen, t.absent = face, 0, t.seen + 1, False
        if hist is not None and not occluded:
            t.hist = hist if t.hist is None else self.momentum * t.hist + (1 - self.momentum) * hist
        if self.template and not occluded:
            t.template = t.template or FaceTracker()
            t.template.reset(rgb, face)  # a covered face keeps the template of its last clear view


#: a new face with at least this share of its box on a tracked signer's face lies on that signer (see ``confirm``)
ON_SIGNER = 0.3


def _share_of(box, other) -> float:
    """The share of ``box``'s area that lies inside ``other``."""
    w = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    h = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    area = max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)
    return w * h / area if area > 0 else 0.0


def _centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _id_key(signer_id: str):
    digits = "".join(ch for ch in signer_id if ch.isdigit())
    return (int(digits) if digits else 0, signer_id)


def pick_signers(stats: dict[str, dict], selection: str) -> list[str]:
    """Signer IDs chosen by ``selection``: ``all``, ``largest`` (largest median face area), ``left`` /
    ``right`` (smallest / largest median face-centre x) or an ID (``S2``).

    ``stats``: per signer ``{"area": median area, "x": median centre x, "frames": count}``.
    Raises ``ValueError`` for an unknown ID (naming the IDs found).
    """
    ids = sorted(stats, key=_id_key)
    if not ids:
        return []
    sel = selection.strip()
    if sel.lower() == "all":
        return ids
    if sel.lower() == "largest":
        return [max(ids, key=lambda s: (stats[s]["area"], stats[s]["frames"]))]
    if sel.lower() == "left":
        return [min(ids, key=lambda s: stats[s]["x"])]
    if sel.lower() == "right":
        return [max(ids, key=lambda s: stats[s]["x"])]
    if sel in stats:
        return [sel]
    raise OptionError(f"no signer {sel!r} in this video; signers found: {', '.join(ids)} (or use largest, left, right, all)")
