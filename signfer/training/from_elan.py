"""Retraining from an annotator's corrections: ELAN annotations -> face crops -> a training run.

The corrected EAF files are read with :mod:`signfer.annotate.elan`; every annotated frame of the linked
video becomes a labelled face crop (:func:`build_elan_dataset`), grouped by annotation, and a recipe
trains on them (:func:`train_from_elan`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from signfer.annotate.elan import check_media, linked_media, load_labelled_annotations
from signfer.errors import OptionError
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


def _video_of(eaf_path: Path, video) -> Path:
    if video is None:
        video = linked_media(eaf_path)
        if video is None:
            raise InputError(eaf_path, "links no video that exists here; pass the video's path")
    return Path(video)


def recorded_max_missing(eaf_path) -> float | None:
    """The ``--max-missing`` seconds a ``signfer annotate --signer`` run recorded in its EAF (None: not said)."""
    from signfer.annotate.elan import read_eaf

    try:
        return float(dict(read_eaf(eaf_path).properties)["signfer_max_missing_s"])
    except (KeyError, ValueError):
        return None


def labelled_faces(anns, video, *, detector: str = "mtcnn", min_face_score: float | None = 0.9, every: int = 1,
                   max_missing_s: float | None = None):
    """``(frame, annotation, tracked face or None)`` for every analysed frame of ``video`` inside an annotation of ``anns``
    (from :func:`load_labelled_annotations`).

    The video is followed with :class:`~signfer.signers.identity.SignerTracker` as ``signfer annotate --signer``
    does (same detector, every frame), so ``S2_expression`` labels the face annotate called ``S2``; a plain
    ``expression`` tier labels the largest face. ``None``: no face of that signer in that frame. ``max_missing_s``:
    as the annotate run had it (default: annotate's)."""
    from signfer.annotate.stages import SignerOptions
    from signfer.annotate.video import open_media
    from signfer.faces.detect import get_detector
    from signfer.signers.identity import SignerTracker

    det = get_detector(detector)
    reader = open_media(video)
    so = SignerOptions() if max_missing_s is None else SignerOptions(max_missing_s=max_missing_s)
    frame_ms = reader.info.frame_ms * every
    tracker = SignerTracker(max_missing=so.frames(so.max_missing_s, frame_ms), coast=so.frames(so.coast_s, frame_ms),
                            reid_similarity=so.reid_similarity)
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
            for ann in hits:
                yield frame, ann, (largest if ann[0] is None else by_id.get(ann[0]))
    finally:
        reader.close()


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
    eaf_path = Path(eaf_path)
    video = _video_of(eaf_path, video)
    name = name or video.stem
    out_dir = Path(out_dir)
    anns, skipped = load_labelled_annotations(eaf_path, tier=tier, classes=classes)
    rows, groups = [], []
    for frame, ann, tf in labelled_faces(anns, video, detector=detector, min_face_score=min_face_score, every=every,
                                         max_missing_s=recorded_max_missing(eaf_path)):
        signer, tier_name, _, _, label, k = ann
        group = f"{name}_{signer or 'face'}_a{k:04d}"
        rel = Path(label) / group / f"f{frame.index:06d}.png"
        if tf is not None:
            x1, y1, x2, y2 = _context_box(tf.face.box, frame.image.shape, context)
            write_image(out_dir / rel, frame.image[y1:y2, x1:x2])
            groups.append({"source_id": rel.as_posix(), "group": group})
        rows.append({"frame": frame.index, "time_ms": frame.time_ms, "signer": signer, "tier": tier_name, "label": label,
                     "annotation": k, "status": "no_face" if tf is None else "ok", "path": rel.as_posix() if tf is not None else ""})
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
    if (data_dir / MANIFEST_FILE).exists():
        raise InputError(data_dir, "already holds the frames of an earlier --from-elan round; each round trains on its own EAFs "
                         "alone (annotations deleted since would still train): choose another --data or --out")
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


# --------------------------------------------------------------------------- the annotator's loop: fine-tune the annotating model
MODEL_PROPERTY = "signfer_model"
REPORT_FILE = "report.md"


@dataclass
class RetrainOptions:
    """How ``signfer train --from-elan`` (without ``--recipe``) fine-tunes the annotating model.

    ``model``: the model to start from (default: the one each EAF names in its ``signfer_model`` property, else
    ``fer2013``); ``holdout``: the share of each annotation held out to test on (a time block at its end; 0: every
    labelled frame trains); ``epochs``, ``lr``, ``batch_size``: the fine-tuning (Adam, BatchNorm statistics frozen,
    each annotation weighted equally, so three short corrections count as much as a long confirmed stretch);
    ``max_frames``: an annotation longer than this many analysed frames gives evenly spaced ones (None: all)."""

    model: str | None = None
    holdout: float = 0.0
    epochs: int = 8
    lr: float = 1e-3
    batch_size: int = 32
    tier: str | None = None
    every: int = 1
    force: bool = False
    device: str = "auto"
    seed: int = 0
    max_frames: int | None = 150

    def __post_init__(self):
        if not 0 <= self.holdout < 1:
            raise OptionError(f"--holdout must be a fraction in [0, 1), got {self.holdout}")
        if self.epochs < 1:
            raise OptionError(f"--epochs must be at least 1, got {self.epochs}")


def annotating_model(eaf_path: str | os.PathLike) -> str | None:
    """The model an EAF of ``signfer annotate`` was made with (its ``signfer_model`` property), as a name or path
    that loads here: a name (``fer2013``, ``hsemotion:...``), a file or run folder (also relative to the EAF), or
    ``RUN fold K``. None when the EAF does not say."""
    from signfer.annotate.elan import read_eaf

    value = dict(read_eaf(eaf_path).properties).get(MODEL_PROPERTY)
    if not value:
        return None
    value = str(value).strip()
    m = re.fullmatch(r"(.+?) fold[ _](\d+)(?: \(.*\))?", value)
    candidates = [value] if m is None else [str(Path(m.group(1)) / f"fold_{m.group(2)}"), value]
    named = re.fullmatch(r"(\S+) \(.*\)", value)  # "hsemotion:enet_b0_8_va_mtl (tf_efficientnet_b0, HSEmotion ONNX)"
    if m is None and named is not None:
        value = named.group(1)
        candidates.insert(0, value)
    for cand in candidates:
        for base in (Path.cwd(), Path(eaf_path).resolve().parent):
            path = Path(cand).expanduser()
            path = path if path.is_absolute() else base / path
            if path.exists():
                return str(path)
    return value


def _load_start(name: str):
    from signfer.inference.classifier import load_torch_model, resolve_model

    return load_torch_model(resolve_model(name))


def _logits(out):
    """The class logits of a model's output (an extra-output model, e.g. valence / arousal, gives a tuple or dict)."""
    if isinstance(out, dict):
        return out["logits"]
    return out[0] if isinstance(out, (tuple, list)) else out


def _majority(values) -> str | None:
    s = pd.Series(list(values))
    return None if s.empty else str(s.value_counts().index[0])


def retrain_from_elan(pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike | None]], out: str | os.PathLike,
                      options: RetrainOptions | None = None, *, log=print) -> dict:
    """``signfer train --from-elan EAF [VIDEO] ... --out OUT``: fine-tune the model that made the annotation on the
    annotator's corrected and confirmed labels; write ``OUT/best.pt`` (``signfer annotate --model OUT``),
    ``OUT/report.md`` / ``report.json`` and ``OUT/elan_frames.csv``.

    Every EAF must name the same starting model (or pass ``options.model``). The data of this call come from these
    EAFs alone. Each frame of an annotation is cropped as the model crops it at annotation time
    (:meth:`~signfer.inference.recognizer.Recognizer.crop`). An annotation is *corrected* when the starting model's
    majority label on its frames differs from the annotator's, else *confirmed*; the report gives, for each, the share
    of frames the model labels as the annotator did, before and after."""
    import torch

    from signfer.inference.classifier import TorchClassifier
    from signfer.inference.recognizer import Recognizer
    from signfer.models.checkpoint import save_checkpoint
    from signfer.training.prepare import resolve_device

    options = options or RetrainOptions()
    options = dataclasses.replace(options, device=str(resolve_device(options.device)))
    out = Path(out)
    if (out / "best.pt").exists():
        raise OptionError(f"{out} already holds a retrained model; choose another --out")
    # ---------------------------------------------------------------- the starting model
    named = {str(eaf): annotating_model(eaf) for eaf, _ in pairs}
    start = options.model
    if start is None:
        found = set(v for v in named.values() if v)
        if len(found) > 1:
            raise OptionError("the EAFs were made with different models (" + "; ".join(f"{k}: {v}" for k, v in named.items())
                              + "); pick the one to fine-tune with --model")
        start = found.pop() if found else "fer2013"
    model, spec = _load_start(start)
    classes = list(spec.class_names)
    rec = Recognizer(TorchClassifier(model, options.device), spec, source=start)
    log(f"fine-tuning {start} ({spec.arch}, classes {', '.join(classes)})")
    # ---------------------------------------------------------------- the labelled frames, cropped as the model sees them
    rows, crops = [], []
    for n_eaf, (eaf, video) in enumerate(pairs):
        eaf = Path(eaf)
        video = _video_of(eaf, video)
        check_media(eaf, video, force=options.force, log=log)
        anns, skipped = load_labelled_annotations(eaf, tier=options.tier, classes=classes)
        n0 = len(rows)
        from signfer.annotate.video import open_media

        with open_media(video) as media:
            frame_ms = media.info.frame_ms * options.every
        for frame, ann, tf in labelled_faces(anns, video, detector=rec.detector_name, every=options.every,
                                             max_missing_s=recorded_max_missing(eaf)):
            signer, tier_name, s, e, label, k = ann
            if options.max_frames:  # a long annotation: evenly spaced frames (memory and time stay bounded on a corpus)
                stride = max(1, int(np.ceil((e - s) / frame_ms / options.max_frames)))
                if int(round((frame.time_ms - s) / frame_ms)) % stride:
                    continue
            row = {"eaf": str(eaf), "video": str(video), "frame": frame.index, "time_ms": frame.time_ms, "signer": signer or "",
                   "tier": tier_name, "annotation": k, "start_ms": s, "end_ms": e, "label": label, "status": "no_face" if tf is None else "ok"}
            if tf is not None:
                crops.append(rec.crop(frame.image, tf.face).pixels)
            rows.append(row)
        got = rows[n0:]
        log(f"{eaf}: {len(got)} labelled frames, {sum(r['status'] == 'ok' for r in got)} with a face"
            + (f"; values that are no class skipped: {skipped}" if skipped else ""))
    every_frame = pd.DataFrame(rows)
    if every_frame.empty or not (every_frame["status"] == "ok").any():
        raise InputError(pairs[0][0], "the ELAN tiers label no frame with a face; nothing to train on")
    table = every_frame[every_frame["status"] == "ok"].reset_index(drop=True)
    x = np.stack(crops)
    y = np.array([classes.index(v) for v in table["label"]])
    key = table["eaf"] + "|" + table["tier"] + "|" + table["annotation"].astype(str)
    table["key"] = key
    # the held-out block: the last `holdout` share of each annotation's frames
    table["split"] = "train"
    if options.holdout > 0:
        for _, idx in table.groupby("key").groups.items():
            idx = sorted(idx, key=lambda i: table.at[i, "frame"])
            n_test = int(round(len(idx) * options.holdout))
            if 0 < n_test < len(idx):
                table.loc[idx[len(idx) - n_test:], "split"] = "holdout"
    before = rec.infer(x)[0].argmax(1)
    # ---------------------------------------------------------------- fine-tuning
    train_idx = np.flatnonzero(table["split"].to_numpy() == "train")
    counts = table.iloc[train_idx]["key"].value_counts()
    weights = 1.0 / table.iloc[train_idx]["key"].map(counts).to_numpy(np.float64)
    weights = torch.as_tensor(weights / weights.mean(), dtype=torch.float32)
    xt = torch.from_numpy(np.ascontiguousarray(spec.normalize(x[train_idx])))
    yt = torch.as_tensor(y[train_idx])
    torch.manual_seed(options.seed)
    gen = torch.Generator().manual_seed(options.seed)
    device = torch.device(options.device)
    model = model.to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=options.lr)
    for epoch in range(options.epochs):
        model.train()
        for m in model.modules():  # BatchNorm keeps the statistics it was trained with: a few frames would shift them
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
        order = torch.randperm(len(yt), generator=gen)
        total = 0.0
        for i in range(0, len(order), options.batch_size):
            b = order[i : i + options.batch_size]
            xb = xt[b].to(device)
            if torch.rand(1, generator=gen).item() < 0.5:
                xb = xb.flip(3)
            loss = (torch.nn.functional.cross_entropy(_logits(model(xb)), yt[b].to(device), reduction="none") * weights[b].to(device)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        log(f"epoch {epoch + 1}/{options.epochs}: loss {total / len(yt):.4f}")
    model.eval()
    rec = Recognizer(TorchClassifier(model, options.device), spec, source=str(out))
    after = rec.infer(x)[0].argmax(1)
    table["before"] = [classes[i] for i in before]
    table["after"] = [classes[i] for i in after]
    # ---------------------------------------------------------------- report
    report = _report(table, start, options)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / "best.pt", model, spec, extra={"retrained_from": start, "eafs": [str(e) for e, _ in pairs],
                                                          "holdout": options.holdout, "epochs": options.epochs})
    with atomic_write(out / MANIFEST_FILE) as fh:
        # every labelled frame; those without a face (e.g. a hand over it) have no split and no labels before / after
        manifest = pd.concat([table.drop(columns=["key"]), every_frame[every_frame["status"] != "ok"]], ignore_index=True)
        manifest.sort_values(["eaf", "tier", "frame"], kind="stable").to_csv(fh, index=False)
    with atomic_write(out / "report.json") as fh:
        json.dump(report, fh, indent=2)
    with atomic_write(out / REPORT_FILE) as fh:
        fh.write(_report_markdown(report))
    for a in report["annotations"]:
        if a["kind"] == "confirmed" and a["after"] < 0.95 * a["before"]:
            log(f"warning: confirmed annotation {a['tier']} {a['start_ms'] / 1000:.2f}-{a['end_ms'] / 1000:.2f} s '{a['label']}' dropped from "
                f"{100 * a['before']:.1f} % to {100 * a['after']:.1f} % agreement")
    s = report["summary"]
    for part in ("corrected", "confirmed"):
        if s[part]["annotations"]:
            log(f"{part}: {s[part]['annotations']} annotations, {s[part]['frames']} frames; agreement {100 * s[part]['before']:.1f} % before, "
                f"{100 * s[part]['after']:.1f} % after")
    log(f"model: {out / 'best.pt'} (signfer annotate VIDEO --model {out}); report: {out / REPORT_FILE}")
    return report


