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

#: the most values a configuration may expand to once its YAML aliases (``*name``) are resolved: a real
#: recipe has a few hundred; an "alias bomb" (9 levels of 9 aliases) would make 387 million
MAX_YAML_VALUES = 100_000


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (no ``!!python/...`` tags)."""


def _expanded_size(node, memo: dict, active: set) -> int:
    """How many values ``node`` becomes when its aliases are copied out (shared nodes counted each time they appear)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise ValueError("an alias refers to the value that contains it (a loop)")
    active.add(key)
    n = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            n += _expanded_size(child, memo, active)
            if n > MAX_YAML_VALUES:
                break
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            n += _expanded_size(k, memo, active) + _expanded_size(v, memo, active)
            if n > MAX_YAML_VALUES:
                break
    active.discard(key)
    memo[key] = n
    return n


def _place(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


def parse_yaml(text: str | bytes, source: str | os.PathLike):
    """The value of the YAML ``text`` read from ``source`` (a file, or e.g. ``--set lr``), safely: no Python tags,
    aliases expanded to at most :data:`MAX_YAML_VALUES` values. Every mistake is one :class:`signfer.io.InputError`
    naming ``source`` and the place (line, column): a tab, a bad tag, bytes that are not UTF-8."""
    from signfer.io import InputError

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            raise InputError(source, f"not UTF-8 text: byte 0x{text[exc.start]:02x} on line {line}; save the file as UTF-8") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            size = _expanded_size(node, {}, set())
        except ValueError as exc:
            raise InputError(source, f"{exc}; refused") from None
        if size > MAX_YAML_VALUES:
            raise InputError(source, f"its aliases (*name) expand to more than {MAX_YAML_VALUES:,} values; refused "
                             "(write the values out, or use fewer nested aliases)")
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        what = (exc.problem or exc.context or "invalid YAML").replace("\n", " ")
        if "\t" in what or "'\\t'" in what or "tab" in what:
            what += " (YAML indents with spaces, never tabs)"
        raise InputError(source, f"{_place(exc.problem_mark or exc.context_mark)}: {what}") from None
    except yaml.YAMLError as exc:
        raise InputError(source, f"invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def read_yaml_mapping(path: str | os.PathLike, text: str | bytes | None = None) -> dict:
    """The ``key: value`` mapping of a configuration file (:func:`parse_yaml`); an empty file is ``{}``,
    any other top level (a list, a number) an :class:`~signfer.io.InputError` naming the file."""
    from signfer.io import InputError

    if text is None:
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(path, exc.strerror or str(exc)) from None
    data = parse_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(path, f"must hold 'key: value' lines at the top level, found a {type(data).__name__}")
    return data


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
        text, stem, where = path.read_bytes(), path.stem, path
    else:
        for root in _config_roots(kind):
            candidate = root / f"{name_or_path}.yaml"
            if candidate.is_file():
                text, stem, where = candidate.read_bytes(), str(name_or_path), candidate
                break
        else:
            raise UnknownName(f"unknown {kind.rstrip('s')} {str(name_or_path)!r} (not shipped and not a YAML file); "
                                f"known: {', '.join(list_configs(kind))}")
    data = read_yaml_mapping(where, text)
    data.setdefault("name", stem)
    return data


def list_configs(kind: str) -> list[str]:
    names = set()
    for root in _config_roots(kind):
        if root.is_dir():
            names.update(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))
    return sorted(names)
