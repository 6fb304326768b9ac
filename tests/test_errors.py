"""Every user-facing error type lives in signfer.errors, and each one is a UserError (printed as one line, exit 2)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import signfer
from signfer import errors

ROOT = Path(signfer.__file__).parent
#: exception classes that are control flow inside one module, never shown to a user
INTERNAL = {"PickleRefused", "_Terminated", "Stopped", "WorkerDied"}


def test_no_error_type_is_defined_outside_the_errors_module():
    elsewhere = []
    for path in ROOT.rglob("*.py"):
        if path.name == "errors.py" and path.parent == ROOT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name not in INTERNAL:
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if any(b.endswith(("Error", "Exception", "Refused")) or b in {n for n, _ in inspect.getmembers(errors, inspect.isclass)} for b in bases):
                    elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert elsewhere == []


def test_every_error_type_is_a_user_error():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert len(classes) >= 8
    assert all(issubclass(c, errors.UserError) for c in classes), [c for c in classes if not issubclass(c, errors.UserError)]
