"""``signfer annotate-corpus``: annotate a list of videos in parallel workers, restartably, exactly as
``signfer annotate`` annotates one.

Each worker (a process of a local pool, ``engine="local"``, :func:`signfer.scale.engine.run_tasks`, or a Ray
actor, ``engine="ray"``, :func:`signfer.scale.cluster.run_tasks_ray`) builds one :class:`CorpusWorker`: the
:class:`~signfer.annotate.annotator.Annotator` of ``signfer annotate`` (models loaded once, the same options and
writers), which decides and annotates one video after another. Layout::

    OUT/videos/<name>/<name>.csv, .json, .eaf   one folder per video, complete or absent
    OUT/.signfer-done/<name>.json               done-markers (annotate.done: input, model files, options, output hashes)
    OUT/corpus_log.csv                          every input, every run: ok / skipped / kept / failed / pending, and why
    OUT/.signfer-lock                           held while a run owns OUT (a second run exits 2)

Whether a video is skipped, redone (and why) or kept because a person edited an output is decided by the
done-markers of :mod:`signfer.annotate.done`, the same rule as ``signfer annotate``. A new video's outputs are
written into a hidden staging folder ``OUT/videos/.<name>.part-<host>-<pid>`` renamed to ``OUT/videos/<name>``
when all its files are complete, so a crash or a kill never leaves a half-annotated video (a staging folder
left by a killed worker is removed by the next attempt at that video or the next run); a redone video's files
replace the old ones one by one after its done-marker is dropped, and files a person put beside them stay.
After that the worker writes the done-marker itself, tagged with the run; a retry of the same video in the same
run (Ray re-runs the input of a worker that died, possibly after it had finished) finds it and writes nothing.
A failed video is logged with its reason and the others go on; a worker that dies fails only its video; local
workers exit when their driver dies. Workers import no torch on the ONNX Runtime path (the CPU default).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from signfer.annotate.annotator import output_lock
from signfer.annotate.done import DoneMarkers, output_names, remove_stale_outputs
from signfer.annotate.inputs import result_fields
from signfer.annotate.options import AnnotationOptions, ModelOptions, OutputOptions
from signfer.errors import UserError
from signfer.io import InputError, pid_alive, read_text_lines
from signfer.scale.engine import (
    MARKER_WRITTEN,
    Ledger,
    Stopped,
    Task,
    build_worker,
    call_worker,
    drop_worker,
    job_id,
    run_tasks,
)

LOG_FILE = "corpus_log.csv"
LEDGER_DIR = "_corpus"
VIDEOS_DIR = "videos"


# --------------------------------------------------------------------------- the input list
def read_list(path: str | os.PathLike) -> list[Path]:
    """The videos named in a list file: one path a line; blank lines and ``#`` comments skipped;
    relative paths are taken from the list file's folder. Names need not be valid UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "list file does not exist" if not path.exists() else "is not a file")
    out = []
    for line in read_text_lines(path):  # a byte-order mark (Windows Notepad) is not part of the first name
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        out.append(p if p.is_absolute() else path.parent / p)
    if not out:
        raise InputError(path, "names no input (one video path a line)")
    return out


# --------------------------------------------------------------------------- one video (runs in a worker)
def staging_dir(final: Path) -> Path:
    return final.with_name(f".{final.name}.part-{socket.gethostname()}-{os.getpid()}")


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


