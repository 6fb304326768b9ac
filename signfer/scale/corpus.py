"""``signfer annotate-corpus``: annotate a list of videos in parallel workers, restartably.

Each worker loads the model once (:class:`signfer.inference.recognizer.Recognizer`) and
annotates one video after another with :func:`signfer.annotate.media.annotate_media` (the
function ``signfer annotate`` runs for each input). Workers are processes of a local pool
(``engine="local"``, :func:`signfer.scale.engine.run_tasks`) or actors on a Ray cluster
(``engine="ray"``, :func:`signfer.scale.cluster.run_tasks_ray`); both run :func:`annotate_one`
and write the same files and the same log. Layout::

    OUT/videos/<name>/<name>.csv, .json, .eaf   one folder per video, complete or absent
    OUT/corpus_log.csv                          every input: status ok / failed (and why) / skipped, frames, seconds
    OUT/_corpus/done/<job>.json                 done markers (a restart skips these inputs)

A video's outputs are written into a hidden staging folder ``OUT/videos/.<name>.part-<host>-<pid>``
that is renamed to ``OUT/videos/<name>`` in one step when all its files are complete, so a
crash, a kill or a full disk never leaves a half-annotated video behind (a staging folder
left by a killed worker is removed by the next attempt at that video or the next run). After the
rename the worker writes the video's done marker itself, tagged with the run; a retry of the
same video in the same run (Ray re-runs the input of a worker that died, possibly after it had
finished) finds the marker and returns its row without writing anything again. A failed video
is logged with its reason and the others go on; a worker that dies (a decoder crash) fails
only its video. Workers import no torch on the ONNX Runtime path (the CPU default).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import resource
import shutil
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from signfer.errors import UserError
from signfer.io import InputError, pid_alive, read_text_lines
from signfer.scale.engine import (
    MARKER_WRITTEN,
    Ledger,
    Stopped,
    Task,
    job_id,
    run_tasks,
    write_marker,
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


def output_names(paths: Sequence[Path]) -> list[str]:
    """A folder name per input: its file stem, plus a hash of its full path where stems repeat (stable across runs)."""
    stems = [p.stem if p.suffix else p.name for p in paths]
    counts = Counter(stems)
    names = []
    for p, stem in zip(paths, stems):
        stem = stem or "annotation"
        if counts[stem] > 1:
            stem = f"{stem}-{hashlib.sha1(os.fsencode(str(p.resolve()))).hexdigest()[:8]}"
        names.append(stem)
    return names


# --------------------------------------------------------------------------- one video (runs in a worker)
_RECOGNIZER = None
_SETTINGS: dict = {}


def init_worker(model: str, recognizer_kw: dict, options_kw: dict, formats: Sequence[str], threads: int | None) -> None:
    """Load the model once per worker process (PyTorch's threads are set by the recognizer, only when it runs PyTorch)."""
    global _RECOGNIZER, _SETTINGS
    if threads:
        with contextlib.suppress(Exception):
            import cv2

            cv2.setNumThreads(int(threads))
    from signfer.inference.recognizer import Recognizer

    _RECOGNIZER = Recognizer.from_pretrained(model, threads=threads, **recognizer_kw)
    _SETTINGS = {"options": dict(options_kw), "formats": list(formats)}


def staging_dir(final: Path) -> Path:
    return final.with_name(f".{final.name}.part-{socket.gethostname()}-{os.getpid()}")


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def annotate_one(payload: dict) -> dict:
    """Annotate ``payload["input"]`` into ``payload["final"]`` (via a staging folder); a ledger row.

    With ``payload["marker"]`` and ``payload["run"]``, the done marker is written here after the
    rename, and a video already committed in the same run is not annotated again."""
    started = time.perf_counter()
    src, final, name = Path(payload["input"]), Path(payload["final"]), payload["name"]
    marker, run = payload.get("marker"), payload.get("run")
    if marker and run and final.is_dir():
        with contextlib.suppress(OSError, ValueError):
            done = json.loads(Path(marker).read_text(encoding="utf-8"))
            if done.get("run") == run:  # a retry of a video this run already finished: nothing to write
                row = {k: v for k, v in done.items() if k not in ("job", "finished", "run")}
                return {**row, "status": "ok", MARKER_WRITTEN: True}
    from signfer.annotate.media import AnnotationOptions, annotate_media

    _remove_dead_staging(final)
    stage = staging_dir(final)
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        options = AnnotationOptions.from_kwargs(**_SETTINGS["options"])
        res = annotate_media(_RECOGNIZER, src, stage, formats=_SETTINGS["formats"], options=options, name=name)
        if final.exists():  # an older complete copy (e.g. a forced rerun): replace it
            shutil.rmtree(final)
        os.replace(stage, final)
        if options.nonmanual is not None:  # the ELAN time-series config names its CSV by absolute path
            from signfer.nonmanual.tracks import relink_timeseries

            relink_timeseries(final)
    except InputError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        return {"status": "failed", "error": str(exc), "seconds": round(time.perf_counter() - started, 2), "pid": os.getpid()}
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, Exception):
            return {"status": "failed", "error": f"{src}: {type(exc).__name__}: {exc}", "pid": os.getpid()}
        raise
    c = res.counts
    row = {"status": "ok", "frames": res.n_frames, "frames_ok": c.get("ok", 0), "frames_no_face": c.get("no_face", 0),
           "frames_error": c.get("error", 0), "segments": len(res.segments), "outputs": str(final),
           "seconds": round(time.perf_counter() - started, 2), "pid": os.getpid(), "peak_rss_mb": _peak_rss_mb()}
    if marker and run:
        write_marker(marker, payload["job"], {**payload.get("info", {}), **row, "run": run})
        row[MARKER_WRITTEN] = True
    return row


