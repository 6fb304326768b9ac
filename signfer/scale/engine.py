"""Running many jobs in parallel, restartably: a job ledger with done markers, and two ways to run jobs.

* :func:`run_commands`: one operating-system process per job (each job a command line, e.g.
  ``signfer train ... --fold 3`` or a ``torchrun`` of it), at most ``workers`` at a time.
  Used by ``signfer sweep``.
* :func:`run_tasks`: a pool of long-lived worker processes (:mod:`concurrent.futures`, spawn
  start method) that load their state once (e.g. a model) and take one input after another.
  A worker that dies (a decoder crash) costs only its own input: the pool is rebuilt and the
  rest goes on. Used by ``signfer annotate-corpus``.

Both keep the same :class:`Ledger` in a folder of the run: ``done/<job>.json`` is written
(atomically) only after a job's outputs are complete, so a restart skips exactly the
finished jobs, and ``jobs.csv`` records every job of every run (status ``ok`` / ``failed`` /
``skipped``, exit code, seconds, the reason of a failure, the log file). Beyond one machine the
same jobs run on a Ray cluster (:mod:`signfer.scale.cluster`), keeping this ledger.

A SIGTERM or Ctrl-C of the driver stops the running jobs (SIGTERM to each, then SIGKILL after
a grace period) and writes the ledger before it exits; nothing finished is lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

from signfer.io import atomic_write

LEDGER_COLUMNS = ["job", "status", "returncode", "seconds", "started", "error", "log", "host", "pid"]


def job_id(*parts: Any, label: str | None = None) -> str:
    """A file-name-safe, stable id for a job made of ``parts``: a readable prefix (``label``, default the parts) + a short hash."""
    text = "|".join(str(p) for p in parts)
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", label if label is not None else "-".join(str(p) for p in parts))[:80].strip("_")
    return f"{slug}-{hashlib.sha1(text.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def write_marker(path: str | os.PathLike, job: str, info: dict | None = None) -> None:
    """A done marker: ``{"job", "finished", **info}`` written atomically (by the driver, or by a worker that commits its own outputs)."""
    with atomic_write(path) as fh:
        json.dump({"job": job, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **(info or {})}, fh, indent=1, default=str)


class Ledger:
    """Done markers and the job table of one run, kept in ``root`` (e.g. ``OUT/_sweep``)."""

    def __init__(self, root: str | os.PathLike, table: str | os.PathLike = "jobs.csv"):
        self.root = Path(root)
        self.table = self.root / table  # an absolute ``table`` is used as it is
        self._lock = threading.Lock()
        self._rows: dict[str, dict] = {}
        if self.table.exists():
            with contextlib.suppress(Exception):
                old = pd.read_csv(self.table, dtype=str, keep_default_na=False)
                self._rows = {r["job"]: dict(r) for r in old.to_dict("records")}

    def marker(self, job: str) -> Path:
        return self.root / "done" / f"{job}.json"

    def is_done(self, job: str) -> bool:
        return self.marker(job).exists()

    def mark_done(self, job: str, info: dict | None = None) -> None:
        write_marker(self.marker(job), job, info)

    def record(self, row: dict) -> None:
        """Add or replace the row of job ``row["job"]`` and rewrite the table (atomically)."""
        with self._lock:
            full = {c: "" for c in LEDGER_COLUMNS}
            full.update({k: ("" if v is None else v) for k, v in row.items()}, host=os.uname().nodename)
            self._rows[str(row["job"])] = full
            with atomic_write(self.table) as fh:
                pd.DataFrame(list(self._rows.values())).reindex(columns=list(dict.fromkeys(LEDGER_COLUMNS + list(full)))).to_csv(fh, index=False)

    def record_all(self, rows: Sequence[dict]) -> None:
        """:meth:`record` for many rows, one rewrite of the table (e.g. every input of a run as ``pending`` at its start)."""
        with self._lock:
            for row in rows:
                full = {c: "" for c in LEDGER_COLUMNS}
                full.update({k: ("" if v is None else v) for k, v in row.items()}, host=os.uname().nodename)
                self._rows[str(row["job"])] = full
            cols = list(dict.fromkeys(LEDGER_COLUMNS + [k for r in self._rows.values() for k in r]))
            with atomic_write(self.table) as fh:
                pd.DataFrame(list(self._rows.values())).reindex(columns=cols).to_csv(fh, index=False)

    def frame(self) -> pd.DataFrame:
        with self._lock:
            return pd.DataFrame(list(self._rows.values()))


# --------------------------------------------------------------------------- signals: stop cleanly
class Stopped(Exception):
    """The driver got SIGTERM / SIGINT; running jobs were stopped and the ledger written."""


@contextlib.contextmanager
def stop_on_signals(flag: threading.Event):
    """While inside, SIGTERM and SIGINT set ``flag`` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {}

    def handler(signum, frame):
        flag.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _tail(path: Path, lines: int = 6, limit: int = 600) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    keep = [ln for ln in text.splitlines() if ln.strip() and "\r" not in ln][-lines:]
    return " | ".join(keep)[-limit:]


