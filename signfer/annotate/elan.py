"""ELAN files for several signers, and the annotate -> correct -> retrain loop.

Writing (:func:`write_tiers`, the one ELAN writer): one tier group per signer, ``<ID>_expression`` (segments), ``<ID>_confidence``,
``<ID>_occlusion`` (none / upper / lower / both runs) and ``<ID>_model_used`` (full / upper /
lower / none runs), each tier with the signer as ``PARTICIPANT``; files are EAF 3.0 (the current
ELAN schema, ``EAFv3.0.xsd``), written atomically.

Reading back: :func:`read_tiers` gives every tier's ``(start_ms, end_ms, value)`` annotations;
:func:`expression_tiers` finds the expression tiers (``expression``, ``<ID>_expression``, or the
one named). :func:`frame_labels` turns an annotator's corrected tier into frame-level labels of
the matching video, :func:`build_elan_dataset` cuts those frames' faces into a folder-per-class
data set (one group per annotation, so grouped folds never split one), and
:func:`train_from_elan` fine-tunes a model on it with an existing recipe (``signfer train --from-elan``).
"""

from __future__ import annotations

import math
import mimetypes
import os
import re
from pathlib import Path
from typing import Iterable, Sequence


from signfer.annotate.segments import Segment
from signfer.errors import OptionError
from signfer.io import InputError, atomic_write, xml_error_reason

EXPRESSION = "expression"
EXPRESSION_TIER = "expression"
CONFIDENCE_TIER = "confidence"
EAF_PROBABILITY_MODES = ("segments", "frames", "none")
EAF_VERSION = "3.0"
EAF_SCHEMA = "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
TIER_KINDS = ("expression", "confidence", "occlusion", "model_used")


def read_eaf(path: str | os.PathLike):
    """``pympi.Elan.Eaf`` of ``path``; raises :class:`InputError` naming the file when it is missing or not EAF."""
    from pympi import Elan

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "ELAN file does not exist")
    try:
        return Elan.Eaf(str(path), suppress_version_warning=True)
    except Exception as exc:  # noqa: BLE001 - pympi raises bare Exceptions for broken XML
        raise InputError(path, f"not a readable ELAN .eaf file ({xml_error_reason(exc)})") from None


def read_tiers(path: str | os.PathLike) -> dict[str, list[tuple[int, int, str]]]:
    """Every tier's aligned annotations ``(start_ms, end_ms, value)``, sorted by time, in file order."""
    eaf = read_eaf(path)
    out = {}
    for name in eaf.tiers:
        for aid, (ts1, ts2, value, *_rest) in eaf.tiers[name][0].items():  # aligned annotations: their slots need times
            missing = [ts for ts in (ts1, ts2) if eaf.timeslots.get(ts) is None]
            if missing:
                raise InputError(path, f"tier {name!r}, annotation {aid} ({value!r}): time slot {missing[0]} has no time "
                                 "(an unaligned slot); align the annotation in ELAN and save again")
        try:
            anns = eaf.get_annotation_data_for_tier(name)
        except Exception:  # noqa: BLE001 - reference tiers without alignable times are skipped
            continue
        out[name] = sorted((int(a[0]), int(a[1]), str(a[2])) for a in anns)
    return out


def tier_participants(path: str | os.PathLike) -> dict[str, str]:
    eaf = read_eaf(path)
    return {name: tier[2].get("PARTICIPANT", "") for name, tier in eaf.tiers.items()}


def linked_media(path: str | os.PathLike) -> Path | None:
    """The video an EAF links to (relative path first, then the absolute URL), if it exists."""
    from urllib.parse import unquote, urlparse

    eaf = read_eaf(path)
    base = Path(path).resolve().parent
    for desc in eaf.media_descriptors:
        rel = desc.get("RELATIVE_MEDIA_URL")
        if rel:
            cand = (base / unquote(rel.removeprefix("file://"))).resolve()
            if cand.is_file():
                return cand
        url = desc.get("MEDIA_URL", "")
        if url:
            cand = Path(unquote(urlparse(url).path)) if url.startswith("file:") else Path(url)
            if cand.is_file():
                return cand
    return None


