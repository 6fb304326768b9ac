"""`signfer sweep`: parallel (recipe, region, fold) jobs, a failed job recorded, finished jobs skipped on restart."""

from __future__ import annotations

import pandas as pd
import pytest

from .conftest import run


@pytest.fixture(scope="module")
def feph(tmp_path_factory):
    from signfer.samples.feph_layout import make_synthetic_feph

    return make_synthetic_feph(tmp_path_factory.mktemp("feph"), n_sequences=16, frames_per_sequence=2, size=(20, 16),
                               awkward_rows=False)


def sweep_cmd(data, out, recipes):
    return ["sweep", "--recipes", ",".join(map(str, recipes)), "--regions", "full,upper", "--data", data, "--out", out,
            "--folds", "2", "--fold-list", "0", "--pretrained", "none", "--set", "image_size=16", "--set", "preset=none",
            "--set", "batch_size=4", "--set", "val_fraction=0", "--cache", "none", "--jobs", "2", "--threads", "1"]


def recipe_file(path, stages):
    import yaml

    from signfer.training.recipes import load_recipe

    recipe = load_recipe("easier2025").to_dict()
    recipe.update(name=path.stem, stages=stages)
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def test_sweep_runs_jobs_in_parallel_records_failures_and_resumes(feph, tmp_path, signfer_cmd):
    import yaml

    good = recipe_file(tmp_path / "tiny.yaml", [{"trainable": "all", "epochs": 1, "lr": 0.001}])
    bad = recipe_file(tmp_path / "too_deep.yaml", [{"trainable": "last:99", "epochs": 1, "lr": 0.001}])  # fails in its job
    out = tmp_path / "sweep"
    proc = run([*signfer_cmd, *sweep_cmd(feph, out, [good])])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    jobs = pd.read_csv(out / "_sweep" / "jobs.csv").set_index("run")
    assert sorted(jobs.index) == ["tiny-full", "tiny-upper"] and (jobs["status"] == "ok").all()
    for run_dir in ("tiny-full", "tiny-upper"):
        assert (out / run_dir / "fold_0" / "metrics.json").exists() and (out / run_dir / "run.yaml").exists()
        assert not (out / run_dir / "fold_1").exists()  # --fold-list 0
    assert yaml.safe_load((out / "tiny-upper" / "run.yaml").read_text())["region"] == "upper"
    summary = (out / "sweep_summary.md").read_text()
    assert "tiny-full" in summary and "tiny-upper" in summary
    t = pd.to_datetime(jobs["started"])  # the two jobs overlapped in time
    assert abs((t.iloc[0] - t.iloc[1]).total_seconds()) < min(jobs["seconds"])

    # restart with one more recipe whose jobs fail: recorded with the reason; the finished jobs are skipped, not redone
    before = {p: p.stat().st_mtime_ns for p in out.rglob("metrics.json")}
    proc = run([*signfer_cmd, *sweep_cmd(feph, out, [good, bad])])
    assert proc.returncode == 1
    assert "2 job(s) finished in an earlier run: skipped" in proc.stdout
    jobs = pd.read_csv(out / "_sweep" / "jobs.csv").set_index("run")
    assert (jobs.loc[["tiny-full", "tiny-upper"], "status"] == "ok").all()
    failed = jobs[jobs["status"] == "failed"]
    assert sorted(failed.index) == ["too_deep-full", "too_deep-upper"]
    assert failed["error"].str.contains("last:99").all()
    assert {p: p.stat().st_mtime_ns for p in out.rglob("metrics.json")} == before
    summary = (out / "sweep_summary.md").read_text()
    assert "failed: too_deep" in summary and "tiny-upper" in summary
