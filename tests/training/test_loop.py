"""Loss weighting, augmentation scope and the validation/test plumbing of the training loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from signfer.data.labels import EMOTIONS7
from signfer.models.spec import ModelSpec
from signfer.training.loop import class_weights, make_dataset, weighted_cross_entropy
from signfer.training.recipes import Recipe


def test_class_weights_are_max_count_over_count():
    labels = ["surprise"] * 10 + ["anger"] * 5 + ["fear"] * 2 + ["happy"] * 4
    w = class_weights(labels, EMOTIONS7)
    expected = {"anger": 2.0, "disgust": 1.0, "fear": 5.0, "happy": 2.5, "neutral": 1.0, "sad": 1.0, "surprise": 1.0}
    assert w.tolist() == [expected[c] for c in EMOTIONS7]  # classes without images get 1
    # the published FePh totals: the largest class (surprise, 810) gets 1, disgust (187) 810/187
    totals = {"anger": 503, "disgust": 187, "fear": 308, "happy": 179, "neutral": 195, "sad": 349, "surprise": 810}
    w = class_weights([c for c, n in totals.items() for _ in range(n)], EMOTIONS7)
    assert w.min() == 1.0 and w[EMOTIONS7.index("surprise")] == 1.0
    assert w[EMOTIONS7.index("disgust")].item() == pytest.approx(810 / 187)


def test_weighted_loss_is_keras_class_weight_mean():
    g = torch.Generator().manual_seed(1)
    logits, y = torch.randn(6, 3, generator=g), torch.tensor([0, 1, 2, 2, 1, 0])
    w = torch.tensor([1.0, 2.0, 4.0])
    per_sample = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    assert weighted_cross_entropy(logits, y, w).item() == pytest.approx((per_sample * w[y]).sum().item() / 6)
    assert weighted_cross_entropy(logits, y).item() == pytest.approx(per_sample.mean().item())


def test_flip_applies_to_training_only(synthetic_feph):
    from signfer.data.feph import load_feph

    df, _ = load_feph(synthetic_feph)
    part = df.iloc[:3]
    recipe = Recipe(name="t", arch="mobilenetv2_100", hflip=True, image_size=32, preset="none")
    spec = ModelSpec("mobilenetv2_100", list(EMOTIONS7), input_size=32, normalization="unit", preset="none")
    torch.manual_seed(0)
    train = make_dataset(recipe, spec, part, train=True, cache_dir=False)
    plain = torch.from_numpy(spec.normalize(train.crop(0)[None])[0])
    mirrored = torch.flip(plain, dims=[2])
    assert not torch.equal(plain, mirrored)
    seen = [train[0][0] for _ in range(24)]
    assert all(torch.equal(s, plain) or torch.equal(s, mirrored) for s in seen)
    assert sum(torch.equal(s, mirrored) for s in seen) in range(4, 21)  # about half flipped
    held_out = make_dataset(recipe, spec, part, train=False, cache_dir=False)  # validation and test parts
    assert all(torch.equal(held_out[0][0], plain) for _ in range(24))
    no_flip = make_dataset(Recipe(name="t", arch="mobilenetv2_100", hflip=False, image_size=32, preset="none"), spec, part,
                           train=True, cache_dir=False)
    assert all(torch.equal(no_flip[0][0], plain) for _ in range(24))
    assert np.array_equal(train.labels, [EMOTIONS7.index(c) for c in part["label"]])


def test_training_loader_never_yields_a_batch_of_one():
    """BatchNorm cannot train on one sample: a single leftover sample is dropped from training batches only."""
    from types import SimpleNamespace

    from torch.utils.data import TensorDataset

    from signfer.training.loop import make_loader

    recipe = SimpleNamespace(batch_size=4)
    five, six = TensorDataset(torch.zeros(5, 1)), TensorDataset(torch.zeros(6, 1))
    assert [len(b[0]) for b in make_loader(five, recipe, shuffle=True)] == [4]
    assert [len(b[0]) for b in make_loader(six, recipe, shuffle=True)] == [4, 2]
    assert [len(b[0]) for b in make_loader(five, recipe, shuffle=False)] == [4, 1]  # evaluation keeps every sample


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fused_optimizer_makes_the_same_updates_and_is_recorded(optimizer):
    """``fused_optimizer: true`` gives PyTorch's fused Adam / SGD: the same parameters after a few steps as the default
    loop implementation (to float rounding); the recipe (what run.yaml stores) records the choice and reads it back."""
    from signfer.models.registry import create_model
    from signfer.training.loop import make_optimizer, train_step
    from signfer.training.recipes import Stage

    stage = Stage(name="s", optimizer=optimizer, lr=1e-2, epochs=1, trainable="all")
    x, y = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1, 2, 3])  # 64 px grayscale net, any size
    params = {}
    for fused in (False, True):
        torch.manual_seed(0)
        model = create_model("fer_mini_xception", 7).train()
        opt = make_optimizer(stage, model.parameters(), fused=fused)
        assert opt.defaults.get("fused") == (True if fused else None)
        for _ in range(3):
            train_step(model, x, y, opt)
        params[fused] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert not torch.equal(params[False], torch.cat([p.detach().flatten() for p in create_model("fer_mini_xception", 7).parameters()]))
    torch.testing.assert_close(params[True], params[False], atol=1e-5, rtol=1e-4)
    recipe = Recipe(name="r", arch="fer_mini_xception", fused_optimizer=True)
    assert Recipe.from_dict(recipe.to_dict()).fused_optimizer is True and Recipe(name="r", arch="x").fused_optimizer is False
    with pytest.raises(ValueError):
        Recipe(name="r", arch="x", fused_optimizer="yes")
