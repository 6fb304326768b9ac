"""Everything a training run needs before its first epoch: the recipe, the data with its folds, the run folder, the model."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import torch
import yaml
from torch import nn

from signfer.errors import OptionError
from signfer.io import InputError, atomic_write
from signfer.training.recipes import Recipe, apply_overrides, load_recipe

DATA_FORMATS = ("feph", "affectnet", "folder")
#: recipe fields added later, at the value every earlier run had (run.yaml written before them lacks them)
LATER_RECIPE_FIELDS = {"final_on_test": "best", "published": {}}


def resolve_recipe(recipe: str | os.PathLike | Recipe, overrides: dict | list[str] | None = None) -> Recipe:
    """A :class:`Recipe` from a name, a YAML path or a Recipe, with ``overrides`` applied."""
    if isinstance(recipe, Recipe):
        return Recipe.from_dict(apply_overrides(recipe.to_dict(), overrides)) if overrides else recipe
    return load_recipe(str(recipe), overrides)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# --------------------------------------------------------------------------- data and run folder
def load_data(data: str | os.PathLike, data_format: str, recipe: Recipe) -> pd.DataFrame:
    """The reader's table (path, label, group, source_id, ...) of ``data`` in ``data_format``, labels within the recipe's classes."""
    classes = recipe.class_names()
    if data_format == "feph":
        from signfer.data.feph import load_feph

        df, report = load_feph(data, policy=recipe.policy)
    elif data_format == "affectnet":
        from signfer.data.affectnet import load_affectnet

        df, report = load_affectnet(data, classes=classes)
    elif data_format == "folder":
        from signfer.data.folder import load_folder

        groups = Path(data) / "groups.csv"  # e.g. one group per ELAN annotation (signfer train --from-elan)
        df, report = load_folder(data, classes=classes, groups=groups if groups.is_file() else None)
    else:
        raise OptionError(f"data format must be one of {DATA_FORMATS}, got {data_format!r}")
    if len(df) == 0:
        raise InputError(data, f"no usable {data_format} images (dropped: {dict(report.dropped)})")
    outside = sorted(set(df["label"]) - set(classes))
    if outside:
        raise InputError(data, f"labels {outside} are not among the recipe's classes {list(classes)}")
    return df.reset_index(drop=True)


def _plain(obj):
    """YAML round trip: tuples become lists, so saved and new configurations compare equal."""
    return yaml.safe_load(yaml.safe_dump(obj, sort_keys=False))


def run_info(recipe: Recipe, data, data_format: str, k: int) -> dict:
    """The ``run.yaml`` content: resolved recipe, data, region, preset, seed, k, signfer version."""
    from signfer import __version__

    from signfer.faces.presets import get_preset

    return _plain({
        "recipe": recipe.to_dict(),
        "data": str(Path(data).resolve()),
        "data_format": data_format,
        "region": recipe.region,
        "preset": recipe.preset,
        "preset_fields": get_preset(recipe.preset).to_dict(),  # by value: a preset may change meaning later
        "seed": recipe.seed,
        "k": int(k),
        "signfer_version": __version__,
    })


def prepare_run(recipe: Recipe, data, out, *, folds: int | None = None, data_format: str | None = None) -> pd.DataFrame:
    """Read the data and set up ``out`` (``run.yaml``, ``folds.csv``); return the data with its ``fold`` column.

    A folder that already holds a trained fold must have been made with the same recipe, data,
    format and k (a ``ValueError`` lists what differs); its ``folds.csv`` is reused, so every
    fold and every resumed run sees the same split (a ``folds.csv`` put there beforehand is
    used too). A folder without any checkpoint yet (a run that failed before its first
    epoch) takes the new configuration.
    """
    from signfer.data.folds import load_folds, make_folds, save_folds

    out = Path(out)
    data_format = data_format or recipe.data_format
    run_yaml, folds_csv = out / "run.yaml", out / "folds.csv"
    saved = yaml.safe_load(run_yaml.read_text(encoding="utf-8")) if run_yaml.exists() else None
    if saved is not None and not any(out.glob("fold_*/*.pt")):  # nothing trained yet (e.g. weights were missing): start over
        saved = None
    k = int(folds or (saved or {}).get("k") or recipe.folds)
    grouped = recipe.split == "kfold"
    if not grouped:
        if data_format != "feph":
            raise InputError(data, f"split {recipe.split!r} is the 2025 code's FePh split; it needs --data-format feph")
        k = 1  # one test side
    info = run_info(recipe, data, data_format, k)
    if saved is not None:
        differ = [key for key in ("data", "data_format", "k") if saved.get(key) != info[key]]
        old_recipe = saved.get("recipe") or {}
        from signfer.training.precision import LEGACY

        old_recipe = {**LEGACY, **LATER_RECIPE_FIELDS, **old_recipe}  # runs made before these options: what they did
        from signfer.faces.presets import RENAMED

        if "preset_fields" not in saved and old_recipe.get("preset") in RENAMED:  # trained before the preset changed meaning
            old_recipe["preset"] = RENAMED[old_recipe["preset"]]
        inert = set(LATER_RECIPE_FIELDS) if info["recipe"].get("select_on") != "test" else set()  # only act under --select-on test
        differ += [f"recipe.{key}" for key in info["recipe"] if key not in inert and old_recipe.get(key) != info["recipe"][key]]
        if differ:
            hint = (f" (this run was trained with preset {old_recipe['preset']}: resume it with --set preset={old_recipe['preset']})"
                    if "recipe.preset" in differ else "")
            raise OptionError(f"{out} holds a run made with another configuration (differs in: {', '.join(differ)}){hint}; "
                             "choose a new --out")
    df = load_data(data, data_format, recipe)
    if df.attrs.get("grouping"):
        info["grouping"] = df.attrs["grouping"]  # run.yaml says which images count as one (never split across folds)
    if folds_csv.exists():
        df = load_folds(folds_csv, df, grouped=grouped)
        if int(df["fold"].max()) + 1 != k:
            raise InputError(folds_csv, f"holds {int(df['fold'].max()) + 1} test folds, not {k}; choose a new --out or remove this file")
    elif grouped:
        df = make_folds(df, k, seed=recipe.seed)
        save_folds(df, folds_csv)
    else:
        from signfer.data.feph import find_feph_files
        from signfer.data.folds import easier2025_split

        df = easier2025_split(df, find_feph_files(data)[0])
        save_folds(df, folds_csv, grouped=False)
    if saved is None:
        with atomic_write(run_yaml) as fh:
            yaml.safe_dump(info, fh, sort_keys=False)
    return df


def start_run(
    recipe: str | os.PathLike | Recipe,
    data,
    out,
    *,
    folds: int | None = None,
    data_format: str | None = None,
    overrides: dict | list[str] | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
) -> tuple[Recipe, pd.DataFrame, bool]:
    """The start of ``signfer train`` / ``signfer cv``: set torch's CPU ``threads``, join the process group
    under torchrun / accelerate launch (else nothing), resolve the recipe with ``overrides`` and set up
    ``out`` (:func:`prepare_run`; rank 0 first, the others read its files).

    Returns ``(recipe, data with its fold column, progress)``: ``progress`` stays on only in the main process.
    """
    from signfer.training import distributed

    if threads:
        torch.set_num_threads(int(threads))
    distributed.setup("gloo" if str(device).startswith("cpu") else None)
    progress = progress and distributed.is_main()
    recipe = settle_precision(resolve_recipe(recipe, overrides), out, device)
    with distributed.main_first():  # rank 0 writes run.yaml and folds.csv, the others read them
        df = prepare_run(recipe, data, out, folds=folds, data_format=data_format)
    return recipe, df, progress


def settle_precision(recipe: Recipe, out, device="auto") -> Recipe:
    """``recipe`` with ``precision: auto`` / ``channels_last: auto`` replaced by what they mean for this run.

    In a run folder that already holds a trained fold, ``auto`` keeps that run's mode (``fp32``
    without channels-last for runs made before these options), so ``--resume`` and later folds
    train as the first did; elsewhere :func:`signfer.training.precision.recipe_precision` decides
    for ``device``. Explicit values are kept (a run folder made in another mode refuses them).
    """
    from signfer.training.precision import LEGACY, recipe_precision

    if recipe.precision != "auto" and recipe.channels_last != "auto":
        return recipe
    run_yaml = Path(out) / "run.yaml"
    saved = None
    if run_yaml.exists() and any(Path(out).glob("fold_*/*.pt")):
        saved = {**LEGACY, **((yaml.safe_load(run_yaml.read_text(encoding="utf-8")) or {}).get("recipe") or {})}
    if saved is not None:
        chosen = {"precision": saved["precision"], "channels_last": saved["channels_last"]}
    else:
        chosen = recipe_precision(recipe, resolve_device(device)).to_dict()
    changes = {key: chosen[key] for key in ("precision", "channels_last") if getattr(recipe, key) == "auto"}
    return dataclasses.replace(recipe, **changes)


# --------------------------------------------------------------------------- model
def resolve_checkpoint(init_from: str | os.PathLike) -> Path:
    """The checkpoint file of ``init_from``: a ``.pt`` file, or a run folder (its ``best.pt`` or single ``fold_<k>/best.pt``)."""
    path = Path(init_from).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "best.pt").is_file():
            return path / "best.pt"
        found = sorted(path.glob("fold_*/best.pt"))
        if len(found) == 1:
            return found[0]
        if found:
            raise InputError(path, f"holds {len(found)} trained folds; give one checkpoint, e.g. {found[0]}")
    raise InputError(path, "init_from: no checkpoint here (expected a .pt file or a run folder with fold_<k>/best.pt). "
                     "Train that model first (e.g. `signfer train --recipe easier2025-affectnet --data AFFECTNET "
                     f"--data-format affectnet --out {path}`), pass --init-from PATH, or --pretrained none for random weights")


def reset_head(model: nn.Module, num_classes: int) -> None:
    """Replace the classifier by a freshly initialised one with ``num_classes`` outputs (timm ``reset_classifier``)."""
    if not hasattr(model, "reset_classifier"):
        raise OptionError(f"{type(model).__name__} has no reset_classifier(): cannot give it a new head")
    model.reset_classifier(num_classes)


def build_model(recipe: Recipe, class_names) -> tuple[nn.Module, "ModelSpec"]:  # noqa: F821
    """The starting model of ``recipe`` and its spec.

    From ``init_from`` (an earlier run's checkpoint), else ``pretrained`` weights, else random
    weights. Training recipes get a new head for ``class_names`` unless ``new_head`` keeps the
    starting head (``false``, or ``auto`` when its classes equal ``class_names``). A baseline
    (no stages) keeps the pretrained head; its classes (the registry's, else
    ``pretrained_classes``) are mapped onto ``class_names`` at prediction time. The spec takes
    the recipe's preset, region, image size and normalisation (else the starting weights' own).
    """
    from signfer.data.labels import get_classes
    from signfer.models.checkpoint import load_checkpoint
    from signfer.models.registry import create_model, default_spec, pretrained_classes
    from signfer.models.spec import IMAGENET_MEAN, IMAGENET_STD
    from signfer.models.weights import WeightsUnavailable

    class_names = tuple(class_names)
    if recipe.init_from:
        model, spec, _ = load_checkpoint(resolve_checkpoint(recipe.init_from))  # its own arch wins over recipe.arch
        model.train()
        head = tuple(spec.class_names)
    elif recipe.pretrained:
        known = pretrained_classes(recipe.pretrained, recipe.arch)
        head = tuple(known) if known else None  # None: ImageNet weights, a head without expression classes
    else:
        head = None
    if recipe.is_baseline:
        if head is None and recipe.pretrained and not recipe.init_from:
            raise OptionError(f"recipe {recipe.name} has no training stage, so its weights need an expression head; "
                             f"{recipe.pretrained!r} has none")
        head = head or (get_classes(recipe.pretrained_classes) if recipe.pretrained_classes else class_names)
        keep = True
    else:
        if recipe.new_head is False and head is not None and head != class_names:
            raise OptionError(f"recipe {recipe.name}: new_head is false but the starting head's classes {list(head)} "
                             f"differ from the recipe's {list(class_names)}")
        reuse = recipe.new_head == "reuse" and head is not None and len(head) == len(class_names)
        keep = head is not None and (recipe.new_head is False or reuse or (recipe.new_head in ("auto", "reuse") and head == class_names))
        if reuse:
            head = class_names  # output i keeps its weights and becomes class i of the recipe
    outputs = head if keep else class_names
    if recipe.init_from:
        if not keep:
            reset_head(model, len(outputs))
    else:
        try:
            model = create_model(recipe.arch, len(outputs), pretrained=recipe.pretrained, new_head=not keep)
        except WeightsUnavailable as exc:
            raise WeightsUnavailable(f"recipe {recipe.name}: {exc} (or run with --pretrained none to start from random weights)") from None
        spec = default_spec(recipe.arch, list(outputs), pretrained=recipe.pretrained)
    changes = dict(class_names=list(outputs), input_size=recipe.image_size, preset=str(recipe.preset),
                   preset_overrides=dict(recipe.preset_overrides), region=recipe.region)
    momentum = getattr(model, "bn_momentum", None) or spec.bn_momentum  # a Keras-origin model trains with Keras' BN momentum
    if momentum is not None and not recipe.is_baseline:
        from signfer.models.keras_mobilenet import set_bn_momentum

        set_bn_momentum(model, momentum)
        changes["bn_momentum"] = float(momentum)
    if recipe.normalization:
        changes["normalization"] = recipe.normalization
        if recipe.normalization == "imagenet":
            changes.update(mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if recipe.mean is not None:
        changes["mean"] = tuple(recipe.mean)
    if recipe.std is not None:
        changes["std"] = tuple(recipe.std)
    return model, dataclasses.replace(spec, **changes)