class CorpusWorker:
    """One worker's Annotator (models loaded once, per process or Ray actor), called once per video.

    ``parent``: the driver's pid for a local pool worker, which then exits when the driver is gone (killed)."""

    def __init__(self, models: ModelOptions, options: AnnotationOptions, outputs: OutputOptions, root: str, parent: int | None = None):
        if models.threads:
            with contextlib.suppress(Exception):
                import cv2

                cv2.setNumThreads(int(models.threads))
        if parent is not None and parent != os.getpid():
            _exit_with_parent(parent)
        from signfer.annotate.inputs import load_annotator

        self.annotator = load_annotator(models, options, outputs)
        self.done = DoneMarkers(root, self.annotator.settings())
        self.signers = options.signers is not None or options.hands is not None

    def __call__(self, payload: dict) -> dict:
        return self.annotate_one(payload)

    def annotate_one(self, payload: dict) -> dict:
        """Decide, then annotate ``payload["input"]`` into ``payload["final"]`` (via a staging folder); a log row."""
        started = time.perf_counter()
        src, final, name, run = Path(payload["input"]), Path(payload["final"]), payload["name"], payload.get("run")
        done = self.done
        rec = done.read(name)
        if run and rec and rec.get("run") == run and final.is_dir():  # a retry of a video this run already finished
            return {**(rec.get("row") or {}), "status": "ok", MARKER_WRITTEN: True}
        reason, old = "", []
        if src.exists():
            decision = done.decide(name, src)
            if decision.action != "annotate":
                return {"status": "skipped" if decision.action == "skip" else "kept", "reason": decision.reason, "outputs": str(final)}
            reason, old = decision.reason, decision.outputs
        _remove_dead_staging(final.parent, final.name)
        stage = staging_dir(final)
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        try:
            res = self.annotator.annotate(src, stage, name=name)
            done.forget(name)  # an interrupted replacement must not look like a person's edit
            outputs = _commit(stage, final, old)
            if self.annotator.options.nonmanual is not None:  # the ELAN time-series config names its CSV by absolute path
                from signfer.nonmanual.tracks import relink_timeseries

                relink_timeseries(final)
        except InputError as exc:
            shutil.rmtree(stage, ignore_errors=True)
            return {"status": "failed", "error": str(exc), "reason": reason, "seconds": round(time.perf_counter() - started, 2), "pid": os.getpid()}
        except BaseException as exc:
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(exc, Exception):
                return {"status": "failed", "error": f"{src}: {type(exc).__name__}: {exc}", "reason": reason, "pid": os.getpid()}
            raise
        row = {"status": "ok", "reason": reason, **result_fields(res, self.signers), "outputs": str(final),
               "seconds": round(time.perf_counter() - started, 2), "pid": os.getpid(), "peak_rss_mb": _peak_rss_mb()}  # fmt: skip
        done.mark(name, src, outputs, extra={"run": run, "row": row})
        return {**row, MARKER_WRITTEN: True}


def _commit(stage: Path, final: Path, old_outputs: list[Path]) -> list[Path]:
    """Move the finished files of ``stage`` to ``final``: a rename of the folder when ``final`` is new; else file by
    file, removing the earlier run's outputs that were not written again (files a person added stay). The files."""
    if not final.exists():
        os.replace(stage, final)
        return sorted(final.iterdir())
    written = [final / f.name for f in sorted(stage.iterdir())]
    for f in written:
        os.replace(stage / f.name, f)
    remove_stale_outputs(old_outputs, written, final)
    shutil.rmtree(stage, ignore_errors=True)
    return written


def _exit_with_parent(parent: int) -> None:
    """End this process when ``parent`` (the driver) is gone: a killed driver leaves no worker running."""
    import threading

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, name="signfer-parent-watch", daemon=True).start()


def _parse_staging(d: Path) -> tuple[str, int] | None:
    tail = d.name.rsplit(".part-", 1)[1]
    h, _, pid = tail.rpartition("-")
    return (h, int(pid)) if pid.isdigit() else None


def _pid_alive(pid: int) -> bool:
    return pid == os.getpid() or pid_alive(pid)


def _remove_dead_staging(videos: Path, name: str | None = None) -> None:
    """Remove the staging folders in ``videos`` (of video ``name`` only, when given) that a process of this machine
    left and that is gone (a killed worker, a run killed before it finished)."""
    if not videos.is_dir():
        return
    host = socket.gethostname()
    for d in videos.iterdir():
        mine = d.name.startswith(f".{name}.part-") if name is not None else d.name.startswith(".") and ".part-" in d.name
        if not (mine and d.is_dir()):
            continue
        owner = _parse_staging(d)
        if owner and owner[0] == host and not _pid_alive(owner[1]):
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- the corpus
ENGINES = ("local", "ray")


