"""mobilenet_7.h5 (Keras MobileNet-v1 + HSEmotion head) -> timm mobilenetv1_100, layer by layer and numerically."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.models.conftest import MOBILENET_BLOCKS


def keras_reference_forward(w: dict, x: torch.Tensor) -> torch.Tensor:
    """What Keras computes, written out from the h5 arrays: ZeroPadding2D((0,1),(0,1)) + 'valid' before
    every stride-2 conv, 'same' (symmetric) for stride 1, BN eps 1e-3, ReLU6; GAP, Dense+ReLU, Dense (logits)."""
    t = lambda a: torch.from_numpy(np.asarray(a))  # noqa: E731

    def bn(x, p):
        shape = (1, -1, 1, 1)
        return (x - t(p["moving_mean"]).view(shape)) / torch.sqrt(t(p["moving_variance"]).view(shape) + 1e-3) * t(p["gamma"]).view(shape) + t(p["beta"]).view(shape)

    x = F.conv2d(F.pad(x, (0, 1, 0, 1)), t(w["conv1"]["kernel"]).permute(3, 2, 0, 1), stride=2)
    x = F.relu6(bn(x, w["conv1_bn"]))
    for i, (_, stride) in enumerate(MOBILENET_BLOCKS, start=1):
        k = t(w[f"conv_dw_{i}"]["depthwise_kernel"]).permute(2, 3, 0, 1)
        x = F.conv2d(F.pad(x, (0, 1, 0, 1)), k, stride=2, groups=x.shape[1]) if stride == 2 else F.conv2d(x, k, padding=1, groups=x.shape[1])
        x = F.relu6(bn(x, w[f"conv_dw_{i}_bn"]))
        x = F.relu6(bn(F.conv2d(x, t(w[f"conv_pw_{i}"]["kernel"]).permute(3, 2, 0, 1)), w[f"conv_pw_{i}_bn"]))
    x = x.mean(dim=(2, 3))
    x = F.relu(x @ t(w["feats"]["kernel"]) + t(w["feats"]["bias"]))
    return x @ t(w["emotion_preds"]["kernel"]) + t(w["emotion_preds"]["bias"])


@pytest.fixture(scope="module")
def ported(keras_mobilenet_h5):
    from signfer.models.keras_mobilenet import load_keras_mobilenet

    path, w = keras_mobilenet_h5
    return load_keras_mobilenet(path), w


def test_port_copies_every_layer_with_keras_to_torch_layout(ported):
    model, w = ported
    sd = model.state_dict()

    def same(key, array):
        assert torch.equal(sd[key], torch.from_numpy(np.ascontiguousarray(array))), key

    def same_bn(prefix, layer):
        same(f"{prefix}.weight", w[layer]["gamma"])
        same(f"{prefix}.bias", w[layer]["beta"])
        same(f"{prefix}.running_mean", w[layer]["moving_mean"])
        same(f"{prefix}.running_var", w[layer]["moving_variance"])

    same("body.conv_stem.weight", w["conv1"]["kernel"].transpose(3, 2, 0, 1))  # (kh,kw,in,out) -> (out,in,kh,kw)
    same_bn("body.bn1", "conv1_bn")
    flat = [(s, j) for s, stage in enumerate(model.body.blocks) for j in range(len(stage))]
    assert len(flat) == 13
    for i, (s, j) in enumerate(flat, start=1):
        p = f"body.blocks.{s}.{j}"
        same(f"{p}.conv_dw.weight", w[f"conv_dw_{i}"]["depthwise_kernel"].transpose(2, 3, 0, 1))  # (kh,kw,in,1) -> (in,1,kh,kw)
        same_bn(f"{p}.bn1", f"conv_dw_{i}_bn")
        same(f"{p}.conv_pw.weight", w[f"conv_pw_{i}"]["kernel"].transpose(3, 2, 0, 1))
        same_bn(f"{p}.bn2", f"conv_pw_{i}_bn")
        assert model.body.blocks[s][j].bn1.eps == 1e-3 and model.body.blocks[s][j].bn2.eps == 1e-3
    same("feats.weight", w["feats"]["kernel"].T)
    same("feats.bias", w["feats"]["bias"])
    same("classifier.weight", w["emotion_preds"]["kernel"].T)
    same("classifier.bias", w["emotion_preds"]["bias"])
    n_keras = sum(len(v) for v in w.values())
    n_torch = sum(1 for k in sd if not k.endswith("num_batches_tracked"))
    assert n_keras == n_torch == 1 + 4 + 13 * (1 + 4 + 1 + 4) + 2 + 2  # every array used once, nothing left unset


def test_port_computes_what_keras_computes(ported):
    model, w = ported
    x = torch.from_numpy(np.random.default_rng(1).uniform(-120, 130, (2, 3, 64, 64)).astype(np.float32))
    with torch.no_grad():
        ours = model.eval()(x)
        ref = keras_reference_forward(w, x)
    assert ours.shape == (2, 7)
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-4), (ours - ref).abs().max()
    # the same weights in timm's default (symmetric padding, eps 1e-5) give other numbers: the test can tell
    import timm

    plain = timm.create_model("mobilenetv1_100", num_classes=0).eval()
    plain.load_state_dict({k.removeprefix("body."): v for k, v in model.state_dict().items() if k.startswith("body.")})
    with torch.no_grad():
        feats_plain = plain(x)
        feats_ours = model.body(x)
    assert (feats_plain - feats_ours).abs().max() > 1e-2


def test_hsemotion_input_normalisation_is_rgb_minus_means_without_flip(keras_mobilenet_h5):
    from signfer.models.registry import load_pretrained

    model, spec = load_pretrained(keras_mobilenet_h5[0])
    assert spec.arch == "mobilenetv1_100_hsemotion" and model.signfer_arch == "mobilenetv1_100_hsemotion"
    assert tuple(spec.class_names) == ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    img = np.zeros((1, 4, 4, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 200, 100, 50
    x = spec.normalize(img)
    assert np.allclose(x[0, :, 0, 0], [200 - 103.939, 100 - 116.779, 50 - 123.68], atol=1e-3)
    assert spec.input_size == 224 and spec.preset == "sltat2022"


def test_registry_starts_mobilenetv1_from_the_h5_with_a_fresh_head(keras_mobilenet_h5, ported):
    from signfer.models.registry import create_model, default_spec

    path, w = keras_mobilenet_h5
    torch.manual_seed(0)
    model = create_model("mobilenetv1_100", 3, pretrained=path)
    assert model.signfer_arch == "mobilenetv1_100_hsemotion"
    assert model.get_classifier().out_features == 3
    assert torch.equal(model.feats.weight, torch.from_numpy(w["feats"]["kernel"].T.copy()))  # SLTAT: only the last layer is new
    assert torch.equal(model.body.conv_stem.weight, ported[0].body.conv_stem.weight)
    assert default_spec("mobilenetv1_100", ["a", "b", "c"], pretrained=path).arch == "mobilenetv1_100_hsemotion"
    with pytest.raises(ValueError, match="mobilenetv1_100"):
        create_model("efficientnet_b0", 3, pretrained=path)


def test_missing_layer_is_named(tmp_path, keras_mobilenet_h5):
    from signfer.io import InputError
    from signfer.models.keras_mobilenet import load_keras_mobilenet
    from tests.models.conftest import keras_mobilenet_layers, write_keras_h5

    layers = [(n, ws) for n, ws in keras_mobilenet_layers() if n != "conv_pw_7_bn"]
    write_keras_h5(tmp_path / "broken.h5", layers)
    with pytest.raises(InputError, match="conv_pw_7_bn"):
        load_keras_mobilenet(tmp_path / "broken.h5")


def keras_bn_training_update(moving_mean, moving_var, x, momentum=0.99):
    """Keras BatchNormalization(momentum=0.99) in training, transcribed: ``moving = moving * momentum + batch * (1 - momentum)``
    per channel, the batch variance Bessel-corrected as TF's fused kernel returns it (``n / (n - 1)``)."""
    axes = (0, 2, 3)
    n = x.shape[0] * x.shape[2] * x.shape[3]
    mean = x.mean(axis=axes)
    var = x.var(axis=axes) * n / (n - 1)
    return moving_mean * momentum + mean * (1 - momentum), moving_var * momentum + var * (1 - momentum)


