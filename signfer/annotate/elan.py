"""ELAN files for several signers, and the annotate -> correct -> retrain loop.

Writing (:func:`write_tiers`, the one ELAN writer): one tier group per signer, ``<ID>_expression`` (segments), ``<ID>_confidence``,
``<ID>_occlusion`` (none / upper / lower / both runs) and ``<ID>_model_used`` (full / upper /
lower / none runs), each tier with the signer as ``PARTICIPANT``; files are EAF 3.0 (the current
ELAN schema, ``EAFv3.0.xsd``), written atomically. :func:`enrich_eaf` writes the same tiers into a copy of a
corpus team's own EAF instead (``--eaf-into``), keeping every element of theirs.

Reading back: :func:`read_tiers` gives every tier's ``(start_ms, end_ms, value)`` annotations;
:func:`expression_tiers` finds the expression tiers (``expression``, ``<ID>_expression``, or the
one named). :func:`frame_labels` turns an annotator's corrected tier into frame-level labels of
the matching video, :func:`build_elan_dataset` cuts those frames' faces into a folder-per-class
data set (one group per annotation, so grouped folds never split one), and
:func:`train_from_elan` fine-tunes a model on it with an existing recipe (``signfer train --from-elan``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import mimetypes
import os
import re
from dataclasses import dataclass, field
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
    """Every tier's aligned annotations ``(start_ms, end_ms, value)``, sorted by time, in file order. An annotation
    bounded by an unaligned time slot (no time value: ELAN makes them, e.g. inside a Time_Subdivision) has no time
    to give and is left out; :func:`unaligned_annotations` lists them."""
    eaf = read_eaf(path)
    out = {}
    for name in eaf.tiers:
        try:
            anns = eaf.get_annotation_data_for_tier(name)
        except Exception:  # noqa: BLE001 - reference tiers without alignable times are skipped
            continue
        out[name] = sorted((int(a[0]), int(a[1]), str(a[2])) for a in anns if a[0] is not None and a[1] is not None)
    return out


def unaligned_annotations(path: str | os.PathLike, tiers: Iterable[str] | None = None) -> list[tuple[str, str, str, str]]:
    """``(tier, annotation id, value, time slot)`` of every aligned annotation whose start or end slot has no time."""
    eaf = read_eaf(path)
    found = []
    for name in eaf.tiers if tiers is None else tiers:
        for aid, (ts1, ts2, value, *_rest) in eaf.tiers[name][0].items():
            missing = [ts for ts in (ts1, ts2) if eaf.timeslots.get(ts) is None]
            if missing:
                found.append((name, aid, value, missing[0]))
    return found


def require_aligned(path: str | os.PathLike, tiers: Iterable[str]) -> None:
    """:class:`InputError` naming the first annotation of ``tiers`` that has no time (labels need their times)."""
    bad = unaligned_annotations(path, tiers)
    if bad:
        name, aid, value, slot = bad[0]
        raise InputError(path, f"tier {name!r}, annotation {aid} ({value!r}): time slot {slot} has no time "
                         "(an unaligned slot); align the annotation in ELAN and save again")


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
def check_no_overlap(eaf_path, tier: str, anns: Sequence[tuple[int, int, str]]) -> None:
    """Refuse a tier whose annotations overlap (the frames in between would be trained under two labels), naming the
    first overlap's times; ELAN itself never writes one, an edited or merged file may."""
    for (s0, e0, v0), (s1, e1, v1) in zip(anns, anns[1:]):
        if s1 < e0:
            raise InputError(eaf_path, f"tier {tier}: annotations {s0 / 1000:.3f}-{e0 / 1000:.3f} s '{v0}' and {s1 / 1000:.3f}-{e1 / 1000:.3f} s "
                             f"'{v1}' overlap; their common frames would get two labels. Shorten or delete one in ELAN")


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
    require_aligned(eaf_path, chosen.values())
    anns, skipped = [], {}
    for signer, name in chosen.items():
        check_no_overlap(eaf_path, name, all_tiers[name])
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
    linked_files: Sequence[tuple[str | os.PathLike, str]] = (),
) -> Path:
    """Write an EAF 3.0 file with ``tiers`` (name -> ``(start_ms, end_ms, value)``, in the order given): signfer's ELAN writer.

    Times are rounded to whole milliseconds; empty or inverted intervals are skipped. ``participants``:
    tier name -> participant (signer ID). ``media`` is linked (absolute URL plus a path relative to the EAF).
    ``linked_files``: ``(path, mime type)`` of secondary files (``LINKED_FILE_DESCRIPTOR``: e.g. ELAN time-series
    CSV and ``_tsconf.xml``), linked the same way.
    """
    eaf = new_eaf(media, path, properties)
    for file, mime in linked_files:
        file = Path(file).resolve()
        rel = os.path.relpath(file, Path(path).resolve().parent)
        eaf.add_secondary_linked_file(file.as_uri(), relpath=Path(rel).as_posix(), mimetype=mime)
    for name, anns in tiers.items():
        eaf.add_tier(name, part=(participants or {}).get(name))
        for start, end, value in anns:
            s, e = int(round(start)), int(round(end))
            if e > s:
                eaf.add_annotation(name, s, e, str(value))
    return save_eaf(eaf, path)



