"""HSEmotion's AffectNet models (Savchenko), the SLTAT 2022 starting points, loaded without running their pickles.

Published in the GitHub repository ``av-savchenko/face-emotion-recognition`` (formerly
``HSE-asavchenko/face-emotion-recognition``; GitHub redirects the old name, which the
``hsemotion`` package still uses) under ``models/affectnet_emotions/``. signfer downloads
them from a pinned commit and checks each file against its Git blob id (the digest the
repository's tree publishes), into ``<cache>/weights/``.

* ``enet_b0_*.pt`` / ``enet_b2_*.pt`` are whole pickled timm models (``torch.save(model)``),
  timm ``tf_efficientnet_b0_ns`` / ``tf_efficientnet_b2_ns`` (TensorFlow ``same`` padding,
  BatchNorm eps 1e-3) with the classifier replaced by ``Sequential(Linear(1280|1408, n))``.
  Unpickling runs code from the file, so it needs ``trust_pickle=True``; it is done once:
  the weights are saved as ``hsemotion_<name>.safetensors`` next to the download and read
  from there afterwards (no pickle). Classes missing from the installed timm (old pickles)
  are stood in for, so only tensors are taken from the file; this also ends the timm
  version breakage these files are known for.
* ``mobilenet_7.h5`` is a Keras MobileNet-v1, ported by :mod:`signfer.models.keras_mobilenet`.

Class orders: 7 classes Anger, Disgust, Fear, Happiness, Neutral, Sadness, Surprise; 8 adds
Contempt after Anger. Input: RGB, 224 x 224 (B0) / 260 x 260 (B2), ImageNet mean/std
(the Keras MobileNet: RGB minus (103.939, 116.779, 123.68), no channel flip). The
multi-task ``*_va_mtl`` files (valence/arousal outputs) are not listed.
"""

from __future__ import annotations

import os
import pickle
import types
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from signfer.config import cache_dir
from signfer.models.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec
from signfer.models.weights import WeightSource, WeightsUnavailable, fetch_any, sha256sum

try:
    from signfer.data.labels import HSEMOTION_7, HSEMOTION_8
except ImportError:  # pragma: no cover - labels.py ships with signfer
    HSEMOTION_7 = ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    HSEMOTION_8 = ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")

REPOSITORY = "av-savchenko/face-emotion-recognition"
#: The commit the digests below belong to (files last changed for timm 0.9.7, September 2023).
COMMIT = "207ed4981625d1f643e25b4a3014e2eed20a0b46"
#: ``$SIGNFER_HSEMOTION_URL`` replaces this base (a mirror); the Git blob ids are still checked.
BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/models/affectnet_emotions/"
#: The address the ``hsemotion`` package itself uses (for messages: users know it).
PACKAGE_URL = "https://github.com/HSE-asavchenko/face-emotion-recognition/blob/main/models/affectnet_emotions/{file}?raw=true"


class PickleNotTrusted(ValueError):
    """A whole pickled model would have to be unpickled (which runs code from the file) without ``trust_pickle=True``."""


@dataclass(frozen=True)
class HSEmotionModel:
    """One published HSEmotion file: ``arch`` is the signfer / timm architecture it loads into."""

    name: str
    file: str
    arch: str
    class_names: tuple[str, ...]
    input_size: int
    git_sha1: str

    @property
    def is_pickle(self) -> bool:
        return self.file.endswith(".pt")

    @property
    def url(self) -> str:
        return os.environ.get("SIGNFER_HSEMOTION_URL", BASE_URL).rstrip("/") + "/" + self.file

    def source(self) -> WeightSource:
        return WeightSource(kind="url", location=self.url, git_sha1=self.git_sha1, filename=self.file)

    def spec(self, class_names=None) -> ModelSpec:
        """How the model expects its input (its own class order unless ``class_names`` is given)."""
        names = list(class_names) if class_names is not None else list(self.class_names)
        if self.arch == "mobilenetv1_100_hsemotion":
            # RGB minus the per-channel offsets, no flip (``ip``: the same code path as the SLTAT M1/M2 recipes).
            return ModelSpec(arch=self.arch, class_names=names, input_size=self.input_size, normalization="ip",
                             preset="sltat2022")
        return ModelSpec(arch=self.arch, class_names=names, input_size=self.input_size, normalization="imagenet",
                         preset="sltat2022", mean=IMAGENET_MEAN, std=IMAGENET_STD)


def _m(name: str, arch: str, n: int, size: int, sha1: str, suffix: str = ".pt") -> HSEmotionModel:
    return HSEmotionModel(name, name + suffix, arch, HSEMOTION_7 if n == 7 else HSEMOTION_8, size, sha1)


