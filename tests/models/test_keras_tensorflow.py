"""The Keras MobileNet port against TensorFlow itself (optional: skipped without a Python that has TensorFlow).

TensorFlow is no signfer dependency: point SIGNFER_TF_PYTHON at a Python with ``tensorflow-cpu`` and ``tf-keras``
(e.g. ``python -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu tf-keras h5py``), or run the
tests in an environment where ``import tensorflow`` works. tests/models/tf_mobilenet_reference.py builds
HSEmotion's MobileNet topology in Keras 2 (``tf_keras``, the notebooks' ``tensorflow.keras``; the Keras that ships
with TensorFlow otherwise) with random weights, saves it as ``.h5``, and records its outputs on real face crops in
inference mode and after one SGD step in training mode. signfer ports the ``.h5`` and does the same step.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

SCRIPT = Path(__file__).with_name("tf_mobilenet_reference.py")


def _tf_python() -> str:
    python = os.environ.get("SIGNFER_TF_PYTHON")
    if python:
        return python
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    pytest.skip("TensorFlow is not installed; set SIGNFER_TF_PYTHON to a Python with tensorflow-cpu and tf-keras")


@pytest.fixture(scope="module")
def tf_reference(tmp_path_factory, astronaut, grace_hopper):
    from signfer.faces.detect import get_detector
    from signfer.faces.preprocessing import preprocess
    from signfer.faces.presets import get_preset
    from signfer.models.spec import ModelSpec

    python = _tf_python()
    out = tmp_path_factory.mktemp("tf_mobilenet")
    mtcnn = get_detector("mtcnn", min_face_size=50)
    crops = [preprocess(img, mtcnn.detect(img)[0], get_preset("easier2025-refined")).pixels for img in (astronaut, grace_hopper)]
    spec = ModelSpec(arch="mobilenetv1_100_hsemotion", class_names=list("abcdefg"), normalization="ip", preset="sltat2022")
    np.save(out / "input.npy", spec.normalize(np.stack(crops)).transpose(0, 2, 3, 1))  # NHWC, HSEmotion's IP
    np.save(out / "labels.npy", np.array([3, 5]))
    keras2 = subprocess.run([python, "-c", "import tf_keras"], capture_output=True).returncode == 0
    done = subprocess.run([python, str(SCRIPT), str(out), *(["keras2"] if keras2 else [])], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    return out, keras2


def test_port_computes_what_tensorflow_computes(tf_reference):
    from signfer.models.keras_mobilenet import load_keras_mobilenet

    out, _ = tf_reference
    model = load_keras_mobilenet(out / "mobilenet_7.h5")
    x = torch.from_numpy(np.load(out / "input.npy")).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        probs = torch.softmax(model(x), 1).numpy()
    np.testing.assert_allclose(probs, np.load(out / "infer.npy"), atol=1e-4, rtol=0)


def test_one_training_step_moves_batchnorm_as_tensorflow_does(tf_reference):
    """One SGD step in training mode: the BatchNorm moving statistics (Keras momentum 0.99 = the port's 0.01) and the
    outputs afterwards agree with TensorFlow's; PyTorch's default momentum 0.1 would not."""
    from signfer.models.keras_mobilenet import load_keras_mobilenet

    out, keras2 = tf_reference
    model = load_keras_mobilenet(out / "mobilenet_7.h5")
    before = copy.deepcopy(model)
    x = torch.from_numpy(np.load(out / "input.npy")).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(np.load(out / "labels.npy"))
    ref = np.load(out / "step.npz")

    def step(net):
        net.train()
        net.drop.p = 0.0  # the reference steps with dropout rate 0: a deterministic step
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    assert step(model) == pytest.approx(float(ref["loss"]), abs=1e-4)  # training-mode forward: batch statistics in float32
    names = {id(m): n for n, m in model.named_modules()}
    blocks = model.blocks_flat()
    sd = model.state_dict()
    # Keras 2 (fused kernel) updates the moving variance with the Bessel-corrected batch variance as PyTorch does;
    # Keras 3 with the plain one (relative difference 1 / (values per channel - 1): 4e-5 for conv1_bn, 1 % of the update for
    # conv_pw_13_bn's 2 x 7 x 7 values)
    var_rtol = 1e-5 if keras2 else 1e-4
    for keras, ours in (("conv1_bn", "body.bn1"), ("conv_pw_7_bn", f"{names[id(blocks[6])]}.bn2"),
                        ("conv_pw_13_bn", f"{names[id(blocks[12])]}.bn2")):
        np.testing.assert_allclose(sd[f"{ours}.running_mean"].numpy(), ref[f"{keras}/moving_mean"], atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(sd[f"{ours}.running_var"].numpy(), ref[f"{keras}/moving_variance"], atol=1e-5, rtol=var_rtol)
    np.testing.assert_allclose(sd["classifier.weight"].numpy(), ref["emotion_preds/kernel"].T, atol=1e-5)
    model.eval()
    with torch.no_grad():
        after = torch.softmax(model(x), 1).numpy()
    np.testing.assert_allclose(after, ref["infer_after"], atol=1e-4, rtol=0)
    # the same step with PyTorch's default momentum: the statistics (and outputs) move ten times further
    for m in before.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    step(before)
    assert not np.allclose(before.body.bn1.running_mean.numpy(), ref["conv1_bn/moving_mean"], atol=1e-3)
