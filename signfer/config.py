"""Where signfer finds its shipped configs (presets, recipes) and keeps its cache."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

#: ``configs/`` at the repository root: presets and published recipes as YAML data.
CONFIG_DIR = Path(os.environ.get("SIGNFER_CONFIG_DIR", Path(__file__).resolve().parents[1] / "configs"))


def cache_dir() -> Path:
    """User cache for downloaded weights, wheels and preprocessed crops (``$SIGNFER_CACHE``)."""
    root = Path(os.environ.get("SIGNFER_CACHE", Path.home() / ".cache" / "signfer"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def load_yaml_config(kind: str, name_or_path: str | os.PathLike) -> dict:
    """Load ``configs/<kind>/<name>.yaml``, or a YAML file given by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") or not path.exists():
        path = CONFIG_DIR / kind / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (CONFIG_DIR / kind).glob("*.yaml"))
        raise KeyError(f"unknown {kind.rstrip('s')} {str(name_or_path)!r} (no file {path}); known: {', '.join(known)}")
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    data.setdefault("name", path.stem)
    return data


def list_configs(kind: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / kind).glob("*.yaml"))
