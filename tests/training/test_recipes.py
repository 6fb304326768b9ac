"""Shipped recipes carry the published settings; overrides and inheritance work on recipe data."""

from __future__ import annotations

import pytest

from signfer.training.recipes import Recipe, Stage, apply_overrides, list_recipes, load_recipe

PUBLISHED = ["M0", "M1", "M2", "E0", "E1", "E2", "mobilenet-ft", "mobilenet-ft-sgd", "mobilenet-ft-sgd-cw",
             "mobilenet-ft-sgd-hf", "mobilenet-ft-sgd-ip", "efficientnet-ft-sgd-sam-hf",
             "easier2025", "easier2025-b32", "easier2025-upper", "easier2025-lower", "easier2025-affectnet"]


def _stages(r: Recipe):
    return [(s.trainable, s.optimizer, s.sam, s.lr, s.epochs) for s in r.stages]


def test_every_published_recipe_is_shipped_and_loads():
    assert set(PUBLISHED) <= set(list_recipes())
    for name in list_recipes():
        r = load_recipe(name)
        assert r.name == name and r.paper, name
        assert all(isinstance(s, Stage) for s in r.stages)


def test_sltat_mobilenet_recipes_follow_the_notebooks():
    # FER-for-sign-language, cross_validation/MobileNet/mobilenet_crossval_train.ipynb: BATCH_SIZE=80,
    # optimizer='adam' + EarlyStopping(patience=2) for 3 epochs, Adam(learning_rate=1e-4,decay=1e-6) 5 epochs,
    # SGD(learning_rate=1e-3) 2 epochs, mobilenet_preprocess_input (RGB minus means, no flip), horizontal_flip=True
    m2 = load_recipe("M2")
    assert m2.arch == "mobilenetv1_100" and m2.pretrained == "hsemotion:mobilenet_7" and m2.new_head is True
    assert _stages(m2) == [("head", "adam", False, 1e-3, 3), ("all", "adam", False, 1e-4, 5), ("all", "sgd", False, 1e-3, 2)]
    assert [(s.patience, s.decay, s.momentum) for s in m2.stages] == [(2, 0.0, 0.0), (0, 1e-6, 0.0), (0, 0.0, 0.0)]
    assert (m2.normalization, m2.hflip, m2.class_weights, m2.batch_size) == ("ip", True, False, 80)
    assert (m2.select_on, m2.select_scope) == ("validation", "stage")  # honest default; --select-on test = notebooks
    m1 = load_recipe("M1")
    assert (m1.normalization, m1.hflip, m1.class_weights, m1.class_weight_mode) == ("ip", True, True, "keras")
    assert _stages(m1) == _stages(m2) and m1.batch_size == 80
    assert load_recipe("M0").normalization == "ip"
    cw = load_recipe("mobilenet-ft-sgd-cw")
    assert cw.class_weights and not cw.hflip and cw.normalization == "raw" and cw.batch_size == 32
    assert load_recipe("mobilenet-ft-sgd-hf").hflip and load_recipe("mobilenet-ft-sgd-hf").normalization == "raw"
    ip = load_recipe("mobilenet-ft-sgd-ip")
    assert (ip.normalization, ip.hflip, ip.batch_size) == ("ip", False, 80)
    assert load_recipe("mobilenet-ft-sgd").normalization == "raw"  # ImageDataGenerator() without preprocessing: 0-255
    assert _stages(load_recipe("mobilenet-ft")) == [("head", "adam", False, 1e-3, 3), ("all", "adam", False, 1e-4, 5)]
    assert {m2.classes, m2.policy, m2.preset} == {"emotions7", "sltat2022"}


def test_paper_text_variants_where_the_text_differs_from_the_notebooks():
    # paper section 4.4.1: FT = head 3 epochs then all layers 7 more, Adam 0.001; FT-SGD: SGD "learning rate of 0.0001"
    assert _stages(load_recipe("mobilenet-ft-paper")) == [("head", "adam", False, 1e-3, 3), ("all", "adam", False, 1e-3, 7)]
    paper, notebook = load_recipe("mobilenet-ft-sgd-paper"), load_recipe("mobilenet-ft-sgd")
    assert paper.stages[-1].lr == 1e-4 and notebook.stages[-1].lr == 1e-3
    assert _stages(paper)[:2] == _stages(notebook)[:2]