def _parse_staging(d: Path) -> tuple[str, int] | None:
    tail = d.name.rsplit(".part-", 1)[1]
    h, _, pid = tail.rpartition("-")
    return (h, int(pid)) if pid.isdigit() else None


def _pid_alive(pid: int) -> bool:
    return pid == os.getpid() or pid_alive(pid)


def _remove_dead_staging(final: Path) -> None:
    """Remove staging folders of ``final`` left by a process of this machine that is gone (a killed worker)."""
    host = socket.gethostname()
    for d in final.parent.glob(glob.escape(f".{final.name}.part-") + "*"):
        owner = _parse_staging(d)
        if d.is_dir() and owner and owner[0] == host and not _pid_alive(owner[1]):
            shutil.rmtree(d, ignore_errors=True)


def _clean_stale_staging(videos: Path) -> None:
    """Remove staging folders of this machine whose process is gone (runs killed before they finished)."""
    if not videos.is_dir():
        return
    host = socket.gethostname()
    for d in videos.iterdir():
        if not (d.name.startswith(".") and ".part-" in d.name and d.is_dir()):
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
    model: str = "fer2013",
    workers: int | None = None,
    formats: Sequence[str] = ("csv", "json", "eaf"),
    every: int = 1,
    detect_every: int = 1,
    smooth: int = 1,
    smooth_method: str = "moving",
    min_duration_ms: float = 0.0,
    eaf_probabilities: str = "segments",
    fps: float | None = None,
    batch_size: int = 16,
    backend: str | None = None,
    device: str = "cpu",
    detector: str | None = None,
    detect_scale: float = 1.0,
    threads: int | None = None,
    engine: str = "local",
    address: str | None = None,
    gpus_per_worker: float = 0,
    nonmanual=None,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Annotate every video of ``inputs`` (a list file, or a sequence of paths) into ``out`` with ``workers`` workers.

    Inputs already annotated (done marker and output folder present) are skipped; the others
    are annotated, each into ``out/videos/<name>/`` (all formats or nothing). Returns the run
    log (also ``out/corpus_log.csv``): one row per input with ``status`` ok / failed / skipped
    and ``error``.

    ``engine="local"``: ``workers`` processes on this machine (``threads`` each, default CPU
    cores / workers). ``engine="ray"``: ``workers`` Ray actors (default: as many as the cluster
    has room for) on the cluster at ``address`` (default: ``RAY_ADDRESS``, else a local Ray),
    each with ``threads`` CPUs (default 1) and ``gpus_per_worker`` GPUs (the model then runs on
    the GPU: ``device`` becomes ``cuda``); ``out`` and the inputs must be on a file system
    every node sees. ``nonmanual``: :class:`~signfer.annotate.stages.NonManualOptions` (``--nmm``) or None. Raises :class:`signfer.scale.engine.Stopped` on SIGTERM / Ctrl-C after
    recording what finished.
    """
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if gpus_per_worker and engine != "ray":
        raise UserError("gpus_per_worker (--gpus-per-worker) needs engine='ray' (--engine ray); on one machine use --device cuda")
    out = Path(out).resolve()  # workers on other nodes (and Ray workers' own folders) need absolute paths
    paths = read_list(inputs) if isinstance(inputs, (str, os.PathLike)) else [Path(p) for p in inputs]
    names = output_names(paths)
    videos = out / VIDEOS_DIR
    videos.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(videos)
    if engine == "local":
        workers = max(1, int(workers or 1))
        if threads is None:
            threads = max(1, (os.cpu_count() or 1) // workers)
    else:
        threads = max(1, int(threads or 1))
        if gpus_per_worker and device == "cpu":
            device = "cuda"
    ledger = Ledger(out / LEDGER_DIR, table=out / LOG_FILE)
    run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"  # tags the done markers this run's workers write
    tasks = []
    for p, name in zip(paths, names):
        final = videos / name
        jid = job_id(os.fsencode(str(p.resolve())).hex(), label=name)
        info = {"input": str(p), "name": name}
        tasks.append(Task(jid, {"input": str(p.resolve()), "final": str(final), "name": name, "job": jid, "info": info,
                                "marker": str(ledger.marker(jid)), "run": run}, info=info))
    options_kw = dict(every=every, detect_every=detect_every, batch_size=batch_size, smooth=smooth, smooth_method=smooth_method,
                      min_duration_ms=min_duration_ms, fps=fps, eaf_probabilities=eaf_probabilities, nonmanual=nonmanual)
    recognizer_kw = dict(device=device, backend=backend, detector=detector, detect_scale=detect_scale, batch_size=batch_size)
    init = (model, recognizer_kw, options_kw, list(formats), threads)
    is_done = lambda t: Path(t.payload["final"]).is_dir()
    if engine == "local":
        log(f"{len(tasks)} input(s), {workers} worker process(es), {threads} thread(s) each")
        table = run_tasks(tasks, ledger, annotate_one, workers=workers, initializer=init_worker, initargs=init, is_done=is_done, log=log)
    else:
        from signfer.scale.cluster import run_tasks_ray

        log(f"{len(tasks)} input(s) on Ray")
        table = run_tasks_ray(tasks, ledger, annotate_one, workers=workers, initializer=init_worker, initargs=init,
                              cpus_per_worker=threads, gpus_per_worker=gpus_per_worker, is_done=is_done, address=address, log=log)
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    log(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"; log {out / LOG_FILE}")
    return table


__all__ = ["ENGINES", "Stopped", "annotate_corpus", "annotate_one", "output_names", "read_list"]
