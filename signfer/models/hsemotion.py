"""HSEmotion's AffectNet models (Savchenko), the SLTAT 2022 starting points, loaded without running their pickles.

Published in the GitHub repository ``av-savchenko/face-emotion-recognition`` (formerly
``HSE-asavchenko/face-emotion-recognition``; GitHub redirects the old name, which the
``hsemotion`` package still uses) under ``models/affectnet_emotions/``. signfer downloads
them from a pinned commit and checks each file against its Git blob id (the digest the
repository's tree publishes), into ``<cache>/weights/``.

PyTorch files (:data:`MODELS`, starting weights for training; need torch):

* ``enet_b0_*.pt`` / ``enet_b2_*.pt`` are whole pickled timm models (``torch.save(model)``),
  timm ``tf_efficientnet_b0_ns`` / ``tf_efficientnet_b2_ns`` (TensorFlow ``same`` padding,
  BatchNorm eps 1e-3) with the classifier replaced by ``Sequential(Linear(1280|1408, n))``.
  Unpickling runs code from the file, so it needs ``trust_pickle=True``; it is done once:
  the weights are saved as ``hsemotion_<name>.safetensors`` next to the download and read
  from there afterwards (no pickle). The unpickler builds only torch's own modules and
  tensors; every other class the file names (timm's, whatever version pickled it) becomes an
  inert stand-in that merely holds its tensors, so the file loads whatever timm is installed
  (this ends the timm version breakage these files are known for) and no foreign code is run
  by the unpickling itself.
* ``enet_b0_7_2021`` is ``enet_b0_7.pt`` as first uploaded (commit ``d5ec4b8``, March 2021,
  pickled by a timm 0.4-era version: ``timm.models.efficientnet.EfficientNet``,
  ``timm.models.efficientnet_blocks.*``, ``timm.models.layers.conv2d_same.Conv2dSame``, plain
  ``torch.nn.BatchNorm2d`` / ``SiLU``): the file the SLTAT 2022 notebooks loaded, for
  like-for-like E0-E2. ``enet_b0_7`` is the October 2022 re-save ("Changed format to the
  latest timm", same architecture and tensor names).
* ``mobilenet_7.h5`` is a Keras MobileNet-v1, ported by :mod:`signfer.models.keras_mobilenet`
  (the same file in both commits).

ONNX exports (:data:`ONNX_MODELS`, ``models/affectnet_emotions/onnx/``; ONNX Runtime only, no
torch, no pickle): ``enet_b0_8_best_afew``, ``enet_b0_8_best_vgaf``, ``enet_b2_7``, ``enet_b2_8``,
``enet_b2_8_best`` and the multi-task ``enet_b0_8_va_mtl``, ``mbf_va_mtl``, ``mobilevit_va_mtl``.
``Recognizer.from_pretrained("hsemotion:NAME")`` / ``signfer annotate --model hsemotion:NAME``
use these. Their layout, as HSEmotion's own code establishes it:

* input ``input`` (N, 3, H, W) float32 with a dynamic batch axis, output (N, C) logits
  (``src/convert_pt_to_onnx.py``: ``input_names=['input']``, ``dynamic_axes={'input': {0:
  'batch_size'}, ...}``, opset 11);
* RGB resized to 224 (B0, MobileViT) or 260 (B2) px, /255, ImageNet mean/std (the same
  script's ``260 if '_b2_' in name else 224``; hsemotion-onnx 0.3.1 ``preprocess``); the
  MobileFaceNet ``mbf_va_mtl`` takes 112 px with mean = std = 0.5 (the ABAW notebooks,
  ``src/ABAW/ABAW7/mtl.ipynb`` and ``src/affectnet/train_emotions-pytorch.ipynb``, which load
  ``mbf_va_mtl.pt`` / ``mbf_mtl.pt`` with ``Resize((112, 112))`` and ``Normalize([0.5]*3,
  [0.5]*3)``). hsemotion-onnx's ``224 if '_b0_' in name else 260`` predates the mbf/MobileViT
  files and would feed them 260 px; where a file declares a fixed input size, the file's size is used;
* classes: 8 Anger, Contempt, Disgust, Fear, Happiness, Neutral, Sadness, Surprise; 7 without
  Contempt (hsemotion-onnx ``idx_to_class``);
* ``*_va_mtl``: 10 outputs, the 8 logits then valence and arousal. The head is one
  ``Linear(features, num_classes + 2)`` trained with cross-entropy on the first 8 and a
  concordance (CCC) loss of columns 8 / 9 against AffectNet's valence / arousal labels
  (range -1..1); the values are raw linear outputs, not squashed (no tanh), so they can leave
  -1..1 slightly. hsemotion-onnx softmaxes ``scores[:-2]`` and returns ``scores[-2:]`` as they are;
  so does signfer (the spec's ``extra_outputs``).

Faces: HSEmotion crops MTCNN boxes (``src/facial_analysis.py``) with no colour change or
rotation; the ONNX models' specs use preset ``sltat2022`` (no equalisation, no rotation)
with the MTCNN detector. Class orders in signfer's vocabulary: 7 anger, disgust, fear, happy,
neutral, sad, surprise; 8 adds contempt after anger.
"""

