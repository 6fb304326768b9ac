"""Signer-aware annotation: several faces with stable IDs, hands over faces, half-face models, calibration.

Per analysed frame: every face is detected (the full model's detector), hands are detected
(:class:`~signfer.signers.hands.MediaPipeHands`), each face gets the half a hand covers
(:func:`~signfer.signers.occlusion.face_occlusion`) and a signer ID
(:class:`~signfer.signers.tracking.SignerTracker`). The ``occlusion`` policy decides the model:

- ``switch``: no hand -> the full-face model; a hand over the lower half -> the upper-face model;
  over the upper half -> the lower-face model; over both -> status ``occluded``, no prediction;
- ``flag``: occlusion is recorded, the full-face model predicts every frame;
- ``off``: no hand detection.

``model_used`` says which model predicted each row (``full``, ``upper``, ``lower``, ``none``).
A face the detector misses while a hand overlaps its last box is kept there (``face_source``
``coasting``) for up to ``max_missing`` frames, so a hand over the mouth does not end the signer.
After the pass, ``calibration`` (``median`` / ``interval``) subtracts each signer's neutral
baseline per model from the logits (:mod:`signfer.signers.calibration`); raw and calibrated
outputs are both written. Smoothing, segments and ELAN tiers are per signer; ``signer``
selects whom to write (``all``, ``largest``, ``left``, ``right`` or an ID).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from signfer.inference.segments import Segment, SegmentBuilder
from signfer.inference.smoothing import Smoothing, smooth_probabilities
from signfer.io import DoneMarkers, atomic_path, atomic_write, file_fingerprint
from signfer.signers import calibration as cal
from signfer.signers.occlusion import DEFAULT_THRESHOLD, NO_OCCLUSION, face_occlusion, overlaps_box
from signfer.signers.tracking import SignerTracker, pick_signers

POLICIES = ("switch", "flag", "off")
FORMATS = ("csv", "json", "eaf")
#: which model predicts a face in each occlusion state under the ``switch`` policy
SWITCH = {"none": "full", "lower": "upper", "upper": "lower", "both": None}


@dataclass
class SignerOptions:
    """How to annotate several signers (see the module docstring)."""

    signer: str = "all"
    occlusion: str = "switch"
    occlusion_threshold: float = DEFAULT_THRESHOLD
    hands: object = "mediapipe"  # a name for get_hand_detector, or an object with .detect(rgb) -> hands
    calibration: str = "none"
    neutral: Sequence[cal.NeutralInterval] = ()
    every: int = 1
    fps: float | None = None
    smoothing: Smoothing = field(default_factory=Smoothing)
    min_duration_ms: float = 0.0
    max_missing: int = 15

    def __post_init__(self):
        if self.occlusion not in POLICIES:
            raise ValueError(f"occlusion policy must be one of {', '.join(POLICIES)}, got {self.occlusion!r}")
        if self.calibration not in cal.METHODS:
            raise ValueError(f"calibration must be one of {', '.join(cal.METHODS)}, got {self.calibration!r}")
        if self.calibration == "interval" and not self.neutral:
            raise ValueError("calibration 'interval' needs at least one neutral interval ([SIGNER:]START-END in seconds)")
        if self.every < 1:
            raise ValueError("every must be >= 1")

    def to_dict(self) -> dict:
        return {
            "signer": self.signer, "occlusion": self.occlusion, "occlusion_threshold": self.occlusion_threshold,
            "hands": self.hands if isinstance(self.hands, str) else type(self.hands).__name__,
            "calibration": self.calibration, "neutral": [vars(n) for n in self.neutral], "every": self.every,
            "smoothing": {"method": self.smoothing.method, "window": self.smoothing.window},
            "min_duration_ms": self.min_duration_ms, "max_missing": self.max_missing,
        }  # fmt: skip


@dataclass
class SignerResult:
    """One annotated input: the rows (one per frame and signer), segments per signer, files written."""

    path: str
    name: str
    frames: pd.DataFrame
    segments: dict[str, list[Segment]]
    signers: list[str]
    baselines: dict
    outputs: dict[str, Path]
    seconds: float


def signer_columns(class_names: Sequence[str], calibrated: bool, smoothed: bool, extra_names: Sequence[str] = ()) -> list[str]:
    """Columns of the per-frame, per-signer table (``extra_names``: the full model's extra outputs, e.g. valence, arousal)."""
    cols = ["frame", "time_ms", "signer_id", "status", "error", "face_source", "face_x1", "face_y1", "face_x2", "face_y2", "face_score",
            "hands", "occlusion", "occluded_upper", "occluded_lower", "model_used", "label", "confidence"]  # fmt: skip
    cols += [f"p_{c}" for c in class_names] + list(extra_names)
    if calibrated:
        cols += ["calibrated_label", "calibrated_confidence"] + [f"calibrated_p_{c}" for c in class_names]
    if smoothed:
        cols += ["smooth_label", "smooth_confidence"] + [f"smooth_p_{c}" for c in class_names] + [f"smooth_{e}" for e in extra_names]
    return cols


def _detect_faces(recognizer, image: np.ndarray) -> list:
    faces = recognizer.detector.detect(image)
    low = recognizer.min_face_score
    return [f for f in faces if low is None or f.score >= low]


def _outputs(recognizer, crops: list[np.ndarray]) -> tuple[np.ndarray, list[dict]]:
    """(logits (N, C), per crop {extra output: value}) -- [extra outputs] such as valence/arousal ride along."""
    x = np.stack(crops)
    run = getattr(recognizer.classifier, "run", None)
    logits, extras = [], []
    for i in range(0, len(x), recognizer.batch_size):
        batch = recognizer.spec.normalize(x[i : i + recognizer.batch_size])
        z, more = run(batch) if run is not None else (recognizer.classifier(batch), {})
        logits.append(np.asarray(z, np.float64))
        extras += [{k: float(v[j]) for k, v in more.items()} for j in range(len(batch))]
    return np.concatenate(logits), extras


def _check_models(models: dict) -> list[str]:
    full = models["full"]
    names = list(full.class_names)
    for region in ("upper", "lower"):
        rec = models.get(region)
        if rec is None:
            continue
        if rec.spec.region != region:
            raise ValueError(f"the {region}-face model was trained on region {rec.spec.region!r}, not {region!r} ({rec.describe()})")
        if list(rec.class_names) != names:
            raise ValueError(f"the {region}-face model's classes {list(rec.class_names)} differ from the full model's {names}")
    return names


def analyse_signers(models: dict, path, options: SignerOptions, hand_detector=None, progress: bool = False) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """First pass: one row per analysed frame and live signer (no calibration, smoothing or selection yet).

    Returns (rows without probabilities, logits (N, C) with NaN rows where nothing was predicted, media info dict).
    """
    from signfer.inference.video import open_media

    class_names = _check_models(models)
    full = models["full"]
    extra_names = list(getattr(full, "extra_names", []))  # [extra outputs] of the full-face model
    tracker = SignerTracker(max_missing=options.max_missing)
    reader = open_media(path, fps=options.fps)
    info = reader.info
    rows, logits = [], []
    nan = np.full(len(class_names), np.nan)
    try:
        from tqdm.auto import tqdm

        bar = tqdm(desc=Path(path).name, unit="frame", disable=not progress, leave=False)
        for frame in reader.frames(options.every):
            bar.update()
            base = {"frame": frame.index, "time_ms": round(frame.time_ms, 3)}
            if frame.image is None:
                rows.append({**base, "signer_id": "", "status": "error", "error": frame.error or "unreadable frame"})
                logits.append(nan)
                continue
            img = frame.image
            try:
                faces = _detect_faces(full, img)
                hands = hand_detector.detect(img) if hand_detector is not None else []
                occl = [face_occlusion(f, hands, options.occlusion_threshold) if hands else NO_OCCLUSION for f in faces]
                tracked = tracker.update(img, faces, [o.state != "none" for o in occl])
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the video
                rows.append({**base, "signer_id": "", "status": "error", "error": f"{type(exc).__name__}: {exc}"})
                logits.append(nan)
                continue
            frame_rows, jobs = [], {}
            for tf in tracked:
                face = tf.face
                if tf.status == "detected":
                    occ = next((o for f, o in zip(faces, occl) if f is face), NO_OCCLUSION)
                else:
                    occ = face_occlusion(face, hands, options.occlusion_threshold) if hands else NO_OCCLUSION
                row = {**base, "signer_id": tf.signer_id, "face_source": tf.status, "hands": len(hands)}
                row.update(zip(("face_x1", "face_y1", "face_x2", "face_y2"), (round(float(v), 2) for v in face.box)))
                row["face_score"] = round(float(face.score), 4)
                if options.occlusion != "off":
                    row.update(occlusion=occ.state, occluded_upper=round(occ.upper, 4), occluded_lower=round(occ.lower, 4))
                if tf.status == "coasting" and not (hands and overlaps_box(face, hands)):
                    row.update(status="no_face", model_used="none")  # lost, and no hand explains it
                    frame_rows.append(row)
                    continue
                region = SWITCH[occ.state] if options.occlusion == "switch" else "full"
                if region is None:
                    row.update(status="occluded", model_used="none")
                    frame_rows.append(row)
                    continue
                row.update(status="ok", model_used=region)
                jobs.setdefault(region, []).append((len(frame_rows), face))
                frame_rows.append(row)
            frame_logits = [nan] * len(frame_rows)
            for region, items in jobs.items():
                rec = models[region]
                try:
                    crops = [rec.crop(img, face).pixels for _, face in items]
                    z_all, extra_all = _outputs(rec, crops)
                    for (k, _), z, more in zip(items, z_all, extra_all):
                        frame_logits[k] = z
                        frame_rows[k].update({e: round(v, 6) for e, v in more.items() if e in extra_names})  # [extra outputs]
                except Exception as exc:  # noqa: BLE001
                    for k, _ in items:
                        frame_rows[k].update(status="error", error=f"{type(exc).__name__}: {exc}", model_used="none")
            if not frame_rows:
                frame_rows, frame_logits = [{**base, "signer_id": "", "status": "no_face", "hands": len(hands)}], [nan]
            rows += frame_rows
            logits += frame_logits
        bar.close()
    finally:
        reader.close()
    media = {"path": str(Path(path).resolve()), "kind": info.kind, "fps": info.fps, "frame_count": info.frame_count,
             "width": info.width, "height": info.height, "frame_ms": info.frame_ms * (options.every if info.kind == "video" else 1)}  # fmt: skip
    return pd.DataFrame(rows), np.asarray(logits, np.float64).reshape(len(rows), len(class_names)), media


def signer_stats(frames: pd.DataFrame) -> dict[str, dict]:
    """Per signer: median face area, median face-centre x, number of frames with a face (for :func:`pick_signers`)."""
    seen = frames[(frames["signer_id"].astype(str) != "") & frames["face_x1"].notna()] if "face_x1" in frames else frames.iloc[:0]
    out = {}
    for sid, g in seen.groupby("signer_id"):
        area = (g["face_x2"] - g["face_x1"]) * (g["face_y2"] - g["face_y1"])
        out[str(sid)] = {"area": float(area.median()), "x": float(((g["face_x1"] + g["face_x2"]) / 2).median()), "frames": int(len(g))}
    return out


def _put_probs(frames: pd.DataFrame, prefix: str, probs: np.ndarray, class_names: list[str], mask: np.ndarray) -> None:
    labels = np.full(len(frames), None, dtype=object)
    conf = np.full(len(frames), np.nan)
    if mask.any():
        k = np.argmax(probs[mask], axis=1)
        labels[mask] = [class_names[i] for i in k]
        conf[mask] = probs[mask][np.arange(len(k)), k]
    frames[f"{prefix}label"] = labels
    frames[f"{prefix}confidence"] = np.round(conf, 6)
    for j, c in enumerate(class_names):
        col = np.where(mask, probs[:, j], np.nan)
        frames[f"{prefix}p_{c}"] = np.round(col, 6)


def _runs(rows: pd.DataFrame, column: str, end_ms: float, step_ms: float) -> list[tuple[float, float, str]]:
    """Consecutive equal values of ``column`` as (start, end, value); a row lasts until the next row (or ``step_ms``)."""
    out = []
    times = rows["time_ms"].to_numpy(float)
    values = rows[column].tolist()
    for i, (t, v) in enumerate(zip(times, values)):
        nxt = times[i + 1] if i + 1 < len(times) else min(end_ms, t + step_ms) if step_ms else end_ms
        if nxt - t > 1.5 * step_ms > 0:  # the signer was absent in between: the run ends one frame after t
            nxt = t + step_ms
        if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
            continue
        if out and out[-1][2] == v and abs(out[-1][1] - t) < 1e-6:
            out[-1] = (out[-1][0], nxt, v)
        else:
            out.append((t, nxt, str(v)))
    return out


def _value_runs(rows: pd.DataFrame, column: str, end_ms: float, step_ms: float, decimals: int = 2) -> list[tuple[float, float, str]]:
    """[extra outputs] a numeric column as EAF runs of its values rounded to ``decimals``."""
    values = pd.to_numeric(rows[column], errors="coerce")
    text = rows[["time_ms"]].assign(v=[None if not np.isfinite(v) else f"{v:.{decimals}f}" for v in values.to_numpy(float)])
    return _runs(text, "v", end_ms, step_ms)


def annotate_signers(
    models: dict,
    path: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    options: SignerOptions | None = None,
    formats: Sequence[str] = FORMATS,
    name: str | None = None,
    hand_detector=None,
    progress: bool = False,
) -> SignerResult:
    """Annotate one video (or image folder) signer by signer; with ``out_dir`` write ``<name>.csv``,
    ``<name>.json`` and ``<name>.eaf`` (all or none).

    ``models``: ``{"full": Recognizer, "upper": Recognizer | None, "lower": Recognizer | None}``;
    the ``switch`` policy needs all three. ``hand_detector``: an object with ``.detect(rgb)``
    (default: built from ``options.hands``).
    """
    from signfer.signers.elan import signer_tier, write_tiers
    from signfer.signers.hands import get_hand_detector

    options = options or SignerOptions()
    started = time.perf_counter()
    formats = [f.lower() for f in formats]
    bad = sorted(set(formats) - set(FORMATS))
    if bad:
        raise ValueError(f"unknown format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    if options.occlusion == "switch" and (models.get("upper") is None or models.get("lower") is None):
        raise ValueError("occlusion policy 'switch' needs an upper-face and a lower-face model (--upper-model, --lower-model); "
                         "use --occlusion flag to only record occlusion")  # fmt: skip
    class_names = _check_models(models)
    if options.occlusion == "off":
        hand_detector = None
    elif hand_detector is None:
        hand_detector = get_hand_detector(options.hands) if isinstance(options.hands, str) else options.hands
    frames, logits, media = analyse_signers(models, path, options, hand_detector, progress)
    extra_names = list(getattr(models["full"], "extra_names", []))  # [extra outputs]
    for col in signer_columns(class_names, False, False, extra_names):
        if col not in frames:
            frames[col] = None
    ok = (frames["status"] == "ok").to_numpy() & ~np.isnan(logits).any(axis=1)
    raw = np.where(ok[:, None], cal.softmax(np.nan_to_num(logits)), np.nan)
    _put_probs(frames, "", raw, class_names, ok)
    # ---- calibration (per signer and model)
    baselines = {}
    decision = raw
    calibrated = options.calibration != "none"
    if calibrated and ok.any():
        keys = list(zip(frames["signer_id"].astype(str), frames["model_used"].astype(str)))
        idx = np.flatnonzero(ok)
        fitted = cal.fit_baselines([keys[i] for i in idx], logits[idx], frames["time_ms"].to_numpy(float)[idx],
                                   [keys[i][0] for i in idx], list(options.neutral) if options.calibration == "interval" else None)  # fmt: skip
        adjusted = np.full_like(logits, np.nan)
        for i in idx:
            adjusted[i] = cal.calibrate(logits[i], fitted[keys[i]]["baseline"])
        decision = np.where(ok[:, None], cal.softmax(np.nan_to_num(adjusted)), np.nan)
        baselines = {f"{s}/{m}": {"baseline": dict(zip(class_names, np.round(v["baseline"], 6).tolist())), "frames": v["frames"], "source": v["source"]}
                     for (s, m), v in fitted.items()}  # fmt: skip
    if calibrated:
        _put_probs(frames, "calibrated_", decision, class_names, ok)
    # ---- selection
    stats = signer_stats(frames)
    chosen = pick_signers(stats, options.signer)
    keep = frames["signer_id"].astype(str).isin(chosen) | (frames["signer_id"].astype(str) == "")
    frames, decision, ok = frames[keep.to_numpy()].reset_index(drop=True), decision[keep.to_numpy()], ok[keep.to_numpy()]
    # ---- smoothing and segments per signer
    smoothed = options.smoothing.enabled
    final = decision.copy()
    if smoothed:
        sm = np.full_like(decision, np.nan)
        for sid in chosen:
            idx = np.flatnonzero((frames["signer_id"] == sid).to_numpy())
            sm[idx] = smooth_probabilities(decision[idx], options.smoothing.method, options.smoothing.window)
        final = sm
        _put_probs(frames, "smooth_", sm, class_names, ok & ~np.isnan(sm).any(axis=1))
        for e in extra_names:  # [extra outputs] smoothed per signer as the probabilities are
            raw_e = pd.to_numeric(frames[e], errors="coerce").to_numpy(float)
            col = np.full(len(frames), np.nan)
            for sid in chosen:
                idx = np.flatnonzero((frames["signer_id"] == sid).to_numpy())
                col[idx] = smooth_probabilities(raw_e[idx][:, None], options.smoothing.method, options.smoothing.window)[:, 0]
            frames[f"smooth_{e}"] = np.round(col, 6)
    step = float(media["frame_ms"] or 0.0)
    end_ms = float(frames["time_ms"].max() + (step or 1.0)) if len(frames) else 0.0
    all_times = sorted(set(frames["time_ms"].tolist()))
    all_frames = dict(zip(frames["time_ms"], frames["frame"]))
    segments: dict[str, list[Segment]] = {}
    for sid in chosen:
        mine = frames["signer_id"] == sid
        by_time = {t: i for t, i in zip(frames.loc[mine, "time_ms"], np.flatnonzero(mine.to_numpy()))}
        builder = SegmentBuilder(options.min_duration_ms)
        segs = []
        for t in all_times:
            i = by_time.get(t)
            probs = None if i is None or np.isnan(final[i]).any() else final[i]
            k = None if probs is None else int(np.argmax(probs))
            segs += builder.push(int(all_frames[t]), t, None if k is None else class_names[k], float("nan") if k is None else float(probs[k]), probs)
        segs += builder.finish(end_ms)
        segments[sid] = segs
    frames = frames[[c for c in signer_columns(class_names, calibrated, smoothed, extra_names) if c in frames]]
    # ---- outputs
    outputs: dict[str, Path] = {}
    name = name or Path(path).stem or "annotation"
    if out_dir is not None:
        out_dir = Path(out_dir)
        header = {
            "media": media,
            "models": {k: (None if v is None else {"source": v.source, "spec": v.spec.to_dict()}) for k, v in models.items()},
            "options": options.to_dict(),
            "class_names": class_names,
            "signers": {s: stats[s] for s in chosen},
            "baselines": baselines,
        }
        tiers, parts = {}, {}
        for sid in chosen:
            mine = frames[frames["signer_id"] == sid]
            for kind, anns in (
                ("expression", [(s.start_ms, s.end_ms, s.label) for s in segments[sid]]),
                ("confidence", [(s.start_ms, s.end_ms, f"{s.mean_confidence:.2f}") for s in segments[sid]]),
                ("occlusion", _runs(mine, "occlusion", end_ms, step) if options.occlusion != "off" else None),
                ("model_used", _runs(mine, "model_used", end_ms, step)),
                *((e, _value_runs(mine, f"smooth_{e}" if smoothed else e, end_ms, step)) for e in extra_names),  # [extra outputs]
            ):
                if anns is None:
                    continue
                tier = signer_tier(sid, kind)
                tiers[tier], parts[tier] = anns, sid
        with contextlib.ExitStack() as stack:  # all files appear together, none on failure
            if "csv" in formats:
                outputs["csv"] = out_dir / f"{name}.csv"
                frames.to_csv(stack.enter_context(atomic_write(outputs["csv"])), index=False)
            if "json" in formats:
                outputs["json"] = out_dir / f"{name}.json"
                records = json.loads(frames.to_json(orient="records"))
                body = {**header, "frames": records, "segments": {s: [seg.to_dict() for seg in segs] for s, segs in segments.items()}}
                json.dump(body, stack.enter_context(atomic_write(outputs["json"])), ensure_ascii=False, default=_json_default)
            if "eaf" in formats:
                outputs["eaf"] = out_dir / f"{name}.eaf"
                tmp = stack.enter_context(atomic_path(outputs["eaf"]))
                write_tiers(tmp, tiers, media=path if media["kind"] == "video" else None, participants=parts,
                            properties={"signfer_model": full_source(models), "signfer_media": media["path"]})  # fmt: skip
    return SignerResult(str(path), name, frames, segments, chosen, baselines, outputs, time.perf_counter() - started)


def full_source(models: dict) -> str:
    rec = models["full"]
    return rec.source or rec.spec.arch


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_models(model: str, upper: str | None = None, lower: str | None = None, **kw) -> dict:
    """``{"full", "upper", "lower"}`` Recognizers (upper/lower None when not given); ``kw`` go to
    :meth:`signfer.inference.recognizer.Recognizer.from_pretrained`."""
    from signfer.inference.recognizer import Recognizer

    models = {"full": Recognizer.from_pretrained(model, **kw)}
    for region, src in (("upper", upper), ("lower", lower)):
        models[region] = None if src is None else Recognizer.from_pretrained(src, **{**kw, "detector": "none"})
    return models




def annotate_signer_inputs(
    inputs: Sequence[str | os.PathLike],
    model: str = "fer2013",
    out: str | os.PathLike = "annotations",
    *,
    upper_model: str | None = None,
    lower_model: str | None = None,
    signer: str = "all",
    occlusion: str | None = None,
    hands: str = "mediapipe",
    occlusion_threshold: float = DEFAULT_THRESHOLD,
    calibration: str = "none",
    neutral: Sequence[str] = (),
    formats: Sequence[str] = FORMATS,
    every: int = 1,
    smooth: int = 1,
    smooth_method: str = "moving",
    min_duration_ms: float = 0.0,
    fps: float | None = None,
    max_missing: int = 15,
    progress: bool = True,
    log=print,
    **recognizer_kw,
) -> int:
    """``signfer annotate --signer/--occlusion/--calibrate``: annotate every input signer by signer into ``out``.

    ``occlusion`` None: ``switch`` when both half-face models are given, else ``flag``. ``neutral``:
    ``[SIGNER:]START-END`` strings (seconds). ``recognizer_kw`` go to ``Recognizer.from_pretrained``
    (backend, device, detector, detect_scale, min_face_score, fold, threads, batch_size). Writes
    ``out/<name>.{csv,json,eaf}`` and ``out/annotate_summary.csv``; returns 0 when every input was annotated.
    """
    from signfer.inference.annotate import annotate_each, expand_inputs

    if occlusion is None:
        occlusion = "switch" if upper_model and lower_model else "flag"
    intervals = [cal.parse_neutral(n) for n in neutral]
    if intervals and calibration == "none":
        calibration = "interval"
    options = SignerOptions(signer=signer, occlusion=occlusion, occlusion_threshold=occlusion_threshold, hands=hands, calibration=calibration,
                            neutral=intervals, every=every, fps=fps, smoothing=Smoothing(smooth_method, smooth),
                            min_duration_ms=min_duration_ms, max_missing=max_missing)  # fmt: skip
    if occlusion == "switch" and not (upper_model and lower_model):
        raise ValueError("--occlusion switch needs --upper-model and --lower-model (models trained on the upper and lower face half)")
    models = load_models(model, upper_model, lower_model, **recognizer_kw)
    _check_models(models)
    hand_detector = None if occlusion == "off" else get_hand_detector_for(hands)
    log(f"model: {models['full'].describe()}" + "".join(f"; {r} face: {models[r].describe()}" for r in ("upper", "lower") if models[r] is not None))
    out = Path(out)
    paths = expand_inputs(inputs)
    defaults = {"frames": 0, "signers": "", "frames_occluded": 0, "frames_half_model": 0, "segments": 0, "seconds": None}

    def summarize(path, res):
        f = res.frames
        fields = dict(frames=int(f["frame"].nunique()), signers=" ".join(res.signers), frames_occluded=int((f["status"] == "occluded").sum()),
                      frames_half_model=int(f["model_used"].isin(["upper", "lower"]).sum()), segments=sum(len(s) for s in res.segments.values()),
                      seconds=round(res.seconds, 2))  # fmt: skip
        message = (f"{path}: {fields['frames']} frames, signers {fields['signers'] or 'none'}, {fields['frames_half_model']} rows by a half-face model, "
                   f"{fields['frames_occluded']} occluded, {fields['segments']} segments")
        return fields, message

    def annotate_one(path, name):
        return annotate_signers(models, path, out, options=options, formats=formats, name=name, hand_detector=hand_detector, progress=progress)

    settings = dict(models={r: m.describe() for r, m in models.items() if m is not None}, options=repr(options), formats=sorted(formats),
                    files={r: file_fingerprint(m.source) for r, m in models.items() if m is not None}, hands=hands, recognizer=recognizer_kw)
    return annotate_each(paths, out, annotate_one, summarize, defaults, log, done=DoneMarkers(out, settings))


def get_hand_detector_for(hands):
    from signfer.signers.hands import get_hand_detector

    return get_hand_detector(hands) if isinstance(hands, str) else hands
