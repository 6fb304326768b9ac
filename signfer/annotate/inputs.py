"""``signfer annotate``: load the models once, annotate every input with the one pipeline, summarise.

Above both :mod:`signfer.inference.recognizer` (which loads models) and :mod:`signfer.annotate.media`
(the pipeline, which takes loaded models), so neither imports the other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from signfer.errors import OptionError
from signfer.annotate.media import FORMATS, AnnotationOptions, annotate_each, annotate_media, expand_inputs
from signfer.io import DoneMarkers, file_fingerprint


def load_models(model: str, upper: str | None = None, lower: str | None = None, **kw) -> dict:
    """``{"full", "upper", "lower"}`` Recognizers (upper/lower None when not given); ``kw`` go to
    :meth:`signfer.inference.recognizer.Recognizer.from_pretrained` (the half models detect no faces)."""
    from signfer.inference.recognizer import Recognizer

    models = {"full": Recognizer.from_pretrained(model, **kw)}
    for region, src in (("upper", upper), ("lower", lower)):
        models[region] = None if src is None else Recognizer.from_pretrained(src, **{**kw, "detector": "none"})
    return models


def annotate_inputs(
    inputs: Sequence[str | os.PathLike],
    model: str = "fer2013",
    out: str | os.PathLike = "annotations",
    *,
    options: AnnotationOptions | None = None,
    formats: Sequence[str] = FORMATS,
    overlay: bool = False,
    upper_model: str | None = None,
    lower_model: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    **recognizer_kw,
) -> int:
    """Annotate every input into ``out``; a failed input is reported and skipped.

    ``options``: the pipeline's options (built once by the CLI); ``recognizer_kw`` go to
    ``Recognizer.from_pretrained`` (backend, device, detector, detect_scale, min_face_score, fold, threads,
    batch_size). Writes ``out/<name>.{csv,json,eaf}`` per input and ``out/annotate_summary.csv`` (one row per
    input: status, frame counts, outputs, error). Returns 0 when every input was annotated, 1 otherwise.
    """
    options = options or AnnotationOptions()
    unknown = sorted(set(f.lower() for f in formats) - set(FORMATS))
    if unknown or not (formats or overlay):
        raise OptionError(f"unknown or no output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)} (comma-separated)")
    if (options.hands is not None and isinstance(options.hands.detector, str)) or options.nonmanual is not None:
        from signfer.signers.hands import tflite_interpreter_class

        tflite_interpreter_class()  # a missing [mediapipe] extra is said once, before any video starts
    recognizer_kw.setdefault("batch_size", options.batch_size)
    models = load_models(model, upper_model, lower_model, **recognizer_kw)
    log(f"model: {models['full'].describe()}" + "".join(f"; {r} face: {models[r].describe()}" for r in ("upper", "lower") if models[r] is not None))
    signers = options.signers is not None
    out = Path(out)
    paths = expand_inputs(inputs)
    defaults = {"frames": 0, "frames_ok": 0, "frames_no_face": 0, "frames_error": 0, "segments": 0, "seconds": None}
    if signers or options.hands is not None:
        defaults.update(signers="", rows_occluded=0, rows_half_model=0)

    def summarize(path, res):
        c = res.counts
        fields = dict(frames=res.n_frames, frames_ok=c.get("ok", 0), frames_no_face=c.get("no_face", 0), frames_error=c.get("error", 0),
                      segments=len(res.segments), seconds=round(res.seconds, 2))  # fmt: skip
        fps_txt = f", {res.n_frames / res.seconds:.1f} frames/s" if res.seconds > 0 else ""
        extra = ""
        if "signers" in defaults:
            half = res.model_counts.get("upper", 0) + res.model_counts.get("lower", 0)
            fields.update(signers=" ".join(res.signers), rows_occluded=c.get("occluded", 0), rows_half_model=half)
            extra = f", signers {fields['signers'] or 'none'}" if signers else ""
        what = "rows" if signers else "frames"
        message = (f"{path}: {res.n_frames} frames{extra} ({c.get('ok', 0)} {what} with a face classified, {c.get('no_face', 0)} without, "
                   f"{c.get('occluded', 0)} occluded, {c.get('error', 0)} errors), " if signers else
                   f"{path}: {res.n_frames} frames ({c.get('ok', 0)} with a face, {c.get('no_face', 0)} without, {c.get('error', 0)} errors), ")
        message += f"{len(res.segments)} segments{fps_txt}"
        for note in res.notes:
            log(f"{path}: {note}")
        return fields, message

    def annotate_one(path, name):
        return annotate_media(models, path, out, formats=formats, overlay=overlay, options=options, name=name, progress=progress)

    # a rerun with the same settings skips the inputs whose outputs are complete (after an interruption)
    settings = dict(models={r: (m.describe(), file_fingerprint(m.source)) for r, m in models.items() if m is not None},
                    options=options.to_dict(), formats=sorted(formats), overlay=overlay,
                    recognizer={k: v for k, v in sorted(recognizer_kw.items()) if k != "threads"})
    return annotate_each(paths, out, annotate_one, summarize, defaults, log, done=DoneMarkers(out, settings))
