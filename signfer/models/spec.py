"""What a model expects as input and what its outputs mean; stored with every model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # Keras "caffe" preprocess_input (the SLTAT "IP")


@dataclass
class ModelSpec:
    """Everything inference needs to feed a model exactly as it was trained.

    ``normalization``: ``imagenet`` (RGB/255 then mean/std), ``caffe`` (RGB->BGR, minus
    the ImageNet BGR means on 0-255, as Keras ``preprocess_input``), ``minus_one_one``
    (x/127.5-1), ``unit`` (x/255). ``preset`` names the face preprocessing preset (see
    ``signfer.faces.presets``); ``preset_overrides`` any switched steps; ``region`` the
    face region the model was trained on.
    """

    arch: str
    class_names: list[str]
    input_size: int = 224
    normalization: str = "imagenet"
    grayscale: bool = False
    preset: str = "easier2025"
    preset_overrides: dict = field(default_factory=dict)
    region: str = "full"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        d = dict(d)
        for k in ("mean", "std"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def normalize(self, batch_rgb_uint8: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) RGB uint8 -> (N, C, H, W) float32 as the model expects."""
        x = np.array(batch_rgb_uint8, dtype=np.float32)  # a fresh array: normalised in place below
        if x.ndim == 3:
            x = x[None]
        if self.grayscale:
            x = (x @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
        if self.normalization == "imagenet":
            x /= np.float32(255.0)
            x -= np.asarray(self.mean, np.float32)
            x /= np.asarray(self.std, np.float32)
        elif self.normalization == "caffe":
            x = x[..., ::-1] - np.asarray(CAFFE_BGR_MEAN, np.float32)
        elif self.normalization == "minus_one_one":
            x = x / 127.5 - 1.0
        elif self.normalization == "unit":
            x = x / 255.0
        else:
            raise ValueError(f"unknown normalization {self.normalization!r}")
        # copy(order="C"): fresh standard strides even for one channel, where ascontiguousarray keeps odd ones
        return x.transpose(0, 3, 1, 2).astype(np.float32, order="C", copy=True)
