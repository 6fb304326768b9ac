"""Files in the formats of HSEmotion's published models, made here with known weights.

HSEmotion's AffectNet files are not in any package and no model hub is reachable, so the
tests write files of the same layouts: a Keras ``model.save`` HDF5 of
``keras.applications.MobileNet`` + HSEmotion's head (``mobilenet_7.h5``), and a whole
pickled timm ``tf_efficientnet_b0`` with ``classifier = Sequential(Linear(1280, 7))``
(``enet_b0_7.pt``).
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

#: keras.applications.MobileNet blocks: (pointwise output channels, depthwise stride).
MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def write_keras_h5(path, layers: list[tuple[str, list[tuple[str, np.ndarray]]]], keras_version: str = "2.4.0") -> None:
    """A Keras whole-model HDF5 file: ``model_weights/<layer>/<layer>/<weight>:0`` plus the ``layer_names`` /
    ``weight_names`` attributes Keras reads (layers without weights listed too, as Keras does)."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version.encode()
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Functional", "config": {"layers": [{"name": n} for n, _ in layers]}}).encode()
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
        for name, weights in layers:
            g = mw.create_group(name)
            g.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in weights], dtype="S64")
            for w, arr in weights:
                g.create_dataset(f"{name}/{w}:0", data=arr)


def keras_mobilenet_layers(seed: int = 0, n_classes: int = 7) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """Known random weights in the exact layer/weight names and shapes of HSEmotion's mobilenet_7.h5."""
    rng = np.random.default_rng(seed)

    def kernel(*shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def bn(c):
        return [("gamma", rng.uniform(0.5, 1.5, c).astype(np.float32)), ("beta", rng.normal(0, 0.1, c).astype(np.float32)),
                ("moving_mean", rng.normal(0, 0.1, c).astype(np.float32)), ("moving_variance", rng.uniform(0.5, 2.0, c).astype(np.float32))]

    layers = [("input_1", []), ("conv1_pad", []), ("conv1", [("kernel", kernel(3, 3, 3, 32, fan_in=27))]), ("conv1_bn", bn(32)), ("conv1_relu", [])]
    cin = 32
    for i, (cout, stride) in enumerate(MOBILENET_BLOCKS, start=1):
        if stride == 2:
            layers.append((f"conv_pad_{i}", []))
        layers += [
            (f"conv_dw_{i}", [("depthwise_kernel", kernel(3, 3, cin, 1, fan_in=9))]), (f"conv_dw_{i}_bn", bn(cin)), (f"conv_dw_{i}_relu", []),
            (f"conv_pw_{i}", [("kernel", kernel(1, 1, cin, cout, fan_in=cin))]), (f"conv_pw_{i}_bn", bn(cout)), (f"conv_pw_{i}_relu", []),
        ]
        cin = cout
    layers += [
        ("global_pooling", []), ("dropout_1", []),
        ("feats", [("kernel", kernel(1024, 256, fan_in=1024)), ("bias", rng.normal(0, 0.1, 256).astype(np.float32))]),
        ("emotion_preds", [("kernel", kernel(256, n_classes, fan_in=256)), ("bias", rng.normal(0, 0.1, n_classes).astype(np.float32))]),
    ]
    return layers


@pytest.fixture(scope="session")
def keras_mobilenet_h5(tmp_path_factory):
    """(path of a mobilenet_7.h5-layout file, {layer: {weight: array}} written into it)."""
    layers = keras_mobilenet_layers()
    path = tmp_path_factory.mktemp("hsemotion") / "mobilenet_7.h5"
    write_keras_h5(path, layers)
    return path, {name: dict(ws) for name, ws in layers if ws}


@pytest.fixture(scope="session")
def fake_enet_b0_7(tmp_path_factory):
    """(path of an enet_b0_7.pt-layout file, the model pickled in it): a whole timm model saved with torch.save(model)."""
    import timm

    torch.manual_seed(0)
    model = timm.create_model("tf_efficientnet_b0", num_classes=7)
    model.classifier = torch.nn.Sequential(torch.nn.Linear(1280, 7))  # as HSEmotion replaced it
    with torch.no_grad():  # non-trivial BN statistics, so a lost buffer would show in the outputs
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    path = tmp_path_factory.mktemp("hsemotion_pt") / "enet_b0_7.pt"
    torch.save(model, path)
    return path, model


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the shared 2-core machine runs other test suites at the same time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A fresh, empty signfer cache for this test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SIGNFER_CACHE", str(cache))
    return cache
