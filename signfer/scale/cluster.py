"""The same jobs as :mod:`signfer.scale.engine`, on a Ray cluster (the ``[cluster]`` extra).

* :func:`run_tasks_ray`: a fixed set of Ray **actors**, each holding one model (loaded once by the
  initializer, on a GPU when it asks for one), takes one whole input (a video) after another.
  Actors are created with ``max_restarts`` and ``max_task_retries``: when an actor's process or
  node dies, Ray starts it again (on any node with room) and re-runs the input it held; an input
  that kills its worker every time fails after the retries, alone. Used by
  ``signfer annotate-corpus --engine ray``.
* :func:`run_commands_ray`: each job (a command line, e.g. ``signfer train --fold K --resume`` or a
  ``torchrun --standalone`` of it) runs as a Ray **task** that asks for the CPUs and GPUs of its
  processes; Ray places it on a node with room (``CUDA_VISIBLE_DEVICES`` set by Ray) and runs
  it again if its node is lost (the job resumes from its ``last.pt``). Used by ``signfer sweep --engine ray``.

Both keep the ledger of :mod:`signfer.scale.engine` (done markers, ``jobs.csv`` /
``corpus_log.csv``) on the driver, so a restart skips finished work whichever engine ran it.
Inputs, outputs and the ledger must be on a file system every node sees at the same path.
Ray is imported only here, only when one of these runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from signfer.errors import UserError, require
from signfer.scale.engine import (
    CommandJob,
    Ledger,
    Stopped,
    Task,
    WorkerDied,
    plan_commands,
    plan_tasks,
    record_command,
    record_task,
    stop_on_signals,
)

#: retries of an input / job whose worker (process or node) died, after the first attempt
RETRIES = 2


def _ray():
    return require("ray", "running on a Ray cluster (--engine ray)", "cluster")


#: seconds to wait for the head node of a Ray cluster to accept a connection before ``ray.init`` (which retries for minutes)
CONNECT_TIMEOUT_S = 10.0


def check_reachable(address: str, where: str = "--address", timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`UserError` naming ``address`` (and where it came from) unless its ``host:port`` accepts a TCP
    connection within ``timeout`` seconds. ``auto`` and addresses without a port are left to Ray."""
    import socket

    target = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or address == "auto":
        return
    host = host.strip("[]") or "127.0.0.1"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc)).lower()
        raise UserError(f"cannot reach the Ray cluster at {address} (from {where}): {reason}; "
                        "start it (`ray start --head`) or give the head node's address") from None


@contextlib.contextmanager
def ray_session(address: str | None = None, *, log: Callable[[str], None] = print):
    """Connect to the Ray cluster at ``address`` (``host:port``, ``auto`` or ``ray://...``), or start a
    local one on this machine when ``address`` is None and ``RAY_ADDRESS`` is unset; disconnect after."""
    ray = _ray()
    if ray.is_initialized():  # already connected (e.g. by a caller): use it as it is
        yield ray
        return
    given = address
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        check_reachable(address, "--address" if given else "$RAY_ADDRESS")
    kw = {"include_dashboard": False} if address is None else {}
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING", **kw)
    except ConnectionError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    try:
        res = ray.cluster_resources()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        log(f"Ray cluster {address or '(local)'}: {len(nodes)} node(s), {res.get('CPU', 0):g} CPU(s), {res.get('GPU', 0):g} GPU(s)")
        yield ray
    finally:
        ray.shutdown()


def _node() -> str:
    """The Ray node id (short) of the calling worker."""
    import ray

    return ray.get_runtime_context().get_node_id()[:12]


class _Worker:
    """A Ray actor: runs ``initializer(*initargs)`` once (e.g. loads a model), then ``work(payload)`` per input."""

    def __init__(self, initializer: Callable | None, initargs: tuple):
        if initializer is not None:
            initializer(*initargs)

    def ready(self) -> int:
        return os.getpid()

    def run(self, work: Callable[[Any], dict], payload: Any) -> dict:
        result = dict(work(payload) or {})
        result.setdefault("node", _node())
        return result


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


