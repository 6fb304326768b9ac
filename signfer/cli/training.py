"""``signfer train``, ``cv``, ``report`` and ``sweep``: published recipes, k folds, tables, many jobs."""

from __future__ import annotations

import sys
from pathlib import Path

from signfer.errors import OptionError

from signfer.cli.common import csv_list, engine_arguments, recipe_arguments, recipe_overrides, training_arguments, training_options


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train one fold of a recipe (M0-M2, E0-E2, easier2025, ...) and test it",
        description="Train a published recipe (a YAML file in signfer/configs/recipes/) on one fold of a grouped k-fold split "
        "of the data and test it on that fold. Writes RUN_DIR/run.yaml, folds.csv and fold_<k>/ with best.pt "
        "(best validation metric), last.pt (for --resume), history.csv (one row per epoch), predictions.csv and "
        "metrics.json. Without real pretrained weights (offline), run any recipe with --pretrained none.",
    )
    training_arguments(p, cv=False)
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
        metrics = train_from_elan(pairs, args.recipe, args.out, data_dir=args.data, tier=args.tier, fold=args.fold, force=args.force, **training_options(args))
    elif args.data is None:
        raise OptionError("signfer train needs --data (or --from-elan FILE.eaf VIDEO)")
    else:
        metrics = train(args.recipe, args.data, args.out, fold=args.fold, **training_options(args))
    mean = metrics.get("mean_sensitivity")
    print(f"fold {args.fold}: accuracy {metrics['accuracy']:.3f}, mean sensitivity "
          f"{'n/a' if mean is None else f'{mean:.3f}'} on {metrics['n']} test images; run in {args.out / f'fold_{args.fold}'}")
    if (metrics.get("selection") or {}).get("optimistic"):
        print("note: the checkpoint was chosen on the test fold (--select-on test, the published protocol): optimistic")
    return 0


def add_cv(sub) -> None:
    p = sub.add_parser(
        "cv",
        help="k-fold cross-validation of a recipe: every fold, then the summary table",
        description="Train and test a recipe on each fold of a grouped k-fold split (frames of one video never on both "
        "sides), as `signfer train` does for one fold, then write RUN_DIR/summary.csv and summary.md: accuracy, "
        "per-class sensitivity, mean sensitivity and its variance per fold with their mean and std. "
        "--resume keeps finished folds and continues an interrupted one.",
    )
    training_arguments(p, cv=True)
    p.set_defaults(func=_run_cv)


def _run_cv(args) -> int:
    from signfer.training.cv import run_cv

    summary = run_cv(args.recipe, args.data, args.out, **training_options(args))
    mean, std = summary.loc["mean"], summary.loc["std"]
    print(f"{len(summary) - 2} folds: accuracy {mean['acc']:.1f} ({std['acc']:.1f}) %, mean sensitivity "
          f"{mean['avg_sens']:.1f} ({std['avg_sens']:.1f}) %; table in {args.out / 'summary.md'}")
    protocol = summary.attrs.get("protocol") or {}
    if protocol.get("optimistic"):
        from signfer.evaluation.summary import protocol_label

        print(f"note: {protocol_label(protocol)}: the published protocol, figures are optimistic")
    return 0


def add_report(sub) -> None:
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
    p.add_argument("--names", type=csv_list, default=None, metavar="A,B,...", help="display names of the runs, comma-separated, one per RUN_DIR (default: folder names)")
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


def add_sweep(sub) -> None:
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
    p.add_argument("--recipes", type=csv_list, required=True, metavar="R,...", help="recipe names or YAML files, comma-separated")
    p.add_argument("--data", type=Path, required=True, help="data set folder (as for signfer train)")
    p.add_argument("--out", type=Path, required=True, help="sweep folder")
    p.add_argument("--regions", type=csv_list, default=None, metavar="R,...", help="train each recipe on each of these face regions (full,upper,lower; default: the recipe's own)")
    p.add_argument("--fold-list", type=lambda s: [int(x) for x in csv_list(s)], default=None, metavar="K,...", help="train only these folds (default: all)")
    recipe_arguments(p)  # for every job
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="jobs running at once on this machine (default: %(default)s)")
    p.add_argument("--nproc-per-job", type=int, default=1, metavar="P", help="data-parallel processes per job (torchrun --standalone; one GPU each on GPU machines) (default: %(default)s)")
    p.add_argument("--gpus", type=csv_list, default=None, metavar="0,1,...", help="GPU ids to share out: each running job gets --nproc-per-job of them (CUDA_VISIBLE_DEVICES)")
    engine_arguments(p)
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
                                  fold_list=args.fold_list, data_format=args.data_format, overrides=recipe_overrides(args),
                                  workers=args.jobs, nproc_per_job=args.nproc_per_job, gpus=args.gpus, engine=args.engine,
                                  address=args.address, gpus_per_job=args.gpus_per_job, device=args.device, threads=args.threads, cache=args.cache, summary_only=args.summary_only)
    except Stopped as exc:
        print(f"signfer sweep: {exc}", file=sys.stderr)
        return 143
    counts = jobs["status"].value_counts().to_dict() if len(jobs) else {}
    print("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none") + f"; summary {args.out / 'sweep_summary.md'}")
    return 1 if counts.get("failed") else 0
