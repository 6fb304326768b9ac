"""Where signfer finds its shipped configs (presets, recipes, published numbers) and keeps its cache.

The YAML files live inside the package (``signfer/configs/<kind>/``) and are read with
:mod:`importlib.resources`, so a wheel install has them too. ``$SIGNFER_CONFIG_DIR`` names a folder
with the same layout that is searched first (a lab's own presets and recipes by name).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import yaml

from signfer.errors import UnknownName


def _config_roots(kind: str) -> list:
    """Folders (Traversables) holding ``<kind>/*.yaml``: the override folder first, then the package's own."""
    roots = []
    override = os.environ.get("SIGNFER_CONFIG_DIR")
    if override:
        roots.append(Path(override) / kind)
    roots.append(resources.files("signfer") / "configs" / kind)
    return roots


def cache_dir() -> Path:
    """User cache for downloaded weights, wheels and preprocessed crops (``$SIGNFER_CACHE``)."""
    root = Path(os.environ.get("SIGNFER_CACHE", Path.home() / ".cache" / "signfer"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def load_yaml_config(kind: str, name_or_path: str | os.PathLike) -> dict:
    """Load the shipped ``<kind>/<name>.yaml`` (or ``$SIGNFER_CONFIG_DIR/<kind>/<name>.yaml``), or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        text, stem = path.read_text(encoding="utf-8"), path.stem
    else:
        for root in _config_roots(kind):
            candidate = root / f"{name_or_path}.yaml"
            if candidate.is_file():
                text, stem = candidate.read_text(encoding="utf-8"), str(name_or_path)
                break
        else:
            raise UnknownName(f"unknown {kind.rstrip('s')} {str(name_or_path)!r} (not shipped and not a YAML file); "
                                f"known: {', '.join(list_configs(kind))}")
    data = yaml.safe_load(text) or {}
    data.setdefault("name", stem)
    return data


def list_configs(kind: str) -> list[str]:
    names = set()
    for root in _config_roots(kind):
        if root.is_dir():
            names.update(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))
    return sorted(names)
