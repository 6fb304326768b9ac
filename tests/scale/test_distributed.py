"""Data-parallel training (signfer.training.distributed): two gloo processes on CPU give the one-process result."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from signfer.training import distributed

from .conftest import run, torchrun

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_global_batches_follow_the_one_process_loader():
    """World size 1: the same batches as DataLoader(shuffle=True, generator), and the generator ends in the same state."""
    data = list(range(37))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    plain = DataLoader(data, batch_size=8, shuffle=True, generator=g1, collate_fn=list)
    ours = DataLoader(distributed.RankSlice(data, 0, 1), batch_sampler=distributed.GlobalBatchSampler(37, 8, g2, 1),
                      generator=g2, collate_fn=list)
    for _ in range(2):  # two epochs
        assert [b for b in plain] == [b for b in ours]
    assert torch.equal(g1.get_state(), g2.get_state())


def test_each_process_takes_every_world_th_sample_of_each_global_batch():
    g = torch.Generator().manual_seed(1)
    batches = list(distributed.GlobalBatchSampler(11, 4, g, 2))
    assert [len(b) for b in batches] == [4, 4, 3]
    assert sorted(i for b in batches for i in b) == list(range(11))
    parts = [distributed.RankSlice(list(range(11)), r, 2).__getitems__(batches[2]) for r in (0, 1)]
    assert parts[0] == batches[2][0::2] and parts[1] == batches[2][1::2]
    # a trailing batch smaller than the number of processes cannot be shared out
    assert [len(b) for b in distributed.GlobalBatchSampler(9, 4, g, 2)] == [4, 4]
    assert len(distributed.GlobalBatchSampler(9, 4, g, 2)) == 2
    with pytest.raises(ValueError, match="global batch"):
        distributed.GlobalBatchSampler(9, 1, g, 2)


def test_outside_a_launcher_everything_is_one_process():
    assert not distributed.launched() or distributed.is_distributed()
    assert distributed.setup().world_size == 1
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap_model(model) is model
    assert distributed.all_reduce_sums(1.5, 2) == (1.5, 2)
    with distributed.main_first():
        pass


def test_two_gloo_processes_match_one_process(tmp_path):
    """37 samples, global batch 8 (last batch 5 = 3 + 2), random flips, SGD with momentum, 3 epochs.

    Tolerance: the two runs do the same float32 arithmetic except that each batch's gradient
    is summed in two parts (and over the network) instead of one: rounding differences of a
    few ulp per step (1e-7 relative), which 3 epochs of 5 steps leave far below 1e-5.
    A wrong sample order, flip, or gradient weighting changes the weights by 1e-2 or more.
    """
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    proc = run([sys.executable, WORKER, one])
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run(torchrun(2, WORKER, two))
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = torch.load(one, weights_only=True), torch.load(two, weights_only=True)
    assert b["world"] == 2
    for key in a["state"]:
        assert torch.allclose(a["state"][key], b["state"][key], atol=1e-5, rtol=0), key
    for (loss1, acc1, n1), (loss2, acc2, n2) in zip(a["history"], b["history"]):
        assert n1 == n2 == 37 and acc1 == acc2
        assert loss1 == pytest.approx(loss2, rel=1e-5)
    assert torch.equal(a["gen"], b["gen"])  # the saved loader state resumes identically


# --------------------------------------------------------------------------- signfer train under torchrun
def train_cmd(data, out, *extra) -> list:
    """`signfer train` of a tiny recipe: random MobileNetV2 at 16 px, head-only (BatchNorm frozen), random flips,
    class weights, global batch 6, 2 epochs, on fold 0 of a 2-fold split of a small synthetic FePh set, in float32
    (bf16 kernels may round differently for batches of 6 and 3, which is not what this compares)."""
    return ["train", "--recipe", "easier2025", "--data", data, "--out", out, "--folds", "2", "--pretrained", "none",
            "--set", "image_size=16", "--set", "preset=none", "--set", "batch_size=6", "--set", "val_fraction=0",
            "--set", "hflip=true", "--set", "class_weights=true", "--set", "sampler=shuffle",  # balanced: one process only
            "--set", "precision=fp32",  # float32 sums only
            "--set", "stages=[{trainable: head, optimizer: sgd, momentum: 0.9, lr: 0.05, epochs: 2}]",
            "--cache", "none", "--threads", "1", "--no-progress", *extra]


@pytest.fixture(scope="module")
def feph(tmp_path_factory):
    from signfer.samples.feph_layout import make_synthetic_feph

    return make_synthetic_feph(tmp_path_factory.mktemp("feph"), n_sequences=14, frames_per_sequence=3, size=(20, 16),
                               awkward_rows=False)


def test_signfer_train_on_two_processes_matches_one_process_and_resumes(feph, tmp_path):
    """Plain `signfer train` vs `torchrun --nproc_per_node 2 -m signfer.cli train`, interrupted after epoch 1 and resumed.

    21 training images, global batch 6 (last batch 3 = 2 + 1): order, flips, class-weighted loss
    and gradient weighting must all match; BatchNorm is frozen (head stage), so the only
    difference is float32 summation order: 1e-5 on losses and probabilities is ~100 ulp of
    slack, while any real difference (a sample in another batch, another flip) moves them by
    1e-3 or more.
    """
    import os
    import signal
    import subprocess
    import time

    import pandas as pd

    from .conftest import REPO

    one, two = tmp_path / "one", tmp_path / "two"
    proc = run([sys.executable, "-m", "signfer.cli", *train_cmd(feph, one)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    # two processes, stopped by SIGTERM after the first epoch's checkpoint (as a scheduler pre-empts a job)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    last, marker = two / "fold_0" / "last.pt", tmp_path / "in_epoch_2"
    # the ranks pause after their first step of epoch 2 (tests/faults/paused_training.py): killed on that event
    job = subprocess.Popen(torchrun(2, "-m", "tests.faults.paused_training", last, marker, *train_cmd(feph, two)), cwd=REPO,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 240  # a bound on a hung job only
    while not marker.exists() and job.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if job.poll() is None:
        os.killpg(job.pid, signal.SIGTERM)
    log = job.communicate(timeout=120)[0]
    assert last.exists(), log[-3000:]
    assert job.returncode != 0 and not (two / "fold_0" / "metrics.json").exists(), "the run was not interrupted"
    proc = run(torchrun(2, "-m", "signfer.cli", *train_cmd(feph, two, "--resume")))
    assert proc.returncode == 0, proc.stderr[-3000:]

    h1, h2 = (pd.read_csv(d / "fold_0" / "history.csv") for d in (one, two))
    assert list(h1["epoch"]) == list(h2["epoch"]) == [1, 2]
    assert h1["train_acc"].tolist() == h2["train_acc"].tolist()
    assert h1["train_loss"].to_numpy() == pytest.approx(h2["train_loss"].to_numpy(), rel=1e-5)
    p1, p2 = (pd.read_csv(d / "fold_0" / "predictions.csv") for d in (one, two))
    assert p1["source_id"].tolist() == p2["source_id"].tolist()  # gathered back in order
    probs = [c for c in p1.columns if c.startswith("p_")]
    assert abs(p1[probs].to_numpy() - p2[probs].to_numpy()).max() < 1e-5
    assert (p1["y_pred"] == p2["y_pred"]).all()
    # rank 0 alone wrote the files: one set, no leftovers of a second writer
    assert sorted(p.name for p in (two / "fold_0").iterdir()) == ["best.pt", "history.csv", "last.pt", "metrics.json", "predictions.csv"]
