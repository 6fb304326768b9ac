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
    jobs = [engine.CommandJob(f"job{i}", py(f"import time; time.sleep(0.5); open({str(marks[i])!r}, 'w').write('x')"),
                              tmp_path / f"job{i}.log", done=marks[i].exists, info={"i": i}) for i in range(3)]
    jobs.append(engine.CommandJob("bad", py("import sys; print('boom: no such recipe'); sys.exit(3)"), tmp_path / "bad.log"))
    t0 = time.perf_counter()
    rows = engine.run_commands(jobs, ledger, workers=4, log=lambda s: None).set_index("job")
    assert time.perf_counter() - t0 < 4 * 0.5 + 3  # in parallel (each job also starts a Python)
    assert (rows.loc[["job0", "job1", "job2"], "status"] == "ok").all()
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
    jobs = [engine.CommandJob("quick", py(f"open({str(quick)!r}, 'w').write('x')"), tmp_path / "q.log", done=quick.exists),
            engine.CommandJob("slow", py("import time; time.sleep(60)"), tmp_path / "s.log", done=lambda: False)]
    timer = threading.Timer(3.0, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(engine.Stopped):
        engine.run_commands(jobs, ledger, workers=2, grace_seconds=5, log=lambda s: None)
    timer.cancel()
    assert time.perf_counter() - t0 < 30  # the 60 s job was stopped
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
