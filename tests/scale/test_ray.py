"""`annotate-corpus` and `sweep` on a real two-node Ray cluster on localhost, inside a private network namespace.

The launcher test re-runs this module's ``inside`` tests under ``unshare --net`` (only loopback up;
see tests/scale/netns.py); they start the cluster themselves (``ray start --head`` + a second
``ray start --address``) and stop it even when they fail. Ray is never started outside that namespace.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from . import netns
from .conftest import REPO, free_port, make_clips, run

inside = pytest.mark.skipif(not netns.inside(), reason="runs inside a private network namespace, started by test_ray_in_a_private_network_namespace")


@pytest.mark.slow
def test_ray_in_a_private_network_namespace():
    """Launch the Ray tests below inside ``unshare --net`` (skip, saying why, where no namespace can be made)."""
    if netns.inside():
        pytest.skip("the launcher itself (already inside the namespace)")
    pytest.importorskip("ray", reason="the [cluster] extra (ray) is not installed")
    reason = netns.netns_unavailable()
    if reason:
        pytest.skip(reason)
    t0 = time.perf_counter()
    proc = run(netns.netns_command([sys.executable, "-m", "pytest", __file__, "-q", "-x", "-rs", "-p", "no:cacheprovider", "-k", "on_ray",
                                    "--durations", "5"]),
               timeout=900, env={netns.ENV_FLAG: "1", **netns.RAY_ENV})
    print(proc.stdout[-3000:], f"\n(inside the namespace: {time.perf_counter() - t0:.1f} s)")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert re.search(r"\b2 passed\b", proc.stdout) and "skipped" not in proc.stdout, proc.stdout[-3000:]


# --------------------------------------------------------------------------- inside the namespace
def _ray_cli() -> list[str]:
    exe = Path(sys.executable).with_name("ray")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def cluster():
    """A head node and a second node (1 CPU each) on 127.0.0.1; its address. Stopped at the end, also on failure."""
    if not netns.only_loopback():  # never start Ray where it could talk to the network
        pytest.fail("refusing to start Ray: this network namespace has interfaces besides loopback")
    import ray

    port = free_port()
    temp = tempfile.mkdtemp(prefix="/tmp/sfray")  # short: Ray's unix socket paths are limited to 107 bytes
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
    common = ["--num-cpus", "1", "--num-gpus", "0", "--object-store-memory", str(80 * 2**20), "--disable-usage-stats"]
    address = f"127.0.0.1:{port}"
    try:
        for args in (["start", "--head", "--port", str(port), "--temp-dir", temp, "--include-dashboard", "false",
                      "--resources", '{"head_node": 1}', *common],
                     ["start", "--address", address, "--resources", '{"second_node": 1}', *common]):
            proc = subprocess.run([*_ray_cli(), *args], capture_output=True, text=True, env=env, timeout=180)
            assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        try:
            deadline = time.time() + 60
            while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.time() < deadline:
                time.sleep(0.5)
            assert len([n for n in ray.nodes() if n["Alive"]]) == 2 and ray.cluster_resources()["CPU"] == 2
        finally:
            ray.shutdown()
        os.environ["PYTHONPATH"] = env["PYTHONPATH"]
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([*_ray_cli(), "stop", "--force"], capture_output=True, env=env, timeout=120)  # this pid namespace only
        shutil.rmtree(temp, ignore_errors=True)


def _outputs(folder: Path) -> dict[str, bytes]:
    """A video's files; in the EAF the document's creation time (ELAN's DATE attribute) is blanked."""
    return {p.name: re.sub(rb'DATE="[^"]*"', b'DATE=""', p.read_bytes()) if p.suffix == ".eaf" else p.read_bytes()
            for p in sorted(folder.iterdir())}


class Killer(threading.Thread):
    """Watches OUT/videos: kills (SIGKILL) the first worker seen annotating a video (its staging folder names its
    pid) and notes the inode of every finished video folder when it first appears."""

    def __init__(self, videos: Path):
        super().__init__(daemon=True)
        self.videos, self.stop = videos, threading.Event()
        self.killed: tuple[str, int] | None = None
        self.first_inode: dict[str, int] = {}

    def run(self):
        while not self.stop.is_set():
            for d in list(self.videos.iterdir()) if self.videos.is_dir() else []:
                try:
                    if d.name.startswith(".") and ".part-" in d.name and self.killed is None:
                        pid = int(d.name.rsplit("-", 1)[1])
                        os.kill(pid, signal.SIGKILL)
                        self.killed = (d.name[1:].split(".part-")[0], pid)
                    elif not d.name.startswith("."):
                        self.first_inode.setdefault(d.name, d.stat().st_ino)
                except (OSError, ValueError):
                    pass
            time.sleep(0.01)


@inside
def test_corpus_on_ray_survives_a_killed_worker(cluster, onnx_model, tmp_path):
    from signfer.scale.corpus import annotate_corpus

    from signfer.annotate.options import AnnotationOptions, CalibrationOptions, ModelOptions, OutputOptions, SignerOptions

    listing = make_clips(tmp_path / "clips", [24, 30, 24, 30])
    options = AnnotationOptions(signers=SignerOptions("all"), calibration=CalibrationOptions("median"))  # as tests/annotate/test_corpus_parity
    kw = dict(models=ModelOptions(model=str(onnx_model), threads=1), options=options, outputs=OutputOptions(("csv", "json", "eaf")), log=lambda s: None)
    local = annotate_corpus(listing, tmp_path / "local", workers=1, **kw)
    assert (local["status"] == "ok").all()

    out = tmp_path / "ray"
    killer = Killer(out / "videos")
    killer.start()
    try:
        table = annotate_corpus(listing, out, engine="ray", address=cluster, workers=2, **kw).set_index("name")
    finally:
        killer.stop.set()
        killer.join()
    assert killer.killed is not None, "no worker was caught mid-video"
    victim, pid = killer.killed
    names = [f"clip{i}" for i in range(4)]
    assert sorted(table.index) == names and (table["status"] == "ok").all(), table[["status", "error"]]
    assert int(table.loc[victim, "pid"]) != pid  # redone by the restarted worker
    assert table["node"].nunique() == 2  # both nodes worked
    log = pd.read_csv(out / "corpus_log.csv", keep_default_na=False)
    assert sorted(log["name"]) == names and (log["status"] == "ok").all()
    assert sorted(p.name for p in (out / "videos").iterdir()) == names  # no staging folder left
    assert sorted(p.name for p in (out / ".signfer-done").iterdir()) == sorted(f"{n}.json" for n in log["name"])
    for name in names:
        folder = out / "videos" / name
        assert folder.stat().st_ino == killer.first_inode[name]  # committed once: never replaced after it appeared
        mine, theirs = _outputs(folder), _outputs(tmp_path / "local" / "videos" / name)
        assert sorted(mine) == [f"{name}.csv", f"{name}.eaf", f"{name}.json"] and mine == theirs
        assert json.loads(mine[f"{name}.json"])["summary"]["frames"] in (24, 30)

    again = annotate_corpus(listing, out, engine="ray", address=cluster, **kw)  # a restart: nothing left to do
    assert (again["status"] == "skipped").all() and len(again) == 4

    from signfer.errors import UserError

    with pytest.raises(UserError, match="Ray workers could not start: .*no_such_model"):  # once, with the reason
        annotate_corpus(listing, tmp_path / "bad", engine="ray", address=cluster, **{**kw, "models": ModelOptions(model=str(tmp_path / "no_such_model.pt"))})


@inside
def test_sweep_on_ray_two_folds_on_two_nodes(cluster, tmp_path):
    import yaml

    from signfer.samples.feph_layout import make_synthetic_feph
    from signfer.training.recipes import load_recipe

    data = make_synthetic_feph(tmp_path / "feph", n_sequences=12, frames_per_sequence=2, size=(20, 16), awkward_rows=False)
    recipe = load_recipe("easier2025").to_dict()
    recipe.update(name="tiny", stages=[{"trainable": "all", "epochs": 1, "lr": 0.001}])
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    out = tmp_path / "sweep"
    proc = run([sys.executable, "-m", "signfer.cli", "sweep", "--recipes", tmp_path / "tiny.yaml", "--data", data, "--out", out,
                "--folds", "2", "--pretrained", "none", "--set", "image_size=16", "--set", "preset=none", "--set", "batch_size=4",
                "--set", "val_fraction=0", "--cache", "none", "--engine", "ray", "--address", cluster], timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = pd.read_csv(out / "_sweep" / "jobs.csv", keep_default_na=False)
    assert sorted(jobs["fold"]) == [0, 1] and (jobs["status"] == "ok").all()
    assert jobs["node"].nunique() == 2  # 1 CPU per node, 1 per job: the two folds ran on the two nodes
    for k in (0, 1):
        metrics = json.loads((out / "tiny" / f"fold_{k}" / "metrics.json").read_text())
        assert 0 <= metrics["accuracy"] <= 1
    assert "tiny" in (out / "sweep_summary.md").read_text()