def annotate_corpus(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    models: ModelOptions | None = None,
    options: AnnotationOptions | None = None,
    outputs: OutputOptions | None = None,
    workers: int | None = None,
    engine: str = "local",
    address: str | None = None,
    gpus_per_worker: float = 0,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Annotate every video of ``inputs`` (a list file, or a sequence of paths) into ``out`` with ``workers`` workers,
    each holding the Annotator that ``signfer annotate`` would build from ``models`` / ``options`` / ``outputs``.

    Each input is decided by the done-markers of :mod:`signfer.annotate.done` (skipped when done with the same
    input, model files and options; kept when an output was edited since signfer wrote it; else annotated, the log
    saying why) into ``out/videos/<name>/``. Returns this run's log (also ``out/corpus_log.csv``, which lists every
    input every run): ``status`` ok / skipped / kept / failed, ``reason`` and ``error``. One run owns ``out`` at
    a time (:class:`~signfer.errors.OutputInUse` otherwise).

    ``engine="local"``: ``workers`` processes on this machine (``models.threads`` each, default CPU cores /
    workers). ``engine="ray"``: ``workers`` Ray actors (default: as many as the cluster has room for) on the cluster
    at ``address`` (default: ``RAY_ADDRESS``, else a local Ray), each with ``models.threads`` CPUs (default 1) and
    ``gpus_per_worker`` GPUs (the model then runs on the GPU: ``device`` becomes ``cuda``); ``out`` and the inputs
    must be on a file system every node sees. Raises :class:`signfer.scale.engine.Stopped` on SIGTERM / Ctrl-C after
    recording what finished.
    """
    models, options, outputs = models or ModelOptions(), options or AnnotationOptions(), outputs or OutputOptions()
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if gpus_per_worker and engine != "ray":
        raise UserError("gpus_per_worker (--gpus-per-worker) needs engine='ray' (--engine ray); on one machine use --device cuda")
    out = Path(out).resolve()  # workers on other nodes (and Ray workers' own folders) need absolute paths
    paths = read_list(inputs) if isinstance(inputs, (str, os.PathLike)) else [Path(p) for p in inputs]
    with output_lock(out):
        return _run(paths, out, models, options, outputs, workers, engine, address, gpus_per_worker, log)


def _run(paths, out: Path, models: ModelOptions, options, outputs, workers, engine, address, gpus_per_worker, log) -> pd.DataFrame:
    names = output_names(paths, DoneMarkers(out, {}).earlier_names())
    videos = out / VIDEOS_DIR
    videos.mkdir(parents=True, exist_ok=True)
    _remove_dead_staging(videos)
    threads = models.threads
    if engine == "local":
        workers = max(1, int(workers or 1))
        threads = threads or max(1, (os.cpu_count() or 1) // workers)
    else:
        threads = max(1, int(threads or 1))
        if gpus_per_worker and models.device in ("cpu", "auto"):
            models = replace(models, device="cuda")
    models = replace(models, threads=threads)
    ledger = Ledger(out / LEDGER_DIR, table=out / LOG_FILE)
    run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"  # tags the done markers this run's workers write
    tasks = []
    for p, name in zip(paths, names):
        jid = job_id(os.fsencode(str(p.resolve())).hex(), label=name)
        info = {"input": str(p), "name": name}
        tasks.append(Task(jid, {"input": str(p.resolve()), "final": str(out / VIDEOS_DIR / name), "name": name, "run": run}, info=info))
    # every input is in the log from the start: a run killed part-way still lists the ones it did not reach
    ledger.record_all([{"job": t.id, **t.info, "status": "pending", "reason": f"not reached by run {run} (stopped?); rerun to continue",
                        "error": ""} for t in tasks])  # fmt: skip
    init = (CorpusWorker, models, options, outputs, str(out), os.getpid() if engine == "local" else None)
    never = lambda t: False  # noqa: E731 - the workers decide (done-markers), not the engine's ledger
    try:
        if engine == "local":
            log(f"{len(tasks)} input(s), {workers} worker process(es), {threads} thread(s) each")
            table = run_tasks(tasks, ledger, call_worker, workers=workers, initializer=build_worker, initargs=init, is_done=never, log=log)
        else:
            from signfer.scale.cluster import run_tasks_ray

            log(f"{len(tasks)} input(s) on Ray")
            table = run_tasks_ray(tasks, ledger, call_worker, workers=workers, initializer=build_worker, initargs=init,
                                  cpus_per_worker=threads, gpus_per_worker=gpus_per_worker, is_done=never, address=address, log=log)  # fmt: skip
    finally:
        drop_worker()  # one worker ran in this process: its models go
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    log(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"; log {out / LOG_FILE}")
    return table


__all__ = ["ENGINES", "CorpusWorker", "Stopped", "annotate_corpus", "read_list"]