def _report(table: pd.DataFrame, start: str, options: RetrainOptions) -> dict:
    """Per annotation and summed over corrected / confirmed ones: agreement with the annotator before and after."""
    anns = []
    for key, part in table.groupby("key", sort=False):
        first = part.iloc[0]
        label = first["label"]
        kind = "confirmed" if _majority(part["before"]) == label else "corrected"
        item = {"eaf": first["eaf"], "tier": first["tier"], "signer": first["signer"], "start_ms": float(first["start_ms"]),
                "end_ms": float(first["end_ms"]), "label": label, "kind": kind, "was": _majority(part["before"]), "frames": int(len(part))}
        for split in ("train", "holdout"):
            sub = part[part["split"] == split]
            if len(sub):
                item[split] = {"frames": int(len(sub)), "before": float((sub["before"] == label).mean()), "after": float((sub["after"] == label).mean())}
        item["before"] = float((part["before"] == label).mean())
        item["after"] = float((part["after"] == label).mean())
        anns.append(item)
    summary = {}
    for kind in ("corrected", "confirmed"):
        chosen = [a for a in anns if a["kind"] == kind]
        n = sum(a["frames"] for a in chosen)
        summary[kind] = {"annotations": len(chosen), "frames": n,
                         "before": sum(a["before"] * a["frames"] for a in chosen) / n if n else None,
                         "after": sum(a["after"] * a["frames"] for a in chosen) / n if n else None,
                         "worst_after": min((a["after"] for a in chosen), default=None)}
    if options.holdout > 0:
        held = table[table["split"] == "holdout"]
        summary["holdout"] = {"frames": int(len(held)), "before": float((held["before"] == held["label"]).mean()) if len(held) else None,
                              "after": float((held["after"] == held["label"]).mean()) if len(held) else None}
    return {"start_model": start, "options": dataclasses.asdict(options), "summary": summary, "annotations": anns}


