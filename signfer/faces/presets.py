"""Preprocessing presets: each published pipeline is data (``signfer/configs/presets/*.yaml``), never code.

A preset file lists :class:`Preset` fields; ``base: other_preset`` starts from another
preset, so an ablation file names only what it changes. Any field can also be switched
at call time: ``get_preset("easier2025", colour="none")`` or, on the command line,
``signfer preprocess ... --set colour=none``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signfer.config import list_configs, load_yaml_config
from signfer.errors import OptionError

_CHOICES = {
    "face_choice": ("largest", "confident", "first"),
    "padding": ("black", "edge"),
    "colour": ("equalize", "standardize", "none"),
    "colour_order": ("before_rotation", "after_rotation"),
    "rotate_about": ("eyes", "centre"),
    "rotate_filter": ("bilinear", "nearest"),
    "region_split": ("landmarks", "middle"),
    "half_face_shape": ("half", "square"),
    "no_face": ("skip", "whole_image", "whole_image_as_is"),
    "resize": ("auto", "nearest"),
}
#: fields added after presets were first stored in model specs, with the value every earlier preset had: left out
#: of :meth:`Preset.key` at that value, so the crop-cache keys of the existing presets do not change
_LATER_FIELDS = {"min_face_score": None, "rotate_about": "eyes", "rotate_filter": "bilinear", "resize": "auto"}
#: presets whose meaning changed, and the name of what they meant before: a model spec naming one of them without
#: the preset's fields (written before the change) resolves to the old meaning (see :func:`preset_for`)
RENAMED = {"easier2025": "easier2025-refined"}


@dataclass(frozen=True)
class Preset:
    """How a face is cut out of an image and normalised.

    Steps, in order: detect with ``detector`` (``detector_options`` passed to
    ``signfer.faces.detect.get_detector``), drop faces scoring below ``min_face_score`` (None: the
    detector's default floor, MTCNN 0.9; 0: none) and keep one face (``face_choice``: ``largest``,
    ``confident``, or ``first`` = the detector's first, its best-scoring after NMS); make the box
    square (``square``); enlarge it by ``zoom`` about its centre; crop, filling what leaves
    the frame with ``padding`` (``black`` or ``edge`` = repeat the border pixels); colour
    normalisation (``colour``: ``equalize`` = histogram equalisation of R, G, B separately,
    ``standardize`` = per-channel mean/std clipped at ``clip_sd`` SD, ``none``) applied
    ``before_rotation`` (the 2025 paper: black rotation corners stay out of the histogram) or
    ``after_rotation`` (ablation); rotate to level the eyes (``align``; skipped for a face without
    eyes) about ``rotate_about`` (``eyes``: their midpoint; ``centre``: the crop's centre, as PIL's
    ``Image.rotate``) with ``rotate_filter`` (``bilinear`` or ``nearest``); cut the region; resize
    (``resize``: ``auto`` = area when shrinking, bilinear when enlarging; ``nearest`` = PIL's nearest neighbour,
    Keras ``flow_from_directory``).

    Regions: ``upper`` / ``lower`` split the aligned crop at the eye-mouth midline
    (``region_split: landmarks``, the middle when the face has no mouth landmarks) or at the
    middle (``region_split: middle``). With ``half_face_shape: half`` a half face is
    ``size // 2`` rows x ``size`` columns (its shape kept, up to the split position); with
    ``square`` it is stretched to ``size`` x ``size``. A full face is ``size`` x ``size``.

    ``no_face``: ``skip`` (no crop; the manifest says ``no_face``) or ``whole_image`` (the
    whole image, neither squared, zoomed nor rotated, goes through colour and resize) or
    ``whole_image_as_is`` (the whole image, only resized: no colour step, as the 2025 code's
    NormalizeImages.py ``img_cropped = img_np``).
    """

    name: str = "custom"
    description: str = ""
    detector: str = "mtcnn"
    detector_options: dict = field(default_factory=dict)
    face_choice: str = "largest"
    min_face_score: float | None = None
    square: bool = True
    zoom: float = 1.1
    padding: str = "edge"
    colour: str = "equalize"
    colour_order: str = "before_rotation"
    clip_sd: float = 2.5
    align: bool = True
    rotate_about: str = "eyes"
    rotate_filter: str = "bilinear"
    size: int = 224
    resize: str = "auto"
    region_split: str = "landmarks"
    half_face_shape: str = "half"
    no_face: str = "skip"

    def __post_init__(self):
        for key, choices in _CHOICES.items():
            if getattr(self, key) not in choices:
                raise OptionError(f"preset {self.name!r}: {key} must be one of {', '.join(choices)}; got {getattr(self, key)!r}")
        for key in ("square", "align"):
            if not isinstance(getattr(self, key), bool):
                raise OptionError(f"preset {self.name!r}: {key} must be true or false; got {getattr(self, key)!r}")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 8:
            raise OptionError(f"preset {self.name!r}: size must be a whole number of pixels >= 8; got {self.size!r}")
        for key in ("zoom", "clip_sd"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise OptionError(f"preset {self.name!r}: {key} must be a positive number; got {value!r}")
        if self.min_face_score is not None and (isinstance(self.min_face_score, bool) or not isinstance(self.min_face_score, (int, float))
                                                or not 0 <= self.min_face_score <= 1):
            raise OptionError(f"preset {self.name!r}: min_face_score must be a number from 0 to 1 or null; got {self.min_face_score!r}")
        if not isinstance(self.detector, str) or not isinstance(self.detector_options, Mapping):
            raise OptionError(f"preset {self.name!r}: detector must be a name and detector_options a mapping")

    def output_shape(self, region: str = "full") -> tuple[int, int]:
        """(height, width) of the crops for ``region``."""
        if region == "full" or self.half_face_shape == "square":
            return (self.size, self.size)
        return (self.size // 2, self.size)

    def to_dict(self) -> dict:
        """Every field, ready for YAML/JSON; ``get_preset(preset.to_dict())`` rebuilds it."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Short hash of every field but name and description: equal keys give equal crops (cache key)."""
        data = {k: v for k, v in self.to_dict().items() if k not in ("name", "description")
                and not (k in _LATER_FIELDS and v == _LATER_FIELDS[k])}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


FIELDS = tuple(f.name for f in dataclasses.fields(Preset))


def _check_keys(data: Mapping, source: str) -> None:
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise OptionError(f"{source}: unknown preset key(s) {', '.join(map(repr, unknown))}; known keys: {', '.join(FIELDS)}")


def _load_fields(name_or_path: str | os.PathLike, seen: tuple = ()) -> dict:
    data = dict(load_yaml_config("presets", name_or_path))
    base = data.pop("base", None)
    if base is not None:
        if str(base) in seen:
            raise OptionError(f"preset {name_or_path!r}: circular base chain {' -> '.join((*seen, str(base)))}")
        inherited = _load_fields(base, (*seen, str(name_or_path)))
        inherited.pop("description", None)
        data = {**inherited, **data}
    _check_keys(data, f"preset {str(name_or_path)!r}")
    return data


def get_preset(preset: str | os.PathLike | Preset | Mapping[str, Any] = "easier2025", **overrides) -> Preset:
    """A :class:`Preset` by name (``signfer/configs/presets/<name>.yaml``), YAML path, dict or Preset,
    with any field replaced by ``overrides`` (unknown or invalid values raise ``ValueError``)."""
    if isinstance(preset, Preset):
        fields = preset.to_dict()
    elif isinstance(preset, Mapping):
        fields = dict(preset)
        _check_keys(fields, "preset")
    else:
        fields = _load_fields(preset)
    _check_keys(overrides, "preset override")
    return Preset(**{**fields, **overrides})


def preset_for(name: str | os.PathLike, overrides: Mapping[str, Any] | None = None, fields: Mapping[str, Any] | None = None) -> Preset:
    """The preset a model spec means: by value when the spec stores the preset's ``fields`` (written since presets
    can change meaning), else by ``name``, where a :data:`RENAMED` name means its old preset (a spec written before
    ``easier2025`` became the 2025 code's pipeline means today's ``easier2025-refined``); ``overrides`` on top."""
    if fields:
        return get_preset(dict(fields), **dict(overrides or {}))
    name = RENAMED.get(str(name), name)
    return get_preset(name, **dict(overrides or {}))


def list_presets() -> list[str]:
    """Names of the shipped presets."""
    return list_configs("presets")


__all__ = ["Preset", "get_preset", "preset_for", "list_presets", "FIELDS", "RENAMED"]
