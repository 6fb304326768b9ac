"""HSEmotion's Keras MobileNet-v1 (``mobilenet_7.h5``) ported into timm's ``mobilenetv1_100``.

``mobilenet_7.h5`` is ``keras.applications.MobileNet`` (layers ``conv1``, ``conv1_bn``,
``conv_dw_1``, ``conv_dw_1_bn``, ``conv_pw_1``, ``conv_pw_1_bn`` ... ``conv_pw_13_bn``, ReLU6)
followed by HSEmotion's head: ``global_pooling`` (average) -> ``dropout_1`` (0.5) ->
``feats`` (Dense 1024 -> 256, ReLU) -> ``emotion_preds`` (Dense 256 -> 7, softmax). The file
is read with h5py alone (no TensorFlow).

Two Keras details matter for equal numbers: before every stride-2 convolution Keras pads
asymmetrically (``ZeroPadding2D(((0, 1), (0, 1)))`` then a ``valid`` convolution), which is
TensorFlow's ``same`` padding for even input sizes, so the timm body is built with
``pad_type="same"`` (exact for inputs whose side is a multiple of 32, e.g. 224); and Keras
BatchNormalization uses eps 1e-3 (PyTorch: 1e-5). When it trains, Keras' BatchNormalization updates
its moving statistics with ``momentum=0.99`` (``moving = 0.99 * moving + 0.01 * batch``), which is
PyTorch ``momentum=0.01`` (PyTorch's default 0.1 adapts them ten times faster): every BatchNorm of the
port uses :data:`KERAS_BN_MOMENTUM`, and the spec of a model trained from it records it (``bn_momentum``).

Input (as HSEmotion trained it): RGB 224 x 224, float 0-255 minus (103.939, 116.779, 123.68)
per R, G, B channel, no channel flip (their ``mobilenet_preprocess_input``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from signfer.io import InputError
from signfer.models.archs import register_arch
from signfer.models.spec import IP_RGB_OFFSETS

#: HSEmotion's per-channel offsets, subtracted from the RGB channels in this order (no BGR flip): ModelSpec's ``ip``.
HSEMOTION_KERAS_MEANS = IP_RGB_OFFSETS
KERAS_BN_EPS = 1e-3
#: Keras ``BatchNormalization(momentum=0.99)`` in PyTorch's convention (the weight of the new batch statistic).
KERAS_BN_MOMENTUM = 0.01
#: Number of depthwise-separable blocks in MobileNet-v1.
N_BLOCKS = 13


# --------------------------------------------------------------------------- Keras .h5 reading (shared)
def read_keras_h5(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """All weights of a Keras HDF5 file: ``{layer name: {weight name: array}}`` in file order.

    Works for whole-model files (``model.save``: weights under ``model_weights``) and weight
    files (``save_weights``). Weight names are shortened to ``kernel``, ``bias``, ``gamma``,
    ``beta``, ``moving_mean``, ``moving_variance``, ``depthwise_kernel``, ``pointwise_kernel``.
    Layers without weights are left out.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise InputError(path, "not a Keras weights file (no layer_names attribute)")
        out: dict[str, dict[str, np.ndarray]] = {}
        for layer in root.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else str(layer)
            group = root[layer]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
            if not names:
                continue
            out[layer] = {n.split("/")[-1].split(":")[0]: np.asarray(group[n][()]) for n in names}
    return out


