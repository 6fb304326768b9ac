"""The one exception type for failures that are the user's to fix (a bad file, option or missing extra).

The command line prints these as one line and exits 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


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