def linked_names(path: str | os.PathLike) -> list[str]:
    """File names of the media an EAF links (from its relative and absolute URLs)."""
    from urllib.parse import unquote, urlparse

    names = []
    for desc in read_eaf(path).media_descriptors:
        for key in ("RELATIVE_MEDIA_URL", "MEDIA_URL"):
            url = desc.get(key) or ""
            if url:
                names.append(Path(unquote(urlparse(url).path if url.startswith("file:") else url)).name)
    return list(dict.fromkeys(n for n in names if n))


def check_media(eaf_path: str | os.PathLike, video: str | os.PathLike, *, force: bool = False, log=print) -> list[str]:
    """Refuse to pair an EAF with a video it was not made on: the linked media's file name must be the video's, and
    the annotated duration must fit the video (``signfer_media_duration_ms`` of signfer's EAFs within 2 frames or 2 %;
    for any EAF, no annotation may end more than a frame after the video does).

    Returns the problems found (empty when none); raises :class:`InputError` naming both files unless ``force``
    (then each problem is logged as a warning)."""
    from signfer.annotate.video import open_media

    eaf_path, video = Path(eaf_path), Path(video)
    problems = []
    names = linked_names(eaf_path)
    if names and video.name not in names:
        problems.append(f"it links {' / '.join(names)}, not {video.name}")
    with open_media(video) as media:
        info = media.info
    if info.kind == "video" and info.frame_count:
        frame_ms = info.frame_ms
        duration = info.frame_count * frame_ms
        eaf = read_eaf(eaf_path)
        props = dict(eaf.properties)  # pympi: a list of (name, value)
        stated = props.get("signfer_media_duration_ms")
        if stated is not None:
            try:
                stated = float(stated)
            except ValueError:
                stated = None
        if stated is not None and abs(stated - duration) > max(2 * frame_ms, 0.02 * duration):
            problems.append(f"it was made on a video of {stated / 1000:.2f} s, this one lasts {duration / 1000:.2f} s")
        ends = [end for anns in read_tiers(eaf_path).values() for _, end, _ in anns]
        if ends and max(ends) > duration + frame_ms + 1:
            problems.append(f"its annotations run until {max(ends) / 1000:.2f} s, this video lasts {duration / 1000:.2f} s")
    if problems and not force:
        raise InputError(eaf_path, f"does not belong to the video {video}: " + "; ".join(problems)
                         + " (pass the video the EAF was made on, or --force to use it anyway)")  # fmt: skip
    for problem in problems:
        log(f"warning: {eaf_path} and {video}: {problem} (--force: used anyway)")
    return problems


def expression_tiers(tiers: Iterable[str], tier: str | None = None) -> dict[str | None, str]:
    """Signer (``None`` for a plain ``expression`` tier) -> expression tier name; ``tier`` picks one by name."""
    names = list(tiers)
    if tier is not None:
        if tier not in names:
            raise OptionError(f"no tier {tier!r}; tiers: {', '.join(names) or 'none'}")
        m = re.fullmatch(r"(.+)_expression", tier)
        return {m.group(1) if m else None: tier}
    out = {}
    for name in names:
        if name == EXPRESSION:
            out[None] = name
        elif (m := re.fullmatch(r"(.+)_expression", name)) is not None:
            out[m.group(1)] = name
    return out


# --------------------------------------------------------------------------- corrected tiers -> frame labels
def load_labelled_annotations(eaf_path: str | os.PathLike, *, tier: str | None = None, classes: Sequence[str] | None = None):
    """``([(signer, tier, start_ms, end_ms, label, k)], skipped)`` of the expression tier(s): values read as class
    names (aliases such as ``Happiness``, ``angry`` accepted); values that are no class of ``classes``
    (``?``, ``occluded``...) go to ``skipped`` (value -> count)."""
    from signfer.data.labels import canonical_label, get_classes

    allowed = set(get_classes(classes)) if classes is not None else None
    all_tiers = read_tiers(eaf_path)
    chosen = expression_tiers(all_tiers, tier)
    if not chosen:
        raise InputError(eaf_path, f"no expression tier (named 'expression' or '<signer>_expression'); tiers: {', '.join(all_tiers) or 'none'}")
    anns, skipped = [], {}
    for signer, name in chosen.items():
        for k, (start, end, value) in enumerate(all_tiers[name]):
            try:
                label = canonical_label(value)
            except (KeyError, ValueError):
                label = None
            if label is None or (allowed is not None and label not in allowed):
                skipped[value] = skipped.get(value, 0) + 1
                continue
            anns.append((signer, name, float(start), float(end), label, k))
    return anns, skipped


