"""``signfer annotate``: many inputs through one :class:`~signfer.annotate.annotator.Annotator`, each named,
skipped or redone by the one rule of :mod:`signfer.annotate.done`, and a summary.

Above both :mod:`signfer.inference.recognizer` (which loads models) and :mod:`signfer.annotate.media`
(the pipeline, which takes loaded models), so neither imports the other. ``signfer annotate-corpus``
(:mod:`signfer.scale.corpus`) loads its workers' Annotators with :func:`load_annotator` too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from signfer.annotate.annotator import Annotator
from signfer.annotate.done import DoneMarkers, output_names, remove_stale_outputs
from signfer.annotate.options import AnnotationOptions, ModelOptions, OutputOptions
from signfer.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, InputError, atomic_write, find_media

SUMMARY_FILE = "annotate_summary.csv"


def load_models(models: ModelOptions, batch_size: int = 16) -> dict:
    """``{"full", "upper", "lower"}`` Recognizers (upper/lower None when not given); the half models detect no faces."""
    from signfer.inference.recognizer import Recognizer

    kw = models.recognizer_kw(batch_size)
    loaded = {"full": Recognizer.from_pretrained(models.model, **kw)}
    for region, src in (("upper", models.upper), ("lower", models.lower)):
        loaded[region] = None if src is None else Recognizer.from_pretrained(src, **{**kw, "detector": "none"})
    return loaded


def load_annotator(models: ModelOptions, options: AnnotationOptions | None = None, outputs: OutputOptions | None = None) -> Annotator:
    """Load the models (once) and build the Annotator that every input of a process (or Ray actor) goes through."""
    options = options or AnnotationOptions()
    if (options.hands is not None and isinstance(options.hands.detector, str)) or options.nonmanual is not None:
        from signfer.signers.hands import tflite_interpreter_class

        tflite_interpreter_class()  # a missing [mediapipe] extra is said once, before any video starts
    return Annotator(load_models(models, options.batch_size), options, outputs)


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Videos and images as given; a folder gives its videos (each an input) and, if it holds images, itself
    (an image sequence). Missing paths stay in the list (their error is reported in turn)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            media = find_media(p, VIDEO_SUFFIXES | IMAGE_SUFFIXES)  # one walk of the folder
            videos = [q for q in media if q.suffix.lower() in VIDEO_SUFFIXES]
            has_images = len(videos) < len(media)
            out += videos
            if has_images or not videos:
                out.append(p)
        else:
            out.append(p)
    return out


def result_fields(res, signers: bool) -> dict:
    """The summary / corpus log fields of one annotated input."""
    c = res.counts
    fields = dict(frames=res.n_frames, frames_ok=c.get("ok", 0), frames_no_face=c.get("no_face", 0), frames_error=c.get("error", 0),
                  segments=len(res.segments), seconds=round(res.seconds, 2))  # fmt: skip
    if signers:
        half = res.model_counts.get("upper", 0) + res.model_counts.get("lower", 0)
        fields.update(signers=" ".join(res.signers), rows_occluded=c.get("occluded", 0), rows_half_model=half)
    return fields


def annotate_inputs(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike = "annotations",
    *,
    models: ModelOptions | None = None,
    options: AnnotationOptions | None = None,
    outputs: OutputOptions | None = None,
    annotator: Annotator | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> int:
    """Annotate every input into ``out``; a failed input is reported and the others go on.

    The Annotator is ``annotator`` or loaded from ``models`` / ``options`` / ``outputs``. Writes
    ``out/<name>.{csv,json,eaf}`` per input and ``out/annotate_summary.csv`` (one row per input: status ``ok`` /
    ``skipped`` (done earlier with the same settings) / ``kept`` (an output was edited since signfer wrote it:
    not touched) / ``error``, the reason, frame counts, outputs). Runs into one folder may overlap (every file is
    written atomically; e.g. two terminals splitting the inputs): unlike ``annotate-corpus`` no lock is taken.
    Returns 0 when no input failed, 1 otherwise.
    """
    out = Path(out)
    annotator = annotator or load_annotator(models or ModelOptions(), options, outputs)
    log(annotator.describe())
    return _annotate_each(annotator, expand_inputs(inputs), out, progress, log)


def _annotate_each(annotator: Annotator, paths: list[Path], out: Path, progress: bool, log: Callable[[str], None]) -> int:
    opts = annotator.options
    signers = opts.signers is not None or opts.hands is not None
    defaults = {"frames": 0, "frames_ok": 0, "frames_no_face": 0, "frames_error": 0, "segments": 0, "seconds": None}
    if signers:
        defaults.update(signers="", rows_occluded=0, rows_half_model=0)
    done = DoneMarkers(out, annotator.settings())
    summary = []
    for path, name in zip(paths, output_names(paths, done.earlier_names())):
        row = {"input": str(path), "name": name, "status": "ok", "reason": "", **defaults, "outputs": "", "error": ""}
        summary.append(row)
        decision = done.decide(name, path) if path.exists() else None
        if decision is not None and decision.action in ("skip", "keep"):
            row.update(status="skipped" if decision.action == "skip" else "kept", reason=decision.reason,
                       outputs=" ".join(map(str, decision.outputs)))  # fmt: skip
            log(f"{path}: {'skipped' if decision.action == 'skip' else 'not annotated'}: {decision.reason}")
            continue
        if decision is not None:
            row["reason"] = decision.reason
            if decision.outputs:
                log(f"{path}: annotated again: {decision.reason}")
        try:
            done.forget(name)  # an interrupted replacement must not look like a person's edit
            res = annotator.annotate(path, out, name=name, progress=progress)
        except (InputError, ValueError) as exc:
            row.update(status="error", error=str(exc))
            log(f"error: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
            row.update(status="error", error=f"{path}: {type(exc).__name__}: {exc}")
            log(f"error: {row['error']}")
            continue
        files = [str(p) for p in res.outputs.values()]
        row.update(result_fields(res, signers), outputs=" ".join(files))
        remove_stale_outputs(decision.outputs if decision else (), res.outputs.values(), out)
        done.mark(name, path, res.outputs.values())
        log(f"{_message(path, res, opts.signers is not None)} -> {', '.join(files)}")
        for note in res.notes:
            log(f"{path}: {note}")
    table = pd.DataFrame(summary, columns=list(summary[0]) if summary else ["input", "name", "status", "reason", *defaults, "outputs", "error"])
    with atomic_write(out / SUMMARY_FILE) as fh:
        table.to_csv(fh, index=False)
    counts = table["status"].value_counts().to_dict()
    failed = counts.get("error", 0)
    log(f"{len(table) - failed} of {len(table)} inputs annotated or up to date ("
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"); summary {out / SUMMARY_FILE}")
    return 0 if failed == 0 else 1


def _message(path, res, signers: bool) -> str:
    c = res.counts
    fps_txt = f", {res.n_frames / res.seconds:.1f} frames/s" if res.seconds > 0 else ""
    if signers:
        message = (f"{path}: {res.n_frames} frames, signers {' '.join(res.signers) or 'none'} ({c.get('ok', 0)} rows with a face "
                   f"classified, {c.get('no_face', 0)} without, {c.get('occluded', 0)} occluded, {c.get('error', 0)} errors), ")  # fmt: skip
    else:
        message = f"{path}: {res.n_frames} frames ({c.get('ok', 0)} with a face, {c.get('no_face', 0)} without, {c.get('error', 0)} errors), "
    return message + f"{len(res.segments)} segments{fps_txt}"


__all__ = ["SUMMARY_FILE", "annotate_inputs", "expand_inputs", "load_annotator", "load_models", "result_fields"]

