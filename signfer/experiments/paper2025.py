"""The 2025 paper's follow-up experiments on trained models and run directories.

- :func:`occlusion_run` (``signfer occlusion``): a trained full-face model on its test folds with
  one face region hidden by zeros, Gaussian noise or the data set's mean colour.
- :func:`ablation` (``signfer ablation``): one recipe with histogram equalisation on, off, after
  the rotation instead of before, and the mean/std alternative, on the same folds.
- :func:`regions` (``signfer regions``): full / upper-half / lower-half face models on the same
  folds, compared with the paper's numbers and the human upper-face reference.
- :func:`transfer` (``signfer transfer``): a model trained on one data set tested on another
  without fine-tuning, with and without equalisation.

Every experiment trains through :func:`signfer.training.cv.run_cv` and scores through
:mod:`signfer.evaluation`; this module only arranges variants, folds and tables.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from signfer.errors import OptionError
from signfer.evaluation.summary import format_mean_std, markdown_table, percent
from signfer.explain.masks import FILLS, REGIONS
from signfer.io import InputError, atomic_write
from signfer.models.weights import sha256sum

#: ``signfer ablation`` variants: name -> preset overrides. The first is the paper's pipeline,
#: the reference the others are compared with.
ABLATION_VARIANTS: dict[str, dict] = {
    "equalize": {"colour": "equalize", "colour_order": "before_rotation"},
    "no_equalization": {"colour": "none"},
    "equalize_after_rotation": {"colour": "equalize", "colour_order": "after_rotation"},
    "standardize": {"colour": "standardize", "colour_order": "before_rotation"},
}

#: ``signfer transfer`` colour settings applied to the target data: name -> preset overrides.
TRANSFER_COLOURS: dict[str, dict] = {
    "equalize": {"colour": "equalize"},
    "no_equalization": {"colour": "none"},
}

#: The 2025 paper's rows shown beside region models (``signfer/configs/reference/easier2025.yaml`` row names).
REGION_REFERENCE_ROWS = ("full face", "upper half", "lower half", "human, upper face, hearing", "human, upper face, deaf")


# --------------------------------------------------------------------------- shared helpers
def read_run(run_dir: str | os.PathLike) -> tuple[dict, "Recipe"]:  # noqa: F821
    """``(run.yaml content, Recipe)`` of a run directory written by ``signfer train`` / ``signfer cv``."""
    import yaml

    from signfer.training.recipes import Recipe

    run_dir = Path(run_dir)
    path = run_dir / "run.yaml"
    if not path.exists():
        raise InputError(run_dir, "not a run directory (no run.yaml; train it with `signfer cv` or `signfer train`)")
    info = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if "recipe" not in info:
        raise InputError(path, "has no 'recipe' entry")
    return info, Recipe.from_dict(info["recipe"])


def _device(device):
    from signfer.training.prepare import resolve_device

    return resolve_device(device)


def _predict(model, spec, df: pd.DataFrame, class_names, *, normalize=None, overrides=None, size=None, region=None,
             batch_size: int = 32, device="cpu", workers: int = 0, cache_dir=None) -> dict:
    """Metrics of ``model`` on the images of ``df`` preprocessed as its spec says (``overrides`` on top),
    each batch passed through ``normalize`` (default ``spec.normalize``)."""
    import torch
    from torch.utils.data import DataLoader

    from signfer.data.dataset import FaceDataset
    from signfer.data.labels import map_probabilities
    from signfer.evaluation.metrics import classification_metrics
    from signfer.training.loop import predict_logits, warnings_quiet

    ds = FaceDataset(df, class_names, preset=spec.preset, region=region or spec.region, size=size or spec.input_size,
                     normalize=normalize or spec.normalize, overrides={**(spec.preset_overrides or {}), **(overrides or {})} or None,
                     cache_dir=cache_dir)
    logits, _ = predict_logits(model.to(device), DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers), device)
    probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    if tuple(spec.class_names) != tuple(class_names):
        probs = map_probabilities(probs, spec.class_names, class_names)
    pred = [class_names[i] for i in probs.argmax(1)]
    with warnings_quiet():
        return classification_metrics(df["label"].astype(str).tolist(), pred, class_names)


# --------------------------------------------------------------------------- occlusion
def _run_data(run_dir: Path, info: dict, recipe, data, data_format) -> pd.DataFrame:
    """The run's data with its saved folds (``data`` replaces the path in run.yaml, e.g. after a move)."""
    from signfer.data.folds import load_folds
    from signfer.training.prepare import load_data

    data = data or info.get("data")
    if not data:
        raise InputError(run_dir / "run.yaml", "names no data set; pass --data PATH")
    df = load_data(data, data_format or info.get("data_format") or recipe.data_format, recipe)
    return load_folds(run_dir / "folds.csv", df)