from __future__ import annotations

import os
import pickle
import types
from dataclasses import dataclass
from pathlib import Path

from signfer.config import cache_dir
from signfer.errors import PickleNotTrusted, UnknownName, UserError
from signfer.models.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec
from signfer.models.weights import WeightSource, WeightsUnavailable, fetch_any, sha256sum

try:
    from signfer.data.labels import HSEMOTION_7, HSEMOTION_8
except ImportError:  # pragma: no cover - labels.py ships with signfer
    HSEMOTION_7 = ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    HSEMOTION_8 = ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")

REPOSITORY = "av-savchenko/face-emotion-recognition"
#: The commit the digests below belong to (the .pt files last changed for timm 0.9.7, September 2023;
#: the ONNX files in February 2024, commit 592f890).
COMMIT = "207ed4981625d1f643e25b4a3014e2eed20a0b46"
#: The first upload (March 2021, "Initial code upload"): the enet_b0_7.pt the SLTAT 2022 notebooks used.
COMMIT_2021 = "d5ec4b8c4047e5ee92475f3c6a5874f247f09f03"
#: ``$SIGNFER_HSEMOTION_URL`` replaces this base (a mirror holding ``<file>`` and ``onnx/<name>.onnx``;
#: the 2021 file as ``enet_b0_7_2021.pt``); the Git blob ids are still checked.
BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/models/affectnet_emotions/"
#: The address the ``hsemotion`` package itself uses (for messages: users know it).
PACKAGE_URL = "https://github.com/HSE-asavchenko/face-emotion-recognition/blob/main/models/affectnet_emotions/{file}?raw=true"
#: HSEmotion's own face crop: an MTCNN box, no colour change, no rotation.
FACE_PRESET = "sltat2022"
FACE_PRESET_OVERRIDES = {"detector": "mtcnn"}


def _base_url(commit: str) -> str:
    mirror = os.environ.get("SIGNFER_HSEMOTION_URL")
    if mirror:
        return mirror.rstrip("/") + "/"
    return f"https://raw.githubusercontent.com/{REPOSITORY}/{commit}/models/affectnet_emotions/"


