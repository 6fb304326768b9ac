"""Training throughput (images/s) per backbone: signfer's training step and epoch next to bare timm forward+backward.

Rows per architecture:

* ``timm fwd+bwd``   bare timm model, random batch, cross-entropy forward + backward + Adam step (the ceiling);
* ``signfer step``   :func:`signfer.training.loop.train_step` on the same batches (Adam);
* ``signfer SAM``    the same step with SAM(Adam): two forward/backward passes, so about half;
* ``signfer epoch``  :func:`signfer.training.loop.run_epoch` over a synthetic FePh-layout set read through
  ``FaceDataset`` (PNG decode, resize, normalisation, random flips; crop cache on disk), so data loading counts.

    python benchmarks/training_speed.py                                    # 224 px, batch 16, 10 steps
    python benchmarks/training_speed.py --image-size 64 --steps 2 --batch-size 8 --archs mobilenetv2_100
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def images_per_second(step, n_steps: int, batch: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(n_steps):
        step()
    return n_steps * batch / (time.perf_counter() - t)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", default="mobilenetv2_100,efficientnet_b0,mobilenetv1_100", help="comma-separated registry archs (default: %(default)s)")
    p.add_argument("--image-size", type=int, default=224, help="input size in pixels (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=16, help="batch size (default: %(default)s, the 2025 recipe's)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per row (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    args = p.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from signfer.data.feph import load_feph
    from signfer.data.synthetic import make_synthetic_feph
    from signfer.models.registry import create_model, default_spec
    from signfer.training.loop import make_dataset, make_loader, run_epoch, train_step
    from signfer.training.prepare import resolve_device
    from signfer.training.recipes import Recipe
    from signfer.training.sam import SAM

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    b, size = args.batch_size, args.image_size
    x = torch.randn(b, 3, size, size, device=device)
    y = torch.arange(b, device=device) % 7

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    with tempfile.TemporaryDirectory() as tmp:
        n_images = b * (args.steps + args.warmup)
        root = make_synthetic_feph(Path(tmp) / "feph", n_sequences=7 * max(1, -(-n_images // 28)), frames_per_sequence=4,
                                   size=(size, size), awkward_rows=False)
        df, _ = load_feph(root)
        rows = []
        for arch in [a.strip() for a in args.archs.split(",") if a.strip()]:
            torch.manual_seed(0)
            model = create_model(arch, 7).to(device).train()
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)

            def bare():
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sync()

            def step():
                train_step(model, x, y, opt)
                sync()

            sam = SAM(model.parameters(), torch.optim.Adam, rho=0.05, lr=1e-4)

            def sam_step():
                train_step(model, x, y, sam)
                sync()

            ref = images_per_second(bare, args.steps, b, args.warmup)
            rows.append((arch, "timm fwd+bwd", ref, ref))
            rows.append((arch, "signfer step", images_per_second(step, args.steps, b, args.warmup), ref))
            rows.append((arch, "signfer SAM", images_per_second(sam_step, args.steps, b, args.warmup), ref))

            recipe = Recipe(name="bench", arch=arch, image_size=size, batch_size=b, hflip=True, preset="none")
            spec = default_spec(arch, list(recipe.class_names()))
            loader = make_loader(make_dataset(recipe, spec, df.iloc[:n_images], train=True, cache_dir=Path(tmp) / "crops"),
                             recipe, True, 0, torch.Generator().manual_seed(0))
            run_epoch(model, loader, opt, device=device)  # fills the crop cache
            t = time.perf_counter()
            run_epoch(model, loader, opt, device=device)
            sync()
            rows.append((arch, "signfer epoch", min(n_images, len(df)) / (time.perf_counter() - t), ref))

    print(f"\ntraining throughput, {size}x{size}, batch {b}, {args.steps} steps, device {device}, {args.threads} thread(s)\n")
    print(f"| {'arch':<18} | {'mode':<14} | {'images/s':>9} | {'vs timm':>7} |")
    print(f"|{'-' * 20}|{'-' * 16}|{'-' * 11}|{'-' * 9}|")
    for arch, mode, ips, ref in rows:
        print(f"| {arch:<18} | {mode:<14} | {ips:9.1f} | {ips / ref:6.2f}x |")


if __name__ == "__main__":
    main()
