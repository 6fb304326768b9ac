"""Head-only stages leave the backbone bit-identical, unfrozen stages change it; last:K unfreezes by block."""

from __future__ import annotations

import pytest
import timm
import torch
from torch.utils.data import DataLoader, TensorDataset

from signfer.training.loop import make_optimizer, run_epoch
from signfer.training.recipes import Stage
from signfer.training.trainable import backbone_blocks, set_trainable


@pytest.fixture(scope="module")
def batches():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 3, 32, 32, generator=g)
    y = torch.arange(12) % 3
    return DataLoader(TensorDataset(x, y), batch_size=6, shuffle=False)


def _model():
    torch.manual_seed(0)
    return timm.create_model("mobilenetv2_100", num_classes=3)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _train(model, stage, loader):
    params = set_trainable(model, stage.trainable)
    run_epoch(model, loader, make_optimizer(stage, params))


@pytest.mark.parametrize("sam", [False, True])
def test_head_only_stage_leaves_backbone_bit_identical(batches, sam):
    model = _model()
    before = _snapshot(model)
    _train(model, Stage(trainable="head", epochs=1, lr=0.05, sam=sam), batches)
    after = _snapshot(model)
    head = {k for k in before if k.startswith("classifier.")}
    assert head and all(not torch.equal(before[k], after[k]) for k in head)
    # every backbone tensor, BatchNorm running statistics included, is bit-identical
    assert all(torch.equal(before[k], after[k]) for k in before if k not in head)


def test_all_stage_changes_backbone(batches):
    model = _model()
    before = _snapshot(model)
    _train(model, Stage(trainable="all", epochs=1, lr=0.01), batches)
    after = _snapshot(model)
    for key in ("conv_stem.weight", "bn1.running_mean", "blocks.0.0.conv_dw.weight", "blocks.6.0.conv_pw.weight", "conv_head.weight"):
        assert not torch.equal(before[key], after[key]), key


def test_last_k_unfreezes_the_last_blocks_only(batches):
    model = _model()
    assert len(backbone_blocks(model)) == 7
    before = _snapshot(model)
    _train(model, Stage(trainable="last:2", epochs=1, lr=0.01), batches)
    after = _snapshot(model)
    changed = {k.split(".")[0] + ("." + k.split(".")[1] if k.startswith("blocks.") else "")
               for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"blocks.5", "blocks.6", "conv_head", "bn2", "classifier"}


def test_set_trainable_counts_and_errors():
    model = _model()
    n_all = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in set_trainable(model, "all")) == n_all
    head = set_trainable(model, "head")
    assert sum(p.numel() for p in head) == 1280 * 3 + 3
    assert sum(p.requires_grad for p in model.parameters()) == 2
    last0 = set_trainable(model, "last:0")  # head + layers after the blocks
    assert {id(p) for p in head} < {id(p) for p in last0}
    with pytest.raises(ValueError, match="only 7 blocks"):
        set_trainable(model, "last:8")
    with pytest.raises(ValueError, match="no blocks container"):
        set_trainable(torch.nn.Sequential(torch.nn.Linear(2, 2)), "last:1")


def test_wrapped_keras_mobilenet_uses_body_blocks():
    from signfer.models.keras_mobilenet import HSEmotionMobileNet

    model = HSEmotionMobileNet(num_classes=7)
    params = {id(p) for p in set_trainable(model, "last:1")}
    assert all(id(p) in params for p in model.feats.parameters())
    assert all(id(p) in params for p in model.body.blocks[-1].parameters())
    assert not any(id(p) in params for p in model.body.blocks[-2].parameters())
    assert not any(id(p) in params for p in model.body.conv_stem.parameters())
