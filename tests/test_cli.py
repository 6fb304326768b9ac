"""The command line's contract: user errors are one line and exit 2, bugs keep their traceback, Ctrl-C is clean,
a command that needs an extra says which, and --help lists every command once, in one order."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from signfer import cli
from signfer.errors import UserError


def _fake_command(monkeypatch, func, name="demo"):
    real = cli.build_parser

    def parser():
        p = real()
        p._subparsers._group_actions[0].choices[name].set_defaults(func=func)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)


def test_user_error_is_one_line_exit_2(monkeypatch, capsys):
    def boom(args):
        raise UserError("that file is not a video")

    _fake_command(monkeypatch, boom)
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "signfer demo: error: that file is not a video"


def test_a_bug_keeps_its_traceback(monkeypatch):
    def bug(args):
        return {}["acc"]  # a KeyError from the code, not the user's fault

    _fake_command(monkeypatch, bug)
    with pytest.raises(KeyError, match="acc"):
        cli.main(["demo"])


def test_ctrl_c_is_a_clean_stop(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    _fake_command(monkeypatch, interrupted, name="cv")
    assert cli.main(["cv", "--recipe", "M2", "--data", "x", "--out", "y"]) == 130
    err = capsys.readouterr().err
    assert "stopped by Ctrl-C" in err and "--resume" in err and "Traceback" not in err


def test_missing_extra_is_named_before_the_command_runs(monkeypatch, capsys):
    ran = []
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    _fake_command(monkeypatch, lambda args: ran.append(1), name="train")
    assert cli.main(["train", "--recipe", "M2", "--data", "x", "--out", "y"]) == 2
    assert not ran
    assert capsys.readouterr().err.strip() == 'signfer train: error: signfer train needs the [train] extra (torch is not installed): pip install "signfer[train]"'


def test_import_error_of_an_extra_deep_inside_a_command(monkeypatch, capsys):
    def needs_ray(args):
        raise ModuleNotFoundError("No module named 'ray'", name="ray")

    _fake_command(monkeypatch, needs_ray)
    assert cli.main(["demo"]) == 2
    assert 'pip install "signfer[cluster]"' in capsys.readouterr().err


def test_help_lists_every_command_once_in_the_documented_order():
    parser = cli.build_parser()
    names = list(parser._subparsers._group_actions[0].choices)
    assert names == [name for name, _ in cli.COMMANDS] and len(set(names)) == len(names) == 15
    # every command a module of signfer.cli defines is in the explicit list
    import importlib
    import pkgutil

    adders = {f"{m.name}.{n}" for m in pkgutil.iter_modules(cli.__path__) if m.name != "__main__" for n in dir(importlib.import_module(f"signfer.cli.{m.name}"))
              if n.startswith("add_")}
    assert adders == {f"{add.__module__.rsplit('.', 1)[1]}.{add.__name__}" for _, add in cli.COMMANDS}
    out = subprocess.run([sys.executable, "-m", "signfer.cli", "regions", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "%%" not in out.stdout and "83.8 / 77.9 / 79.6 %" in " ".join(out.stdout.split())
