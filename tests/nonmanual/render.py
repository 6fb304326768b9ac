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


@functools.lru_cache(maxsize=4)
def connections(name: str) -> list[tuple[int, int]]:
    """An edge set of the mediapipe wheel's ``face_mesh_connections.py`` (e.g. ``FACEMESH_TESSELATION``)."""
    from signfer.models.weights import fetch_from_wheel

    src = fetch_from_wheel(*MEDIAPIPE, "mediapipe/python/solutions/face_mesh_connections.py").read_text()
    tree = ast.parse(src)
    return sorted(next(ast.literal_eval(node.value.args[0]) for node in ast.walk(tree)
                       if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == name))  # fmt: skip


def oval() -> list[int]:
    """The face oval's vertices in order around the face (``FACEMESH_FACE_OVAL``)."""
    nxt = dict(connections("FACEMESH_FACE_OVAL"))
    loop, v = [], 10
    while v not in loop:
        loop.append(v)
        v = nxt[v]
    return loop


@functools.lru_cache(maxsize=1)
def triangles() -> np.ndarray:
    """(T, 3) vertex indices: the 3-cycles of MediaPipe's face-mesh tesselation edges."""
    edges = connections("FACEMESH_TESSELATION")
    nb: dict[int, set[int]] = {}
    for a, b in edges:
        nb.setdefault(a, set()).add(b)
        nb.setdefault(b, set()).add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in edges for c in nb[a] & nb[b]}
    return np.array(sorted(tris), np.int64)


#: rings of head around the face oval: (growth of the oval about the face's centre, depth behind the oval in
#: inter-ocular distances): the sides of the head, hair and ears, textured from the photo around the face
RINGS = ((1.25, 0.45), (1.6, 1.1))


class FaceModel:
    """A textured head: ``photo`` and its face mesh ``points`` (468, 3) in photo pixels (x, y, depth z), widened by
    :data:`RINGS` of vertices around the face oval that curve backwards (a head, not a mask floating in the air)."""

    def __init__(self, photo: np.ndarray, points: np.ndarray, rings=RINGS):
        self.photo = photo
        face = np.asarray(points, np.float64)
        loop = oval()
        centre = face[loop].mean(0)
        iod = float(np.linalg.norm(face[33, :2] - face[263, :2]))
        pts, tris, inner = [face], [triangles()], np.array(loop)
        n = len(face)
        for grow, back in rings:
            ring = face[loop].copy()
            ring[:, :2] = centre[:2] + grow * (ring[:, :2] - centre[:2])
            ring[:, 2] += back * iod
            outer = np.arange(n, n + len(loop))
            for k in range(len(loop)):
                a, b = inner[k], inner[(k + 1) % len(loop)]
                c, d = outer[k], outer[(k + 1) % len(loop)]
                tris.append(np.array([[a, b, d], [a, d, c]]))
            pts.append(ring)
            inner, n = outer, n + len(loop)
        self.points = np.concatenate(pts)
        self.tris = np.concatenate(tris)
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
        # painter's order: each pixel takes the nearest triangle drawn over it; then one remap through each
        # triangle's own affine map (destination -> photo), i.e. a per-triangle affine warp of the texture
        order = np.argsort(-q[self.tris].mean(1)[:, 2])  # far first
        ids = np.full((size, size), -1, np.int32)
        for k in order:
            cv2.fillConvexPoly(ids, np.round(xy[self.tris[k]] * 16).astype(np.int32), int(k), lineType=cv2.LINE_8, shift=4)
        src, dst = self.points[self.tris][:, :, :2], xy[self.tris]
        ones = np.ones((len(self.tris), 3, 1))
        # A (T, 3, 2): [x_dst, y_dst, 1] @ A = [x_src, y_src]
        A = np.linalg.solve(np.concatenate([dst, ones], 2) + 1e-9 * np.eye(3)[None], src)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        inside = ids >= 0
        a = A[ids[inside]]
        mx = np.full((size, size), -1.0, np.float32)
        my = np.full((size, size), -1.0, np.float32)
        mx[inside] = xx[inside] * a[:, 0, 0] + yy[inside] * a[:, 1, 0] + a[:, 2, 0]
        my[inside] = xx[inside] * a[:, 0, 1] + yy[inside] * a[:, 1, 1] + a[:, 2, 1]
        out = cv2.remap(self.photo, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        bg = np.empty_like(out)
        bg[:] = 128 if background is None else background
        out[~inside] = bg[~inside]
        return out
