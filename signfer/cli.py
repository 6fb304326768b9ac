"""The ``signfer`` command line: argument parsing only; each command calls one library function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


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
    p.add_argument("input", type=Path, help="an image, a folder of images (searched recursively) or a FePh folder (uses FePh_images/)")
    p.add_argument("output", type=Path, help="folder for the crops and manifest.csv")
    p.add_argument("--preset", default="easier2025", help="preprocessing preset: easier2025 (MTCNN, square, x1.1, equalise, rotate), sltat2022 (Haar crop), none, "
                   "the ablations easier2025_no_equalization, easier2025_equalize_after_rotation, easier2025_standardize, "
                   "or a YAML file (default: %(default)s)")
    p.add_argument("--region", choices=["full", "upper", "lower"], default="full", help="face region to keep: full, or the upper / lower half split at the eye-mouth midline (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="switch one preset step, e.g. --set colour=none or --set colour_order=after_rotation (repeatable). "
                   "Keys: detector (mtcnn|haar|none), detector_options ({min_face_size: 40}), face_choice (largest|confident), "
                   "square (true|false), zoom (1.1), padding (black|edge), colour (equalize|standardize|none), "
                   "colour_order (before_rotation|after_rotation), clip_sd (2.5), align (true|false), size (224), "
                   "region_split (landmarks|middle), half_face_shape (half|square), no_face (skip|whole_image)")
    p.add_argument("--size", type=int, default=None, help="output size in pixels (default: the preset's, 224)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_preprocess)


def _parse_overrides(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def _run_preprocess(args) -> int:
    from signfer.faces.pipeline import preprocess_path

    overrides = _parse_overrides(args.overrides)
    if args.size:
        overrides["size"] = args.size
    manifest = preprocess_path(args.input, args.output, preset=args.preset, region=args.region, overrides=overrides, workers=args.workers, progress=not args.no_progress)
    counts = manifest["status"].value_counts().to_dict()
    print(f"{len(manifest)} files: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"crops in {args.output}, manifest {args.output / 'manifest.csv'}")
    return 0


# --------------------------------------------------------------------------- demo (the README's main job)
def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on built-in real face media (no download of models or data sets)")
    p.add_argument("--out", type=Path, default=Path("signfer-demo"), help="output folder (default: %(default)s)")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from signfer.demo import run_demo

    run_demo(args.out)
    return 0


# --------------------------------------------------------------------------- training commands (train, cv)
# (insert _add_train / _add_cv and their _run_ functions here)

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
    p.add_argument("--avg-sens-std", choices=["folds", "classes"], default="folds", help="std shown for avg. sens.: over folds (default) or mean of the per-class stds as in SLTAT Table 5")
    p.set_defaults(func=_run_report)


def _run_report(args) -> int:
    from signfer.evaluation.report import report_runs

    reference = None if str(args.reference).lower() in ("none", "") else args.reference
    table = report_runs(args.run_dirs, out=args.out, reference=reference, names=args.names, avg_sens_std=args.avg_sens_std)
    print(f"{int((table['kind'] == 'run').sum())} run(s), {int((table['kind'] == 'reference').sum())} reference row(s)")
    print(f"report in {args.out / 'report.md'}, {args.out / 'report.csv'}")
    return 0


# --------------------------------------------------------------------------- inference commands (annotate, export)
# (insert _add_annotate / _add_export and their _run_ functions here)

# --------------------------------------------------------------------------- experiment commands (explain, occlusion, ablation, transfer)
# (insert here)

# --------------------------------------------------------------------------- entry point
#: order of the commands in --help; every module-level ``_add_<name>`` function is a command
COMMAND_ORDER = ["demo", "preprocess", "train", "cv", "evaluate", "report", "annotate", "export", "explain", "occlusion", "ablation", "transfer"]


def _command_adders() -> list:
    adders = {name[5:]: fn for name, fn in globals().items() if name.startswith("_add_") and callable(fn)}
    rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
    return [adders[n] for n in sorted(adders, key=lambda n: (rank.get(n, len(rank)), n))]


def build_parser() -> argparse.ArgumentParser:
    from signfer import __version__

    parser = argparse.ArgumentParser(prog="signfer", description="Facial expression recognition for sign-language video.")
    parser.add_argument("--version", action="version", version=f"signfer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _command_adders():
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from signfer.io import InputError

    try:
        return int(args.func(args) or 0)
    except (InputError, KeyError, FileNotFoundError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"signfer {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
