"""Fixtures for the non-manual tests: the face mesh, the astronaut's own mesh as a textured 3D face, rendered videos."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="session")
def face_mesh():
    from signfer.nonmanual.mesh import FaceMesh

    return FaceMesh(min_presence=0.0)


def photo_face(photo: np.ndarray, face_mesh):
    """A :class:`FaceModel` of a photo's face: MTCNN's box, then the mesh read twice (box region, then its own region)."""
    from signfer.faces.detect import get_detector
    from signfer.nonmanual.mesh import box_roi, landmark_roi

    from .render import FaceModel

    f = get_detector("mtcnn").detect(photo)[0]
    m = face_mesh.run(photo, box_roi(f.box, f.left_eye, f.right_eye))
    m = face_mesh.run(photo, landmark_roi(m.points))
    return FaceModel(photo, m.points)


@pytest.fixture(scope="session")
def astronaut_face(astronaut, face_mesh):
    return photo_face(astronaut, face_mesh)


@pytest.fixture(scope="session")
def hopper_face(grace_hopper, face_mesh):
    return photo_face(grace_hopper, face_mesh)


def write_video(path, frames, fps: float = 25.0):
    import cv2

    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        vw.write(np.ascontiguousarray(f[:, :, ::-1]))
    vw.release()
    return path
