"""Worker functions for tests/scale/test_engine.py (importable by spawned worker processes)."""

from __future__ import annotations

import os
import time

STATE = {}


def init(tag: str) -> None:
    STATE["tag"] = tag
    STATE["pid"] = os.getpid()


def work(payload: dict) -> dict:
    if payload.get("crash"):
        os._exit(3)  # the worker process dies, as in a segfaulting decoder
    if payload.get("fail"):
        raise ValueError(f"{payload['name']}: bad input")
    time.sleep(payload.get("sleep", 0))
    with open(payload["out"], "w") as fh:
        fh.write(STATE["tag"])
    return {"status": "ok", "pid": STATE["pid"]}