def _report_markdown(report: dict) -> str:
    s = report["summary"]
    lines = ["# Retraining from ELAN corrections", "", f"Started from `{report['start_model']}`; "
             f"held out: {report['options']['holdout']:.0%} of each annotation; {report['options']['epochs']} epochs.", "",
             "Agreement = share of an annotation's frames the model labels as the annotator did.", "",
             "| annotations | count | frames | before | after |", "|---|---|---|---|---|"]
    for kind in ("corrected", "confirmed"):
        if s[kind]["annotations"]:
            lines.append(f"| {kind} | {s[kind]['annotations']} | {s[kind]['frames']} | {100 * s[kind]['before']:.1f} % | {100 * s[kind]['after']:.1f} % |")
    if "holdout" in s and s["holdout"]["frames"]:
        lines.append(f"| held out | | {s['holdout']['frames']} | {100 * s['holdout']['before']:.1f} % | {100 * s['holdout']['after']:.1f} % |")
    lines += ["", "| tier | start - end (s) | annotator | model said | kind | frames | before | after |", "|---|---|---|---|---|---|---|---|"]
    for a in report["annotations"]:
        lines.append(f"| {a['tier']} | {a['start_ms'] / 1000:.2f} - {a['end_ms'] / 1000:.2f} | {a['label']} | {a['was']} | {a['kind']} | "
                     f"{a['frames']} | {100 * a['before']:.1f} % | {100 * a['after']:.1f} % |")
    return "\n".join(lines) + "\n"
