"""Which half of a face a hand covers: geometry on constructed faces and outlines."""

from __future__ import annotations

import numpy as np
import pytest

from signfer.faces.types import Face
from signfer.signers.covered_half import face_occlusion, occlusion_state, to_face_coords


def rect(x1, y1, x2, y2):
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)


FACE = Face((100, 100, 200, 200), 1.0, left_eye=(130, 135), right_eye=(170, 135))


@pytest.mark.parametrize(
    "outline, state",
    [
        (rect(90, 150, 210, 210), "lower"),  # covers the whole lower half
        (rect(90, 90, 210, 150), "upper"),
        (rect(90, 90, 210, 210), "both"),
        (rect(300, 300, 400, 400), "none"),  # elsewhere in the frame
        (rect(100, 190, 200, 200), "none"),  # only a chin strip: 10/50 = 20 % of the lower half, below 0.25
    ],
)
def test_half_covered(outline, state):
    occ = face_occlusion(FACE, [outline])
    assert occ.state == state, occ


def test_covered_fractions_are_areas():
    occ = face_occlusion(FACE, [rect(100, 150, 150, 200)])  # the left half of the lower half
    assert occ.upper == pytest.approx(0.0, abs=0.02)
    assert occ.lower == pytest.approx(0.5, abs=0.04)
    assert occ.state == "lower"
    assert face_occlusion(FACE, [rect(100, 150, 150, 200)], threshold=0.6).state == "none"


def test_tilted_face_uses_the_eye_line():
    # a face turned 90 degrees clockwise (top of the head to the right): the eyes one above the other on the
    # right, the viewer's-left eye on top, so its "upper" half is the right half of the box
    lying = Face((100, 100, 200, 200), 1.0, left_eye=(165, 130), right_eye=(165, 170))
    uv = to_face_coords(np.array([[190.0, 150.0], [110.0, 150.0]]), lying)
    assert uv[0, 1] < 0.5 < uv[1, 1]  # right side of the box is up the face, left side down it
    assert face_occlusion(lying, [rect(150, 90, 210, 210)]).state == "upper"
    assert face_occlusion(lying, [rect(90, 90, 150, 210)]).state == "lower"


def test_states():
    assert occlusion_state(0.3, 0.1) == "upper"
    assert occlusion_state(0.1, 0.3) == "lower"
    assert occlusion_state(0.3, 0.3) == "both"
    assert occlusion_state(0.0, 0.0) == "none"
    assert face_occlusion(FACE, []).state == "none"
