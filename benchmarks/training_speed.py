"""Training throughput (images/s) per backbone: fp32 vs channels-last vs bf16 steps side by side, and epoch vs step.

Rows per architecture (every step row is :func:`signfer.training.loop.train_step` with Adam on the same batch):

* ``timm fwd+bwd``        bare timm model, fp32, contiguous: forward + cross-entropy + backward + Adam (the old baseline);
* ``step fp32``           signfer's step as it was before the precision options (fp32, contiguous);
* ``step channels-last``  fp32, model and batch in channels-last (NHWC) memory format;
* ``step bf16``           bf16 autocast, contiguous;
* ``step cl+bf16``        channels-last + bf16 autocast (``precision: bf16``; ``auto`` on CPU is fp32 + channels-last);
* ``SAM <mode>``          the step with SAM(Adam) in the automatic mode: two forward/backward passes, so about half;
* ``epoch <mode>``        :func:`signfer.training.loop.run_epoch` in the automatic mode over a synthetic FePh-layout
  set read through ``FaceDataset`` (PNG crop cache on disk, decoded crops kept in memory after the first
  epoch, batch normalised in one pass, random flips), so data loading counts; ``vs step`` compares it
  with the automatic mode's bare step.

The machine may be shared: the step modes are timed interleaved (one step of each mode, then again,
``--steps`` rounds) and each row gives the median and the best images/s; ``x fp32`` is the median
speed-up over ``step fp32``.

    python benchmarks/training_speed.py                                    # 224 px, batch 16, 10 rounds
    python benchmarks/training_speed.py --image-size 64 --steps 2 --batch-size 8 --archs mobilenetv2_100
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

MODES = {"step fp32": ("fp32", False), "step channels-last": ("fp32", True), "step bf16": ("bf16", False),
         "step cl+bf16": ("bf16", True)}
#: the optimiser's implementation (PyTorch's Adam: a loop over the tensors by default on CPU, ``foreach`` = one
#: multi-tensor kernel per op, ``fused`` = one fused kernel), tried on top of channels-last (``--optimizers``)
OPTIMIZER_MODES = {"step cl+foreach": ("fp32", True, {"foreach": True}), "step cl+fused": ("fp32", True, {"fused": True})}


def timed(step) -> float:
    t = time.perf_counter()
    step()
    return time.perf_counter() - t


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", default="mobilenetv2_100,efficientnet_b0,mobilenetv1_100", help="comma-separated registry archs (default: %(default)s)")
    p.add_argument("--image-size", type=int, default=224, help="input size in pixels (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=16, help="batch size (default: %(default)s, the 2025 recipe's)")
    p.add_argument("--steps", type=int, default=10, help="timed rounds (one step of every mode each) (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps of each mode first (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    p.add_argument("--no-epoch", action="store_true", help="skip the epoch rows")
    p.add_argument("--optimizers", action="store_true", help="also time Adam's foreach and fused implementations (channels-last)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (inductor) of the channels-last model "
                   "(compiling takes minutes on 2 cores; not counted)")
    args = p.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from signfer.data.feph import load_feph
    from signfer.samples.feph_layout import make_synthetic_feph
    from signfer.models.registry import create_model, default_spec
    from signfer.training.loop import make_dataset, make_loader, run_epoch, train_step
    from signfer.training.precision import Precision, resolve_precision
    from signfer.training.prepare import resolve_device
    from signfer.training.recipes import Recipe
    from signfer.training.sam import SAM

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    auto = resolve_precision("auto", "auto", device)
    modes = dict(MODES) if device.type == "cpu" else {"step fp32": ("fp32", False), "step channels-last": ("fp32", True),
                                                      f"step cl+{auto.precision}": (auto.precision, True)}
    auto_name = next((k for k, (pr, cl) in modes.items() if (pr, cl) == (auto.precision, auto.channels_last)), "step fp32")
    b, size = args.batch_size, args.image_size
    y = torch.arange(b, device=device) % 7

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        n_images = b * max(4, args.steps)
        root = make_synthetic_feph(Path(tmp) / "feph", n_sequences=7 * max(1, -(-n_images // 28)), frames_per_sequence=4,
                                   size=(size, size), awkward_rows=False)
        df, _ = load_feph(root)
        for arch in [a.strip() for a in args.archs.split(",") if a.strip()]:
            steps = {}

            def bare_step(model, x, opt):
                def run():
                    loss = F.cross_entropy(model(x), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sync()
                return run

            def make(name, precision_name=None, channels_last=False, sam=False, bare=False, opt_kw=None, compiled=False):
                torch.manual_seed(0)
                model = create_model(arch, 7).to(device).train()
                prec = Precision(precision_name or "fp32", channels_last, device.type)
                prec.prepare_model(model)
                x = prec.prepare_input(torch.randn(b, 3, size, size), device)
                opt = (SAM(model.parameters(), torch.optim.Adam, rho=0.05, lr=1e-4) if sam
                       else torch.optim.Adam(model.parameters(), lr=1e-4, **(opt_kw or {})))
                if compiled:
                    model = torch.compile(model)
                if bare:
                    steps[name] = bare_step(model, x, opt)
                else:
                    def run():
                        train_step(model, x, y, opt, precision=prec, scaler=None)
                        sync()
                    steps[name] = run
                return model, opt, prec

            make("timm fwd+bwd", bare=True)
            for name, (pr, cl) in modes.items():
                make(name, pr, cl)
            if args.optimizers:
                for name, (pr, cl, kw) in OPTIMIZER_MODES.items():
                    make(name, pr, cl, opt_kw=kw)
            if args.compile:
                make("step cl+compile", "fp32", True, compiled=True)
            make(f"SAM {auto_name[5:]}", auto.precision, auto.channels_last, sam=True)
            for step in steps.values():
                for _ in range(args.warmup):
                    step()
            times = {k: [] for k in steps}
            for _ in range(args.steps):
                for k, step in steps.items():
                    times[k].append(timed(step))
            med = {k: b / statistics.median(v) for k, v in times.items()}
            best = {k: b / min(v) for k, v in times.items()}
            for k in steps:
                rows.append((arch, k, med[k], best[k], med[k] / med["step fp32"], ""))
                print(f"{arch} {k}: median {med[k]:.1f}, best {best[k]:.1f} images/s", flush=True)

            if not args.no_epoch:
                model, opt, prec = make("epoch", auto.precision, auto.channels_last)
                recipe = Recipe(name="bench", arch=arch, image_size=size, batch_size=b, hflip=True, preset="none")
                spec = default_spec(arch, list(recipe.class_names()))
                loader = make_loader(make_dataset(recipe, spec, df.iloc[:n_images], train=True, cache_dir=Path(tmp) / "crops"),
                                     recipe, True, 0, torch.Generator().manual_seed(0))
                run_epoch(model, loader, opt, device=device, precision=prec)  # fills the crop caches (disk and memory)
                epochs = []
                for _ in range(2):
                    t = time.perf_counter()
                    run_epoch(model, loader, opt, device=device, precision=prec)
                    sync()
                    epochs.append(len(loader.dataset) / (time.perf_counter() - t))
                e = max(epochs)
                rows.append((arch, f"epoch {auto_name[5:]}", e, e, e / med["step fp32"], f"{e / med[auto_name]:.2f}x of its step"))

    print(f"\ntraining throughput, {size}x{size}, batch {b}, {args.steps} rounds, device {device}, {args.threads} thread(s); "
          f"automatic mode here: {auto.precision}{', channels-last' if auto.channels_last else ''}\n")
    print(f"| {'arch':<18} | {'mode':<20} | {'median img/s':>12} | {'best img/s':>10} | {'x fp32':>7} | {'epoch vs step':<18} |")
    print(f"|{'-' * 20}|{'-' * 22}|{'-' * 14}|{'-' * 12}|{'-' * 9}|{'-' * 20}|")
    for arch, mode, ips, top, ratio, note in rows:
        print(f"| {arch:<18} | {mode:<20} | {ips:12.1f} | {top:10.1f} | {ratio:6.2f}x | {note:<18} |")


if __name__ == "__main__":
    main()
