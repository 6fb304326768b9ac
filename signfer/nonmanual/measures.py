"""Per-frame measures of one face from its mesh: head pose, brow height, eye aperture, mouth.

Brows, eyes and mouth are measured on the mesh turned back to face the camera (the head's rotation undone,
the mesh's relative depth included), so a head pitched down does not read as raised brows (2D landmarks do:
Kuznetsova & Kimmelman 2024). Lengths are shares of the inter-ocular distance (between the eye centres).
"Left" and "right" are the signer's own.
"""

from __future__ import annotations

import numpy as np

from signfer.nonmanual.pose import FOCAL, angles, head_rotation

#: per-frame columns, in order (degrees; the rest shares of the inter-ocular distance)
COLUMNS = ("head_yaw", "head_pitch", "head_roll", "brow_left", "brow_right", "brow_inner",
           "eye_left", "eye_right", "mouth_open", "mouth_width")  # fmt: skip

# MediaPipe face-mesh indices (the signer's right = image left when facing the camera)
RIGHT_EYE = (33, 133, 159, 145)  # outer, inner corner, upper, lower lid
LEFT_EYE = (263, 362, 386, 374)
RIGHT_BROW = (70, 63, 105, 66, 107)  # upper brow contour, outer -> inner
LEFT_BROW = (300, 293, 334, 296, 336)
INNER_BROWS = (107, 55, 336, 285)
UPPER_LIP, LOWER_LIP = 13, 14  # inner lip midpoints
MOUTH_CORNERS = (61, 291)


def frontal(points: np.ndarray, R: np.ndarray) -> np.ndarray:
    """The mesh (468, 3) turned back to face the camera: the rotation ``R`` undone about its centroid."""
    p = np.asarray(points, np.float64)
    c = p.mean(0)
    return (p - c) @ np.asarray(R, np.float64) + c  # row vectors: R^T p


def face_measures(points: np.ndarray, width: int, height: int, focal: float = FOCAL, guess=None) -> tuple[dict, tuple]:
    """({column: value}, (R, t)) for a mesh ``points`` (468, 3) in image pixels of a ``width`` x ``height`` frame."""
    R, t = head_rotation(points, width, height, focal, guess)
    yaw, pitch, roll = angles(R)
    q = frontal(points, R)
    eye_r, eye_l = q[list(RIGHT_EYE)].mean(0), q[list(LEFT_EYE)].mean(0)
    iod = float(np.linalg.norm(eye_r - eye_l)) or float("nan")
    y = q[:, 1]  # down
    brow_r = (eye_r[1] - y[list(RIGHT_BROW)].mean()) / iod
    brow_l = (eye_l[1] - y[list(LEFT_BROW)].mean()) / iod
    inner = ((y[133] + y[362]) / 2 - y[list(INNER_BROWS)].mean()) / iod
    out = {
        "head_yaw": yaw, "head_pitch": pitch, "head_roll": roll,
        "brow_left": brow_l, "brow_right": brow_r, "brow_inner": inner,
        "eye_left": (y[374] - y[386]) / iod, "eye_right": (y[145] - y[159]) / iod,
        "mouth_open": (y[LOWER_LIP] - y[UPPER_LIP]) / iod,
        "mouth_width": float(np.linalg.norm(q[MOUTH_CORNERS[1]] - q[MOUTH_CORNERS[0]])) / iod,
    }  # fmt: skip
    return {k: float(v) for k, v in out.items()}, (R, t)
