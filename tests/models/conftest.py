"""Files in the formats of HSEmotion's published models, made here with known weights.

HSEmotion's AffectNet files are not in any package and no model hub is reachable, so the
tests write files of the same layouts: a Keras ``model.save`` HDF5 of
``keras.applications.MobileNet`` + HSEmotion's head (``mobilenet_7.h5``), and a whole
pickled timm ``tf_efficientnet_b0`` with ``classifier = Sequential(Linear(1280, 7))``
(``enet_b0_7.pt``), the same pickled by the old timm of 2021 (``enet_b0_7.pt`` of commit
d5ec4b8: classes of ``timm.models.efficientnet`` / ``efficientnet_blocks`` / ``layers``,
modules that no longer exist), and small ONNX files in the layout of HSEmotion's ONNX
exports (``src/convert_pt_to_onnx.py``: input ``input``, output ``output``, dynamic batch
axis ``batch_size``, opset 11, fixed H x W; output width 7, 8 or 10).
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


# --------------------------------------------------------------------------- HSEmotion's ONNX layout
class TinyHSEmotionNet(torch.nn.Module):
    """A small conv net standing in for HSEmotion's networks: (N, 3, S, S) -> (N, width)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 7, stride=4)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, width)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


def write_hsemotion_onnx(path, size: int, width: int, seed: int = 0):
    """An ONNX file exported exactly as HSEmotion's convert_pt_to_onnx.py does, from a tiny net."""
    torch.manual_seed(seed)
    model = TinyHSEmotionNet(width).eval()
    with torch.no_grad():
        model.fc.weight.mul_(4.0)  # outputs of a few units, so the classes differ clearly
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.randn(1, 3, size, size), str(path), opset_version=11, do_constant_folding=True,
                      export_params=True, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}}, dynamo=False)
    return path


@pytest.fixture(scope="session")
def hsemotion_onnx_site(tmp_path_factory):
    """A local 'mirror' of models/affectnet_emotions/ holding onnx/<name>.onnx for every HSEmotion ONNX model,
    each in its model's layout (input size, 7 / 8 / 10 outputs); returns (site dir, {name: Git blob id})."""
    from signfer.models.hsemotion import ONNX_MODELS
    from signfer.models.weights import git_blob_sha1

    site = tmp_path_factory.mktemp("hsemotion_site")
    blobs = {}
    for i, (name, info) in enumerate(ONNX_MODELS.items()):
        width = len(info.class_names) + len(info.extra_outputs)
        path = write_hsemotion_onnx(site / "onnx" / f"{name}.onnx", info.input_size, width, seed=i)
        blobs[name] = git_blob_sha1(path)
    return site, blobs


@pytest.fixture
def hsemotion_onnx_mirror(hsemotion_onnx_site, monkeypatch):
    """SIGNFER_HSEMOTION_URL pointing at the local mirror, the ONNX table's digests those of the local files."""
    import dataclasses

    from signfer.models import hsemotion

    site, blobs = hsemotion_onnx_site
    monkeypatch.setenv("SIGNFER_HSEMOTION_URL", site.as_uri())
    real = dict(hsemotion.ONNX_MODELS)
    for name, blob in blobs.items():
        monkeypatch.setitem(hsemotion.ONNX_MODELS, name, dataclasses.replace(real[name], git_sha1=blob))
    return site, real


# --------------------------------------------------------------------------- enet_b0_7.pt as pickled in 2021
#: where timm 0.4 (2021) kept the classes of today's tf_efficientnet_b0 (printed model in HSEmotion's
#: train_emotions-pytorch.ipynb of commit d5ec4b8: Conv2dSame, plain BatchNorm2d, SiLU, SelectAdaptivePool2d)
OLD_TIMM = {
    "EfficientNet": "timm.models.efficientnet",
    "DepthwiseSeparableConv": "timm.models.efficientnet_blocks",
    "InvertedResidual": "timm.models.efficientnet_blocks",
    "SqueezeExcite": "timm.models.efficientnet_blocks",
    "Conv2dSame": "timm.models.layers.conv2d_same",
    "SelectAdaptivePool2d": "timm.models.layers.adaptive_avgmax_pool",
}

_PICKLE_2021 = """
import json, sys, torch, torch.nn as nn
sys.path.insert(0, sys.argv[1])  # the stand-in old timm package comes first
import importlib
tree = json.load(open(sys.argv[2]))
sd = torch.load(sys.argv[3], weights_only=True)
mods = {}
for qual, module, cls_name in tree:
    cls = getattr(importlib.import_module(module), cls_name)
    m = cls.__new__(cls)
    nn.Module.__init__(m)
    mods[qual] = m
    if qual:
        parent, _, child = qual.rpartition(".")
        mods[parent].add_module(child, m)
for key, value in sd.items():
    qual, _, leaf = key.rpartition(".")
    if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
        mods[qual].register_buffer(leaf, value)
    else:
        mods[qual].register_parameter(leaf, nn.Parameter(value, requires_grad=value.is_floating_point()))
root = mods[""]
root.num_classes, root.drop_rate = 7, 0.2  # attributes as old timm kept them
torch.save(root, sys.argv[4])
assert type(root).__module__ == "timm.models.efficientnet"
"""


def write_old_timm_package(root):
    """Modules named like timm 0.4's, holding classes of the same names (and Conv2dSame a Conv2d, as then)."""
    for cls, module in OLD_TIMM.items():
        path = root.joinpath(*module.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        base = "nn.Conv2d" if cls == "Conv2dSame" else "nn.Module"
        with open(path, "a") as fh:
            fh.write(f"import torch.nn as nn\nclass {cls}({base}):\n    pass\n")
    for d in [p for p in root.rglob("*") if p.is_dir()] + [root / "timm"]:
        (d / "__init__.py").touch()


@pytest.fixture(scope="session")
def fake_enet_b0_7_2021(tmp_path_factory):
    """(path of an enet_b0_7.pt pickled the 2021 way, the equivalent timm model of today): the file's classes
    come from modules (``timm.models.efficientnet_blocks``, ``timm.models.layers.conv2d_same``, ...) the
    installed timm does not have; pickled in a subprocess that imports a stand-in package of those names."""
    import subprocess
    import sys

    import timm

    work = tmp_path_factory.mktemp("hsemotion_2021")
    torch.manual_seed(1)
    model = timm.create_model("tf_efficientnet_b0", num_classes=7)
    model.classifier = torch.nn.Sequential(torch.nn.Linear(1280, 7))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    tree, skip = [], set()
    for qual, m in model.named_modules():
        if any(qual.startswith(s + ".") for s in skip):
            continue
        name = type(m).__name__
        if name == "BatchNormAct2d":  # old timm: a plain BatchNorm2d (its activation a sibling module)
            tree.append([qual, "torch.nn.modules.batchnorm", "BatchNorm2d"])
            skip.add(qual)
        elif name in OLD_TIMM:
            tree.append([qual, OLD_TIMM[name], name])
        elif type(m).__module__.startswith("torch.nn"):
            tree.append([qual, type(m).__module__, name])
        else:
            raise AssertionError(f"no 2021 counterpart for {type(m).__module__}.{name}")
    (work / "tree.json").write_text(json.dumps(tree))
    torch.save(model.state_dict(), work / "sd.pt")
    write_old_timm_package(work / "old")
    path = work / "enet_b0_7_2021.pt"
    subprocess.run([sys.executable, "-c", _PICKLE_2021, str(work / "old"), str(work / "tree.json"), str(work / "sd.pt"), str(path)],
                   check=True, capture_output=True, text=True)
    return path, model
