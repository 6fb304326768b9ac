"""Argument types and argument groups shared by several commands."""

from __future__ import annotations

import argparse
from pathlib import Path



def csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def positive(kind):
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


def pixel_count(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 = no limit), got {text}")
    return value


def max_pixels_argument(p) -> None:
    p.add_argument("--max-image-pixels", type=pixel_count, default=None, metavar="N",
                   help="refuse images (and video frames) larger than N pixels, read from the file header before decoding "
                   "(default: $SIGNFER_MAX_IMAGE_PIXELS or 100000000; 0 = no limit)")


def apply_max_pixels(args) -> None:
    from signfer.io import set_max_image_pixels

    set_max_image_pixels(getattr(args, "max_image_pixels", None))


def data_format_argument(p, default: str | None = None, help: str = "layout of --data (default: the recipe's)") -> None:
    p.add_argument("--data-format", choices=["feph", "affectnet", "folder"], default=default, help=help)


def training_arguments(p, cv: bool) -> None:
    from signfer.config import list_configs

    p.add_argument("--recipe", required=cv, help="recipe name or YAML file; shipped: " + ", ".join(list_configs("recipes"))
                   + ("" if cv else "; with --from-elan and no --recipe: fine-tune the model that made the annotation"))
    p.add_argument("--data", required=cv, type=Path, help="data set folder (FePh: FePh_labels.csv + FePh_images/; AffectNet: CSV or folder-per-class layout)"
                   + ("" if cv else "; with --from-elan: where the frames cut from the videos go (default: OUT/elan_data)"))
    p.add_argument("--out", required=True, type=Path, help="run directory (run.yaml, folds.csv, fold_<k>/...)")
    if not cv:
        p.add_argument("--fold", type=int, default=0, help="the fold to test on; the others train (default: %(default)s)")
    recipe_arguments(p)
    p.add_argument("--init-from", dest="init_from", default=None, metavar="PATH", help="start from this earlier run (folder or .pt), e.g. the AffectNet step of easier2025; 'none' to skip")
    p.add_argument("--region", choices=["full", "upper", "lower"], default=None, help="face region to train on (default: the recipe's)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from fold_<k>/last.pt (finished folds are kept)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1 ... (default: %(default)s)")
    p.add_argument("--workers", type=int, default=0, help="data loader worker processes (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--cache", default=None, metavar="DIR", help="face crop cache folder (default: the signfer cache); 'none' keeps no crops on disk")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars and per-epoch lines")


def recipe_arguments(p) -> None:
    """How a recipe is trained on the data (`signfer train` / `cv` / `ablation` / `regions` / `sweep`); see :func:`recipe_overrides`."""
    p.add_argument("--folds", type=int, default=None, help="k of the grouped k-fold split (default: the recipe's, 5; for an existing run, its own)")
    data_format_argument(p)
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


def recipe_overrides(args) -> list[str]:
    """The recipe overrides of :func:`recipe_arguments`: the --set items, then --pretrained's."""
    overrides = list(args.overrides)
    if args.pretrained is not None:
        none = args.pretrained.strip().lower() in ("none", "null", "random")
        overrides += ["pretrained=null", "init_from=null"] if none else [f"pretrained={args.pretrained}"]
    if getattr(args, "select_on", None):
        overrides.append(f"select_on={args.select_on}")
    if getattr(args, "split", None):
        overrides.append(f"split={args.split}")
    return overrides


def training_options(args) -> dict:
    overrides = recipe_overrides(args)
    if args.init_from is not None:
        none = args.init_from.strip().lower() in ("none", "null")
        overrides.append("init_from=null" if none else f"init_from={args.init_from}")
    if args.region:
        overrides.append(f"region={args.region}")
    cache = None if args.cache is None else (False if args.cache.strip().lower() == "none" else Path(args.cache))
    return dict(folds=args.folds, data_format=args.data_format, overrides=overrides, resume=args.resume, device=args.device,
                progress=not args.no_progress, workers=args.workers, threads=args.threads, cache_dir=cache)


def engine_arguments(p) -> None:
    """Where the jobs of `signfer sweep` / `annotate-corpus` run: this machine or a Ray cluster."""
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="local: processes on this machine (default); ray: a Ray cluster (the [cluster] extra)")
    p.add_argument("--address", default=None, metavar="HOST:PORT", help="with --engine ray: the cluster's address (default: $RAY_ADDRESS, else a Ray started on this machine)")
