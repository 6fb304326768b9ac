"""MTCNN's R-/O-Net crops: OpenCV's area resize of each box, padded with grey past the frame, in one batch."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from signfer.faces.mtcnn import _crops


def _opencv_crop(frame: np.ndarray, box, size: int) -> np.ndarray:
    """The reference: the whole-pixel box, padded with grey 128 past the frame, ``cv2.resize`` INTER_AREA."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in np.rint(box))
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    padded = cv2.copyMakeBorder(frame, max(0, -y1), max(0, y2 - h), max(0, -x1), max(0, x2 - w), cv2.BORDER_CONSTANT, value=(128, 128, 128))
    patch = padded[y1 + max(0, -y1):y2 + max(0, -y1), x1 + max(0, -x1):x2 + max(0, -x1)]
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("size", [24, 48])
def test_crops_are_opencv_area_resizes_of_the_padded_boxes(astronaut, grace_hopper, size):
    rng = np.random.default_rng(size)
    frames = [astronaut, np.ascontiguousarray(grace_hopper[:512, :512])]
    n = 60
    xy = rng.uniform(-80, 480, (n, 2))
    side = rng.uniform(10, 320, n)  # mostly larger than the crop (area averaging), some smaller (interpolation)
    boxes = np.concatenate([xy, xy + side[:, None] * rng.uniform(0.9, 1.1, (n, 2))], axis=1)
    boxes[1:6, 2:] = boxes[1:6, :2] + 2 * size  # exactly twice the crop: OpenCV's own 2x path
    boxes[0] = (600, 600, 700, 700)  # wholly outside: grey
    index = rng.integers(0, 2, n)
    got = _crops(frames, boxes, index, size)
    assert got.shape == (n, 3, size, size) and got.dtype == np.float32
    pixels = got.transpose(0, 2, 3, 1) * 128 + 127.5
    want = np.stack([_opencv_crop(frames[i], b, size) for b, i in zip(boxes, index)]).astype(np.float64)
    np.testing.assert_allclose(pixels, want, atol=1e-4)
    np.testing.assert_allclose(pixels[0], 128.0, atol=1e-4)
    assert len(_crops(frames, np.zeros((0, 4)), np.zeros(0, int), size)) == 0