#: Published files, by name (the file name without its suffix). Git blob ids from the pinned commit's tree.
MODELS: dict[str, HSEmotionModel] = {m.name: m for m in (
    _m("enet_b0_7", "tf_efficientnet_b0", 7, 224, "47b748b42622ae1489a389588e9526d44ab01009"),
    _m("enet_b0_8_best_afew", "tf_efficientnet_b0", 8, 224, "9540c8beff661f1c2fca16de63b530cce24bb17d"),
    _m("enet_b0_8_best_vgaf", "tf_efficientnet_b0", 8, 224, "7219cfb037209b253ea8b81cf969e60a00e9181c"),
    _m("enet_b2_7", "tf_efficientnet_b2", 7, 260, "5a8ccbb17913461296003be726a22b6fc40d602b"),
    _m("enet_b2_8", "tf_efficientnet_b2", 8, 260, "eed81e6368877e89f8a99cfabadae7c3ddc3a949"),
    _m("enet_b2_8_best", "tf_efficientnet_b2", 8, 260, "43be51786607c44fd13df41a497056c6accf7188"),
    _m("mobilenet_7", "mobilenetv1_100_hsemotion", 7, 224, "3a3d5bb84506960a3ace7586b42b010623bae099", ".h5"),
)}


def get_model_info(name: str) -> HSEmotionModel:
    """The table entry for ``name`` (``enet_b0_7``, ``hsemotion:enet_b0_7`` or ``enet_b0_7.pt``)."""
    key = Path(str(name).removeprefix("hsemotion:")).name
    for suffix in (".pt", ".h5", ".safetensors"):
        key = key.removesuffix(suffix)
    key = key.removeprefix("hsemotion_")
    if key not in MODELS:
        raise KeyError(f"unknown HSEmotion model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[key]


# --------------------------------------------------------------------------- unpickling whole models
class _MissingClass(nn.Module):
    """Stand-in for a class the pickle names but the installed libraries lack; holds tensors, cannot run."""

    def forward(self, *args, **kwargs):  # pragma: no cover - never called
        raise RuntimeError(f"{type(self).__module__}.{type(self).__name__} is missing from the installed libraries")


_STUBS: dict[tuple[str, str], type] = {}


class _LenientUnpickler(pickle.Unpickler):
    """An unpickler that replaces classes it cannot import by :class:`_MissingClass` subclasses."""

    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            key = (module, name)
            if key not in _STUBS:
                _STUBS[key] = type(name, (_MissingClass,), {"__module__": module, "__qualname__": name})
            return _STUBS[key]


_lenient_pickle = types.SimpleNamespace(Unpickler=_LenientUnpickler, load=pickle.load, loads=pickle.loads, __name__="signfer_lenient_pickle")


def state_dict_from_pickle(path: str | os.PathLike, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of a ``torch.save``-d whole model (or state dict), unpickled only with ``trust_pickle=True``."""
    path = Path(path)
    if not trust_pickle:
        raise PickleNotTrusted(
            f"{path} is a whole pickled model; loading it runs Python code stored in the file. If you trust its "
            "source, pass trust_pickle=True (command line: --trust-pickle): signfer then converts it once to a "
            "plain safetensors file and never unpickles it again."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_lenient_pickle)
    except Exception as exc:
        raise WeightsUnavailable(f"{path}: could not unpickle ({type(exc).__name__}: {str(exc)[:300]})") from None
    if isinstance(obj, nn.Module):
        sd = obj.state_dict()
    elif isinstance(obj, dict):
        sd = obj.get("state_dict", obj) if isinstance(obj.get("state_dict"), dict) else obj
    else:
        raise WeightsUnavailable(f"{path}: holds a {type(obj).__name__}, neither a model nor a state dict")
    sd = {k.removeprefix("module."): v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if not sd:
        raise WeightsUnavailable(f"{path}: holds no tensors")
    return timm_keys(sd)


def timm_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HSEmotion's ``classifier = Sequential(Linear)`` keys -> timm's ``classifier.weight`` / ``.bias``."""
    out = {}
    for k, v in sd.items():
        if k.startswith("classifier.0."):
            k = "classifier." + k[len("classifier.0."):]
        out[k] = v.detach().clone().contiguous()
    return out


def efficientnet_arch(sd: dict[str, torch.Tensor], source: str = "") -> str:
    """``tf_efficientnet_b0`` or ``tf_efficientnet_b2``, told apart by the width of ``conv_head``."""
    head = sd.get("conv_head.weight")
    width = None if head is None else int(head.shape[0])
    if width == 1280:
        return "tf_efficientnet_b0"
    if width == 1408:
        return "tf_efficientnet_b2"
    raise WeightsUnavailable(f"{source}: not an EfficientNet-B0/B2 (conv_head width {width})")


# --------------------------------------------------------------------------- converted files
def converted_path(info_or_file, cache: Path | None = None) -> Path:
    """Where the safetensors conversion of an HSEmotion file lives: ``<cache>/weights/hsemotion_<name>.safetensors``."""
    stem = info_or_file.name if isinstance(info_or_file, HSEmotionModel) else Path(info_or_file).stem
    return Path(cache or cache_dir() / "weights") / f"hsemotion_{stem}.safetensors"


def convert_pickled_model(path: str | os.PathLike, out: str | os.PathLike | None = None, trust_pickle: bool = False,
                          class_names=None) -> Path:
    """Convert a whole pickled HSEmotion / timm EfficientNet to ``.safetensors`` (metadata: arch, classes, source digest)."""
    from signfer.models.checkpoint import save_state_dict

    path = Path(path)
    sd = state_dict_from_pickle(path, trust_pickle=trust_pickle)
    arch = efficientnet_arch(sd, str(path))
    _check_loads(arch, sd, str(path))
    out = Path(out) if out is not None else converted_path(path)
    meta = {"signfer_arch": arch, "source": path.name, "source_sha256": sha256sum(path)}
    if class_names is not None:
        meta["class_names"] = ",".join(class_names)
    return save_state_dict(out, sd, meta)


def _check_loads(arch: str, sd: dict[str, torch.Tensor], source: str) -> nn.Module:
    from signfer.models.registry import build_arch

    n = int(sd["classifier.weight"].shape[0]) if "classifier.weight" in sd else 0
    model = build_arch(arch, n)
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise WeightsUnavailable(f"{source}: the weights do not fit timm {arch}: {str(exc)[:400]}") from None
    return model


def hsemotion_state_dict(name: str, trust_pickle: bool = False, cache: Path | None = None) -> tuple[dict[str, torch.Tensor], str, tuple[str, ...] | None]:
    """``(state dict, arch, class names)`` of an HSEmotion model, by name or by path to a downloaded file.

    A name is fetched into the cache (verified); a ``.pt`` pickle is converted once to
    safetensors (needs ``trust_pickle=True`` that one time), an ``.h5`` file is ported.
    Raises :class:`~signfer.models.weights.WeightsUnavailable` saying which file to download
    from where and where to put it when the file cannot be had.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(str(name))
    if path.suffix in (".pt", ".h5", ".safetensors") and path.exists():
        info = MODELS.get(path.stem.removeprefix("hsemotion_"))
        classes = info.class_names if info else None
        if path.suffix == ".safetensors":
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
            sd = load_file(str(path))
            classes = tuple(meta["class_names"].split(",")) if meta.get("class_names") else classes
            return sd, meta.get("signfer_arch") or (info.arch if info else efficientnet_arch(sd, str(path))), classes
        if path.suffix == ".h5":
            from signfer.models.keras_mobilenet import load_keras_mobilenet

            return load_keras_mobilenet(path).state_dict(), "mobilenetv1_100_hsemotion", classes
        out = converted_path(path, cache)
        if not out.exists() or _source_digest(out) != sha256sum(path):
            convert_pickled_model(path, out, trust_pickle=trust_pickle, class_names=classes)
        return hsemotion_state_dict(str(out), cache=cache)

    info = get_model_info(name)
    converted = converted_path(info, cache)
    if converted.exists():
        return load_file(str(converted)), info.arch, info.class_names
    file = fetch_any([info.source()], what=f"HSEmotion model {info.name} (file {info.file})", cache=cache,
                     hint=f"The hsemotion package's address for it: {PACKAGE_URL.format(file=info.file)}")
    if info.is_pickle:
        sd = state_dict_from_pickle(file, trust_pickle=trust_pickle)
    else:
        from signfer.models.keras_mobilenet import load_keras_mobilenet

        sd = load_keras_mobilenet(file).state_dict()
    _check_loads(info.arch, sd, str(file))
    from signfer.models.checkpoint import save_state_dict

    save_state_dict(converted, sd, {"signfer_arch": info.arch, "class_names": ",".join(info.class_names),
                                    "source": info.url, "source_sha256": sha256sum(file)})
    return sd, info.arch, info.class_names


def _source_digest(path: Path) -> str | None:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return (f.metadata() or {}).get("source_sha256")


def load_hsemotion(name: str, trust_pickle: bool = False, cache: Path | None = None) -> tuple[nn.Module, ModelSpec]:
    """An HSEmotion AffectNet classifier (eval mode, its own head) and its :class:`ModelSpec`.

    ``name``: ``enet_b0_7``, ``enet_b0_8_best_afew``, ``enet_b0_8_best_vgaf``, ``enet_b2_7``,
    ``enet_b2_8``, ``enet_b2_8_best``, ``mobilenet_7`` (optionally ``hsemotion:``-prefixed),
    or the path of such a file (``.pt``, ``.h5``, or its ``.safetensors`` conversion).
    """
    from signfer.models.registry import build_arch

    sd, arch, classes = hsemotion_state_dict(name, trust_pickle=trust_pickle, cache=cache)
    n = int(sd["classifier.weight"].shape[0])
    if classes is None or len(classes) != n:
        classes = HSEMOTION_7 if n == 7 else HSEMOTION_8 if n == 8 else tuple(f"class_{i}" for i in range(n))
    model = build_arch(arch, n)
    model.load_state_dict(sd)
    model.eval()
    info = MODELS.get(Path(str(name)).stem.removeprefix("hsemotion:").removeprefix("hsemotion_"))
    size = info.input_size if info else (260 if arch.endswith("b2") else 224)
    spec = info.spec(classes) if info else HSEmotionModel("", "", arch, tuple(classes), size, "").spec()
    return model, spec