def test_batchnorm_trains_with_keras_momentum(ported):
    """Keras BN momentum 0.99 = PyTorch 0.01 on every BatchNorm of the port: one training forward moves the running
    statistics of conv1_bn exactly as Keras moves moving_mean / moving_variance (PyTorch's default 0.1 would move them 10x)."""
    import copy

    from signfer.models.keras_mobilenet import KERAS_BN_MOMENTUM

    model, w = copy.deepcopy(ported[0]), ported[1]
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 27 and {m.momentum for m in bns} == {KERAS_BN_MOMENTUM} == {0.01}
    model = model.train()
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64) * 255 - 120
    conv1 = F.conv2d(F.pad(x, (0, 1, 0, 1)), torch.from_numpy(w["conv1"]["kernel"]).permute(3, 2, 0, 1), stride=2)
    want_mean, want_var = keras_bn_training_update(w["conv1_bn"]["moving_mean"].astype(np.float64), w["conv1_bn"]["moving_variance"].astype(np.float64),
                                                   conv1.double().numpy())
    with torch.no_grad():
        model(x)
    assert np.allclose(model.body.bn1.running_mean.numpy(), want_mean, rtol=1e-4, atol=1e-4)
    assert np.allclose(model.body.bn1.running_var.numpy(), want_var, rtol=1e-4, atol=1e-4)
    tenfold, _ = keras_bn_training_update(w["conv1_bn"]["moving_mean"].astype(np.float64), w["conv1_bn"]["moving_variance"].astype(np.float64),
                                          conv1.double().numpy(), momentum=0.9)
    assert not np.allclose(model.body.bn1.running_mean.numpy(), tenfold, rtol=1e-3, atol=1e-3)  # PyTorch's default would differ


def test_trained_spec_records_keras_bn_momentum(keras_mobilenet_h5):
    """A recipe training the Keras port records BN momentum 0.01 in its spec; a timm model's spec records nothing."""
    from signfer.models.spec import ModelSpec
    from signfer.training.prepare import build_model
    from signfer.training.recipes import load_recipe

    path, _ = keras_mobilenet_h5
    recipe = load_recipe("M2", [f"pretrained={path}", "image_size=64"])
    model, spec = build_model(recipe, recipe.class_names())
    assert spec.bn_momentum == 0.01 and spec.to_dict()["bn_momentum"] == 0.01
    assert {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {0.01}
    assert ModelSpec.from_dict(spec.to_dict()).bn_momentum == 0.01
    plain = ModelSpec(arch="efficientnet_b0", class_names=["a"])
    assert "bn_momentum" not in plain.to_dict()  # specs without it hash as before