# --------------------------------------------------------------------------- ELAN
class RunTier:
    """One tier of values over time, streamed: each pushed value lasts until the next push; equal consecutive
    values are merged; ``None`` (nothing to say, e.g. no face) ends the run."""

    def __init__(self):
        self.intervals: list[tuple[float, float, object]] = []
        self._open: list | None = None

    def push(self, time_ms: float, value) -> None:
        cur = self._open
        if cur is not None:
            cur[1] = time_ms  # the previous interval lasts until this frame
            if value is not None and cur[2] == value:
                return
            self.intervals.append(tuple(cur))
        self._open = None if value is None else [time_ms, time_ms, value]

    def finish(self, end_ms: float) -> None:
        if self._open is not None:
            self._open[1] = end_ms
            self.intervals.append(tuple(self._open))
            self._open = None


def signer_tier(signer: str | None, kind: str) -> str:
    """Tier name of ``kind`` for ``signer`` (``S1_expression``); plain ``kind`` without a signer."""
    return kind if not signer else f"{signer}_{kind}"


class EafTiers:
    """The tiers of one annotation, collected frame by frame (bounded: intervals, not frames) and at the end.

    Per signer (``""`` in the plain mode): ``occlusion`` / ``model_used`` runs when ``runs``, per-frame
    ``p_<class>`` when ``probabilities == "frames"``, one numeric tier per extra output; expression,
    confidence and per-segment probabilities come from the segments in :meth:`tiers`."""

    def __init__(self, class_names: Sequence[str], probabilities: str = "segments", *, occlusion: bool = False, model_used: bool = False,
                 extras: Sequence[str] = (), decimals: int = 2):  # fmt: skip
        if probabilities not in EAF_PROBABILITY_MODES:
            raise OptionError(f"probabilities must be one of {', '.join(EAF_PROBABILITY_MODES)}, got {probabilities!r}")
        self.class_names = list(class_names)
        self.probabilities = probabilities
        self.kinds = (["occlusion"] if occlusion else []) + (["model_used"] if model_used else [])
        self.extras = list(extras)
        self.decimals = decimals
        self._tiers: dict[str, dict[str, RunTier]] = {}  # signer -> kind -> tier

    def _of(self, signer: str) -> dict[str, RunTier]:
        if signer not in self._tiers:
            kinds = self.kinds + ([f"p_{c}" for c in self.class_names] if self.probabilities == "frames" else []) + self.extras
            self._tiers[signer] = {k: RunTier() for k in kinds}
        return self._tiers[signer]

    def push(self, time_ms: float, rows: list[dict], smoothed: bool) -> None:
        """One frame's rows (one per signer present)."""
        seen = set()
        prefix = "smooth_" if smoothed else ""
        for row in rows:
            sid = row.get("signer_id") or ""
            if sid == "" and row.get("face_x1") is None:
                continue  # a frame without any face
            seen.add(sid)
            tiers = self._of(sid)
            for kind in self.kinds:
                tiers[kind].push(time_ms, row.get(kind))
            for c in self.class_names if self.probabilities == "frames" else ():
                v = row.get(f"{prefix}p_{c}")
                tiers[f"p_{c}"].push(time_ms, None if v is None else round(float(v), self.decimals))
            for e in self.extras:
                v = row.get(f"{prefix}{e}")
                tiers[e].push(time_ms, None if v is None or not math.isfinite(v) else round(float(v), self.decimals))
        for sid, tiers in self._tiers.items():
            if sid not in seen:
                for t in tiers.values():
                    t.push(time_ms, None)

    def tiers(self, segments: dict[str, list[Segment]], end_ms: float, order: Sequence[str] | None = None) -> tuple[dict, dict]:
        """(tier name -> [(start_ms, end_ms, value)], tier name -> participant) for :func:`write_tiers`."""
        d = self.decimals
        out, parts = {}, {}
        for sid in order if order is not None else sorted(set(segments) | set(self._tiers)):
            segs = segments.get(sid, [])
            runs = self._of(sid)
            for t in runs.values():
                t.finish(end_ms)
            named = {
                EXPRESSION_TIER: [(s.start_ms, s.end_ms, s.label) for s in segs],
                CONFIDENCE_TIER: [(s.start_ms, s.end_ms, f"{s.mean_confidence:.{d}f}") for s in segs],
            }
            for kind in self.kinds:
                named[kind] = runs[kind].intervals
            for k, c in enumerate(self.class_names):
                if self.probabilities == "segments":
                    named[f"p_{c}"] = [(s.start_ms, s.end_ms, f"{s.mean_probabilities[k]:.{d}f}") for s in segs if s.mean_probabilities is not None]
                elif self.probabilities == "frames":
                    named[f"p_{c}"] = [(a, b, f"{v:.{d}f}") for a, b, v in runs[f"p_{c}"].intervals]
            for e in self.extras:
                named[e] = [(a, b, f"{v:.{d}f}") for a, b, v in runs[e].intervals]
            for kind, anns in named.items():
                name = signer_tier(sid, kind)
                out[name] = anns
                if sid:
                    parts[name] = sid
        return out, parts