def conv_kernel(k: np.ndarray) -> torch.Tensor:
    """Keras Conv2D kernel (kh, kw, in, out) -> PyTorch (out, in, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(np.transpose(k, (3, 2, 0, 1)))).float()


def depthwise_kernel(k: np.ndarray) -> torch.Tensor:
    """Keras depthwise kernel (kh, kw, in, multiplier) -> PyTorch grouped (in * multiplier, 1, kh, kw)."""
    kh, kw, cin, mult = k.shape
    return torch.from_numpy(np.ascontiguousarray(np.transpose(k, (2, 3, 0, 1)).reshape(cin * mult, 1, kh, kw))).float()


def dense_kernel(k: np.ndarray) -> torch.Tensor:
    """Keras Dense kernel (in, out) -> PyTorch Linear (out, in)."""
    return torch.from_numpy(np.ascontiguousarray(k.T)).float()


def batchnorm_tensors(w: dict[str, np.ndarray], prefix: str) -> dict[str, torch.Tensor]:
    """Keras BatchNormalization weights -> PyTorch BatchNorm2d state-dict entries under ``prefix``."""
    n = len(w["moving_mean"])
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float()  # noqa: E731
    return {
        f"{prefix}.weight": t(w["gamma"]) if "gamma" in w else torch.ones(n),
        f"{prefix}.bias": t(w["beta"]) if "beta" in w else torch.zeros(n),
        f"{prefix}.running_mean": t(w["moving_mean"]),
        f"{prefix}.running_var": t(w["moving_variance"]),
    }


# --------------------------------------------------------------------------- the model
@register_arch("mobilenetv1_100_hsemotion", "mobilenetv1_100", 224, "Keras MobileNet-v1 + HSEmotion's 256-d feats layer (mobilenet_7.h5)")
class HSEmotionMobileNet(nn.Module):
    """timm ``mobilenetv1_100`` (TF ``same`` padding, BN eps 1e-3) + HSEmotion's 256-d ``feats`` layer + classifier.

    ``get_classifier()`` is the last Linear (HSEmotion's ``emotion_preds``), as the SLTAT
    fine-tuning replaced only the last layer; ``feats`` belongs to the backbone.
    """

    #: BatchNorm momentum of a Keras-origin model (PyTorch convention); recorded in the spec of a model trained from it.
    bn_momentum = KERAS_BN_MOMENTUM

    def __init__(self, num_classes: int = 7, feat_dim: int = 256, drop_rate: float = 0.5):
        super().__init__()
        import timm

        self.body = timm.create_model("mobilenetv1_100", num_classes=0, pad_type="same", bn_eps=KERAS_BN_EPS)
        set_bn_momentum(self, KERAS_BN_MOMENTUM)
        self.drop = nn.Dropout(drop_rate)
        self.feats = nn.Linear(self.body.num_features, feat_dim)
        self.act = nn.ReLU()
        self.num_features = feat_dim
        self.num_classes = num_classes
        self.classifier = nn.Linear(feat_dim, num_classes) if num_classes > 0 else nn.Identity()

    def blocks_flat(self) -> list[nn.Module]:
        """The 13 depthwise-separable blocks in Keras order (``conv_dw_i`` / ``conv_pw_i`` = index i - 1)."""
        return [b for stage in self.body.blocks for b in stage]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.forward_features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.body.forward_head(x, pre_logits=True)
        x = self.act(self.feats(self.drop(x)))
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


def set_bn_momentum(model: nn.Module, momentum: float) -> int:
    """Set every BatchNorm layer of ``model`` to ``momentum`` (PyTorch convention); returns how many were set."""
    n = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = float(momentum)
            n += 1
    return n


def keras_mobilenet_state_dict(weights: dict[str, dict[str, np.ndarray]], model: HSEmotionMobileNet, source: str = "") -> dict[str, torch.Tensor]:
    """Map Keras MobileNet + HSEmotion head weights (from :func:`read_keras_h5`) onto ``model``'s state-dict keys."""
    def need(layer: str) -> dict[str, np.ndarray]:
        if layer not in weights:
            raise InputError(source or "keras file", f"has no layer {layer!r}; a Keras MobileNet (keras.applications.MobileNet) with HSEmotion's 'feats' head is expected")
        return weights[layer]

    names = {id(m): n for n, m in model.named_modules()}
    sd: dict[str, torch.Tensor] = {"body.conv_stem.weight": conv_kernel(need("conv1")["kernel"])}
    sd.update(batchnorm_tensors(need("conv1_bn"), "body.bn1"))
    blocks = model.blocks_flat()
    if len(blocks) != N_BLOCKS:
        raise RuntimeError(f"expected {N_BLOCKS} depthwise-separable blocks, the model has {len(blocks)}")
    for i, block in enumerate(blocks, start=1):
        p = names[id(block)]
        dw = need(f"conv_dw_{i}")
        sd[f"{p}.conv_dw.weight"] = depthwise_kernel(dw["depthwise_kernel"] if "depthwise_kernel" in dw else dw["kernel"])  # Keras 3: 'kernel'
        sd.update(batchnorm_tensors(need(f"conv_dw_{i}_bn"), f"{p}.bn1"))
        sd[f"{p}.conv_pw.weight"] = conv_kernel(need(f"conv_pw_{i}")["kernel"])
        sd.update(batchnorm_tensors(need(f"conv_pw_{i}_bn"), f"{p}.bn2"))
    feats = need("feats")
    sd["feats.weight"], sd["feats.bias"] = dense_kernel(feats["kernel"]), torch.from_numpy(feats["bias"]).float()
    head = classifier_layer(weights, source)
    sd["classifier.weight"], sd["classifier.bias"] = dense_kernel(weights[head]["kernel"]), torch.from_numpy(weights[head]["bias"]).float()
    return sd


def classifier_layer(weights: dict[str, dict[str, np.ndarray]], source: str = "") -> str:
    """Name of the Dense layer on top of ``feats`` (``emotion_preds`` in HSEmotion's files)."""
    if "emotion_preds" in weights:
        return "emotion_preds"
    feat_dim = weights["feats"]["kernel"].shape[1] if "feats" in weights else None
    found = [n for n, w in weights.items() if n != "feats" and w.get("kernel") is not None and w["kernel"].ndim == 2 and w["kernel"].shape[0] == feat_dim]
    if len(found) != 1:
        raise InputError(source or "keras file", f"cannot tell the classifier layer on top of 'feats' (candidates: {found})")
    return found[0]


def load_keras_mobilenet(path: str | os.PathLike) -> HSEmotionMobileNet:
    """A :class:`HSEmotionMobileNet` (eval mode) with the weights of a Keras MobileNet ``.h5`` file such as ``mobilenet_7.h5``."""
    path = Path(path)
    weights = read_keras_h5(path)
    if "feats" not in weights:
        raise InputError(path, "has no 'feats' layer: not an HSEmotion MobileNet file")
    head = classifier_layer(weights, str(path))
    num_classes = weights[head]["kernel"].shape[1]
    model = HSEmotionMobileNet(num_classes=num_classes, feat_dim=weights["feats"]["kernel"].shape[1])
    sd = keras_mobilenet_state_dict(weights, model, str(path))
    own = model.state_dict()
    for key, value in sd.items():
        if key not in own or own[key].shape != value.shape:
            raise InputError(path, f"weight for {key} has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape) if key in own else 'no such tensor'}")
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    if missing:
        raise InputError(path, f"the file leaves model tensors unset: {missing[:5]}")
    model.load_state_dict(sd, strict=False)
    return model.eval()
