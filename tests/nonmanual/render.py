"""Truth for the non-manual tests: a real face photo's own mesh, textured with the photo, turned in 3D and drawn back.

The face mesh read on the frontal photo gives 468 points with depth; the triangulation is MediaPipe's
``FACEMESH_TESSELATION`` (the mediapipe wheel's ``face_mesh_connections.py``: edges, whose 3-cycles are the
triangles). A head pose is applied as a rotation about the face's centre (orthographic projection); each
triangle is drawn by an affine warp of its photo texture, far triangles first. Brow lifts move the brow
points (and the skin just above them) up in the face's own frame before the rotation.
"""

from __future__ import annotations

import ast
import functools

import cv2
import numpy as np

MEDIAPIPE = ("mediapipe", "0.10.21")
BROW_POINTS = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107, 276, 283, 282, 295, 285, 300, 293, 334, 296, 336)


@functools.lru_cache(maxsize=1)
def triangles() -> np.ndarray:
    """(T, 3) vertex indices: the 3-cycles of MediaPipe's face-mesh tesselation edges."""
    from signfer.models.weights import fetch_from_wheel

    src = fetch_from_wheel(*MEDIAPIPE, "mediapipe/python/solutions/face_mesh_connections.py").read_text()
    tree = ast.parse(src)
    edges = next(ast.literal_eval(node.value.args[0]) for node in ast.walk(tree)
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FACEMESH_TESSELATION")  # fmt: skip
    nb: dict[int, set[int]] = {}
    for a, b in edges:
        nb.setdefault(a, set()).add(b)
        nb.setdefault(b, set()).add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in edges for c in nb[a] & nb[b]}
    return np.array(sorted(tris), np.int64)


class FaceModel:
    """A textured face: ``photo`` and its mesh ``points`` (468, 3) in photo pixels (x, y, depth z)."""

    def __init__(self, photo: np.ndarray, points: np.ndarray):
        self.photo = photo
        self.points = np.asarray(points, np.float64)
        self.tris = triangles()
        p = self.points
        self.centre = p[:, :3].mean(0)
        self.iod = float(np.linalg.norm(p[33, :2] - p[263, :2]))
        up = p[10, :2] - p[152, :2]
        self.up = np.array([*(up / np.linalg.norm(up)), 0.0])  # the face's up direction in the photo

    def render(self, R: np.ndarray, size: int = 256, face_px: float = 110.0, brow_lift: float = 0.0, background=None) -> np.ndarray:
        """The face turned by ``R`` (camera axes: x right, y down, z away), scaled so the eyes are about
        ``face_px`` * 0.45 apart, centred in a ``size`` x ``size`` frame; ``brow_lift``: brows raised by this
        share of the inter-ocular distance."""
        p = self.points.copy()
        if brow_lift:
            lift = brow_lift * self.iod
            w = np.zeros(len(p))
            brow_y = p[list(BROW_POINTS), 1].mean()
            # brows move fully; the forehead skin just above them follows, fading out over one brow-height
            dy = brow_y - p[:, 1]
            w[(dy > -0.08 * self.iod) & (dy < 0.9 * self.iod)] = np.clip(1 - (dy[(dy > -0.08 * self.iod) & (dy < 0.9 * self.iod)] / (0.9 * self.iod)), 0, 1)
            w[list(BROW_POINTS)] = 1.0
            p[:, :3] += (w * lift)[:, None] * self.up[None, :]
        q = (p - self.centre) @ R.T
        s = face_px * 0.45 / self.iod
        xy = q[:, :2] * s + size / 2
        out = np.empty((size, size, 3), np.uint8)
        out[:] = 128 if background is None else background
        order = np.argsort(-q[self.tris].mean(1)[:, 2])  # far first
        src_xy = self.points[:, :2]
        for t in self.tris[order]:
            dst = xy[t].astype(np.float32)
            # back faces (clockwise on screen after turning away) are hidden behind near ones anyway
            x0, y0 = np.floor(dst.min(0)).astype(int)
            x1, y1 = np.ceil(dst.max(0)).astype(int) + 1
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
            if x1 <= x0 or y1 <= y0:
                continue
            m = cv2.getAffineTransform(src_xy[t].astype(np.float32), dst - np.float32([x0, y0]))
            patch = cv2.warpAffine(self.photo, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillConvexPoly(mask, np.round((dst - [x0, y0]) * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
            region = out[y0:y1, x0:x1]
            region[mask.astype(bool)] = patch[mask.astype(bool)]
        return out
