"""Every exception type for failures that are the user's to fix (a bad file, option, model or missing extra).

The command line prints these as one line and exits 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os


class UserError(Exception):
    """A failure the user can fix; its message says what and, where it helps, how."""


class MissingExtra(UserError):
    """A feature that needs an optional dependency group (``pip install "signfer[EXTRA]"``)."""

    def __init__(self, what: str, extra: str, module: str | None = None):
        self.what, self.extra, self.module = what, extra, module
        need = f" ({module} is not installed)" if module else ""
        super().__init__(f"{what} needs the [{extra}] extra{need}: pip install \"signfer[{extra}]\"")


def require(module: str, what: str, extra: str):
    """Import ``module`` or raise :class:`MissingExtra` naming the extra that brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(what, extra, module) from None


class OptionError(UserError, ValueError):
    """A bad value for an option or argument (also a ``ValueError``, for callers that catch that)."""


class UnknownName(UserError, KeyError):
    """A name (preset, recipe, class, region, ...) that is not known; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(UserError):
    """A user input (image, video, label file) that cannot be used; the message names it."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class InvalidImage(UserError, ValueError):
    """An array (or object) given as an image that is none: ``None``, wrong shape, not numbers."""


class WeightsUnavailable(UserError, OSError):
    """The requested weights could not be had; the message says which file is needed and where to put it.

    ``reason``: the short cause (no advice), for messages that combine several attempts.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class QuantizationRefused(UserError):
    """The int8 model disagrees with the float32 one beyond the allowed threshold; nothing was written."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


class PickleNotTrusted(UserError, ValueError):
    """A whole pickled model would have to be unpickled (which runs code from the file) without ``trust_pickle=True``."""


class OutputInUse(UserError):
    """Another running signfer process owns the output folder (its lock file names the process)."""


class ExportMismatch(UserError, RuntimeError):
    """An ONNX export that computes something else than the PyTorch model (nothing was written)."""
