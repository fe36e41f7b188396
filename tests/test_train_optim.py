"""Optimisers, schedule, EMA and checkpoint helpers of hrmkit.train, checked against hand computations."""

import math
import random

import numpy as np
import pytest
import torch

from hrmkit.train import checkpoint
from hrmkit.train.ema import EMA
from hrmkit.train.optim import AdamATan2, SparseSignSGD, sparse_sign_sgd_
from hrmkit.train.schedule import lr_at


def test_adam_atan2_matches_hand_computation():
    lr, b1, b2, wd = 0.1, 0.9, 0.95, 0.5
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = AdamATan2([p], lr=lr, betas=(b1, b2), weight_decay=wd)
    grads = [torch.tensor([0.3, -1.0, 0.0]), torch.tensor([-0.2, 4.0, 1e-8])]
    # by hand, in float64
    x, m, v = [1.0, -2.0, 0.5], [0.0] * 3, [0.0] * 3
    for t, g in enumerate(grads, start=1):
        p.grad = g.clone()
        opt.step()
        for i in range(3):
            x[i] *= 1 - lr * wd
            m[i] = b1 * m[i] + (1 - b1) * g[i].item()
            v[i] = b2 * v[i] + (1 - b2) * g[i].item() ** 2
            x[i] -= lr / (1 - b1**t) * math.atan2(m[i], math.sqrt(v[i]) / math.sqrt(1 - b2**t))
        torch.testing.assert_close(p.detach(), torch.tensor(x, dtype=torch.float32), rtol=0, atol=1e-6)
    # the first step of a coordinate with gradient g moves it by ~lr*sign(g) (bounded update, no epsilon)
    assert opt.state[p]["step"].item() == 2


def test_adam_atan2_zero_gradient_moves_only_by_decay():
    p = torch.nn.Parameter(torch.tensor([2.0]))
    opt = AdamATan2([p], lr=0.1, weight_decay=1.0)
    p.grad = torch.zeros(1)
    opt.step()  # atan2(0, 0) = 0: no NaN without an epsilon
    assert p.item() == pytest.approx(2.0 * 0.9)


def test_sign_sgd_touches_only_batch_rows_and_sums_duplicates():
    table = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    before = table.clone()
    ids = torch.tensor([4, 1, 4])
    grad = torch.tensor([[1.0, -1.0], [-2.0, 0.0], [-3.0, 2.0]])  # row 4: summed -> (-2, 1)
    sparse_sign_sgd_(table, grad, ids, lr=0.5, weight_decay=0.1)
    untouched = [0, 2, 3, 5]
    assert torch.equal(table[untouched], before[untouched])
    decay = 1 - 0.5 * 0.1
    torch.testing.assert_close(table[4], before[4] * decay - 0.5 * torch.tensor([-1.0, 1.0]))
    torch.testing.assert_close(table[1], before[1] * decay - 0.5 * torch.tensor([-1.0, 0.0]))


def test_sparse_sign_sgd_optimizer_uses_scheduled_lr():
    table = torch.zeros(3, 2)
    opt = SparseSignSGD(lambda: (table, torch.ones(1, 2), torch.tensor([2])), lr=1.0, weight_decay=0.0)
    opt.param_groups[0]["lr"] = 0.25
    opt.step()
    assert table[2].tolist() == [-0.25, -0.25] and table[:2].abs().sum() == 0


def test_schedule_warmup_then_cosine():
    assert lr_at(1, 1.0, 10, 110, 0.1) == pytest.approx(0.1)
    assert lr_at(10, 1.0, 10, 110, 0.1) == pytest.approx(1.0)
    assert lr_at(60, 1.0, 10, 110, 0.1) == pytest.approx(0.55)
    assert lr_at(110, 1.0, 10, 110, 0.1) == pytest.approx(0.1)
    assert lr_at(500, 1.0, 10, 110, 1.0) == pytest.approx(1.0)  # authors' default: constant after warm-up


def test_ema_tracks_parameters():
    model = torch.nn.Linear(2, 1)
    ema = EMA(model, rate=0.5)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(2.0)
    ema.update(model)
    torch.testing.assert_close(ema.state_dict(model)["weight"], start + 1.0)


def test_rng_state_round_trip():
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    tensors, meta = checkpoint.rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    checkpoint.set_rng_state(tensors, meta)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_flatten_unflatten_nested_carry():
    from dataclasses import dataclass

    @dataclass
    class Inner:
        z_H: torch.Tensor
        z_L: torch.Tensor

    @dataclass
    class Carry:
        inner: Inner
        steps: torch.Tensor
        data: dict

    c = Carry(Inner(torch.randn(2, 3), torch.randn(2, 3)), torch.tensor([1, 2]), {"inputs": torch.ones(2, 4)})
    flat = checkpoint.flatten(c)
    assert set(flat) == {"inner.z_H", "inner.z_L", "steps", "data.inputs"}
    template = Carry(Inner(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2, dtype=torch.long), {"inputs": torch.zeros(2, 4)})
    back = checkpoint.unflatten_into(template, flat)
    assert torch.equal(back.inner.z_H, c.inner.z_H) and torch.equal(back.data["inputs"], c.data["inputs"])
