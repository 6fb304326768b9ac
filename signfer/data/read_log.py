"""What a data set reader kept and dropped, and why (every reader returns one)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from signfer.io import atomic_write

_EXAMPLES = 5


@dataclass
class DropReport:
    """Counts per drop reason, with a few example IDs each, for one reader call.

    ``source`` is the label file or folder read, ``rows`` the number of entries in it,
    ``kept`` how many reached the returned DataFrame, ``class_names`` the label vocabulary
    of the result (it may include classes with no image, e.g. contempt on FePh in the 2025
    setting), ``notes`` counts of things fixed on the way (e.g. ``.png`` suffix added), which
    cost no row.
    """

    source: str
    rows: int = 0
    kept: int = 0
    class_names: tuple[str, ...] = ()
    policy: str = ""
    dropped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def drop(self, reason: str, item: str, n: int = 1) -> None:
        self.dropped[reason] += n
        self._example(reason, item)

    def drop_many(self, reason: str, items) -> None:
        """Count every item of ``items`` under ``reason`` (the first few kept as examples)."""
        items = list(items)
        if items:
            self.dropped[reason] += len(items)
            for it in items[:_EXAMPLES]:
                self._example(reason, it)

    def note(self, what: str, item: str, n: int = 1) -> None:
        self.notes[what] += n
        self._example(what, item)

    def _example(self, key: str, item: str) -> None:
        ex = self.examples.setdefault(key, [])
        if len(ex) < _EXAMPLES:
            ex.append(str(item))

    @property
    def n_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    def to_frame(self) -> pd.DataFrame:
        """One row per reason: ``kind`` (dropped / note), ``reason``, ``count``, ``examples``."""
        rows = [("dropped", r, int(n), "; ".join(self.examples.get(r, []))) for r, n in sorted(self.dropped.items())]
        rows += [("note", r, int(n), "; ".join(self.examples.get(r, []))) for r, n in sorted(self.notes.items())]
        return pd.DataFrame(rows, columns=["kind", "reason", "count", "examples"])

    def to_csv(self, path: str | os.PathLike) -> None:
        with atomic_write(path) as fh:
            self.to_frame().to_csv(fh, index=False)

    def __str__(self) -> str:
        lines = [f"{self.source}: {self.rows} entries, kept {self.kept}, dropped {self.n_dropped}"
                 + (f" (policy {self.policy})" if self.policy else "")]
        for reason, n in sorted(self.dropped.items(), key=lambda kv: -kv[1]):
            lines.append(f"  dropped {n:6d}  {reason}   e.g. {', '.join(self.examples.get(reason, [])[:2])}")
        for what, n in sorted(self.notes.items(), key=lambda kv: -kv[1]):
            lines.append(f"  note    {n:6d}  {what}   e.g. {', '.join(self.examples.get(what, [])[:2])}")
        return "\n".join(lines)