def occlusion_run(
    run_dir: str | os.PathLike,
    data: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    *,
    fills: Sequence[str] = FILLS,
    regions: Sequence[str] = REGIONS,
    folds: Sequence[int] | None = None,
    data_format: str | None = None,
    seed: int = 0,
    batch_size: int = 32,
    device: str = "auto",
    workers: int = 0,
    cache_dir=None,
    progress: bool = True,
    example: bool = True,
) -> pd.DataFrame:
    """Occlusion robustness of a trained full-face run (``signfer occlusion RUN_DIR``).

    For every trained fold (or ``folds``), its ``best.pt`` is tested on the fold's test images
    unoccluded and with each ``region`` (upper, lower, eyes, mouth) filled by each ``fill``
    (``zero``, ``gaussian`` noise seeded with ``seed``, ``mean`` = the mean colour of that fold's
    training crops). Regions are those of :func:`signfer.explain.masks.layout_for_preset` for
    the model's preset. Writes to ``out`` (default ``RUN_DIR/occlusion``): ``occlusion.csv`` (one
    row per fold, fill and region: n, accuracy, mean sensitivity in percent, and the RGB mean colour
    used by the ``mean`` fill), ``occlusion.md``
    (mean sensitivity per fill and region, mean (std) over folds, and its drop from the unoccluded
    model) and ``occlusion_masks.png`` (a test face under every mask). Returns the per-fold table.
    """
    from signfer.data.dataset import FaceDataset
    from signfer.data.folds import fold_split
    from signfer.explain.masks import (
        Occluder,
        dataset_mean_colour,
        layout_for_preset,
        occlusion_figure,
    )
    from signfer.inference.recognizer import preset_for_spec
    from signfer.models.checkpoint import load_checkpoint

    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "occlusion"
    bad = [f for f in fills if f not in FILLS] + [r for r in regions if r not in REGIONS]
    if bad:
        raise OptionError(f"unknown fill or region {bad}; fills: {', '.join(FILLS)}; regions: {', '.join(REGIONS)}")
    info, recipe = read_run(run_dir)
    df = _run_data(run_dir, info, recipe, data, data_format)
    class_names = list(recipe.class_names())
    trained = sorted(int(p.parent.name.split("_")[1]) for p in run_dir.glob("fold_*/best.pt") if p.parent.name.split("_")[1].isdigit())
    use = trained if folds is None else [int(k) for k in folds]
    missing = [k for k in use if k not in trained]
    if not use or missing:
        raise InputError(run_dir, f"no trained model for fold(s) {missing or 'any'} (fold_<k>/best.pt); trained: {trained}")
    device = _device(device)
    rows = []
    for k in use:
        model, spec, _ = load_checkpoint(run_dir / f"fold_{k}" / "best.pt")
        if spec.region != "full":
            raise OptionError(f"{run_dir}: occlusion needs a full-face model; this one was trained on the {spec.region} face")
        layout = layout_for_preset(preset_for_spec(spec))
        train_part, test = fold_split(df, k)
        crops = FaceDataset(train_part, class_names, preset=spec.preset, size=spec.input_size,
                            overrides=spec.preset_overrides or None, cache_dir=cache_dir)
        colour = dataset_mean_colour(crops.crop(i) for i in range(len(crops)))
        if progress:
            print(f"fold {k}: {len(test)} test images, mean colour of {len(train_part)} training crops "
                  f"{tuple(int(round(c)) for c in colour)}")
        settings = [("none", "none")] + [(f, r) for f in fills for r in regions]
        for fill, region in settings:
            occluder = Occluder(None if region == "none" else region, None if fill == "none" else fill,
                                layout=layout, mean_colour=colour, seed=seed)
            m = _predict(model, spec, test, class_names, normalize=lambda b, o=occluder, s=spec: s.normalize(o(b)),
                         batch_size=batch_size, device=device, workers=workers, cache_dir=cache_dir)
            rows.append({"fold": k, "fill": fill, "region": region, "n": m["n"], "accuracy": percent(m["accuracy"]),
                         "mean_sensitivity": percent(m["mean_sensitivity"]),
                         "fill_colour": " ".join(f"{c:.2f}" for c in colour) if fill == "mean" else ""})
            if progress:
                print(f"  {fill:>8} {region:>5}: mean sensitivity {rows[-1]['mean_sensitivity']:.1f} %")
        if example and k == use[0] and len(test):
            face = FaceDataset(test.iloc[:1], class_names, preset=spec.preset, size=spec.input_size,
                               overrides=spec.preset_overrides or None, cache_dir=cache_dir).crop(0)
            occlusion_figure(face, out / "occlusion_masks.png", regions=regions, fills=fills, mean_colour=colour,
                             layout=layout, seed=seed, title=f"{run_dir.name} fold {k}: {Path(test['path'].iloc[0]).name}")
    table = pd.DataFrame(rows)
    with atomic_write(out / "occlusion.csv") as fh:
        table.to_csv(fh, index=False, float_format="%.4f")
    with atomic_write(out / "occlusion.md") as fh:
        fh.write(occlusion_markdown(table, run_dir.name, has_example=example))
    return table


