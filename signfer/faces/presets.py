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
    "face_choice": ("largest", "confident"),
    "padding": ("black", "edge"),
    "colour": ("equalize", "standardize", "none"),
    "colour_order": ("before_rotation", "after_rotation"),
    "region_split": ("landmarks", "middle"),
    "half_face_shape": ("half", "square"),
    "no_face": ("skip", "whole_image"),
}


@dataclass(frozen=True)
class Preset:
    """How a face is cut out of an image and normalised.

    Steps, in order: detect with ``detector`` (``detector_options`` passed to
    ``signfer.faces.detect.get_detector``) and keep one face (``face_choice``); make the box
    square (``square``); enlarge it by ``zoom`` about its centre; crop, filling what leaves
    the frame with ``padding`` (``black`` or ``edge`` = repeat the border pixels); colour
    normalisation (``colour``: ``equalize`` = histogram equalisation of R, G, B separately,
    ``standardize`` = per-channel mean/std clipped at ``clip_sd`` SD, ``none``) applied
    ``before_rotation`` (the 2025 paper: black rotation corners stay out of the histogram) or
    ``after_rotation`` (ablation); rotate about the eye midpoint to level the eyes (``align``;
    skipped for a face without eyes); cut the region; resize.

    Regions: ``upper`` / ``lower`` split the aligned crop at the eye-mouth midline
    (``region_split: landmarks``, the middle when the face has no mouth landmarks) or at the
    middle (``region_split: middle``). With ``half_face_shape: half`` a half face is
    ``size // 2`` rows x ``size`` columns (its shape kept, up to the split position); with
    ``square`` it is stretched to ``size`` x ``size``. A full face is ``size`` x ``size``.

    ``no_face``: ``skip`` (no crop; the manifest says ``no_face``) or ``whole_image`` (the
    whole image, neither squared, zoomed nor rotated, goes through colour and resize).
    """

    name: str = "custom"
    description: str = ""
    detector: str = "mtcnn"
    detector_options: dict = field(default_factory=dict)
    face_choice: str = "largest"
    square: bool = True
    zoom: float = 1.1
    padding: str = "edge"
    colour: str = "equalize"
    colour_order: str = "before_rotation"
    clip_sd: float = 2.5
    align: bool = True
    size: int = 224
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
        data = {k: v for k, v in self.to_dict().items() if k not in ("name", "description")}
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


def list_presets() -> list[str]:
    """Names of the shipped presets."""
    return list_configs("presets")


__all__ = ["Preset", "get_preset", "list_presets", "FIELDS"]