# --------------------------------------------------------------------------- into a corpus team's own EAF
# The team's file is edited as XML (ElementTree), not through pympi: pympi's round trip is not exact (measured with
# pympi-ling 1.71 on the test's corpus file: annotations lose their CVE_REF links into the controlled vocabulary,
# comments are dropped, the schema location becomes EAFv2.8.xsd).
SIGNFER_TYPES = {  # tier kind -> signfer's own linguistic type (prefixed: never one of the team's)
    "expression": "signfer-expression",
    "probability": "signfer-probability",
    "occlusion": "signfer-occlusion",
    "model_used": "signfer-model-used",
    "value": "signfer-value",
}
SIGNFER_PROPERTY = "signfer_"  # header properties signfer writes (and replaces on a rerun)
DIGESTS_PROPERTY = "signfer_tier_digests"  # what signfer's tiers held when it wrote them: a rerun never replaces a corrected one
SIDES = ("left", "middle", "right")
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def signfer_annotator(model: str) -> str:
    """The ANNOTATOR mark of signfer's tiers: ``signfer <version> <model>``."""
    from signfer import __version__

    return f"signfer {__version__} {model}".strip()


def is_signfer_tier(tier) -> bool:
    """Whether a ``TIER`` element is signfer's (by its ANNOTATOR mark)."""
    annotator = tier.get("ANNOTATOR") or ""
    return annotator == "signfer" or annotator.startswith("signfer ")


def tier_type(name: str) -> str:
    """signfer's linguistic type for one of its tiers (by the tier's kind: the end of its name)."""
    for kind in ("expression", "occlusion", "model_used"):
        if name == kind or name.endswith(f"_{kind}"):
            return SIGNFER_TYPES[kind]
    if name == CONFIDENCE_TIER or name.endswith(f"_{CONFIDENCE_TIER}") or re.search(r"(^|_)p_[^_]", name):
        return SIGNFER_TYPES["probability"]
    return SIGNFER_TYPES["value"]


def parse_participants(text: str | None) -> dict[str, str]:
    """``left=A,right=B`` (sides ``left`` / ``middle`` / ``right``, or signer IDs such as ``S2=C``) -> {key: participant}."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, name = part.partition("=")
        key, name = key.strip(), name.strip()
        if not sep or not key or not name:
            raise OptionError(f"--participants takes side=NAME pairs such as left=A,right=B; got {part.strip()!r}")
        if key.lower() in SIDES:
            key = key.lower()
        elif not re.fullmatch(r"S\d+", key):
            raise OptionError(f"--participants: {key!r} is no screen side ({', '.join(SIDES)}) and no signer ID (S1, S2, ...)")
        if key in out:
            raise OptionError(f"--participants names {key} twice")
        out[key] = name
    if len(set(out.values())) < len(out):
        raise OptionError("--participants maps two signers to one participant")
    return out


def participants_by_side(mapping: dict[str, str], mean_x: dict[str, float], width: float | None = None) -> dict[str, str]:
    """Signer ID -> participant: signers ordered by the mean x of their face centres (left to right); ``left`` is
    the leftmost, ``right`` the rightmost, ``middle`` the one between when there are three. A single signer is
    ``left`` or ``right`` by the half of the frame (``width``) it is in. Keys that are signer IDs map that signer."""
    order = sorted(mean_x, key=lambda s: (mean_x[s], s))
    sides: dict[str, str] = {}
    if len(order) == 1:
        if width:
            sides["left" if mean_x[order[0]] < width / 2 else "right"] = order[0]
    elif order:
        sides["left"], sides["right"] = order[0], order[-1]
        if len(order) == 3:
            sides["middle"] = order[1]
    out = {}
    for key, name in mapping.items():
        sid = sides.get(key) if key in SIDES else (key if key in mean_x else None)
        if sid is not None and sid not in out:
            out[sid] = name
    return out


def rename_signers(tiers: dict, parts: dict, names: dict[str, str]) -> tuple[dict, dict]:
    """(tiers, participants) of :meth:`EafTiers.tiers` with each signer ID in ``names`` replaced by its participant."""
    if not names:
        return tiers, parts
    out_tiers, out_parts = {}, {}
    for name, anns in tiers.items():
        sid = parts.get(name)
        new = name
        if sid in names and name.startswith(f"{sid}_"):
            new = f"{names[sid]}_{name[len(sid) + 1:]}"
        out_tiers[new] = anns
        if sid is not None:
            out_parts[new] = names.get(sid, sid)
    return out_tiers, out_parts


@dataclass(frozen=True)
class EafInto:
    """Write signfer's tiers into a copy of a corpus team's own EAF files (``--eaf-into``).

    ``source``: one ``.eaf`` file, or a folder where ``<video stem>.eaf`` is looked up; ``participants``: screen
    side (or signer ID) -> the EAF's participant (:func:`parse_participants`); ``in_place``: write into the
    team's file itself instead of ``OUT/<name>.eaf``."""

    source: Path
    participants: dict = field(default_factory=dict)
    in_place: bool = False

    def __post_init__(self):
        object.__setattr__(self, "source", Path(self.source))
        if not self.source.exists():
            raise InputError(self.source, "--eaf-into: no such ELAN file or folder")

    def team_eaf(self, media: str | os.PathLike) -> Path | None:
        """The team's EAF of ``media`` (``None`` when the folder has none)."""
        if self.source.is_file():
            return self.source
        cand = self.source / f"{Path(media).stem}.eaf"
        return cand if cand.is_file() else None

    def to_dict(self) -> dict:
        return {"source": str(self.source.resolve()), "participants": dict(self.participants), "in_place": self.in_place}


