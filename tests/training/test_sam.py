"""SAM: the two-step update of Foret et al., two forward/backward passes per step, exact state round trip."""

from __future__ import annotations

import copy

import torch
from torch import nn

from signfer.training.loop import train_step
from signfer.training.sam import SAM, bn_running_stats_frozen


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 5, generator=g)
    y = torch.randint(0, 3, (16,), generator=g)
    torch.manual_seed(seed)
    return nn.Linear(5, 3), x, y


def test_sam_step_is_sgd_at_the_perturbed_point():
    model, x, y = _problem()
    w0 = [p.detach().clone() for p in model.parameters()]
    lr, rho = 0.1, 0.05
    # by hand: g = grad at w; e = rho g / ||g||; step w <- w - lr * grad at (w + e)
    ref = copy.deepcopy(model)
    loss = nn.functional.cross_entropy(ref(x), y)
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    norm = torch.norm(torch.stack([g.norm() for g in grads]))
    with torch.no_grad():
        for p, g in zip(ref.parameters(), grads):
            p.add_(rho * g / norm)
    grads2 = torch.autograd.grad(nn.functional.cross_entropy(ref(x), y), list(ref.parameters()))
    expected = [w - lr * g for w, g in zip(w0, grads2)]

    opt = SAM(model.parameters(), torch.optim.SGD, rho=rho, lr=lr)
    train_step(model, x, y, opt)
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e, rtol=0, atol=1e-6)
    assert any(not torch.equal(p, w) for p, w in zip(model.parameters(), w0))


def test_sam_makes_two_forward_backward_passes_per_step_plain_adam_one():
    for wrap, passes in ((True, 2), (False, 1)):
        model, x, y = _problem()
        calls = {"forward": 0, "backward": 0}

        def count(module, inputs, output):
            calls["forward"] += 1
            output.register_hook(lambda grad: calls.__setitem__("backward", calls["backward"] + 1))

        model.register_forward_hook(count)
        opt = SAM(model.parameters(), torch.optim.Adam, lr=1e-2) if wrap else torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(3):
            train_step(model, x, y, opt)
        assert calls == {"forward": 3 * passes, "backward": 3 * passes}


def test_sam_state_dict_round_trip_continues_identically():
    model, x, y = _problem()
    opt = SAM(model.parameters(), torch.optim.Adam, rho=0.05, lr=1e-2)
    for _ in range(2):
        train_step(model, x, y, opt)
    state = copy.deepcopy(opt.state_dict())
    assert state["state"] and "exp_avg" in state["state"][0]  # Adam's moments are saved, not only SAM's
    twin = copy.deepcopy(model)
    twin_opt = SAM(twin.parameters(), torch.optim.Adam, rho=0.05, lr=1e-2)
    twin_opt.load_state_dict(state)
    for _ in range(2):
        train_step(model, x, y, opt)
        train_step(twin, x, y, twin_opt)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_second_pass_leaves_batchnorm_statistics_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    x, y = torch.randn(8, 4) * 3 + 1, torch.tensor([0, 1] * 4)
    once = copy.deepcopy(net).train()
    once(x)  # one forward in training mode updates the running statistics once
    opt = SAM(net.parameters(), torch.optim.SGD, lr=0.0)  # lr 0: weights stay, only the statistics could move
    net.train()
    train_step(net, x, y, opt)
    assert torch.equal(net[1].running_mean, once[1].running_mean)
    assert torch.equal(net[1].running_var, once[1].running_var)
    assert int(net[1].num_batches_tracked) == 1
    with bn_running_stats_frozen(net):
        assert net[1].momentum == 0.0
    assert net[1].momentum == 0.1