@dataclass(frozen=True)
class HSEmotionModel:
    """One published HSEmotion file: ``arch`` is the signfer / timm architecture it loads into.

    ``commit``: the repository commit the file is taken from (its Git blob id ``git_sha1``
    belongs to that commit's tree); ``cache_name``: the cached file's name when it differs
    from ``file`` (two versions of one file).
    """

    name: str
    file: str
    arch: str
    class_names: tuple[str, ...]
    input_size: int
    git_sha1: str
    commit: str = COMMIT
    cache_name: str = ""

    @property
    def is_pickle(self) -> bool:
        return self.file.endswith(".pt")

    @property
    def url(self) -> str:
        mirrored = os.environ.get("SIGNFER_HSEMOTION_URL") and self.cache_name
        return _base_url(self.commit) + (self.cache_name if mirrored else self.file)

    def source(self) -> WeightSource:
        return WeightSource(kind="url", location=self.url, git_sha1=self.git_sha1, filename=self.cache_name or self.file)

    def spec(self, class_names=None) -> ModelSpec:
        """How the model expects its input (its own class order unless ``class_names`` is given)."""
        names = list(class_names) if class_names is not None else list(self.class_names)
        if self.arch == "mobilenetv1_100_hsemotion":
            # RGB minus the per-channel offsets, no flip (``ip``: the same code path as the SLTAT M1/M2 recipes).
            return ModelSpec(arch=self.arch, class_names=names, input_size=self.input_size, normalization="ip",
                             preset="sltat2022")
        return ModelSpec(arch=self.arch, class_names=names, input_size=self.input_size, normalization="imagenet",
                         preset="sltat2022", mean=IMAGENET_MEAN, std=IMAGENET_STD)


def _m(name: str, arch: str, n: int, size: int, sha1: str, suffix: str = ".pt", **kw) -> HSEmotionModel:
    file = kw.pop("file", name + suffix)
    return HSEmotionModel(name, file, arch, HSEMOTION_7 if n == 7 else HSEMOTION_8, size, sha1, **kw)


#: Published PyTorch / Keras files, by name (the file name without its suffix). Git blob ids from the
#: pinned commit's tree (``git ls-tree -r 207ed49 models/affectnet_emotions``).
MODELS: dict[str, HSEmotionModel] = {m.name: m for m in (
    _m("enet_b0_7", "tf_efficientnet_b0", 7, 224, "47b748b42622ae1489a389588e9526d44ab01009"),
    _m("enet_b0_7_2021", "tf_efficientnet_b0", 7, 224, "02ab99b1db28ffe8468e2aee326c309d194a54b6",
       file="enet_b0_7.pt", commit=COMMIT_2021, cache_name="enet_b0_7_2021.pt"),
    _m("enet_b0_8_best_afew", "tf_efficientnet_b0", 8, 224, "9540c8beff661f1c2fca16de63b530cce24bb17d"),
    _m("enet_b0_8_best_vgaf", "tf_efficientnet_b0", 8, 224, "7219cfb037209b253ea8b81cf969e60a00e9181c"),
    _m("enet_b2_7", "tf_efficientnet_b2", 7, 260, "5a8ccbb17913461296003be726a22b6fc40d602b"),
    _m("enet_b2_8", "tf_efficientnet_b2", 8, 260, "eed81e6368877e89f8a99cfabadae7c3ddc3a949"),
    _m("enet_b2_8_best", "tf_efficientnet_b2", 8, 260, "43be51786607c44fd13df41a497056c6accf7188"),
    _m("mobilenet_7", "mobilenetv1_100_hsemotion", 7, 224, "3a3d5bb84506960a3ace7586b42b010623bae099", ".h5"),
)}


def get_model_info(name: str) -> HSEmotionModel:
    """The table entry for ``name`` (``enet_b0_7``, ``hsemotion:enet_b0_7`` or ``enet_b0_7.pt``)."""
    key = model_key(name)
    if key not in MODELS:
        extra = f"; the ONNX-only models ({', '.join(k for k in ONNX_MODELS if k not in MODELS)}) run in annotation, not training" \
            if key in ONNX_MODELS else ""
        raise UnknownName(f"unknown HSEmotion PyTorch model {name!r}; known: {', '.join(MODELS)}{extra}")
    return MODELS[key]


