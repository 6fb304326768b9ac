"""What a model expects as input and what its outputs mean; stored with every model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from signfer.errors import OptionError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # Keras "caffe" preprocess_input: subtracted from B, G, R after the flip
#: The SLTAT "IP": the notebooks' ``mobilenet_preprocess_input`` (HSEmotion's) subtracts these from the
#: R, G, B channels in that order, with no channel flip (FER-for-sign-language, mobilenet_crossval_train.ipynb:
#: ``x[..., 0] -= 103.939; x[..., 1] -= 116.779; x[..., 2] -= 123.68``).
IP_RGB_OFFSETS = (103.939, 116.779, 123.68)
#: Every ``normalization`` a spec can name (see :class:`ModelSpec`).
NORMALIZATIONS = ("imagenet", "ip", "raw", "caffe", "minus_one_one", "unit")


@dataclass
class ModelSpec:
    """Everything inference needs to feed a model exactly as it was trained.

    ``normalization``: ``imagenet`` (RGB/255 then ``mean``/``std``; torchvision's
    ``ToTensor`` + ``Normalize``), ``ip`` (the SLTAT "IP" = HSEmotion's
    ``mobilenet_preprocess_input``: RGB 0-255 minus (103.939, 116.779, 123.68) on R, G, B in that
    order, no channel flip; HSEmotion's ``mobilenet_7`` and the SLTAT M0/M1/M2 rows), ``raw``
    (0-255 floats unchanged: Keras ``ImageDataGenerator()`` without preprocessing, the SLTAT
    MobileNet rows without IP), ``caffe`` (Keras ``preprocess_input(mode="caffe")``: RGB->BGR, then
    minus the BGR means; kept for models trained that way), ``minus_one_one`` (x/127.5-1),
    ``unit`` (x/255). ``preset`` names the face preprocessing preset (see
    ``signfer.faces.presets``); ``preset_overrides`` any switched steps; ``region`` the
    face region the model was trained on. ``bn_momentum``: the BatchNorm momentum (PyTorch
    convention) the model trained with when it is not PyTorch's 0.1 (a Keras-origin model: 0.01 =
    Keras' 0.99); None = not recorded. ``preset_fields``: the preset's own fields (before
    ``preset_overrides``), so the crops are resolved by value (:func:`signfer.faces.presets.preset_for`);
    filled for presets whose meaning has changed (``easier2025``). A spec read by :meth:`from_dict`
    that names such a preset without its fields was written before the change and means the old
    preset (``easier2025`` -> ``easier2025-refined``): a trained model keeps the crops it was trained on.
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
    extra_outputs: dict[str, int] = field(default_factory=dict)
    bn_momentum: float | None = None
    preset_fields: dict | None = None

    def __post_init__(self):
        from signfer.faces.presets import RENAMED, get_preset

        fields = dict(self.preset_fields) if self.preset_fields else None
        if fields is not None and fields.get("name") != self.preset:
            fields = None  # the fields of another preset (e.g. left over from dataclasses.replace(spec, preset=...))
        if fields is None and self.preset in RENAMED:
            fields = get_preset(self.preset).to_dict()  # today's meaning, stored by value
        self.preset_fields = fields
        extras = {str(k): int(v) for k, v in dict(self.extra_outputs or {}).items()}
        clash = {k: v for k, v in extras.items() if v < len(self.class_names)}
        if clash:
            raise OptionError(f"extra outputs {clash} overlap the {len(self.class_names)} class logits (columns 0-{len(self.class_names) - 1})")
        if len(set(extras.values())) != len(extras):
            raise OptionError(f"extra outputs {extras} share a column")
        self.extra_outputs = extras

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def extra_names(self) -> list[str]:
        """Names of the extra (non-class) outputs, in column order."""
        return sorted(self.extra_outputs, key=self.extra_outputs.get)

    @property
    def output_width(self) -> int:
        """The fewest output columns the model must have: the logits and every extra output."""
        return max([self.num_classes - 1, *self.extra_outputs.values()]) + 1

    def split_outputs(self, outputs: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(N, W) model outputs -> ((N, num_classes) class logits, {extra name: (N,) values})."""
        out = np.asarray(outputs)
        if out.ndim != 2 or out.shape[1] < self.output_width:
            raise OptionError(f"model output of shape {out.shape}: expected (N, >= {self.output_width}) for {self.num_classes} classes"
                             + (f" and extra outputs {self.extra_outputs}" if self.extra_outputs else ""))
        return out[:, : self.num_classes], {k: out[:, i] for k, i in sorted(self.extra_outputs.items(), key=lambda kv: kv[1])}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        if not d["extra_outputs"]:
            del d["extra_outputs"]  # specs without extras read and hash as before
        for key in ("bn_momentum", "preset_fields"):
            if d.get(key) is None:
                d.pop(key, None)  # likewise specs without a recorded BatchNorm momentum or preset by value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        from signfer.faces.presets import RENAMED

        d = dict(d)
        if d.get("preset") in RENAMED and not d.get("preset_fields"):
            d["preset"] = RENAMED[d["preset"]]  # written before the preset changed meaning: the old preset
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
        elif self.normalization == "ip":
            x = x - np.asarray(IP_RGB_OFFSETS, np.float32)
        elif self.normalization == "raw":
            pass
        elif self.normalization == "caffe":
            x = x[..., ::-1] - np.asarray(CAFFE_BGR_MEAN, np.float32)
        elif self.normalization == "minus_one_one":
            x = x / 127.5 - 1.0
        elif self.normalization == "unit":
            x = x / 255.0
        else:
            raise OptionError(f"unknown normalization {self.normalization!r}")
        # copy(order="C"): fresh standard strides even for one channel, where ascontiguousarray keeps odd ones
        return x.transpose(0, 3, 1, 2).astype(np.float32, order="C", copy=True)
