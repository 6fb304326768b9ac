"""``signfer annotate-corpus``: annotate a list of videos in parallel worker processes, restartably.

Each worker process loads the model once (:class:`signfer.inference.recognizer.Recognizer`)
and annotates one video after another with :func:`signfer.inference.annotate.annotate_media`.
Layout::

    OUT/videos/<name>/<name>.csv, .json, .eaf   one folder per video, complete or absent
    OUT/corpus_log.csv                          every input: status ok / failed (and why) / skipped, frames, seconds
    OUT/_corpus/done/<job>.json                 done markers (a restart skips these inputs)

A video's outputs are written into a hidden staging folder ``OUT/videos/.<name>.part-<host>-<pid>``
that is renamed to ``OUT/videos/<name>`` in one step when all its files are complete, so a
crash, a kill or a full disk never leaves a half-annotated video behind (a staging folder
left by a killed run is removed on the next run). A failed video is logged with its reason
and the others go on; a worker process that dies (a decoder crash) fails only its video.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from signfer.io import InputError, read_text_lines
from signfer.scale.engine import Ledger, Stopped, Task, job_id, parse_shard, run_tasks, take_shard

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
    """Load the model once per worker process."""
    global _RECOGNIZER, _SETTINGS
    if threads:
        with contextlib.suppress(Exception):
            import cv2

            cv2.setNumThreads(int(threads))
        import torch

        torch.set_num_threads(int(threads))
    from signfer.inference.recognizer import Recognizer

    _RECOGNIZER = Recognizer.from_pretrained(model, threads=threads, **recognizer_kw)
    _SETTINGS = {"options": dict(options_kw), "formats": list(formats)}


def staging_dir(final: Path) -> Path:
    return final.with_name(f".{final.name}.part-{socket.gethostname()}-{os.getpid()}")


def annotate_one(payload: dict) -> dict:
    """Annotate ``payload["input"]`` into ``payload["final"]`` (via a staging folder); a ledger row."""
    from signfer.inference.annotate import AnnotationOptions, annotate_media

    import time

    started = time.perf_counter()
    src, final, name = Path(payload["input"]), Path(payload["final"]), payload["name"]
    stage = staging_dir(final)
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        options = AnnotationOptions.from_kwargs(**_SETTINGS["options"])
        res = annotate_media(_RECOGNIZER, src, stage, formats=_SETTINGS["formats"], options=options, name=name)
        if final.exists():  # an older complete copy (e.g. a forced rerun): replace it
            shutil.rmtree(final)
        os.replace(stage, final)
    except InputError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        return {"status": "failed", "error": str(exc), "seconds": round(time.perf_counter() - started, 2)}
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, Exception):
            return {"status": "failed", "error": f"{src}: {type(exc).__name__}: {exc}"}
        raise
    c = res.counts
    return {"status": "ok", "frames": res.n_frames, "frames_ok": c.get("ok", 0), "frames_no_face": c.get("no_face", 0),
            "frames_error": c.get("error", 0), "segments": len(res.segments), "outputs": str(final),
            "seconds": round(time.perf_counter() - started, 2)}


def _clean_stale_staging(videos: Path) -> None:
    """Remove staging folders of this machine whose process is gone (runs killed before they finished)."""
    if not videos.is_dir():
        return
    host = socket.gethostname()
    for d in videos.iterdir():
        if not (d.name.startswith(".") and ".part-" in d.name and d.is_dir()):
            continue
        tail = d.name.rsplit(".part-", 1)[1]
        h, _, pid = tail.rpartition("-")
        if h != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            alive = int(pid) != os.getpid()
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- the corpus
def annotate_corpus(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    model: str = "fer2013",
    workers: int = 1,
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
    shard: str | tuple[int, int] | None = None,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Annotate every video of ``inputs`` (a list file, or a sequence of paths) into ``out`` with ``workers`` processes.

    Inputs already annotated (done marker and output folder present) are skipped; the others
    are annotated, each into ``out/videos/<name>/`` (all formats or nothing). Returns the run
    log (also ``out/corpus_log.csv``): one row per input with ``status`` ok / failed / skipped
    and ``error``. ``threads`` per worker (default: CPU cores / workers); ``shard="i/n"``:
    this machine takes inputs i, i+n, ... (the others are left to the other machines).
    Raises :class:`signfer.scale.engine.Stopped` on SIGTERM / Ctrl-C after recording what finished.
    """
    out = Path(out)
    paths = read_list(inputs) if isinstance(inputs, (str, os.PathLike)) else [Path(p) for p in inputs]
    names = output_names(paths)
    videos = out / VIDEOS_DIR
    videos.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(videos)
    workers = max(1, int(workers))
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
    tasks = []
    for p, name in zip(paths, names):
        final = videos / name
        tasks.append(Task(job_id(os.fsencode(str(p.resolve())).hex(), label=name), {"input": str(p), "final": str(final), "name": name},
                          info={"input": str(p), "name": name}))
    tasks = take_shard(tasks, parse_shard(shard))
    ledger = Ledger(out / LEDGER_DIR, table=out.resolve() / LOG_FILE)
    options_kw = dict(every=every, detect_every=detect_every, batch_size=batch_size, smooth=smooth, smooth_method=smooth_method,
                      min_duration_ms=min_duration_ms, fps=fps, eaf_probabilities=eaf_probabilities)
    recognizer_kw = dict(device=device, backend=backend, detector=detector, detect_scale=detect_scale, batch_size=batch_size)
    init = (model, recognizer_kw, options_kw, list(formats), threads)
    log(f"{len(tasks)} input(s), {workers} worker process(es), {threads} thread(s) each")
    table = run_tasks(tasks, ledger, annotate_one, workers=workers, initializer=init_worker, initargs=init,
                      is_done=lambda t: Path(t.payload["final"]).is_dir(), log=log)
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    log(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"; log {out / LOG_FILE}")
    return table


__all__ = ["annotate_corpus", "annotate_one", "output_names", "read_list", "Stopped"]
