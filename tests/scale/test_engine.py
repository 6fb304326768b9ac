"""The local job engine (signfer.scale.engine): done markers, failures recorded, crashes isolated, clean stop."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pandas as pd
import pytest

from signfer.scale import engine

from . import engine_tasks


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_commands_run_in_parallel_failures_are_recorded_and_finished_jobs_skipped(tmp_path):
    ledger = engine.Ledger(tmp_path / "_ledger")
    marks = [tmp_path / f"out{i}.txt" for i in range(3)]
    # a barrier: each job says it started, then waits for the other two; run one after another, the first would
    # wait in vain and fail (proof of parallel runs by events, not by a wall-clock budget)
    barrier = (f"import pathlib, sys, time; d = pathlib.Path({str(tmp_path)!r}); (d / 'started{{i}}').touch(); t = time.time()\n"
               "while len(list(d.glob('started*'))) < 3:\n"
               "    if time.time() - t > 120: sys.exit('ran alone: the other jobs never started')\n"
               "    time.sleep(0.01)\n"
               "open({mark!r}, 'w').write('x')")
    jobs = [engine.CommandJob(f"job{i}", py(barrier.format(i=i, mark=str(marks[i]))), tmp_path / f"job{i}.log",
                              done=marks[i].exists, info={"i": i}) for i in range(3)]
    jobs.append(engine.CommandJob("bad", py("import sys; print('boom: no such recipe'); sys.exit(3)"), tmp_path / "bad.log"))
    rows = engine.run_commands(jobs, ledger, workers=4, log=lambda s: None).set_index("job")
    assert (rows.loc[["job0", "job1", "job2"], "status"] == "ok").all(), rows["error"].tolist()
    assert rows.loc["bad", "status"] == "failed" and "exit code 3" in rows.loc["bad", "error"] and "boom" in rows.loc["bad", "error"]
    table = pd.read_csv(tmp_path / "_ledger" / "jobs.csv").set_index("job")
    assert table.loc["bad", "status"] == "failed" and table.loc["job1", "status"] == "ok"
    assert all(ledger.is_done(f"job{i}") for i in range(3)) and not ledger.is_done("bad")
    again = engine.run_commands(jobs, ledger, workers=2, log=lambda s: None).set_index("job")
    assert (again.loc[["job0", "job1", "job2"], "status"] == "skipped").all()
    assert again.loc["bad", "status"] == "failed"  # tried again


def test_a_job_that_exits_0_without_its_outputs_is_a_failure(tmp_path):
    ledger = engine.Ledger(tmp_path / "l")
    job = engine.CommandJob("liar", py("pass"), tmp_path / "liar.log", done=lambda: False)
    rows = engine.run_commands([job], ledger, log=lambda s: None)
    assert rows["status"].tolist() == ["failed"] and "outputs are missing" in rows["error"].iloc[0]


def test_sigterm_stops_running_jobs_and_keeps_finished_ones(tmp_path):
    ledger = engine.Ledger(tmp_path / "l")
    quick = tmp_path / "quick.txt"
    slow_pid = tmp_path / "slow.pid"
    jobs = [engine.CommandJob("quick", py(f"open({str(quick)!r}, 'w').write('x')"), tmp_path / "q.log", done=quick.exists),
            engine.CommandJob("slow", py(f"import os, time; open({str(slow_pid)!r}, 'w').write(str(os.getpid())); time.sleep(600)"),
                              tmp_path / "s.log", done=lambda: False)]
    ready = threading.Event()

    def stop_when_ready():  # SIGTERM once the quick job is recorded done and the slow one runs (events, not a timer)
        while not ready.is_set():
            if ledger.is_done("quick") and slow_pid.exists() and slow_pid.read_text():
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=stop_when_ready)
    watcher.start()
    try:
        with pytest.raises(engine.Stopped):
            engine.run_commands(jobs, ledger, workers=2, grace_seconds=5, log=lambda s: None)
    finally:
        ready.set()
        watcher.join()
    with pytest.raises(ProcessLookupError):  # the 600 s job was stopped (and reaped)
        os.kill(int(slow_pid.read_text()), 0)
    table = pd.read_csv(tmp_path / "l" / "jobs.csv").set_index("job")
    assert table.loc["quick", "status"] == "ok" and table.loc["slow", "status"] == "interrupted"
    assert ledger.is_done("quick") and not ledger.is_done("slow")


def test_a_crashing_worker_fails_only_its_own_task(tmp_path):
    ledger = engine.Ledger(tmp_path / "l")
    tasks = [engine.Task(f"t{i}", {"name": f"t{i}", "out": str(tmp_path / f"t{i}.txt"), "sleep": 0.1}, {"input": f"t{i}"})
             for i in range(5)]
    tasks[2].payload["crash"] = True
    tasks[3].payload["fail"] = True
    rows = engine.run_tasks(tasks, ledger, engine_tasks.work, workers=2, initializer=engine_tasks.init, initargs=("w",),
                            log=lambda s: None).set_index("job")
    assert rows.loc["t2", "status"] == "failed" and "worker process died" in rows.loc["t2", "error"]
    assert rows.loc["t3", "status"] == "failed" and "t3: bad input" in rows.loc["t3", "error"]
    for t in ("t0", "t1", "t4"):
        assert rows.loc[t, "status"] == "ok" and (tmp_path / f"{t}.txt").read_text() == "w"
    assert int(rows.loc["t0", "pid"]) != os.getpid()  # ran in a worker process
    again = engine.run_tasks(tasks[:2], ledger, engine_tasks.work, workers=1, initializer=engine_tasks.init, initargs=("w",),
                             log=lambda s: None)
    assert again["status"].tolist() == ["skipped", "skipped"]


def test_job_ids_are_stable_and_distinct():
    assert engine.job_id("a b", 1) == engine.job_id("a b", 1) != engine.job_id("a b", 2)
    assert engine.job_id("x/y z", label="clip 1").startswith("clip_1-")