# --------------------------------------------------------------------------- one process per job
@dataclass
class CommandJob:
    """A job run as its own process: ``argv``, with output to ``log``; ``done()`` tells whether its outputs exist."""

    id: str
    argv: list[str]
    log: Path
    done: Callable[[], bool] = lambda: False
    env: dict[str, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def plan_commands(jobs: Sequence[CommandJob], ledger: Ledger, log: Callable[[str], None]) -> tuple[dict[str, dict], list[CommandJob]]:
    """(rows of the jobs finished in an earlier run, the jobs still to run): the same for every engine."""
    rows: dict[str, dict] = {}
    todo: list[CommandJob] = []
    for job in jobs:
        if ledger.is_done(job.id) or job.done():
            rows[job.id] = {"job": job.id, "status": "skipped", "error": "finished in an earlier run", **job.info}
            if not ledger.is_done(job.id):
                ledger.mark_done(job.id, job.info)
        else:
            todo.append(job)
    if rows:
        log(f"{len(rows)} job(s) finished in an earlier run: skipped")
    return rows, todo


def record_command(job: CommandJob, ledger: Ledger, rc: int, seconds: float, started: str, *, stopped: bool,
                   log: Callable[[str], None], **extra) -> dict:
    """Judge one finished job process (exit code and ``job.done()``), write its done marker and ledger row."""
    row = {"job": job.id, "returncode": rc, "seconds": seconds, "started": started, "log": str(job.log), **extra, **job.info}
    if stopped and rc != 0:
        row.update(status="interrupted", error="stopped by a signal to the sweep; rerun to continue")
    elif rc == 0 and job.done():
        ledger.mark_done(job.id, {**job.info, "seconds": seconds})
        row.update(status="ok")
    elif rc == 0:
        row.update(status="failed", error=f"exited 0 but its outputs are missing; log {job.log}")
    else:
        row.update(status="failed", error=f"exit code {rc}: {_tail(job.log)}")
    ledger.record(row)
    log(f"[{row['status']}] {job.id} ({seconds:.1f}s)" + (f": {row['error']}" if row.get("error") else ""))
    return row


def run_commands(
    jobs: Sequence[CommandJob],
    ledger: Ledger,
    *,
    workers: int = 1,
    slot_env: Sequence[dict[str, str]] | None = None,
    grace_seconds: float = 20.0,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Run ``jobs`` (at most ``workers`` at once) on this machine; skip those already done; return this run's rows.

    ``slot_env``: one environment per parallel slot (e.g. ``{"CUDA_VISIBLE_DEVICES": "0,1"}``):
    a job takes a free slot for its run, so parallel jobs never share a GPU.

    A job counts as finished when its process exits with 0 *and* ``job.done()`` holds; then its
    done marker is written. A failed job is recorded with its exit code and the last lines of
    its log, and the others go on. Raises :class:`Stopped` after SIGTERM / SIGINT.
    """
    stop = threading.Event()
    rows, todo = plan_commands(jobs, ledger, log)
    running: dict[str, subprocess.Popen] = {}
    lock = threading.Lock()
    import queue as queue_mod

    slots: queue_mod.Queue = queue_mod.Queue()
    for env in (slot_env or [{}] * max(1, int(workers))):
        slots.put(dict(env))
    workers = slots.qsize()

    def run_one(job: CommandJob) -> dict:
        if stop.is_set():
            return {"job": job.id, "status": "not_started", **job.info}
        job.log.parent.mkdir(parents=True, exist_ok=True)
        started, t0 = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
        slot = slots.get()
        try:
            with open(job.log, "ab") as out:
                out.write(f"\n=== {started} {' '.join(job.argv)}\n".encode("utf-8", "backslashreplace"))
                out.flush()
                proc = subprocess.Popen(job.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env={**os.environ, **job.env, **slot}, start_new_session=True)
                with lock:
                    running[job.id] = proc
                rc = proc.wait()
                with lock:
                    running.pop(job.id, None)
        finally:
            slots.put(slot)
        return record_command(job, ledger, rc, round(time.perf_counter() - t0, 2), started, stopped=stop.is_set(), log=log,
                              pid=proc.pid)

    def stop_all() -> None:
        with lock:
            procs = list(running.values())
        for p in procs:  # each job is its own session: stop the job and its children (torchrun workers)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.time() + grace_seconds
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(max(0.1, deadline - time.time()))
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)

    from concurrent.futures import ThreadPoolExecutor

    with stop_on_signals(stop), ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(run_one, job) for job in todo]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if stop.is_set():
                stop_all()
        for f in futures:
            row = f.result()
            rows[row["job"]] = row
    if stop.is_set():
        for job in todo:
            if rows.get(job.id, {}).get("status") == "not_started":
                ledger.record(rows[job.id])
        raise Stopped("stopped by a signal; finished jobs are kept, rerun the same command to continue")
    return pd.DataFrame(list(rows.values()))


# --------------------------------------------------------------------------- a pool of long-lived workers
@dataclass
class Task:
    """One input for :func:`run_tasks`: ``payload`` goes to the worker function; ``info`` to the ledger."""

    id: str
    payload: Any
    info: dict = field(default_factory=dict)


#: a worker's result with this key set wrote its own done marker (it commits its outputs itself)
MARKER_WRITTEN = "_marker_written"


def plan_tasks(tasks: Sequence[Task], ledger: Ledger, is_done: Callable[[Task], bool] | None,
               log: Callable[[str], None]) -> tuple[dict[str, dict], list[Task]]:
    """(rows of the inputs finished in an earlier run, the inputs still to do): the same for every engine."""
    rows: dict[str, dict] = {}
    todo: list[Task] = []
    for task in tasks:
        if ledger.is_done(task.id) and (is_done is None or is_done(task)):
            rows[task.id] = {"job": task.id, "status": "skipped", "error": "finished in an earlier run", **task.info}
        else:
            todo.append(task)
    if rows:
        log(f"{len(rows)} input(s) finished in an earlier run: skipped")
    return rows, todo


def record_task(task: Task, ledger: Ledger, rows: dict[str, dict], result: dict | None, exc: BaseException | None,
                seconds: float, log: Callable[[str], None]) -> dict:
    """Turn one input's outcome (the worker's dict, or an exception) into its ledger row and done marker."""
    row = {"job": task.id, **task.info, "seconds": round(seconds, 2)}
    if exc is not None:
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}" if not isinstance(exc, WorkerDied) else str(exc))
    else:
        row.update(result or {})
        row.setdefault("status", "ok")
    marked = bool(row.pop(MARKER_WRITTEN, False))
    if row["status"] == "ok" and not marked:
        ledger.mark_done(task.id, {k: v for k, v in row.items() if k != "job"})
    ledger.record(row)
    rows[task.id] = row
    name, error = str(task.info.get("input", task.id)), str(row.get("error") or row.get("reason") or "")
    log(f"[{row['status']}] " + (error if error.startswith(name) else name + (f": {error}" if error else "")))
    return row


class WorkerDied(RuntimeError):
    """The worker process died (a crash in a decoder, out of memory, killed) while handling an input."""

    def __init__(self, detail: str = ""):
        super().__init__("the worker process died while handling this input (a crash in a decoder or out of memory?)" + detail)


def run_tasks(
    tasks: Sequence[Task],
    ledger: Ledger,
    work: Callable[[Any], dict],
    *,
    workers: int = 1,
    initializer: Callable | None = None,
    initargs: tuple = (),
    is_done: Callable[[Task], bool] | None = None,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Run ``work(task.payload)`` for every task not yet done, in ``workers`` processes on this machine.

    ``work`` (a module-level function) returns a dict for the ledger with ``status`` ``ok`` or
    ``failed`` (and ``error``); an exception counts as ``failed`` with its message; a worker
    that dies fails only the tasks it held. ``workers <= 1`` runs in this process (no pool).
    Done markers are written for ``ok`` tasks (unless the worker wrote its own, :data:`MARKER_WRITTEN`).
    Raises :class:`Stopped` after SIGTERM / SIGINT.
    """
    stop = threading.Event()
    rows, todo = plan_tasks(tasks, ledger, is_done, log)

    def finish(task: Task, result: dict | None, exc: BaseException | None, seconds: float) -> None:
        record_task(task, ledger, rows, result, exc, seconds, log)

    with stop_on_signals(stop):
        if workers <= 1:
            if initializer is not None:
                initializer(*initargs)
            for task in todo:
                if stop.is_set():
                    break
                t0 = time.perf_counter()
                try:
                    result, exc = work(task.payload), None
                except Exception as e:  # noqa: BLE001 - one bad input must not stop the others
                    result, exc = None, e
                finish(task, result, exc, time.perf_counter() - t0)
        else:
            suspects = _run_pool(todo, work, workers, initializer, initargs, finish, stop, crash_fails=False)
            if suspects and not stop.is_set():
                log(f"a worker process died; retrying its {len(suspects)} possible culprit(s) one at a time")
            for task in suspects:  # isolate the input that kills its worker: only that one fails
                if stop.is_set():
                    break
                _run_pool([task], work, 1, initializer, initargs, finish, stop, crash_fails=True)
    if stop.is_set():
        raise Stopped("stopped by a signal; finished inputs are kept, rerun the same command to continue")
    return pd.DataFrame(list(rows.values()))


def _run_pool(queue: list[Task], work, workers, initializer, initargs, finish, stop: threading.Event,
              crash_fails: bool) -> list[Task]:
    """Run ``queue`` in one pool. When a worker dies every unfinished task of the pool breaks; those are
    returned (not recorded) for a retry, or recorded as failed with ``crash_fails``."""
    ctx = get_context("spawn")
    broken: list[Task] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=initializer, initargs=initargs) as pool:
        started: dict[Future, tuple[Task, float]] = {}
        for task in queue:
            started[pool.submit(work, task.payload)] = (task, time.perf_counter())
        pending = set(started)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                task, t0 = started[fut]
                try:
                    finish(task, fut.result(), None, time.perf_counter() - t0)
                except BrokenProcessPool:
                    if crash_fails:
                        finish(task, None, WorkerDied(), time.perf_counter() - t0)
                    else:
                        broken.append(task)
                except Exception as exc:  # noqa: BLE001
                    finish(task, None, exc, time.perf_counter() - t0)
            if stop.is_set():
                for f in pending:
                    f.cancel()
                for p in list((getattr(pool, "_processes", None) or {}).values()):
                    with contextlib.suppress(Exception):
                        p.terminate()
                break
    return broken


