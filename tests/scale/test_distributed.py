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
