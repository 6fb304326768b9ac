"""The ``signfer`` command line: one module per command group; each command parses its arguments and calls one
library function. :data:`COMMANDS` lists the commands in the order ``--help`` shows them."""

from __future__ import annotations

import argparse
import sys

from signfer.cli import annotate, demo, experiments, faces, models, training

#: every command, in --help order: the base install's first, then training and evaluation, experiments, scale
COMMANDS = [
    ("demo", demo.add_demo),
    ("preprocess", faces.add_preprocess),
    ("annotate", annotate.add_annotate),
    ("annotate-corpus", annotate.add_annotate_corpus),
    ("export", models.add_export),
    ("weights", models.add_weights),
    ("train", training.add_train),
    ("cv", training.add_cv),
    ("report", training.add_report),
    ("regions", experiments.add_regions),
    ("ablation", experiments.add_ablation),
    ("transfer", experiments.add_transfer),
    ("occlusion", experiments.add_occlusion),
    ("explain", experiments.add_explain),
    ("sweep", training.add_sweep),
]

#: modules a command needs beyond the base install, with the extra that brings them
COMMAND_NEEDS = {
    **{c: (("torch", "timm", "sklearn"), "train") for c in ("train", "cv", "regions", "ablation", "transfer", "occlusion", "sweep")},
    "explain": (("torch", "timm", "pytorch_grad_cam", "matplotlib"), "train"),
    "report": (("sklearn", "matplotlib"), "train"),
    "export": (("torch", "onnx"), "train"),
}
#: top-level modules of the optional extras: an ImportError naming one of them is a missing extra, not a bug
EXTRA_OF_MODULE = {"torch": "train", "timm": "train", "sklearn": "train", "safetensors": "train", "h5py": "train",
                   "onnx": "train", "pytorch_grad_cam": "train", "matplotlib": "train", "mtcnn": "train",
                   "torchvision": "train", "ai_edge_litert": "mediapipe", "ray": "cluster"}


def build_parser() -> argparse.ArgumentParser:
    from signfer import __version__

    parser = argparse.ArgumentParser(
        prog="signfer",
        description="Facial expression recognition for sign-language video. The base install preprocesses and "
        "annotates (ONNX Runtime, no PyTorch); training, evaluation, export and the experiments need "
        'pip install "signfer[train]".',
    )
    parser.add_argument("--version", action="version", version=f"signfer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for _name, add in COMMANDS:
        add(sub)
    return parser


def _check_extras(command: str) -> None:
    """Raise :class:`MissingExtra` before a command starts when its optional dependencies are not installed."""
    import importlib.util

    from signfer.errors import MissingExtra

    modules, extra = COMMAND_NEEDS.get(command, ((), None))
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(f"signfer {command}", extra, module)


class _Terminated(SystemExit):
    """SIGTERM (a job scheduler, torchrun, kill) turned into an exception, so open atomic writes are discarded."""


def _on_sigterm(signum, frame):
    raise _Terminated(128 + signum)


#: commands that continue an interrupted run when given the same arguments again, and how
RESUME_HINT = {"train": "rerun the same command with --resume to continue",
               "cv": "rerun the same command with --resume to continue",
               "sweep": "rerun the same command to continue (finished jobs are skipped)",
               "annotate": "rerun the same command to continue (inputs whose outputs are complete are skipped)",
               "annotate-corpus": "rerun the same command to continue (finished videos are skipped)"}


def _stopped_message(command: str, why: str) -> str:
    hint = RESUME_HINT.get(command, "rerun the command to start again")
    return f"signfer {command}: stopped by {why}; the files already written are complete, no partial file is left: {hint}"


def main(argv: list[str] | None = None) -> int:
    import signal

    from signfer.errors import MissingExtra, UserError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        previous = None
    try:
        _check_extras(args.command)
        return int(args.func(args) or 0)
    except UserError as exc:  # a bad file, option or missing extra: the message says what to do
        print(f"signfer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine's, not the code's: disk full, file too large, no permission (names the file)
        print(f"signfer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional dependency imported deep inside a command
        root = (exc.name or "").split(".")[0]
        if root not in EXTRA_OF_MODULE:
            raise
        print(f"signfer {args.command}: error: {MissingExtra(f'signfer {args.command}', EXTRA_OF_MODULE[root], root)}", file=sys.stderr)
        return 2
    except _Terminated as exc:
        print(_stopped_message(args.command, "SIGTERM"), file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:  # Ctrl-C: as SIGTERM, no traceback
        print("\n" + _stopped_message(args.command, "Ctrl-C"), file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

