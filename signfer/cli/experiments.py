"""``signfer explain``, ``occlusion``, ``ablation``, ``regions``, ``transfer``: the 2025 paper's experiments."""

from __future__ import annotations

from pathlib import Path


from signfer.cli.common import csv_list, data_format_argument, training_arguments, training_options


def add_explain(sub) -> None:
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


def add_occlusion(sub) -> None:
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
    data_format_argument(p, help="format of --data (default: the run's)")
    p.add_argument("--fill", type=csv_list, default=["zero", "gaussian", "mean"], metavar="F,...", help="fills, comma-separated: zero, gaussian, mean (default: all)")
    p.add_argument("--region", type=csv_list, default=["upper", "lower", "eyes", "mouth"], metavar="R,...", help="regions, comma-separated: upper, lower, eyes, mouth (default: all)")
    p.add_argument("--fold-list", type=lambda t: [int(x) for x in csv_list(t)], default=None, metavar="K,...", help="folds to test (default: every trained fold)")
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


def add_ablation(sub) -> None:
    p = sub.add_parser(
        "ablation",
        help="histogram-equalisation ablation: one recipe with equalisation on, off, after rotation, mean/std, same folds",
        description="Run `signfer cv` of the recipe once per colour variant, all on the same folds (OUT/folds.csv): "
        "equalize (per-channel histogram equalisation before the eye rotation, the 2025 paper), no_equalization, "
        "equalize_after_rotation and standardize (per-channel mean/std clipped at 2.5 SD). Writes OUT/<variant>/ run "
        "dirs and OUT/ablation.md / ablation.csv: one row per variant with k-fold mean (std) and the per-fold "
        "differences from the first variant (mean and fold-to-fold std). Training options as `signfer cv`.",
    )
    training_arguments(p, cv=True)
    p.add_argument("--variants", type=csv_list, default=None, metavar="V,...", help="subset of equalize,no_equalization,equalize_after_rotation,standardize (default: all; the first is the reference)")
    p.set_defaults(func=_run_ablation)


def _run_ablation(args) -> int:
    from signfer.experiments.paper2025 import ablation

    table = ablation(args.recipe, args.data, args.out, variants=args.variants, **training_options(args))
    print(f"{len(table)} variant(s) on the same folds; {args.out / 'ablation.md'}")
    return 0


def add_regions(sub) -> None:
    p = sub.add_parser(
        "regions",
        help="train and test full / upper-half / lower-half face models on the same folds, vs the 2025 paper",
        description="Run `signfer cv` of the recipe once per face region (the aligned crop, its upper half, its lower "
        "half), all on the same folds, and write OUT/regions.md / regions.csv: k-fold mean (std) of each region model "
        "beside the published 83.8 / 77.9 / 79.6 % mean sensitivity and the human upper-face reference "
        "(68.34 % hearing, 60.17 % deaf observers). Training options as `signfer cv` (--region is ignored: see --regions).",
    )
    training_arguments(p, cv=True)
    p.add_argument("--regions", type=csv_list, default=["full", "upper", "lower"], metavar="R,...", help="face regions (default: full,upper,lower)")
    p.set_defaults(func=_run_regions)


def _run_regions(args) -> int:
    from signfer.experiments.paper2025 import regions

    options = training_options(args)
    options["overrides"] = [o for o in options["overrides"] if not o.startswith("region=")]  # each run has its own region
    table = regions(args.recipe, args.data, args.out, face_regions=args.regions, **options)
    print(f"{int((table['kind'] == 'run').sum())} region model(s); {args.out / 'regions.md'}")
    return 0


def add_transfer(sub) -> None:
    p = sub.add_parser(
        "transfer",
        help="test a trained model on another data set without fine-tuning, with and without equalisation",
        description="Test MODEL (a checkpoint, or every fold of a run dir) on every image of DATA with the model's own "
        "preprocessing, once with histogram equalisation and once without. Labels the model does not know are dropped. "
        "Writes OUT/transfer.csv (per model and setting) and OUT/transfer.md (mean (std) over the folds' models).",
    )
    p.add_argument("model", metavar="MODEL", help="run dir (every fold_<k>/best.pt) or .pt checkpoint")
    p.add_argument("--data", type=Path, required=True, help="the other data set")
    data_format_argument(p, default="feph", help="format of --data (default: %(default)s)")
    p.add_argument("--policy", default="easier2025", help="FePh label policy: easier2025 or sltat2022 (default: %(default)s)")
    p.add_argument("--colour", type=csv_list, default=["equalize", "no_equalization"], metavar="C,...", help="colour settings: equalize, no_equalization (default: both)")
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