def model_key(name: str) -> str:
    """The bare table key of ``hsemotion:NAME``, ``NAME.pt``, ``hsemotion_NAME.safetensors``, ... ."""
    key = Path(str(name).strip().removeprefix("hsemotion:")).name
    for suffix in (".pt", ".h5", ".safetensors", ".onnx"):
        key = key.removesuffix(suffix)
    return key.removeprefix("hsemotion_")


# --------------------------------------------------------------------------- ONNX exports
@dataclass(frozen=True)
class HSEmotionOnnxModel:
    """One of HSEmotion's ONNX exports (``models/affectnet_emotions/onnx/<name>.onnx``).

    ``backbone``: what the network is (for descriptions); ``extra_outputs``: output columns
    after the class logits that are numbers, ``(("valence", 8), ("arousal", 9))`` for ``*_va_mtl``.
    """

    name: str
    backbone: str
    class_names: tuple[str, ...]
    input_size: int
    git_sha1: str
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    extra_outputs: tuple[tuple[str, int], ...] = ()
    commit: str = COMMIT

    @property
    def file(self) -> str:
        return f"onnx/{self.name}.onnx"

    @property
    def url(self) -> str:
        return _base_url(self.commit) + self.file

    @property
    def cache_name(self) -> str:
        return f"hsemotion_{self.name}.onnx"

    def source(self) -> WeightSource:
        return WeightSource(kind="url", location=self.url, git_sha1=self.git_sha1, filename=self.cache_name)

    def spec(self, input_size: int | None = None) -> ModelSpec:
        """The input HSEmotion feeds it (RGB, its size, its mean/std) and what its outputs are."""
        return ModelSpec(
            arch=f"hsemotion:{self.name}", class_names=list(self.class_names), input_size=int(input_size or self.input_size),
            normalization="imagenet", preset=FACE_PRESET, preset_overrides=dict(FACE_PRESET_OVERRIDES),
            mean=tuple(self.mean), std=tuple(self.std), extra_outputs=dict(self.extra_outputs),
        )  # fmt: skip


VA = (("valence", 8), ("arousal", 9))


def _o(name: str, backbone: str, n: int, size: int, sha1: str, **kw) -> HSEmotionOnnxModel:
    return HSEmotionOnnxModel(name, backbone, HSEMOTION_7 if n == 7 else HSEMOTION_8, size, sha1, **kw)


#: HSEmotion's ONNX exports, by name. Git blob ids from the pinned commit's tree
#: (``git ls-tree -r 207ed49 models/affectnet_emotions/onnx``; unchanged since commit 592f890, February 2024).
ONNX_MODELS: dict[str, HSEmotionOnnxModel] = {m.name: m for m in (
    _o("enet_b0_8_best_afew", "EfficientNet-B0", 8, 224, "d87faf71e8756d68c701ffd88b4cde4be460f57d"),
    _o("enet_b0_8_best_vgaf", "EfficientNet-B0", 8, 224, "49772db4e87ee6df57087fba131832a959e5c64d"),
    _o("enet_b2_7", "EfficientNet-B2", 7, 260, "cdd6a6070b72ed2e59e15e810ae0ecdbcb0f7626"),
    _o("enet_b2_8", "EfficientNet-B2", 8, 260, "a7cb612cbab1ce3d50dd52e57285fb2c7ea6d0d9"),
    _o("enet_b2_8_best", "EfficientNet-B2", 8, 260, "7e53eb31fefa28f6667195b27c7adade87da0a8f"),
    _o("enet_b0_8_va_mtl", "EfficientNet-B0, expression + valence/arousal", 8, 224, "7ce9d6dd5b82b260bc19bfe7822a6ffa1abb6011", extra_outputs=VA),
    _o("mbf_va_mtl", "MobileFaceNet, expression + valence/arousal", 8, 112, "194db927ec135679e5cd0a267c5605e2e9d68e7e",
       mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), extra_outputs=VA),
    _o("mobilevit_va_mtl", "MobileViT, expression + valence/arousal", 8, 224, "bed5781a1af9924536638ac3786603e124ee900e", extra_outputs=VA),
)}