def test_sltat_efficientnet_recipes():
    # enet_crossval_train.ipynb: batch_size = 32; train(model,3,0.001,use_sam=True); train(model,6,1e-4,use_sam=True);
    # criterion = nn.CrossEntropyLoss(weight=weights); model.train() with requires_grad False in the head stage
    e2, e1 = load_recipe("E2"), load_recipe("E1")
    assert e2.arch == "efficientnet_b0" and e2.pretrained == "hsemotion:enet_b0_7" and e2.normalization == "imagenet"
    assert _stages(e2) == [("head", "adam", True, 1e-3, 3), ("all", "adam", True, 1e-4, 6)]
    assert all(s.rho == 0.05 for s in e2.stages) and e2.batch_size == 32 and e2.select_scope == "stage"
    assert [s.frozen_bn for s in e2.stages] == [False, True]
    assert e2.hflip and not e2.class_weights and e1.hflip and e1.class_weights and e1.class_weight_mode == "torch"
    sgd = load_recipe("efficientnet-ft-sgd-sam-hf")
    assert _stages(sgd)[-1] == ("all", "sgd", True, 1e-4, 3) and sgd.batch_size == 2


def test_baselines_have_no_stages_and_keep_the_affectnet_head():
    for name, weights in (("M0", "hsemotion:mobilenet_7"), ("E0", "hsemotion:enet_b0_7")):
        r = load_recipe(name)
        assert r.is_baseline and r.new_head is False and r.pretrained == weights and r.pretrained_classes == "hsemotion7"


def test_easier2025_recipes():
    r = load_recipe("easier2025")
    assert (r.arch, r.batch_size, r.classes, r.policy, r.preset) == ("mobilenetv2_100", 16, "feph8", "easier2025", "easier2025")
    # data_loaders.py: FePh dataset_stats, RandomHorizontalFlip, WeightedRandomSampler ('balanced')
    assert r.mean == [0.6374226, 0.5848234, 0.56568706] and r.std == [0.20125638, 0.22521368, 0.2639905]
    assert r.hflip and r.sampler == "balanced" and r.split == "kfold"
    pub = load_recipe("easier2025-published")
    assert pub.split == "easier2025" and pub.stages == r.stages
    assert r.init_from and r.pretrained == "imagenet" and r.select_metric == "val_mean_sensitivity"
    assert [s.trainable for s in r.stages] == ["head", "last:2", "last:4", "all"]
    assert [s.last_blocks for s in r.stages] == [None, 2, 4, None]
    assert load_recipe("easier2025-b32").batch_size == 32
    assert load_recipe("easier2025-b32").stages == r.stages
    assert load_recipe("easier2025-upper").region == "upper" and load_recipe("easier2025-lower").region == "lower"
    assert load_recipe("easier2025-affectnet").data_format == "affectnet"


def test_overrides_by_dotted_path_and_wildcard():
    r = load_recipe("E2", ["image_size=48", "stages.*.epochs=1", "stages.1.lr=0.5", "pretrained=null"])
    assert r.image_size == 48 and [s.epochs for s in r.stages] == [1, 1] and r.stages[1].lr == 0.5
    assert r.pretrained is None and r.stages[0].lr == 1e-3
    assert load_recipe("M2", {"stages.-1.epochs": 0}).stages[-1].epochs == 0
    data = {"a": [{"b": 1}, {"b": 2}]}
    assert apply_overrides(data, {"a.*.b": 7}) == {"a": [{"b": 7}, {"b": 7}]} and data["a"][0]["b"] == 1


@pytest.mark.parametrize("override, message", [
    (["batchsize=3"], "unknown recipe field"),
    (["stages.0.optimiser=adam"], "unknown stage field"),
    (["stages.0.trainable=backbone"], "head, all or last:K"),
    (["stages.0.optimizer=rmsprop"], "optimizer"),
    (["stages.9.epochs=1"], "not an index"),
    (["normalization=zscore"], "normalization"),
    (["image_size"], "key=value"),
])
def test_bad_overrides_are_named(override, message):
    with pytest.raises(ValueError, match=message):
        load_recipe("M2", override)


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(KeyError, match="M2"):
        load_recipe("M3")
