"""Running a test body inside a private network namespace with only loopback up (for anything that starts Ray).

Ray replaces 127.0.0.1 with the machine's network address; inside a namespace whose only
interface is ``lo`` it finds no other address and stays on loopback, and nothing can leave the
machine. The namespace also gets its own process-id space (``--pid --fork --mount-proc``): every
process started inside (Ray's daemons included) is killed by the kernel when the body ends, and
``ray stop --force`` there sees only this test's Ray processes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid

ENV_FLAG = "SIGNFER_TEST_NETNS"

#: for every Ray process of a test: no usage reports, and token authentication with a token of this test run only
#: (set explicitly, so Ray neither reads nor writes ~/.ray/auth_token, which would break later ``ray start --address``)
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex}


def netns_command(argv: list[str]) -> list[str]:
    """``argv`` run inside a fresh network + pid namespace, after ``ip link set lo up``; this file's :func:`init` is
    its process 1 (it reaps the daemons Ray leaves behind, so ``ray stop`` sees them exit instead of waiting on zombies)."""
    return ["unshare", "--net", "--pid", "--fork", "--mount-proc", sys.executable, __file__, *map(str, argv)]


def init(argv: list[str]) -> int:
    """Process 1 of the namespace: bring up loopback, run ``argv``, reap every orphan, return ``argv``'s exit code."""
    up = subprocess.run(["ip", "link", "set", "lo", "up"])
    if up.returncode != 0:
        return 97
    child = subprocess.Popen(argv)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 98
        if pid == child.pid:
            return os.waitstatus_to_exitcode(status)


def netns_unavailable() -> str | None:
    """Why a private network namespace cannot be made here (None when it can)."""
    for tool in ("unshare", "ip", "bash"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed: cannot create a private network namespace for Ray"
    try:
        probe = subprocess.run(netns_command(["true"]), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create a private network namespace for Ray: {exc}"
    if probe.returncode != 0:
        return f"cannot create a private network namespace for Ray (needs root or user namespaces): {probe.stderr.strip()[-300:]}"
    return None


def inside() -> bool:
    return os.environ.get(ENV_FLAG) == "1"


def only_loopback() -> bool:
    """True when this process's network namespace has no interface but ``lo``."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


if __name__ == "__main__":
    sys.exit(init(sys.argv[1:]))
