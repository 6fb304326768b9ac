"""One run owns an output folder at a time: a second run exits 2 naming the lock; a dead run's lock is taken
over; local workers die with their driver; the corpus log lists every input, also after a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from signfer.annotate.annotator import LOCK_FILE, output_lock
from signfer.errors import OutputInUse

from .conftest import REPO, make_clips, run_cli, write_list


def test_a_second_run_on_the_same_folder_exits_2_naming_the_lock(clips, tmp_path):
    out = tmp_path / "out"
    listing = write_list(clips[:1], tmp_path / "list.txt")
    with output_lock(out):  # a run in progress
        proc = run_cli("annotate-corpus", listing, "--out", out, "--threads", "1")
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and str(out / LOCK_FILE) in lines[0] and f"in use by process {os.getpid()} on " in lines[0], lines
        assert not (out / "videos").exists() and not (out / "corpus_log.csv").exists()  # nothing touched
        with pytest.raises(OutputInUse):
            with output_lock(out):
                pass
    assert not (out / LOCK_FILE).exists()
    proc = run_cli("annotate-corpus", listing, "--out", out, "--threads", "1")  # free again
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_dead_runs_lock_is_taken_over(tmp_path):
    out = tmp_path / "out"
    code = (f"import os, signal; from signfer.annotate.annotator import output_lock\n"
            f"with output_lock({str(out)!r}):\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    assert int((out / LOCK_FILE).read_text().split()[0]) != os.getpid()  # the dead run's lock file is still there
    with output_lock(out) as lock:  # its owner is gone: taken over
        assert int(lock.read_text().split()[0]) == os.getpid()


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_driver_takes_its_workers_along_and_the_log_lists_every_input(tmp_path):
    videos = make_clips(tmp_path / "clips", [60, 60, 60, 60])
    listing = write_list(videos, tmp_path / "list.txt")
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen([sys.executable, "-m", "signfer.cli", "annotate-corpus", listing, "--out", out, "--workers", "2",
                               "--threads", "1", "--detector", "none"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not any(p.name.startswith(".") for p in (out / "videos").glob(".*.part-*")):
            assert driver.poll() is None, "the run ended before a worker was seen annotating"
            time.sleep(0.05)
        workers = [p for p in _children(driver.pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2
        log = pd.read_csv(out / "corpus_log.csv", keep_default_na=False)
        assert sorted(log["name"]) == ["clip0", "clip1", "clip2", "clip3"]  # listed from the start
        driver.kill()
        driver.wait()
        deadline = time.time() + 20
        while time.time() < deadline and any(_running(p) for p in workers):
            time.sleep(0.1)
        assert not any(_running(p) for p in workers), "worker processes outlived their driver"
    finally:
        if driver.poll() is None:
            driver.kill()
    log = pd.read_csv(out / "corpus_log.csv", keep_default_na=False)
    assert sorted(log["name"]) == ["clip0", "clip1", "clip2", "clip3"] and "pending" in set(log["status"])
    again = run_cli("annotate-corpus", listing, "--out", out, "--workers", "2", "--threads", "1", "--detector", "none")
    assert again.returncode == 0, again.stderr[-2000:]
    log = pd.read_csv(out / "corpus_log.csv", keep_default_na=False)
    assert sorted(log["name"]) == ["clip0", "clip1", "clip2", "clip3"] and set(log["status"]) <= {"ok", "skipped"}
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["clip0", "clip1", "clip2", "clip3"]  # no staging folder left