def onnx_model_info(name: str) -> HSEmotionOnnxModel | None:
    """The ONNX table entry for ``hsemotion:NAME`` (or ``NAME``), or None when HSEmotion publishes no ONNX export of it."""
    return ONNX_MODELS.get(model_key(name))


def onnx_model_file(name: str, cache: Path | None = None) -> Path:
    """The verified ONNX file of ``hsemotion:NAME``: downloaded once (a notice, a progress bar), then from the cache."""
    info = onnx_model_info(name)
    if info is None:
        raise UserError(f"HSEmotion publishes no ONNX export of {name!r}; ONNX models: {', '.join(ONNX_MODELS)}")
    return fetch_any([info.source()], what=f"HSEmotion ONNX model {info.name} ({info.backbone})", cache=cache,
                     hint=f"The hsemotion-onnx package's address for it: {PACKAGE_URL.format(file=info.file)}")


def onnx_spec(name: str, path: str | os.PathLike | None = None) -> ModelSpec:
    """The :class:`ModelSpec` of an HSEmotion ONNX model; with ``path``, checked against the file.

    The file must take one ``(N, 3, H, W)`` input and give ``(N, >= classes + extras)``; a fixed
    ``H = W`` it declares is the input size (HSEmotion's code documents the size for the
    EfficientNets only).
    """
    info = onnx_model_info(name)
    if info is None:
        raise UserError(f"HSEmotion publishes no ONNX export of {name!r}; ONNX models: {', '.join(ONNX_MODELS)}")
    if path is None:
        return info.spec()
    import onnxruntime as ort

    from signfer.io import InputError

    path = Path(path)
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise InputError(path, f"not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None
    shape = list(sess.get_inputs()[0].shape)
    if len(shape) != 4 or shape[1] not in (3, "3"):
        raise InputError(path, f"expected one (N, 3, H, W) input as HSEmotion's exports have, found {shape}")
    h, w = shape[2], shape[3]
    size = int(h) if isinstance(h, int) and h == w else None
    spec = info.spec(size)
    width = sess.get_outputs()[0].shape[-1]
    if isinstance(width, int) and width < spec.output_width:
        raise InputError(path, f"gives {width} outputs, but {info.name} has {spec.num_classes} classes"
                         + (f" and {', '.join(spec.extra_names)}" if spec.extra_outputs else ""))
    return spec


# --------------------------------------------------------------------------- unpickling whole models
class PickleRefused(pickle.UnpicklingError):
    """A pickle asked for a callable the restricted unpickler does not give out."""


#: what a model pickle may really build: tensors and storages, parameters, torch's own modules
_REAL = {
    "collections": {"OrderedDict"},
    "torch._utils": {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state"},
    "torch._tensor": {"_rebuild_from_type_v2"},
    "torch.nn.parameter": {"Parameter"},
    "torch": {"Size", "Tensor", "device", "float32", "float16", "float64", "int64", "bool", "uint8"},
    "copyreg": {"_reconstructor"},
    "builtins": {"object", "set", "frozenset", "tuple", "list", "dict", "slice", "int", "float", "bool"},
}


_PY2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _stand_in(module: str, name: str):
    """An inert class named ``module.name`` (an nn.Module that only holds what the pickle sets on it)."""
    import torch.nn as nn

    key = (module, name)
    if key not in _STUBS:
        def __init__(self, *args, **kwargs):  # inert whatever the pickle passes
            nn.Module.__init__(self)

        def forward(self, *args, **kwargs):  # pragma: no cover - never called
            raise RuntimeError(f"{module}.{name} is a stand-in for a class of the pickle; it holds tensors and cannot run")

        _STUBS[key] = type(name, (nn.Module,), {"__module__": module, "__qualname__": name, "__init__": __init__,
                                                "forward": forward, "signfer_stand_in": True})
    return _STUBS[key]


_STUBS: dict[tuple[str, str], type] = {}


class _StandInUnpickler(pickle.Unpickler):
    """Builds tensors, parameters and ``torch.nn`` modules; every other global is an inert stand-in.

    timm's classes (of any version), functions stored as attributes (activation callables) and
    anything else a pickle names are never imported: the model's tree of ``_modules``,
    ``_parameters`` and ``_buffers`` is rebuilt from stand-ins and :meth:`state_dict` reads it.
    """

    def find_class(self, module, name):
        module = _PY2_NAMES.get(module, module)  # protocol-2 pickles (torch.save's) name builtins the Python 2 way
        if name in _REAL.get(module, ()) or (module == "torch" and name.endswith("Storage")):
            return super().find_class(module, name)
        if module.startswith("torch.nn.modules."):
            import torch.nn as nn

            cls = super().find_class(module, name)
            if isinstance(cls, type) and issubclass(cls, nn.Module):
                return cls
        if module == "torch.serialization" and name == "_get_layout":
            return super().find_class(module, name)
        return _stand_in(module, name)


_standin_pickle = types.SimpleNamespace(Unpickler=_StandInUnpickler, load=pickle.load, loads=pickle.loads, __name__="signfer_standin_pickle")


def state_dict_from_pickle(path: str | os.PathLike, trust_pickle: bool = False) -> dict:
    """The tensors of a ``torch.save``-d whole model (or state dict), unpickled only with ``trust_pickle=True``.

    The unpickler (:class:`_StandInUnpickler`) builds only tensors and ``torch.nn`` modules;
    the classes of timm or any other library named in the file are replaced by inert
    stand-ins, so files pickled by any timm version load.
    """
    import torch
    import torch.nn as nn

    path = Path(path)
    if not trust_pickle:
        raise PickleNotTrusted(
            f"{path} is a whole pickled model; loading it runs Python code stored in the file. If you trust its "
            "source, pass trust_pickle=True (command line: --trust-pickle): signfer then converts it once to a "
            "plain safetensors file and never unpickles it again."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_standin_pickle)
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


def timm_keys(sd: dict) -> dict:
    """HSEmotion's ``classifier = Sequential(Linear)`` keys -> timm's ``classifier.weight`` / ``.bias``."""
    out = {}
    for k, v in sd.items():
        if k.startswith("classifier.0."):
            k = "classifier." + k[len("classifier.0."):]
        out[k] = v.detach().clone().contiguous()
    return out


def efficientnet_arch(sd: dict, source: str = "") -> str:
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


def _check_loads(arch: str, sd: dict, source: str):
    from signfer.models.archs import build_arch

    n = int(sd["classifier.weight"].shape[0]) if "classifier.weight" in sd else 0
    model = build_arch(arch, n)
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise WeightsUnavailable(f"{source}: the weights do not fit timm {arch}: {str(exc)[:400]}") from None
    return model


def hsemotion_state_dict(name: str, trust_pickle: bool = False, cache: Path | None = None) -> tuple[dict, str, tuple[str, ...] | None]:
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


def load_hsemotion(name: str, trust_pickle: bool = False, cache: Path | None = None) -> tuple:
    """An HSEmotion AffectNet classifier (eval mode, its own head) and its :class:`ModelSpec`.

    ``name``: ``enet_b0_7``, ``enet_b0_7_2021`` (the 2021 upload), ``enet_b0_8_best_afew``,
    ``enet_b0_8_best_vgaf``, ``enet_b2_7``, ``enet_b2_8``, ``enet_b2_8_best``, ``mobilenet_7``
    (optionally ``hsemotion:``-prefixed),
    or the path of such a file (``.pt``, ``.h5``, or its ``.safetensors`` conversion).
    """
    from signfer.models.archs import build_arch

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
