"""`signfer annotate-corpus` on one machine: workers import no torch on the ONNX path; a retry of a finished
video writes nothing; a killed worker's staging folder is cleared by the next attempt."""

from __future__ import annotations

import os
import socket
import sys
import textwrap

import pandas as pd

from signfer.scale import corpus
from signfer.scale.engine import MARKER_WRITTEN, Ledger

from .conftest import REPO, make_clips, run

#: a sitecustomize that records every process that imports torch (and from where), and lets the import go on
TORCH_WATCH = textwrap.dedent('''
    import os, sys, traceback
    class _Watch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                with open(os.path.join(os.environ["TORCH_WATCH_DIR"], f"torch-{os.getpid()}.txt"), "w") as fh:
                    fh.write("".join(traceback.format_stack()))
            return None
    sys.meta_path.insert(0, _Watch())
''')


def test_corpus_workers_import_no_torch_on_the_onnx_path(onnx_model, tmp_path):
    listing = make_clips(tmp_path / "clips", [6, 6, 6, 6])
    watch = tmp_path / "watch"
    watch.mkdir()
    (watch / "sitecustomize.py").write_text(TORCH_WATCH, encoding="utf-8")
    out = tmp_path / "out"
    proc = run([sys.executable, "-m", "signfer.cli", "annotate-corpus", listing, "--out", out, "--workers", "2", "--threads", "1",
                "--model", onnx_model, "--formats", "csv,eaf"],
               env={"PYTHONPATH": os.pathsep.join([str(watch), str(REPO)]), "TORCH_WATCH_DIR": str(watch)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    log = pd.read_csv(out / "corpus_log.csv")
    assert (log["status"] == "ok").all() and len(log) == 4 and log["pid"].nunique() == 2  # two worker processes did the work
    assert (log["peak_rss_mb"] > 0).all()
    imports = sorted(p.name for p in watch.glob("torch-*.txt"))
    assert imports == [], (watch / imports[0]).read_text()[-3000:] if imports else ""
    # the watch is live: a process that does import torch is recorded
    check = run([sys.executable, "-c", "import torch"], env={"PYTHONPATH": str(watch), "TORCH_WATCH_DIR": str(watch)})
    assert check.returncode == 0 and len(list(watch.glob("torch-*.txt"))) == 1


def test_a_retry_of_a_finished_video_in_the_same_run_writes_nothing(onnx_model, tmp_path):
    from signfer.annotate.options import AnnotationOptions, ModelOptions, OutputOptions

    listing = make_clips(tmp_path / "clips", [5])
    video = listing.parent / "clip0.avi"
    root = tmp_path / "out"
    out = root / "videos"
    final = out / "clip0"
    dead = out / f".clip0.part-{socket.gethostname()}-{2**22 + 12345}"  # left by a worker that was killed (no such pid)
    (dead / "half").mkdir(parents=True)
    worker = corpus.CorpusWorker(ModelOptions(model=str(onnx_model), backend="onnx", threads=1), AnnotationOptions(),
                                 OutputOptions(("csv", "json")), str(root))
    payload = {"input": str(video), "final": str(final), "name": "clip0", "run": "run-1"}
    first = worker(payload)
    assert first["status"] == "ok" and first[MARKER_WRITTEN] and first["frames"] == 5 and (root / ".signfer-done" / "clip0.json").exists()
    assert not dead.exists() and sorted(p.name for p in out.iterdir()) == ["clip0"]
    assert sorted(p.name for p in final.iterdir()) == ["clip0.csv", "clip0.json"]
    stamp = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in [final, *final.iterdir()]}
    again = worker(payload)  # e.g. Ray re-running the input of a worker killed after its rename
    assert again["status"] == "ok" and again["frames"] == 5 and again[MARKER_WRITTEN]
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in [final, *final.iterdir()]} == stamp
    rerun = worker({**payload, "run": "run-2"})  # another run with the same settings: skipped, nothing written
    assert rerun["status"] == "skipped" and {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in [final, *final.iterdir()]} == stamp
    assert pd.read_csv(final / "clip0.csv")["frame"].tolist() == [0, 1, 2, 3, 4]


def test_engine_options_are_checked_and_ray_is_an_extra(tmp_path, monkeypatch):
    import pytest

    from signfer.errors import MissingExtra, UserError
    from signfer.scale import cluster
    from signfer.scale.engine import Task

    listing = tmp_path / "list.txt"
    listing.write_text("a.avi\n", encoding="utf-8")
    with pytest.raises(UserError, match="engine must be one of local, ray"):
        corpus.annotate_corpus(listing, tmp_path / "out", engine="spark", log=lambda s: None)
    with pytest.raises(UserError, match="needs engine='ray'"):
        corpus.annotate_corpus(listing, tmp_path / "out", gpus_per_worker=1, log=lambda s: None)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the [cluster] extra were not installed
    with pytest.raises(MissingExtra, match=r"signfer\[cluster\]"):
        cluster.run_tasks_ray([Task("t", {})], Ledger(tmp_path / "l"), dict, log=lambda s: None)
