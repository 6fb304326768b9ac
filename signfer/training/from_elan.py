"""Retraining from an annotator's corrections: ELAN annotations -> face crops -> a training run.

The corrected EAF files are read with :mod:`signfer.annotate.elan`; every annotated frame of the linked
video becomes a labelled face crop (:func:`build_elan_dataset`), grouped by annotation, and a recipe
trains on them (:func:`train_from_elan`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from signfer.annotate.elan import check_media, linked_media, load_labelled_annotations
from signfer.io import InputError, atomic_write, write_image

GROUPS_FILE = "groups.csv"
MANIFEST_FILE = "elan_frames.csv"


def frame_labels(
    eaf_path: str | os.PathLike,
    frame_times_ms: Sequence[float],
    *,
    tier: str | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Frame-level labels from the expression tier(s) of an (annotator-corrected) EAF.

    ``frame_times_ms[i]``: the time of frame ``i`` (as :func:`signfer.annotate.video.open_media`
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

    The video is followed with :class:`~signfer.signers.identity.SignerTracker` as ``signfer
    annotate --signer`` does (same detector, every frame), so ``S2_expression`` labels the face
    annotate called ``S2``; a plain ``expression`` tier labels the largest face. Each image is the
    face's square box enlarged by ``context`` (the training preprocessing finds the face again in
    it). ``out_dir/groups.csv`` makes each annotation one group for grouped folds;
    ``out_dir/elan_frames.csv`` lists every labelled frame with its status (``ok``, ``no_face``).
    Returns that table (``attrs["skipped"]``: values that are no class). ``video`` None: the media
    the EAF links to.
    """
    from signfer.faces.detect import get_detector
    from signfer.annotate.video import open_media
    from signfer.signers.identity import SignerTracker

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
