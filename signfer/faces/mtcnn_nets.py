"""The PyTorch side of MTCNN: P-, R- and O-Net, the ``mtcnn`` wheel's weights loaded into them, and their ONNX export.

Imported only for ``MTCNNDetector(backend="torch")`` or when the ONNX files are not cached yet:
``import torch`` alone costs ~500-700 MB of resident memory, which the ONNX Runtime path never pays.
See :mod:`signfer.faces.mtcnn` for the cascade, the weight files and the layouts.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from signfer.errors import OptionError
from signfer.faces.mtcnn_weights import load_keras_weights


def _conv(arrays, i, conv: nn.Conv2d, prelu: nn.PReLU) -> int:
    """Copy kernel (HWIO), bias and PReLU slopes starting at ``arrays[i]``; return the next index."""
    conv.weight.data = torch.from_numpy(arrays[i].transpose(3, 2, 0, 1).copy())
    conv.bias.data = torch.from_numpy(arrays[i + 1].copy())
    prelu.weight.data = torch.from_numpy(arrays[i + 2].reshape(-1).copy())
    return i + 3


def _dense(arrays, i, fc: nn.Linear) -> int:
    fc.weight.data = torch.from_numpy(arrays[i].T.copy())
    fc.bias.data = torch.from_numpy(arrays[i + 1].copy())
    return i + 2


def _flatten_keras(x: torch.Tensor) -> torch.Tensor:
    """Keras ``Permute((2, 1, 3))`` + ``Flatten`` on NHWC, expressed on NCHW: flatten in (W, H, C) order."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


# --------------------------------------------------------------------------- networks
class PNet(nn.Module):
    """Proposal net, fully convolutional: (N, 3, H, W) -> box offsets (N, 4, h, w), face probability (N, h, w)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)  # Keras padding="same"
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 4, 1)  # box regression
        self.conv4_2 = nn.Conv2d(32, 2, 1)  # no-face / face

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_1(x), torch.softmax(self.conv4_2(x), dim=1)[:, 1]

    def load_keras(self, arrays: list[np.ndarray]) -> "PNet":
        if len(arrays) != 13:
            raise OptionError(f"P-Net expects 13 weight arrays, got {len(arrays)}")
        i = _conv(arrays, 0, self.conv1, self.prelu1)
        i = _conv(arrays, i, self.conv2, self.prelu2)
        i = _conv(arrays, i, self.conv3, self.prelu3)
        for conv in (self.conv4_1, self.conv4_2):
            conv.weight.data = torch.from_numpy(arrays[i].transpose(3, 2, 0, 1).copy())
            conv.bias.data = torch.from_numpy(arrays[i + 1].copy())
            i += 2
        return self


class RNet(nn.Module):
    """Refinement net: (N, 3, 24, 24) -> box offsets (N, 4), face probability (N,)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.fc4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.fc5_1 = nn.Linear(128, 4)
        self.fc5_2 = nn.Linear(128, 2)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.fc4(_flatten_keras(x)))
        return self.fc5_1(x), torch.softmax(self.fc5_2(x), dim=1)[:, 1]

    def load_keras(self, arrays: list[np.ndarray]) -> "RNet":
        if len(arrays) != 16:
            raise OptionError(f"R-Net expects 16 weight arrays, got {len(arrays)}")
        i = _conv(arrays, 0, self.conv1, self.prelu1)
        i = _conv(arrays, i, self.conv2, self.prelu2)
        i = _conv(arrays, i, self.conv3, self.prelu3)
        i = _dense(arrays, i, self.fc4)
        self.prelu4.weight.data = torch.from_numpy(arrays[i].copy())
        i = _dense(arrays, i + 1, self.fc5_1)
        _dense(arrays, i, self.fc5_2)
        return self


class ONet(nn.Module):
    """Output net: (N, 3, 48, 48) -> box offsets (N, 4), landmarks (N, 10: x1..x5, y1..y5 in [0, 1] of the box),
    face probability (N,)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.fc5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.fc6_1 = nn.Linear(256, 4)
        self.fc6_2 = nn.Linear(256, 10)
        self.fc6_3 = nn.Linear(256, 2)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.fc5(_flatten_keras(x)))
        return self.fc6_1(x), self.fc6_2(x), torch.softmax(self.fc6_3(x), dim=1)[:, 1]

    def load_keras(self, arrays: list[np.ndarray]) -> "ONet":
        if len(arrays) != 21:
            raise OptionError(f"O-Net expects 21 weight arrays, got {len(arrays)}")
        i = _conv(arrays, 0, self.conv1, self.prelu1)
        i = _conv(arrays, i, self.conv2, self.prelu2)
        i = _conv(arrays, i, self.conv3, self.prelu3)
        i = _conv(arrays, i, self.conv4, self.prelu4)
        i = _dense(arrays, i, self.fc5)
        self.prelu5.weight.data = torch.from_numpy(arrays[i].copy())
        i = _dense(arrays, i + 1, self.fc6_1)
        i = _dense(arrays, i, self.fc6_2)
        _dense(arrays, i, self.fc6_3)
        return self


NET_CLASSES = {"pnet": PNet, "rnet": RNet, "onet": ONet}
NET_OUTPUTS = {"pnet": ["box", "prob"], "rnet": ["box", "prob"], "onet": ["box", "landmarks", "prob"]}
_NET_INPUT = {"pnet": (1, 3, 24, 24), "rnet": (2, 3, 24, 24), "onet": (2, 3, 48, 48)}


def load_nets() -> dict[str, nn.Module]:
    """The three nets with the ``mtcnn`` wheel's weights, in eval mode."""
    nets = {}
    for name, cls in NET_CLASSES.items():
        net = cls().load_keras(load_keras_weights(name)).eval()
        for p in net.parameters():
            p.requires_grad_(False)
        nets[name] = net
    return nets


def export_nets(paths: dict[str, Path]) -> None:
    """Export the nets named in ``paths`` to those ONNX files (dynamic batch and, for P-Net, spatial axes)."""
    from signfer.io import atomic_write

    nets = load_nets()
    for name, path in paths.items():
        dynamic = {0: "n", 2: "h", 3: "w"} if name == "pnet" else {0: "n"}
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                nets[name], (torch.zeros(_NET_INPUT[name]),), buf, dynamo=False, opset_version=17,
                input_names=["image"], output_names=NET_OUTPUTS[name],
                dynamic_axes={"image": dynamic, **{o: {0: "n"} for o in NET_OUTPUTS[name]}},
            )
        with atomic_write(path, "wb") as fh:  # a unique temp file: safe when several workers export at once
            fh.write(buf.getvalue())


class TorchNets:
    """Runs the nets with PyTorch on numpy float32 NCHW batches."""

    name = "torch"

    def __init__(self, threads: int | None = None):
        self.nets = load_nets()
        self.threads = threads

    def __call__(self, name: str, x: np.ndarray) -> list[np.ndarray]:
        old = torch.get_num_threads()
        switch = bool(self.threads) and self.threads != old
        if switch:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                return [o.numpy() for o in self.nets[name](torch.from_numpy(x))]
        finally:
            if switch:
                torch.set_num_threads(old)
