"""Helpers for the scaling tests: a free TCP port for torchrun, and running a command in a fresh process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **kw.pop("env", {})}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, **kw)


def torchrun(nproc: int, *args) -> list:
    """``python -m torch.distributed.run`` with ``nproc`` local processes on a free port (CPU, gloo)."""
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
            "--master_port", str(free_port()), *map(str, args)]


@pytest.fixture
def signfer_cmd():
    return [sys.executable, "-m", "signfer.cli"]
