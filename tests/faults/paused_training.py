"""``python -m tests.faults.paused_training LAST MARKER signfer-args...``: a ``signfer`` command whose training, after its
first optimiser step of epoch 2 (``LAST``, epoch 1's checkpoint, exists), creates the file ``MARKER`` and waits to be
signalled. Tests kill it mid-epoch 2 on that event, never after a sleep (also under torchrun: every rank pauses)."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    import signfer.training.loop as loop
    from signfer.cli import main as signfer_main

    last, marker = Path(argv[0]), Path(argv[1])
    step = loop.train_step

    def paused(*args, **kwargs):
        out = step(*args, **kwargs)
        if last.exists():
            marker.touch()
            time.sleep(600)  # SIGTERM raises out of the sleep (signfer's handler); SIGKILL ends it
        return out

    loop.train_step = paused
    return signfer_main(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
