"""Which inputs to annotate again: one naming rule and one done-marker for ``signfer annotate`` and
``signfer annotate-corpus``.

A done-marker ``OUT/.signfer-done/<name>.json`` is written after an input's outputs are all in place. It records

* the input's fingerprint: its size and the SHA-256 of three 1 MiB samples (start, middle, end); an image
  folder: the names, sizes and samples of its images. The modification time is not used, so a copied
  corpus still counts as done;
* the models' fingerprints: each model's description and the SHA-256 of every file it was loaded from
  (a replaced ``RUN/fold_0/best.pt`` is another model, though its description is the same);
* the options (what is analysed and written);
* the SHA-256 of every output signfer wrote.

:meth:`DoneMarkers.decide` compares a rerun with it: same input, models and options and every output as
signfer wrote it: ``skip``; an output changed since signfer wrote it (a person corrected ``a.eaf`` in ELAN):
``keep`` (the input is not annotated again, nothing of it is touched); otherwise ``annotate``, with the
reason (a new input, which model file or option changed, a missing output). When an input is annotated again,
the earlier run's outputs that are not written again (a format no longer asked for) are removed: they would
disagree with the new ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from signfer.io import IMAGE_SUFFIXES, atomic_write
from signfer.models.weights import sha256sum

DONE_DIR = ".signfer-done"
SAMPLE = 1 << 20  # bytes of each of the three samples of an input file
VERSION = 2  # of the done-marker record (1: settings hash, input and outputs by size and modification time)


# --------------------------------------------------------------------------- naming
def output_names(paths: Sequence[Path], earlier: Mapping[str, str] | None = None) -> list[str]:
    """The output name of each input: the name an earlier run gave it (``earlier``: resolved input path ->
    name, from the done-markers), else its file stem, plus a hash of its full path when that name is taken (by
    another input of this run, or by an earlier run's input that still exists).

    So adding an input never renames, nor writes over, the outputs of another; an input that was moved finds
    its outputs again under its stem."""
    earlier = dict(earlier or {})
    keys = [_resolved(p) for p in paths]
    taken = {earlier[k] for k in keys if k in earlier}
    taken |= {name for k, name in earlier.items() if k not in keys and os.path.exists(k)}
    names = []
    for p, key in zip(paths, keys):
        name = earlier.get(key)
        if name is None:
            name = (p.stem if p.suffix else p.name) or "annotation"
            if name in taken:
                name = f"{name}-{hashlib.sha1(os.fsencode(key)).hexdigest()[:8]}"
        taken.add(name)
        names.append(name)
    return names


def _resolved(path) -> str:
    """The absolute, symlink-free path (as given, made absolute, where links loop)."""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(path)


# --------------------------------------------------------------------------- fingerprints
def file_sha256(path: str | os.PathLike) -> str | None:
    """The SHA-256 of a whole file (``None`` when it cannot be read)."""
    try:
        return sha256sum(path)
    except OSError:
        return None


def _sampled(path: Path) -> dict:
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for start in sorted({0, max(0, size // 2 - SAMPLE // 2), max(0, size - SAMPLE)}):
            fh.seek(start)
            h.update(fh.read(SAMPLE))
    return {"size": size, "sample_sha256": h.hexdigest()}


def input_fingerprint(path: str | os.PathLike) -> dict | None:
    """A file: its size and the SHA-256 of its first, middle and last MiB; a folder (an image sequence): that of
    each image with its name. ``None`` when it cannot be read."""
    p = Path(path)
    try:
        if p.is_dir():
            images = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            h = hashlib.sha256()
            for q in images:
                h.update(json.dumps([str(q.relative_to(p)), _sampled(q)]).encode("utf-8", "surrogateescape"))
            return {"images": len(images), "sample_sha256": h.hexdigest()}
        return _sampled(p)
    except OSError:
        return None


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8", "surrogateescape")).hexdigest()


# --------------------------------------------------------------------------- the decision
@dataclass
class Decision:
    """What to do with one input: ``annotate`` (``reason`` says why), ``skip`` (done with the same settings)
    or ``keep`` (an output was changed after signfer wrote it: a person's work, not touched); ``outputs``:
    the outputs of the earlier run."""

    action: str
    reason: str
    outputs: list[Path] = field(default_factory=list)


class DoneMarkers:
    """The done-markers of one output folder ``root`` for one set of ``settings``
    (``{"models": {...}, "options": {...}}``, see :meth:`signfer.annotate.annotator.Annotator.settings`)."""

    def __init__(self, root: str | os.PathLike, settings: Mapping):
        self.root = Path(root)
        self.folder = self.root / DONE_DIR
        self.settings = {k: settings[k] for k in sorted(settings)}

    def earlier_names(self) -> dict[str, str]:
        """Resolved input path -> output name, of every input with a done-marker here."""
        out = {}
        for m in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            rec = self.read(m.stem)
            if rec and rec.get("input_path"):
                out.setdefault(_resolved(rec["input_path"]), m.stem)
        return out

    def marker(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def read(self, name: str) -> dict | None:
        with contextlib.suppress(OSError, ValueError):
            rec = json.loads(self.marker(name).read_text(encoding="utf-8", errors="surrogateescape"))
            return rec if isinstance(rec, dict) else None
        return None

    def _path(self, rel: str) -> Path:
        return self.root / rel

    def edited(self, rec: dict) -> list[Path]:
        """The outputs of marker ``rec`` that exist but differ from what signfer wrote (a marker of signfer <= 0.x
        recorded each output's size and modification time instead of its SHA-256)."""
        out = []
        for rel, digest in (rec.get("outputs") or {}).items():
            p = self._path(rel)
            if not p.exists():
                continue
            if isinstance(digest, dict):  # an older marker: {path, size, mtime_ns}
                with contextlib.suppress(OSError):
                    st = p.stat()
                    if (st.st_size, st.st_mtime_ns) != (digest.get("size"), digest.get("mtime_ns")):
                        out.append(p)
            elif file_sha256(p) != digest:
                out.append(p)
        return out

    def decide(self, name: str, source: str | os.PathLike) -> Decision:
        rec = self.read(name)
        if rec is None:
            return Decision("annotate", "new input (no earlier run)")
        outputs = [self._path(rel) for rel in rec.get("outputs") or {}]
        edited = self.edited(rec)
        if edited:
            return Decision("keep", f"{', '.join(map(str, edited))} changed after signfer wrote it (a person's edits?): kept, "
                            "the input is not annotated again (move the file away to redo it)", outputs)  # fmt: skip
        if rec.get("version") != VERSION:
            return Decision("annotate", "done by an older signfer (its record holds no model fingerprint)", outputs)
        why = self._changes(rec, source)
        if why:
            return Decision("annotate", why, outputs)
        missing = [p for p in outputs if not p.exists()]
        if missing or not outputs:
            return Decision("annotate", f"output {missing[0] if missing else '(none)'} is missing", outputs)
        return Decision("skip", "done in an earlier run with the same input, models and options", outputs)

    def _changes(self, rec: dict, source) -> str:
        if rec.get("input") != input_fingerprint(source):
            return "the input file changed"
        old, new = rec.get("settings") or {}, self.settings
        if _digest(old.get("models")) != _digest(new.get("models")):
            return "the model changed: " + _model_change(old.get("models") or {}, new.get("models") or {})
        keys = sorted(k for k in set(old) | set(new) if k != "models" and _digest(old.get(k)) != _digest(new.get(k)))
        if keys:
            changed = []
            for k in keys:
                a, b = old.get(k), new.get(k)
                if isinstance(a, dict) and isinstance(b, dict):
                    changed += [s if k == "options" else f"{k}.{s}" for s in sorted(set(a) | set(b)) if _digest(a.get(s)) != _digest(b.get(s))]
                else:
                    changed.append(k)
            return "options changed: " + ", ".join(changed)
        return ""

    def forget(self, name: str) -> None:
        """Drop the marker (before outputs are replaced: an interrupted replacement must not look like a person's edit)."""
        with contextlib.suppress(OSError):
            self.marker(name).unlink()

    def mark(self, name: str, source: str | os.PathLike, outputs: Iterable[str | os.PathLike], extra: Mapping | None = None) -> None:
        """Record that ``outputs`` (files under ``root``) were written for ``source`` with these settings."""
        rec = {"version": VERSION, "name": name, "input_path": _resolved(source), "input": input_fingerprint(source), "settings": self.settings,
               "outputs": {os.path.relpath(p, self.root): file_sha256(p) for p in outputs}, **(extra or {})}  # fmt: skip
        with atomic_write(self.marker(name)) as fh:
            json.dump(rec, fh, ensure_ascii=True, indent=1, default=str)


def remove_stale_outputs(earlier, written, out: Path) -> list[Path]:
    """Remove the outputs an earlier run wrote that this run did not write again (a format no longer asked for).

    Only files inside the output folder are ever removed: an output written elsewhere (a corpus team's EAF
    enriched in place) is the team's file, whatever an earlier run wrote into it."""
    out = Path(out).resolve()
    kept = {Path(p).resolve() for p in written}
    removed = []
    for stale in {Path(p).resolve() for p in earlier} - kept:
        if stale.parent == out or out in stale.parents:
            with contextlib.suppress(OSError):
                stale.unlink()
                removed.append(stale)
    return removed


def _model_change(old: dict, new: dict) -> str:
    parts = []
    for region in sorted(set(old) | set(new)):
        a, b = old.get(region), new.get(region)
        if _digest(a) == _digest(b):
            continue
        if a is None or b is None:
            parts.append(f"{region} model {'added' if a is None else 'removed'}")
        elif a.get("source") != b.get("source"):
            parts.append(f"{region} model {a.get('source')} -> {b.get('source')}")
        elif (a.get("files") or {}) != (b.get("files") or {}):
            files = sorted(f for f in set(a.get("files") or {}) | set(b.get("files") or {})
                           if (a.get("files") or {}).get(f) != (b.get("files") or {}).get(f))  # fmt: skip
            parts.append(f"{region} model file {', '.join(files)} changed")
        else:
            keys = sorted(k for k in set(a) | set(b) if _digest(a.get(k)) != _digest(b.get(k)))
            parts.append(f"{region} model {', '.join(keys)} changed")
    return "; ".join(parts) or "changed"


__all__ = ["DONE_DIR", "Decision", "DoneMarkers", "file_sha256", "input_fingerprint", "output_names", "remove_stale_outputs"]
