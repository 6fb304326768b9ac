"""ELAN files for several signers, and the annotate -> correct -> retrain loop.

Writing (:func:`signfer.inference.export.write_tiers`, the one ELAN writer): one tier group per signer, ``<ID>_expression`` (segments), ``<ID>_confidence``,
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

import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from signfer.errors import OptionError
from signfer.inference.export import (  # noqa: F401 - the writing side, re-exported for the ELAN loop
    EAF_SCHEMA,
    EAF_VERSION,
    new_eaf,
    save_eaf,
    set_current_schema,
    signer_tier,
    write_tiers,
)
from signfer.io import InputError, atomic_write, write_image, xml_error_reason

EXPRESSION = "expression"
TIER_KINDS = ("expression", "confidence", "occlusion", "model_used")
GROUPS_FILE = "groups.csv"
MANIFEST_FILE = "elan_frames.csv"


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
    from signfer.inference.video import open_media

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


def frame_labels(
    eaf_path: str | os.PathLike,
    frame_times_ms: Sequence[float],
    *,
    tier: str | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Frame-level labels from the expression tier(s) of an (annotator-corrected) EAF.

    ``frame_times_ms[i]``: the time of frame ``i`` (as :func:`signfer.inference.video.open_media`
    gives them). A frame gets an annotation's value when ``start <= time < end``. Values that are
    no class are dropped and counted in ``attrs["skipped"]``.
    Columns: ``frame, time_ms, signer, tier, label, annotation`` (the annotation's index in its tier).
    """
    anns, skipped = load_labelled_annotations(eaf_path, tier=tier, classes=classes)
    times = np.asarray(frame_times_ms, np.float64)
    rows = []
    for signer, name, start, end, label, k in anns:
        for i in np.flatnonzero((times >= start) & (times < end)):
            rows.append({"frame": int(i), "time_ms": float(times[i]), "signer": signer, "tier": name, "label": label, "annotation": k})
    df = pd.DataFrame(rows, columns=["frame", "time_ms", "signer", "tier", "label", "annotation"])
    df = df.sort_values(["frame", "tier"], kind="stable").reset_index(drop=True)
    df.attrs["skipped"] = skipped
    return df


def _context_box(box, shape, zoom: float):
    h, w = shape[:2]
    x1, y1, x2, y2 = box
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * zoom
    return (max(0, int(round(cx - side / 2))), max(0, int(round(cy - side / 2))), min(w, int(round(cx + side / 2))), min(h, int(round(cy + side / 2))))


