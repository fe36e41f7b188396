"""The ACT loss the loop uses (hrmkit.models.losses): stablemax by hand, finite gradients, Q losses, counts."""

import math
from types import SimpleNamespace

import torch

from hrmkit.models.losses import act_loss, softmax_cross_entropy, stablemax_cross_entropy


def test_stablemax_by_hand_and_finite_gradient_at_one():
    x = torch.tensor([[1.0, 0.5, -2.0]], requires_grad=True)
    ce = stablemax_cross_entropy(x, torch.tensor([1]))
    s = [2.0, 1.5, 1 / 3]  # x + 1 for x >= 0, 1 / (1 - x) below
    assert ce.item() == pytest_approx(-math.log(1.5 / sum(s)))
    ce.sum().backward()
    assert torch.isfinite(x.grad).all()  # x = 1 exactly used to give 0 * inf = NaN through torch.where


def pytest_approx(v):
    import pytest

    return pytest.approx(v, rel=1e-12)


def test_masked_positions_cost_nothing():
    x = torch.randn(2, 3, 5)
    labels = torch.tensor([[2, 0, 3], [0, 0, 0]])
    mask = labels != 0
    for fn in (stablemax_cross_entropy, softmax_cross_entropy):
        ce = fn(x, labels, ignore_index=0)
        assert ce.shape == (2, 3) and (ce[~mask] == 0).all() and (ce[mask] > 0).all()


def test_act_loss_parts_by_hand():
    V = 4
    labels = torch.tensor([[1, 2, 0], [3, 3, 3]])  # 0 is ignored
    logits = torch.full((2, 3, V), -5.0)
    logits[0, 0, 1] = logits[0, 1, 2] = 5.0  # sequence 0 fully right
    logits[1, :, 0] = 5.0  # sequence 1 all wrong
    q_halt = torch.tensor([0.0, 2.0])
    q_cont = torch.tensor([1.0, -1.0])
    target = torch.tensor([0.5, 0.25])
    carry = SimpleNamespace(current_data={"labels": labels}, halted=torch.tensor([True, True]),
                            steps=torch.tensor([3, 5]))
    out = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_cont, "target_q_continue": target}
    total, parts = act_loss(carry, out, "softmax_cross_entropy", ignore_index=0)
    ce = softmax_cross_entropy(logits, labels, ignore_index=0)
    lm = ce[0, :2].mean() + ce[1].mean()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    qh = bce(q_halt, torch.tensor([1.0, 0.0]), reduction="sum")
    qc = bce(q_cont, target, reduction="sum")
    torch.testing.assert_close(total, lm + 0.5 * (qh + qc))
    assert parts["count"] == 2 and parts["exact_accuracy"] == 1 and parts["steps"] == 8
    torch.testing.assert_close(parts["accuracy"], torch.tensor(1.0))  # 1 + 0
    # only halted sequences are counted
    carry.halted = torch.tensor([False, True])
    _, parts = act_loss(carry, out, "softmax_cross_entropy", ignore_index=0)
    assert parts["count"] == 1 and parts["exact_accuracy"] == 0 and parts["steps"] == 5
