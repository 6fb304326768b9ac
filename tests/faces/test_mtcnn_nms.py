"""MTCNN's numpy NMS gives what torchvision's batched_nms gives, and the ONNX Runtime path never imports torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from signfer.faces.mtcnn import _nms


def _random_boxes(rng, n: int, rounded: bool):
    xy = rng.uniform(0, 600, (n, 2))
    wh = rng.uniform(1, 120, (n, 2))
    if rounded:  # whole pixels: many exact IoU ties and equal areas
        xy, wh = np.round(xy), np.round(wh)
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize("n", [0, 1, 7, 60, 400, 1000, 1400])
def test_nms_matches_torchvision(n):
    torch = pytest.importorskip("torch")
    from torchvision.ops import batched_nms

    rng = np.random.default_rng(n)
    for trial in range(6):
        boxes = _random_boxes(rng, n, rounded=trial % 2 == 0)
        scores = rng.uniform(0.5, 1.0, n)
        if trial >= 4:
            scores = np.round(scores, 1)  # equal scores
        groups = rng.integers(0, 1 + trial % 4, n)
        iou = (0.5, 0.7, 0.3)[trial % 3]
        got = _nms(boxes, scores, groups, iou)
        want = batched_nms(*(torch.from_numpy(a) for a in (boxes.astype(np.float32), scores.astype(np.float32), groups)), iou).numpy()
        assert got.dtype == np.int64
        if n <= 1000 or trial < 4:
            np.testing.assert_array_equal(got, want)
        else:  # above 1000 boxes torchvision orders equal scores with an unstable sort: same boxes, same score order
            assert sorted(got) == sorted(want)
            np.testing.assert_array_equal(scores.astype(np.float32)[got], scores.astype(np.float32)[want])


def test_nms_keeps_best_of_overlapping_boxes_per_group():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.95, 0.8, 0.7])
    # box 1 beats box 0 (IoU 0.68) and box 2 in its group; box 2 is alone in group 1; box 3 overlaps nothing
    assert _nms(boxes, scores, np.array([0, 0, 1, 0]), 0.5).tolist() == [1, 2, 3]
    assert _nms(boxes, scores, np.zeros(4, int), 0.5).tolist() == [1, 3]
    assert _nms(boxes, scores, np.zeros(4, int), 0.7).tolist() == [1, 0, 3]  # 0.68 is not above 0.7


def test_onnx_mtcnn_imports_no_torch(astronaut, tmp_path):
    """Detecting with the ONNX Runtime backend (the shipped graphs) loads neither torch nor torchvision."""
    np.save(tmp_path / "astronaut.npy", astronaut)
    code = (
        "import sys, numpy as np\n"
        "from signfer.faces.detect import get_detector\n"
        f"faces = get_detector('mtcnn', backend='onnx', scale=0.5).detect(np.load({str(tmp_path / 'astronaut.npy')!r}))\n"
        "print(len(faces), 'torch' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "False", "False"]