def occlusion_summary(table: pd.DataFrame, metric: str = "mean_sensitivity") -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """(mean, std over folds) of ``metric`` as fill x region tables, and the unoccluded mean and std."""
    base = table[(table["fill"] == "none") & (table["region"] == "none")][metric]
    occ = table[table["fill"] != "none"]
    grouped = occ.groupby(["fill", "region"], sort=False)[metric]
    mean = grouped.mean().unstack("region")
    std = grouped.std(ddof=1).unstack("region")
    order_r = [r for r in REGIONS if r in mean.columns]
    order_f = [f for f in FILLS if f in mean.index]
    return mean.loc[order_f, order_r], std.loc[order_f, order_r], float(base.mean()), float(base.std(ddof=1))


def occlusion_markdown(table: pd.DataFrame, name: str = "run", has_example: bool = True) -> str:
    """``occlusion.md``: mean sensitivity per fill and region, and its drop from the unoccluded model."""
    mean, std, base, base_std = occlusion_summary(table)
    folds = table["fold"].nunique()
    drops = table[table["fill"] != "none"].merge(
        table[table["fill"] == "none"][["fold", "mean_sensitivity"]].rename(columns={"mean_sensitivity": "base"}), on="fold")
    drops["drop"] = drops["base"] - drops["mean_sensitivity"]
    drop_mean = drops.groupby(["fill", "region"])["drop"].mean().unstack("region").reindex(index=mean.index, columns=mean.columns)
    drop_std = drops.groupby(["fill", "region"])["drop"].std(ddof=1).unstack("region").reindex(index=mean.index, columns=mean.columns)
    lines = [f"# Occlusion robustness: {name}", "",
             f"Mean sensitivity (percent) of the trained model on its test folds with one face region hidden; "
             f"mean (std) over {folds} fold(s). Unoccluded: {format_mean_std(base, base_std)}.", "",
             markdown_table(["fill \\ region", *mean.columns],
                            [[f, *[format_mean_std(mean.loc[f, r], std.loc[f, r]) for r in mean.columns]] for f in mean.index]),
             "", "Drop in mean sensitivity (percentage points) from the unoccluded model, mean (std) over folds:", "",
             markdown_table(["fill \\ region", *mean.columns],
                            [[f, *[format_mean_std(drop_mean.loc[f, r], drop_std.loc[f, r]) for r in mean.columns]] for f in mean.index]),
             "", "Fills: zero = black; gaussian = noise N(127.5, 64) clipped, seeded; mean = the mean colour of the "
             "fold's training crops. Regions: upper / lower half of the aligned crop (split as the preset cuts its "
             "half-face models), eyes (with brows) and mouth boxes of the preset's typical face layout."]
    if has_example:
        lines += ["", "![every mask on one test face](occlusion_masks.png)"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- variants on the same folds
def shared_folds(recipe, data, out: str | os.PathLike, *, folds: int | None = None, data_format: str | None = None) -> Path:
    """``out/folds.csv``: the folds every variant of an experiment uses (made once, then reused)."""
    from signfer.data.folds import load_folds, make_folds, save_folds
    from signfer.training.prepare import load_data, resolve_recipe

    recipe = resolve_recipe(recipe)
    path = Path(out) / "folds.csv"
    df = load_data(data, data_format or recipe.data_format, recipe)
    if path.exists():
        load_folds(path, df)  # raises if the data changed
        return path
    save_folds(make_folds(df, int(folds or recipe.folds), seed=recipe.seed), path)
    return path


def run_variants(recipe, data, out: str | os.PathLike, variants: Mapping[str, Mapping], *, folds: int | None = None,
                 data_format: str | None = None, overrides: Mapping | Sequence[str] | None = None, **cv_options) -> dict[str, Path]:
    """Run ``signfer cv`` of ``recipe`` once per variant (name -> recipe overrides) into ``out/<name>``,
    all on the folds of :func:`shared_folds`. ``overrides`` (a dict or ``key=value`` strings) change the
    recipe for every variant. ``cv_options`` go to :func:`signfer.training.cv.run_cv` (``resume``,
    ``device``, ``progress``, ``workers``, ``threads``, ``cache_dir``)."""
    from signfer.training.cv import run_cv
    from signfer.training.prepare import resolve_recipe

    out = Path(out)
    base = resolve_recipe(recipe, (dict(overrides) if isinstance(overrides, Mapping) else list(overrides)) if overrides else None)
    folds_csv = shared_folds(base, data, out, folds=folds, data_format=data_format)
    k = int(pd.read_csv(folds_csv)["fold"].max()) + 1
    dirs = {}
    for name, variant in variants.items():
        run_dir = out / name
        run_dir.mkdir(parents=True, exist_ok=True)
        target = run_dir / "folds.csv"
        if not target.exists():
            shutil.copyfile(folds_csv, target)
        elif sha256sum(target) != sha256sum(folds_csv):
            raise OptionError(f"{target} differs from {folds_csv}: this variant was run on other folds; choose a new --out")
        if cv_options.get("progress", True):
            print(f"==== variant {name}: {dict(variant)}")
        run_cv(base, data, run_dir, folds=k, data_format=data_format, overrides=dict(variant) or None, **cv_options)
        dirs[name] = run_dir
    return dirs


def _fold_figures(run_dir: Path) -> pd.DataFrame:
    from signfer.evaluation.summary import summarize_run

    s = summarize_run(run_dir, write=False)
    return s.loc[[i for i in s.index if str(i).startswith("fold_")]]


def variants_table(run_dirs: Mapping[str, str | os.PathLike], reference: str | None = None,
                   settings: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """One row per variant: k-fold mean and std of accuracy, mean sensitivity and sensitivity variance,
    and the paired per-fold differences from the ``reference`` variant (mean and fold-to-fold std),
    with the SHA-256 of each variant's folds file. Percent (``sens_var`` a fraction: here the mean (std) over folds of each
    fold's variance among classes, signfer.evaluation.summary's ``fold_sens_var``, not the 2025 paper's figure)."""
    names = list(run_dirs)
    reference = reference or names[0]
    figures = {n: _fold_figures(Path(d)) for n, d in run_dirs.items()}
    ref = figures[reference]
    rows = {}
    for name, fig in figures.items():
        row = {"setting": ", ".join(f"{k}={v}" for k, v in (settings or {}).get(name, {}).items()), "folds": len(fig)}
        for col in ("acc", "avg_sens", "sens_var"):
            row[col], row[f"{col}_std"] = float(fig[col].mean()), float(fig[col].std(ddof=1))
        common = fig.index.intersection(ref.index)
        for col in ("acc", "avg_sens"):
            diff = fig.loc[common, col] - ref.loc[common, col]
            row[f"d_{col}"], row[f"d_{col}_std"] = float(diff.mean()), float(diff.std(ddof=1)) if len(diff) > 1 else math.nan
        folds_csv = Path(run_dirs[name]) / "folds.csv"
        row["folds_sha256"] = sha256sum(folds_csv) if folds_csv.exists() else ""
        row["run_dir"] = str(run_dirs[name])
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "variant"
    table.attrs["reference"] = reference
    return table


def variants_markdown(table: pd.DataFrame, title: str, notes: Sequence[str] = ()) -> str:
    """A :func:`variants_table` as Markdown: mean (std) over folds and differences from the reference."""
    ref = table.attrs.get("reference", table.index[0])
    same = table["folds_sha256"].nunique() == 1
    body = []
    for name, r in table.iterrows():
        body.append([name, r["setting"], str(int(r["folds"])), format_mean_std(r["acc"], r["acc_std"]), format_mean_std(r["avg_sens"], r["avg_sens_std"]),
                     format_mean_std(r["sens_var"], r["sens_var_std"], 3),
                     "reference" if name == ref else format_mean_std(r["d_acc"], r["d_acc_std"]),
                     "reference" if name == ref else format_mean_std(r["d_avg_sens"], r["d_avg_sens_std"])])
    lines = [f"# {title}", "",
             markdown_table(["variant", "setting", "folds", "acc.", "avg. sens.", "mean fold sens. var.", f"Δ acc. vs {ref}", f"Δ avg. sens. vs {ref}"], body),
             "", "- Percent; mean (std) over the test folds. Δ: per-fold difference from the reference variant, "
             "mean (fold-to-fold std), percentage points.",
             "- " + ("Every variant ran on the same folds (folds.csv SHA-256 " + table["folds_sha256"].iloc[0][:12] + "...)."
                     if same else "WARNING: the variants ran on different folds (see folds_sha256 in the CSV).")]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def ablation(recipe, data, out: str | os.PathLike, *, variants: Mapping[str, Mapping] | Sequence[str] | None = None,
             folds: int | None = None, data_format: str | None = None, overrides: Mapping | Sequence[str] | None = None,
             **cv_options) -> pd.DataFrame:
    """Histogram-equalisation ablation (``signfer ablation``): ``recipe`` once per colour variant on the same folds.

    ``variants``: names of :data:`ABLATION_VARIANTS` (default all: ``equalize`` before the
    rotation, the paper's; ``no_equalization``; ``equalize_after_rotation``; ``standardize``,
    per-channel mean/std clipped at 2.5 SD) or a mapping name -> preset overrides. Each runs into
    ``out/<variant>``; ``out/ablation.csv`` and ``out/ablation.md`` hold one row per variant with
    the differences from the first. Returns that table.
    """
    if variants is None:
        chosen = dict(ABLATION_VARIANTS)
    elif isinstance(variants, Mapping):
        chosen = {k: dict(v) for k, v in variants.items()}
    else:
        unknown = [v for v in variants if v not in ABLATION_VARIANTS]
        if unknown:
            raise OptionError(f"unknown ablation variant(s) {unknown}; known: {', '.join(ABLATION_VARIANTS)}")
        chosen = {v: ABLATION_VARIANTS[v] for v in variants}
    from signfer.training.prepare import resolve_recipe

    recipe_overrides = {name: {f"preset_overrides.{k}": v for k, v in ov.items()} for name, ov in chosen.items()}
    dirs = run_variants(recipe, data, out, recipe_overrides, folds=folds, data_format=data_format, overrides=overrides, **cv_options)
    table = variants_table(dirs, settings=chosen)
    out = Path(out)
    with atomic_write(out / "ablation.csv") as fh:
        table.to_csv(fh, float_format="%.6g")
    with atomic_write(out / "ablation.md") as fh:
        fh.write(variants_markdown(table, f"Histogram-equalisation ablation: {resolve_recipe(recipe).name}", [
            "equalize: per-channel histogram equalisation before the eye rotation (arXiv 2507.20197); "
            "equalize_after_rotation: after it, so the black rotation corners enter the histogram; "
            "no_equalization: no colour step; standardize: per-channel mean/std clipped at 2.5 SD."]))
    return table


# --------------------------------------------------------------------------- region models
def region_report(runs: Mapping[str, str | os.PathLike], out: str | os.PathLike | None = None) -> pd.DataFrame:
    """Full / upper / lower face runs side by side (k-fold mean (std)) with the 2025 paper's rows
    (83.8 / 77.9 / 79.6 % mean sensitivity) and the human upper-face reference (68.34 % hearing,
    60.17 % deaf observers), in :func:`signfer.evaluation.summary.kfold_table` layout. With ``out``
    writes ``regions.csv`` (that table) and ``regions.md`` (headline table, then per class)."""
    from signfer.evaluation.summary import kfold_table, to_markdown

    table = kfold_table({name: Path(d) for name, d in runs.items()}, reference="easier2025")
    keep = [i for i in table.index if table.loc[i, "kind"] == "run" or any(str(i).endswith(" " + r) for r in REGION_REFERENCE_ROWS)]
    table = table.loc[keep]
    if out is None:
        return table
    out = Path(out)
    with atomic_write(out / "regions.csv") as fh:
        table.to_csv(fh, float_format="%.6g")
    full = table.loc["full", "avg_sens"] if "full" in table.index else math.nan
    body = []
    for name, r in table.iterrows():
        is_run = r["kind"] == "run"
        digits = 1 if is_run else 2
        sens = format_mean_std(r["avg_sens"], r["avg_sens_std"] if is_run else None, digits)
        if not is_run:
            sens = f"{r['avg_sens']:g}"
        delta = format_mean_std(r["avg_sens"] - full) if is_run and name != "full" and not math.isnan(full) else ""
        body.append([str(name), "this run" if is_run else "published", sens, delta, format_mean_std(r["acc"], r["acc_std"]) if is_run else "",
                     str(int(r["folds"])) if is_run else "", str(r["source"]) if is_run else ""])
    lines = ["# Face-region models", "",
             markdown_table(["model", "kind", "mean sensitivity", "Δ vs full", "accuracy", "folds", "run dir"], body), "",
             "- Percent; runs: mean (std) over the test folds, all region models on the same folds. Mean sensitivity "
             "(avg. sens.) is the 2025 paper's measure.",
             "- Published rows (arXiv 2507.20197) are not computed here: the paper's full / upper-half / lower-half "
             "MobileNetV2 models (83.8 / 77.9 / 79.6 %) and the human recognition rates of upper-face expressions it "
             "quotes (68.34 % hearing, 60.17 % deaf observers).", "", "## Per class", "", to_markdown(table)]
    with atomic_write(out / "regions.md") as fh:
        fh.write("\n".join(lines) + "\n")
    return table


def regions(recipe, data, out: str | os.PathLike, *, face_regions: Sequence[str] = ("full", "upper", "lower"),
            folds: int | None = None, data_format: str | None = None, overrides: Mapping | Sequence[str] | None = None,
            **cv_options) -> pd.DataFrame:
    """Train and test one model per face region (``signfer regions``) on the same folds, then :func:`region_report`.

    Runs go to ``out/<region>``; the report to ``out/regions.md`` / ``regions.csv``.
    """
    bad = [r for r in face_regions if r not in ("full", "upper", "lower")]
    if bad:
        raise OptionError(f"unknown face region(s) {bad}; use full, upper, lower")
    dirs = run_variants(recipe, data, out, {r: {"region": r} for r in face_regions}, folds=folds, data_format=data_format,
                        overrides=overrides, **cv_options)
    return region_report(dirs, out)


# --------------------------------------------------------------------------- cross-data-set transfer
def _model_checkpoints(model: str | os.PathLike, fold: int | None) -> list[tuple[str, Path]]:
    path = Path(model)
    if path.is_dir():
        found = sorted(path.glob("fold_*/best.pt"), key=lambda p: p.parent.name)
        if fold is not None:
            found = [p for p in found if p.parent.name == f"fold_{fold}"]
        if not found and (path / "best.pt").exists():
            found = [path / "best.pt"]
        if not found:
            raise InputError(path, "holds no trained model (fold_<k>/best.pt)" + (f" for fold {fold}" if fold is not None else ""))
        return [(p.parent.name, p) for p in found]
    if not path.exists():
        raise InputError(path, "model checkpoint or run directory does not exist")
    return [(path.stem, path)]


def transfer(model: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, *, data_format: str = "feph",
             policy: str = "easier2025", colours: Mapping[str, Mapping] | Sequence[str] | None = None, fold: int | None = None,
             batch_size: int = 32, device: str = "auto", workers: int = 0, cache_dir=None, progress: bool = True) -> pd.DataFrame:
    """Test a trained model on another data set without fine-tuning (``signfer transfer``).

    ``model``: a checkpoint or a run directory (every fold's ``best.pt``, or ``fold``). ``data`` in
    ``data_format`` (``feph`` read with ``policy``, ``affectnet``, ``folder``) is read with the
    model's classes (labels it does not know are dropped); every image is tested, with the
    model's own preprocessing and each colour setting of ``colours`` (default
    :data:`TRANSFER_COLOURS`: with and without histogram equalisation). Writes ``out/transfer.csv``
    (one row per model and setting: n, accuracy, mean sensitivity, per-class sensitivity, percent)
    and ``out/transfer.md`` (mean (std) over the models). Returns the table.
    """
    from signfer.inference.recognizer import preset_for_spec
    from signfer.models.checkpoint import load_checkpoint
    from signfer.training.prepare import load_data
    from signfer.training.recipes import Recipe

    if colours is None:
        colours = dict(TRANSFER_COLOURS)
    elif not isinstance(colours, Mapping):
        unknown = [c for c in colours if c not in TRANSFER_COLOURS]
        if unknown:
            raise OptionError(f"unknown colour setting(s) {unknown}; known: {', '.join(TRANSFER_COLOURS)}")
        colours = {c: TRANSFER_COLOURS[c] for c in colours}
    checkpoints = _model_checkpoints(model, fold)
    device = _device(device)
    rows, df = [], None
    for name, ckpt in checkpoints:
        net, spec, _ = load_checkpoint(ckpt)
        if df is None:
            reader = Recipe(name="transfer", arch=spec.arch, classes=list(spec.class_names), data_format=data_format, policy=policy)
            df = load_data(data, data_format, reader)
            if progress:
                print(f"{data}: {len(df)} images of {df['label'].nunique()} classes")
        classes = list(spec.class_names)
        trained_colour = preset_for_spec(spec).colour
        for setting, ov in colours.items():
            m = _predict(net, spec, df, classes, overrides=dict(ov), batch_size=batch_size, device=device, workers=workers,
                         cache_dir=cache_dir)
            row = {"model": name, "checkpoint": str(ckpt), "colour": setting, "preset": spec.preset, "trained_colour": trained_colour,
                   "n": m["n"], "accuracy": percent(m["accuracy"]), "mean_sensitivity": percent(m["mean_sensitivity"])}
            row.update({f"sens_{c}": percent(v) for c, v in m["sensitivity"].items()})
            rows.append(row)
            if progress:
                print(f"  {name} {setting}: accuracy {row['accuracy']:.1f} %, mean sensitivity {row['mean_sensitivity']:.1f} %")
    table = pd.DataFrame(rows)
    out = Path(out)
    with atomic_write(out / "transfer.csv") as fh:
        table.to_csv(fh, index=False, float_format="%.4f")
    with atomic_write(out / "transfer.md") as fh:
        fh.write(transfer_markdown(table, str(model), str(data), data_format))
    return table


def transfer_markdown(table: pd.DataFrame, model: str, data: str, data_format: str) -> str:
    """``transfer.md``: per colour setting, mean (std) over the models of accuracy, mean sensitivity and per-class sensitivity."""
    sens_cols = [c for c in table.columns if c.startswith("sens_") and table[c].notna().any()]
    body = []
    for setting, sub in table.groupby("colour", sort=False):
        cells = [setting, str(len(sub)), str(int(sub["n"].iloc[0]))]
        cells += [format_mean_std(sub[c].mean(), sub[c].std(ddof=1) if len(sub) > 1 else None) for c in ("accuracy", "mean_sensitivity", *sens_cols)]
        body.append(cells)
    trained = ", ".join(sorted(set(map(str, table["trained_colour"])))) if "trained_colour" in table else "?"
    lines = [f"# Cross-data-set transfer: {Path(model).name} on {Path(data).name} ({data_format})", "",
             "No fine-tuning: the trained model tested on every image of the other data set, preprocessed with the "
             f"model's preset and the colour setting of each row (the model was trained with colour: {trained}). "
             "Percent; mean (std) over the models (folds).", "",
             markdown_table(["colour", "models", "images", "acc.", "avg. sens.", *[c[5:] for c in sens_cols]], body), ""]
    return "\n".join(lines)