def default_workers(cpus_per_worker: float, gpus_per_worker: float) -> int:
    """As many workers as the cluster has room for (its GPUs when workers ask for GPUs, else its CPUs)."""
    import ray

    res = ray.cluster_resources()
    if gpus_per_worker:
        n = int(res.get("GPU", 0) // gpus_per_worker)
        if n < 1:
            raise UserError(f"the Ray cluster has {res.get('GPU', 0):g} GPU(s); a worker asks for {gpus_per_worker:g}")
        return n
    return max(1, int(res.get("CPU", 1) // max(cpus_per_worker, 1e-9)))


def run_tasks_ray(
    tasks: Sequence[Task],
    ledger: Ledger,
    work: Callable[[Any], dict],
    *,
    workers: int | None = None,
    initializer: Callable | None = None,
    initargs: tuple = (),
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    is_done: Callable[[Task], bool] | None = None,
    retries: int = RETRIES,
    address: str | None = None,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """:func:`signfer.scale.engine.run_tasks` on Ray: ``workers`` actors (default: as many as fit) of
    ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs, one input in flight per actor (so a dead
    actor costs only the input it held). Returns this run's rows; raises :class:`Stopped` on SIGTERM / Ctrl-C."""
    rows, todo = plan_tasks(tasks, ledger, is_done, log)
    stop = threading.Event()
    if not todo:
        return pd.DataFrame(list(rows.values()))
    with ray_session(address, log=log) as ray, stop_on_signals(stop):
        from ray.exceptions import RayActorError, RayTaskError

        n = min(len(todo), int(workers or default_workers(cpus_per_worker, gpus_per_worker)))
        actor_cls = ray.remote(_Worker).options(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=-1,
                                                max_task_retries=int(retries))
        actors = [actor_cls.remote(initializer, initargs) for _ in range(n)]
        log(f"{n} Ray worker(s), {cpus_per_worker:g} CPU(s)" + (f" and {gpus_per_worker:g} GPU(s)" if gpus_per_worker else "") + " each")
        queue = deque(todo)
        inflight: dict = {}

        def submit(actor) -> None:
            task = queue.popleft()
            inflight[actor.run.remote(work, task.payload)] = (task, actor, time.perf_counter())

        for actor in actors:
            if queue:
                submit(actor)
        first = [actor.ready.remote() for actor in actors]
        ray.wait(first, num_returns=1)  # one worker up (or its start failed: say why, once, not once per input)
        for ref in first:
            ready, _ = ray.wait([ref], timeout=0)
            if ready:
                try:
                    ray.get(ref)
                except RayActorError as e:
                    if getattr(e, "actor_init_failed", False):
                        for a in actors:
                            with contextlib.suppress(Exception):
                                ray.kill(a)
                        raise UserError(f"the Ray workers could not start: {_last_line(e)}") from None
        while inflight and not stop.is_set():
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
            for ref in ready:
                task, actor, t0 = inflight.pop(ref)
                result, exc = None, None
                try:
                    result = ray.get(ref)
                except RayActorError as e:  # its process / node died on every attempt (or it could not start)
                    exc = WorkerDied(f"; tried {retries + 1} time(s): {_last_line(e)[:300]}")
                except RayTaskError as e:
                    exc = e.cause if isinstance(getattr(e, "cause", None), BaseException) else e
                record_task(task, ledger, rows, result, exc, time.perf_counter() - t0, log)
                if queue and not stop.is_set():
                    submit(actor)
        if stop.is_set():
            for actor in actors:  # stops the inputs in flight; their staging folders are cleared by the next run
                with contextlib.suppress(Exception):
                    ray.kill(actor)
    if stop.is_set():
        raise Stopped("stopped by a signal; finished inputs are kept, rerun the same command to continue")
    return pd.DataFrame(list(rows.values()))


def _run_command(argv: list[str], log: str, env: dict[str, str], grace_seconds: float) -> dict:
    """Runs on a Ray worker: the job's process (its own session), output appended to ``log``; stops it on cancel."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(log, "ab") as out:
        out.write(f"\n=== {started} on {os.uname().nodename} (Ray node {_node()}) {' '.join(argv)}\n".encode("utf-8", "backslashreplace"))
        out.flush()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **env}, start_new_session=True)
        try:
            rc = proc.wait()
        finally:  # cancelled (KeyboardInterrupt) or the worker is going down: stop the job and its children
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(grace_seconds)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
    return {"returncode": rc, "started": started, "pid": proc.pid, "node": _node(),
            "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", "")}


def run_commands_ray(
    jobs: Sequence[CommandJob],
    ledger: Ledger,
    *,
    cpus_per_job: float = 1,
    gpus_per_job: float = 0,
    retries: int = RETRIES,
    grace_seconds: float = 20.0,
    address: str | None = None,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """:func:`signfer.scale.engine.run_commands` on Ray: each job a task of ``cpus_per_job`` CPUs and
    ``gpus_per_job`` GPUs (Ray runs as many at once as the cluster has room for). A job whose
    worker or node dies runs again (up to ``retries`` times); a job that exits non-zero is recorded
    as failed, as on one machine. Raises :class:`Stopped` on SIGTERM / Ctrl-C (running jobs are stopped)."""
    rows, todo = plan_commands(jobs, ledger, log)
    stop = threading.Event()
    if not todo:
        return pd.DataFrame(list(rows.values()))
    with ray_session(address, log=log) as ray, stop_on_signals(stop):
        from ray.exceptions import RayError

        remote = ray.remote(_run_command).options(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=int(retries))
        inflight = {remote.remote(job.argv, str(job.log), job.env, grace_seconds): (job, time.perf_counter()) for job in todo}
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
            if stop.is_set():
                for ref in inflight:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref)  # KeyboardInterrupt in the task: it stops its process
                ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=grace_seconds + 5)
            for ref in ready:
                job, t0 = inflight.pop(ref)
                seconds = round(time.perf_counter() - t0, 2)
                try:
                    out = ray.get(ref)
                except RayError as e:
                    out = {"returncode": -1, "started": "", "error_detail": f"{type(e).__name__}"}
                rc = int(out.pop("returncode"))
                row = record_command(job, ledger, rc, seconds, out.pop("started", ""), stopped=stop.is_set(), log=log, **out)
                rows[job.id] = row
            if stop.is_set():
                for ref, (job, _) in inflight.items():
                    rows[job.id] = {"job": job.id, "status": "interrupted", "error": "stopped by a signal; rerun to continue", **job.info}
                    ledger.record(rows[job.id])
                break
    if stop.is_set():
        raise Stopped("stopped by a signal; finished jobs are kept, rerun the same command to continue")
    return pd.DataFrame(list(rows.values()))


__all__ = ["RETRIES", "default_workers", "ray_session", "run_commands_ray", "run_tasks_ray"]