def build_elan_dataset(
    eaf_path: str | os.PathLike,
    video: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    *,
    tier: str | None = None,
    classes: Sequence[str] | None = None,
    detector: str = "mtcnn",
    min_face_score: float | None = 0.9,
    context: float = 1.6,
    every: int = 1,
    name: str | None = None,
) -> pd.DataFrame:
    """Cut the labelled frames' faces into ``out_dir/<label>/<name>_<signer>_a<k>/f<frame>.png``.

    The video is followed with :class:`~signfer.signers.tracking.SignerTracker` as ``signfer
    annotate --signer`` does (same detector, every frame), so ``S2_expression`` labels the face
    annotate called ``S2``; a plain ``expression`` tier labels the largest face. Each image is the
    face's square box enlarged by ``context`` (the training preprocessing finds the face again in
    it). ``out_dir/groups.csv`` makes each annotation one group for grouped folds;
    ``out_dir/elan_frames.csv`` lists every labelled frame with its status (``ok``, ``no_face``).
    Returns that table (``attrs["skipped"]``: values that are no class). ``video`` None: the media
    the EAF links to.
    """
    from signfer.faces.detect import get_detector
    from signfer.inference.video import open_media
    from signfer.signers.tracking import SignerTracker

    eaf_path = Path(eaf_path)
    if video is None:
        video = linked_media(eaf_path)
        if video is None:
            raise InputError(eaf_path, "links no video that exists here; pass the video's path")
    video = Path(video)
    name = name or video.stem
    out_dir = Path(out_dir)
    anns, skipped = load_labelled_annotations(eaf_path, tier=tier, classes=classes)
    det = get_detector(detector)
    tracker = SignerTracker()
    rows, groups = [], []
    reader = open_media(video)
    try:
        for frame in reader.frames(every):
            if frame.image is None:
                continue
            faces = [f for f in det.detect(frame.image) if min_face_score is None or f.score >= min_face_score]
            tracked = [tf for tf in tracker.update(frame.image, faces) if tf.status != "coasting"]
            hits = [a for a in anns if a[2] <= frame.time_ms < a[3]]
            if not hits:
                continue
            by_id = {tf.signer_id: tf for tf in tracked}
            largest = max(tracked, key=lambda tf: tf.face.area) if tracked else None
            for signer, tier_name, _, _, label, k in hits:
                tf = largest if signer is None else by_id.get(signer)
                group = f"{name}_{signer or 'face'}_a{k:04d}"
                rel = Path(label) / group / f"f{frame.index:06d}.png"
                status = "no_face" if tf is None else "ok"
                if tf is not None:
                    x1, y1, x2, y2 = _context_box(tf.face.box, frame.image.shape, context)
                    write_image(out_dir / rel, frame.image[y1:y2, x1:x2])
                    groups.append({"source_id": rel.as_posix(), "group": group})
                rows.append({"frame": frame.index, "time_ms": frame.time_ms, "signer": signer, "tier": tier_name, "label": label,
                             "annotation": k, "status": status, "path": rel.as_posix() if tf is not None else ""})
    finally:
        reader.close()
    table = pd.DataFrame(rows, columns=["frame", "time_ms", "signer", "tier", "label", "annotation", "status", "path"])
    _merge_csv(out_dir / GROUPS_FILE, pd.DataFrame(groups, columns=["source_id", "group"]), "source_id")
    _merge_csv(out_dir / MANIFEST_FILE, table.assign(video=str(video.resolve()), eaf=str(eaf_path.resolve())), None)
    table.attrs["skipped"] = skipped
    return table


def _merge_csv(path: Path, new: pd.DataFrame, key: str | None) -> None:
    """Append ``new`` to the CSV at ``path`` (replacing rows with the same ``key``), atomically."""
    if path.exists():
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
        new = new.astype(str)
        if key is not None:
            old = old[~old[key].isin(set(new[key]))]
        new = pd.concat([old, new], ignore_index=True)
    with atomic_write(path) as fh:
        new.to_csv(fh, index=False)


def train_from_elan(
    pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike | None]],
    recipe,
    out: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    tier: str | None = None,
    every: int = 1,
    force: bool = False,
    log=print,
    **train_kwargs,
) -> dict:
    """``signfer train --from-elan``: build the data set of the ``(eaf, video)`` pairs and train on it.

    The data set goes to ``data_dir`` (default ``OUT/elan_data``); the model is trained by
    :func:`signfer.training.loop.train` with the ``folder`` layout, so any recipe, ``--init-from``
    / ``--pretrained`` (fine-tuning the model that made the first annotation) and ``--set`` work.
    Each EAF is first checked against its video (:func:`check_media`: linked file name, duration); a
    mismatch is refused unless ``force``. Returns the test metrics of the trained fold.
    """
    from signfer.training.loop import train
    from signfer.training.prepare import resolve_recipe

    rec = resolve_recipe(recipe, train_kwargs.pop("overrides", None))
    train_kwargs.pop("data_format", None)  # always the folder layout written here
    data_dir = Path(data_dir) if data_dir else Path(out) / "elan_data"
    total, names = 0, set()
    for eaf, video in pairs:
        base = Path(video).stem if video else Path(eaf).stem
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.add(name)
        linked = video if video is not None else linked_media(eaf)
        if linked is not None:
            check_media(eaf, linked, force=force, log=log)
        table = build_elan_dataset(eaf, video, data_dir, tier=tier, classes=rec.class_names(), every=every, name=name)
        ok = int((table["status"] == "ok").sum())
        total += ok
        skipped = table.attrs.get("skipped") or {}
        log(f"{eaf}: {len(table)} labelled frames, {ok} with a face"
            + (f"; values that are no class skipped: {skipped}" if skipped else "") + f" -> {data_dir}")
    if total == 0:
        raise InputError(data_dir, "the ELAN tiers label no frame with a face; nothing to train on")
    return train(rec, data_dir, out, data_format="folder", **train_kwargs)
