"""Occlusion on a model whose signal is only in the lower half of the face."""

import numpy as np

from signfer.explain.occlusion import Occluder, dataset_mean_colour


def _accuracy(m, images):
    import torch

    with torch.no_grad():
        pred = m.model(torch.from_numpy(m.spec.normalize(images).copy())).argmax(1).numpy()
    return float((pred == m.test_labels).mean())


def test_lower_occlusion_hurts_far_more_than_upper(lower_model):
    m = lower_model
    colour = dataset_mean_colour(m.train_images)
    base = _accuracy(m, m.test_images)
    assert base > 0.8
    for fill in ("gaussian", "mean", "zero"):
        drop = {r: base - _accuracy(m, Occluder(r, fill, mean_colour=colour, seed=0)(m.test_images)) for r in ("upper", "lower")}
        assert drop["lower"] >= drop["upper"], (fill, drop)
        if fill != "zero":  # zeros shift the input statistics so far that both halves can hurt
            assert drop["lower"] > 0.4 and drop["lower"] > drop["upper"] + 0.3, (fill, drop)
