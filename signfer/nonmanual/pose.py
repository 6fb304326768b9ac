"""Head pose (yaw, pitch, roll in degrees) from face-mesh landmarks against MediaPipe's canonical face.

The canonical face (``signfer/assets/canonical_face.csv``: 468 vertices in cm, from MediaPipe's
``geometry_pipeline_metadata_landmarks.pbtxt``, Apache-2.0) is fitted to the landmarks by ``cv2.solvePnP``
on the 33 landmarks MediaPipe's own face-geometry pipeline uses for its Procrustes fit (the rigid ones:
nose, eye corners, cheekbones, forehead), with a pinhole camera of focal length ``focal`` x the frame's
long side. The rotation maps the head into the camera (x right, y down, z away from the camera); a head
facing the camera squarely has all three angles 0.

Angles, as a viewer of the video sees them: ``yaw`` > 0 the face turns towards the image's right (the
signer's left), ``pitch`` > 0 the chin goes up, ``roll`` > 0 the head tilts towards the image's right
(clockwise on screen). :func:`rotation` and :func:`angles` convert between them and the rotation matrix
(R = Rz(roll) Ry(yaw) Rx(pitch) in camera axes, each with the sign above).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

#: the camera's focal length as a multiple of the frame's long side (about a 53 degree field of view)
FOCAL = 1.0
# camera-axis rotation signs that give the viewer's meanings above
_SIGN = np.array([-1.0, -1.0, 1.0])  # pitch (about x), yaw (about y), roll (about z)


@functools.lru_cache(maxsize=1)
def canonical_face() -> tuple[np.ndarray, np.ndarray]:
    """(vertices (468, 3) in the camera's axes: x right, y down, z away; Procrustes weights (468,))."""
    from signfer.assets import asset_path

    rows = np.loadtxt(asset_path("canonical_face.csv"), delimiter=",", comments="#", skiprows=3)
    v = rows[:, 1:4] * np.array([1.0, -1.0, -1.0])  # MediaPipe's model: y up, z towards the viewer
    return np.ascontiguousarray(v), rows[:, 4]


@functools.lru_cache(maxsize=1)
def pose_landmarks() -> np.ndarray:
    """Indices of the landmarks the pose is fitted on (MediaPipe's Procrustes basis)."""
    return np.flatnonzero(canonical_face()[1] > 0)


def _axis(k: int, rad: float) -> np.ndarray:
    c, s = np.cos(rad), np.sin(rad)
    i, j = ((1, 2), (2, 0), (0, 1))[k]
    m = np.eye(3)
    m[i, i] = m[j, j] = c
    m[i, j], m[j, i] = -s, s
    return m


@functools.lru_cache(maxsize=1)
def _pose_object() -> np.ndarray:
    return np.ascontiguousarray(canonical_face()[0][pose_landmarks()])


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The 3x3 rotation of a head at ``yaw``, ``pitch``, ``roll`` degrees (see the module's conventions)."""
    p, y, r = np.radians(np.asarray([pitch, yaw, roll], np.float64) * _SIGN)
    return _axis(2, r) @ _axis(1, y) @ _axis(0, p)


def angles(R: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of the rotation ``R`` (inverse of :func:`rotation`; yaw within +-90)."""
    R = np.asarray(R, np.float64)
    y = -np.arcsin(np.clip(R[2, 0], -1.0, 1.0))
    r = np.arctan2(R[1, 0], R[0, 0])
    p = np.arctan2(R[2, 1], R[2, 2])
    p, y, r = np.degrees([p, y, r]) * _SIGN
    return float(y), float(p), float(r)


def camera(width: int, height: int, focal: float = FOCAL) -> np.ndarray:
    f = focal * max(width, height)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], np.float64)


def head_rotation(points: np.ndarray, width: int, height: int, focal: float = FOCAL, guess=None) -> tuple[np.ndarray, np.ndarray]:
    """(R, t): the canonical face's rotation and translation (cm) into the camera from 2D landmarks ``points``
    (468, >= 2) in image pixels. ``guess``: a previous (R, t) to start from (video)."""
    idx = pose_landmarks()
    obj = _pose_object()
    img = np.ascontiguousarray(np.asarray(points, np.float64)[idx, :2])
    K = camera(width, height, focal)
    if guess is not None:
        rvec, tvec = cv2.Rodrigues(np.asarray(guess[0], np.float64))[0], np.asarray(guess[1], np.float64).reshape(3, 1).copy()
        ok, rvec, tvec = cv2.solvePnP(obj, img, K, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    else:
        ok, rvec, tvec = cv2.solvePnP(obj, img, K, None, flags=cv2.SOLVEPNP_SQPNP)
        ok, rvec, tvec = cv2.solvePnP(obj, img, K, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    return cv2.Rodrigues(rvec)[0], tvec.ravel()


def head_pose(points: np.ndarray, width: int, height: int, focal: float = FOCAL) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of the head whose mesh landmarks are ``points`` (image pixels)."""
    return angles(head_rotation(points, width, height, focal)[0])