# --------------------------------------------------------------------------- one worker object per process
_WORKER: Callable[[Any], dict] | None = None


def build_worker(factory: Callable[..., Callable[[Any], dict]], *args) -> None:
    """An ``initializer`` for :func:`run_tasks` / ``run_tasks_ray``: build this process's (or Ray actor's) worker
    object ``factory(*args)`` once (e.g. one holding loaded models); :func:`call_worker` then calls it per input."""
    global _WORKER
    _WORKER = factory(*args)


def drop_worker() -> None:
    """Let this process's worker object go (the driver's own, after a run in-process)."""
    global _WORKER
    _WORKER = None


def call_worker(payload: Any) -> dict:
    """The ``work`` function that goes with :func:`build_worker`."""
    if _WORKER is None:
        raise RuntimeError("call_worker before build_worker in this process")
    return _WORKER(payload)


def python_command(*args: str) -> list[str]:
    """``python -m signfer.cli ARGS`` with this interpreter."""
    return [sys.executable, "-m", "signfer.cli", *map(str, args)]


__all__ = ["MARKER_WRITTEN", "CommandJob", "Ledger", "Stopped", "Task", "WorkerDied", "build_worker", "call_worker", "drop_worker", "job_id", "plan_commands", "plan_tasks",
           "python_command", "record_command", "record_task", "run_commands", "run_tasks", "write_marker"]