def set_current_schema(eaf):
    """Mark a ``pympi.Elan.Eaf`` as EAF 3.0 (pympi writes 2.8 by default and drops the schema on reading)."""
    eaf.adocument["VERSION"] = EAF_VERSION
    eaf.adocument["FORMAT"] = EAF_VERSION
    eaf.adocument["xmlns:xsi"] = "http://www.w3.org/2001/XMLSchema-instance"
    eaf.adocument["xsi:noNamespaceSchemaLocation"] = EAF_SCHEMA
    return eaf


def _mime(path: str) -> str:
    mime, _ = mimetypes.guess_type(path)
    return mime or "video/*"


def new_eaf(media: str | os.PathLike | None = None, eaf_path: str | os.PathLike | None = None, properties: dict | None = None):
    """An empty ``pympi.Elan.Eaf`` (no ``default`` tier) linked to ``media`` (absolute URL + path relative to ``eaf_path``)."""
    from pympi import Elan

    eaf = Elan.Eaf(author="signfer")
    for key, value in (properties or {}).items():
        eaf.add_property(str(key), str(value))
    if media is not None:
        media = Path(media).resolve()
        rel = os.path.relpath(media, Path(eaf_path).resolve().parent) if eaf_path else media.name
        eaf.add_linked_file(media.as_uri(), relpath=Path(rel).as_posix(), mimetype=_mime(str(media)))
    if "default" in eaf.tiers:
        eaf.remove_tier("default")
    return eaf


def save_eaf(eaf, path: str | os.PathLike) -> Path:
    """Write ``eaf`` (EAF 3.0) to ``path`` (atomically)."""
    from pympi import Elan

    set_current_schema(eaf)
    text = Elan.to_string(eaf)
    with atomic_write(path) as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n' + text)
    return Path(path)


def write_tiers(
    path: str | os.PathLike,
    tiers: dict[str, Sequence[tuple[float, float, str]]],
    *,
    media: str | os.PathLike | None = None,
    participants: dict[str, str] | None = None,
    properties: dict | None = None,
) -> Path:
    """Write an EAF 3.0 file with ``tiers`` (name -> ``(start_ms, end_ms, value)``, in the order given): signfer's ELAN writer.

    Times are rounded to whole milliseconds; empty or inverted intervals are skipped. ``participants``:
    tier name -> participant (signer ID). ``media`` is linked (absolute URL plus a path relative to the EAF).
    """
    eaf = new_eaf(media, path, properties)
    for name, anns in tiers.items():
        eaf.add_tier(name, part=(participants or {}).get(name))
        for start, end, value in anns:
            s, e = int(round(start)), int(round(end))
            if e > s:
                eaf.add_annotation(name, s, e, str(value))
    return save_eaf(eaf, path)