def _parse_xml(path: Path):
    import xml.etree.ElementTree as ET

    ET.register_namespace("xsi", XSI)
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    try:
        root = ET.parse(path, parser=parser).getroot()
    except (ET.ParseError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable ELAN .eaf file ({xml_error_reason(exc)})") from None
    if root.tag != "ANNOTATION_DOCUMENT" or root.find("TIME_ORDER") is None or root.find("HEADER") is None:
        raise InputError(path, "not an ELAN .eaf file (no ANNOTATION_DOCUMENT with HEADER and TIME_ORDER)")
    return root


def _indent_unit(root) -> str | None:
    """The file's indentation step ("    ", "\\t"), ``None`` when it is not indented."""
    text = root.text or ""
    if text.strip() or "\n" not in text:
        return None
    return text.split("\n")[-1] or None


def _insert(parent, index: int, elem, unit: str | None, level: int) -> None:
    """Insert ``elem`` as ``parent``'s ``index``-th child, indented like its siblings (``level``: parent's depth)."""
    import xml.etree.ElementTree as ET

    if unit is not None:
        if len(elem):
            ET.indent(elem, space=unit, level=level + 1)
        sibling = "\n" + unit * (level + 1)
        if index >= len(parent):
            if len(parent):
                elem.tail, parent[-1].tail = parent[-1].tail, sibling
            else:
                parent.text, elem.tail = sibling, "\n" + unit * level
        else:
            elem.tail = sibling
    parent.insert(index, elem)


def _tier_digests(root, tiers) -> dict[str, str]:
    """Tier name -> digest of its annotations' times and values (IDs aside: ELAN renumbers them when it saves)."""
    slots = {slot.get("TIME_SLOT_ID"): slot.get("TIME_VALUE") for slot in root.find("TIME_ORDER").iter("TIME_SLOT")}
    out = {}
    for tier in tiers:
        anns = sorted((slots.get(a.get("TIME_SLOT_REF1")) or "", slots.get(a.get("TIME_SLOT_REF2")) or "", a.findtext("ANNOTATION_VALUE") or "")
                      for a in tier.iter("ALIGNABLE_ANNOTATION"))  # fmt: skip
        out[tier.get("TIER_ID")] = hashlib.sha256(json.dumps(anns).encode()).hexdigest()[:16]
    return out


def _edited_tiers(root, ours) -> list[str]:
    """signfer's tiers whose annotations differ from what signfer wrote (per the digests it left in the header;
    a file without them, or a signfer tier they do not name, counts as unedited / edited respectively)."""
    stored = next((p.text for p in root.find("HEADER").findall("PROPERTY") if p.get("NAME") == DIGESTS_PROPERTY), None)
    if stored is None:
        return []
    try:
        stored = json.loads(stored)
    except ValueError:
        return []
    now = _tier_digests(root, ours)
    return [name for name, digest in now.items() if stored.get(name) != digest]


def _remove(parent, doomed) -> None:
    """Remove the children in ``doomed`` (in one pass: a rerun removes thousands of time slots); when the last child
    goes, the last one kept takes its tail (the closing tag's indentation)."""
    gone = {id(e) for e in doomed}
    kids = list(parent)
    keep = [e for e in kids if id(e) not in gone]
    if len(keep) == len(kids):
        return
    if keep and id(kids[-1]) in gone:
        keep[-1].tail = kids[-1].tail
    parent[:] = keep


def _as_written(root, source: Path) -> str:
    """``root`` as text in the team file's own spelling where ElementTree's differs (so a diff of the file shows only
    signfer's lines): the root's start tag as the source wrote it (ElementTree puts ``xmlns`` first) and empty
    elements closed ``"/>"`` as ELAN does (ElementTree writes ``" />"``, which appears nowhere else: it escapes
    ``>`` in text and attributes)."""
    import xml.etree.ElementTree as ET

    text = ET.tostring(root, encoding="unicode").replace(" />", "/>")
    with contextlib.suppress(OSError, UnicodeDecodeError, ET.ParseError):
        m = re.search(r"<ANNOTATION_DOCUMENT\b[^>]*>", source.read_text(encoding="utf-8"))
        if m and ET.fromstring(m.group(0) + "</ANNOTATION_DOCUMENT>").attrib == root.attrib:
            ours = re.match(r"<ANNOTATION_DOCUMENT\b[^>]*>", text)
            text = m.group(0) + text[ours.end():]
    return text


def _last_index(root, *tags: str) -> int:
    """Index after the last child with one of ``tags`` (tried in order); 0 when none."""
    for tag in tags:
        idx = [i for i, child in enumerate(root) if child.tag == tag]
        if idx:
            return idx[-1] + 1
    return 0


def enrich_eaf(
    team_eaf: str | os.PathLike,
    tiers: dict[str, Sequence[tuple[float, float, str]]],
    out_path: str | os.PathLike,
    *,
    participants: dict[str, str] | None = None,
    annotator: str | None = None,
    properties: dict | None = None,
    in_place: bool = False,
) -> Path:
    """Write a copy of the corpus team's ``team_eaf`` with signfer's ``tiers`` added to ``out_path``.

    Every element of the team's file (tiers, annotations, time slots with their IDs and values, controlled
    vocabularies, linguistic types, locales, languages, media and linked file descriptors, header properties)
    is kept as it is; signfer's tiers go under its own linguistic types (``signfer-expression``,
    ``signfer-probability``, ...), each marked ``ANNOTATOR="signfer <version> <model>"`` (``annotator``), with
    fresh time slot and annotation IDs (``signfer-ts<k>``, ``signfer-a<k>``: never one ELAN generates). On a
    file signfer enriched before, only signfer's tiers (found by that mark), their time slots and linguistic
    types and its ``signfer_*`` header properties are replaced, unless one of those tiers was corrected since
    (the ``signfer_tier_digests`` property records what each held). ``participants``: tier -> participant.

    ``out_path`` may not be the team's file unless ``in_place``. Raises :class:`InputError` naming the team's
    file when it is no EAF, when one of its own tiers has the name of a signfer tier, when one of its tiers
    depends on a signfer tier, or when a signfer tier was corrected (a rerun would remove those)."""
    import xml.etree.ElementTree as ET

    team_eaf, out_path = Path(team_eaf), Path(out_path)
    if not in_place and out_path.exists() and team_eaf.exists() and os.path.samefile(team_eaf, out_path):
        raise OptionError(f"{out_path} is the team's own EAF: writing into it needs in_place (--eaf-into-in-place)")
    root = _parse_xml(team_eaf)
    unit = _indent_unit(root)
    header, time_order = root.find("HEADER"), root.find("TIME_ORDER")

    # 1. remove what signfer wrote before (unless someone corrected it since: that is their work now)
    ours = [t for t in root.findall("TIER") if is_signfer_tier(t)]
    our_ids = {t.get("TIER_ID") for t in ours}
    edited = _edited_tiers(root, ours)
    if edited:
        raise InputError(team_eaf, f"signfer's tier(s) {', '.join(edited)} changed since signfer wrote them, and a new run would "
                                   "replace them: to keep the corrections, give those tiers another name and annotator in ELAN "
                                   "(Tier > Change Tier Attributes), or delete them to start over")  # fmt: skip
    for t in root.findall("TIER"):
        if t not in ours and t.get("PARENT_REF") in our_ids:
            raise InputError(team_eaf, f"tier {t.get('TIER_ID')!r} depends on signfer's tier {t.get('PARENT_REF')!r}, which a new "
                                       "run replaces; make it an independent tier first")  # fmt: skip
    freed = {a.get(k) for t in ours for a in t.iter("ALIGNABLE_ANNOTATION") for k in ("TIME_SLOT_REF1", "TIME_SLOT_REF2")}
    _remove(root, ours)
    freed -= {a.get(k) for a in root.iter("ALIGNABLE_ANNOTATION") for k in ("TIME_SLOT_REF1", "TIME_SLOT_REF2")}
    _remove(time_order, [slot for slot in time_order if slot.tag == "TIME_SLOT" and slot.get("TIME_SLOT_ID") in freed])
    _remove(header, [prop for prop in header.findall("PROPERTY") if (prop.get("NAME") or "").startswith(SIGNFER_PROPERTY)])
    used_types = {t.get("LINGUISTIC_TYPE_REF") for t in root.findall("TIER")}
    _remove(root, [lt for lt in root.findall("LINGUISTIC_TYPE")
                   if lt.get("LINGUISTIC_TYPE_ID") in SIGNFER_TYPES.values() and lt.get("LINGUISTIC_TYPE_ID") not in used_types])  # fmt: skip

    # 2. add signfer's tiers
    team_tiers = {t.get("TIER_ID") for t in root.findall("TIER")}
    clash = sorted(set(tiers) & team_tiers)
    if clash:
        raise InputError(team_eaf, f"has its own tier(s) named {', '.join(clash)}, which signfer writes; rename them or map the "
                                   "signers to other names with --participants")  # fmt: skip
    taken_slots = {s.get("TIME_SLOT_ID") for s in time_order.iter("TIME_SLOT")}
    taken_anns = {e.get("ANNOTATION_ID") for e in root.iter() if e.get("ANNOTATION_ID")}
    counter = {"ts": 0, "a": 0}

    def fresh(kind: str, taken: set) -> str:
        while True:
            counter[kind] += 1
            name = f"signfer-{kind}{counter[kind]}"
            if name not in taken:
                taken.add(name)
                return name

    mark = annotator or signfer_annotator("")
    new_tiers, needed_types = [], []
    for name, anns in tiers.items():
        ltype = tier_type(name)
        if ltype not in needed_types:
            needed_types.append(ltype)
        attrs = {"TIER_ID": name, "LINGUISTIC_TYPE_REF": ltype, "ANNOTATOR": mark}
        if (participants or {}).get(name):
            attrs["PARTICIPANT"] = participants[name]
        tier = ET.Element("TIER", attrs)
        for start, end, value in anns:
            s, e = int(round(start)), int(round(end))
            if e <= s:
                continue
            ids = []
            for t in (s, e):
                ids.append(fresh("ts", taken_slots))
                slot = ET.Element("TIME_SLOT", {"TIME_SLOT_ID": ids[-1], "TIME_VALUE": str(t)})
                _insert(time_order, len(time_order), slot, unit, 1)
            ann = ET.SubElement(tier, "ANNOTATION")
            al = ET.SubElement(ann, "ALIGNABLE_ANNOTATION", {"ANNOTATION_ID": fresh("a", taken_anns), "TIME_SLOT_REF1": ids[0], "TIME_SLOT_REF2": ids[1]})
            ET.SubElement(al, "ANNOTATION_VALUE").text = str(value)
        new_tiers.append(tier)
    at = _last_index(root, "TIER", "TIME_ORDER")
    for k, tier in enumerate(new_tiers):
        _insert(root, at + k, tier, unit, 0)
    have_types = {lt.get("LINGUISTIC_TYPE_ID") for lt in root.findall("LINGUISTIC_TYPE")}
    at = _last_index(root, "LINGUISTIC_TYPE", "TIER", "TIME_ORDER")
    for ltype in needed_types:
        if ltype not in have_types:
            elem = ET.Element("LINGUISTIC_TYPE", {"LINGUISTIC_TYPE_ID": ltype, "TIME_ALIGNABLE": "true", "GRAPHIC_REFERENCES": "false"})
            _insert(root, at, elem, unit, 0)
            at += 1
    properties = {**(properties or {}), DIGESTS_PROPERTY: json.dumps(_tier_digests(root, new_tiers), separators=(",", ":"))}
    for key, value in properties.items():
        key = str(key) if str(key).startswith(SIGNFER_PROPERTY) else SIGNFER_PROPERTY + str(key)
        prop = ET.Element("PROPERTY", {"NAME": key})
        prop.text = str(value)
        _insert(header, len(header), prop, unit, 1)

    text = _as_written(root, team_eaf)
    with atomic_write(out_path) as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n")
    return out_path
