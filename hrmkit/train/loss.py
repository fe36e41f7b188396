"""The ACT loss of HRM/TRM training and its per-step counts, as the authors compute them.

    lm_loss   = sum over sequences of (mean over non-ignored positions of the token cross-entropy)
    q_halt    = BCE(q_halt_logit, sequence fully correct)                       summed over sequences
    q_continue= BCE(q_continue_logit, target_q_continue)   (HRM only; TRM halts on q_halt alone)
    loss      = lm_loss + 0.5 * (q_halt + q_continue)                           (a sum: the loop divides by B)

Cross-entropy is stablemax (float64; s(x) = x + 1 for x >= 0, 1 / (1 - x) below) or softmax (float32).
Accuracy counts are over the sequences that halted at this step (their answer is final), as the authors log.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _s(x: torch.Tensor) -> torch.Tensor:
    # the unused branch must stay finite: torch.where back-propagates 0 * its gradient, and 0 * inf = NaN at x = 1
    return torch.where(x < 0, 1 / (1 - x.clamp_max(0)), x + 1)


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-position -log stablemax(logits)[label]; 0 where mask is False. logits [..., V], labels/mask [...]."""
    s = _s(logits.to(torch.float64))
    logp = torch.log(s / s.sum(-1, keepdim=True))
    picked = logp.gather(-1, torch.where(mask, labels, 0).long().unsqueeze(-1)).squeeze(-1)
    return -torch.where(mask, picked, 0)


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    ce = F.cross_entropy(logits.float().flatten(0, -2), torch.where(mask, labels, 0).long().flatten(),
                         reduction="none").view(labels.shape)
    return torch.where(mask, ce, 0)


LOSSES = {"stablemax": stablemax_cross_entropy, "softmax": softmax_cross_entropy}


def act_loss(carry, outputs: dict[str, torch.Tensor], loss: str, ignore_label_id: int):
    """(loss summed over the batch, dict of per-step sums) for one ACT step. See the module docstring."""
    labels = carry.current_data["labels"]  # (B, L)
    logits = outputs["logits"]  # (B, L, V)
    mask = labels != ignore_label_id
    counts = mask.sum(-1)  # (B,)
    divisor = counts.clamp_min(1).unsqueeze(-1)
    with torch.no_grad():
        correct = mask & (logits.argmax(-1) == labels)  # (B, L)
        seq_correct = correct.sum(-1) == counts  # (B,)
        valid = carry.halted & (counts > 0)  # halted sequences with a target
    lm = (LOSSES[loss](logits, labels, mask) / divisor).sum()
    q_halt = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"].float(), seq_correct.float(),
                                                reduction="sum")
    q_cont = torch.zeros((), device=logits.device)
    if "target_q_continue" in outputs:
        q_cont = F.binary_cross_entropy_with_logits(outputs["q_continue_logits"].float(),
                                                    outputs["target_q_continue"].float(), reduction="sum")
    total = lm + 0.5 * (q_halt + q_cont)
    with torch.no_grad():
        parts = {
            "lm_loss": lm.detach(),
            "q_halt_loss": q_halt.detach(),
            "q_continue_loss": q_cont.detach(),
            "count": valid.sum(),
            "accuracy": torch.where(valid, (correct.float() / divisor).sum(-1), 0).sum(),
            "exact_accuracy": (valid & seq_correct).sum(),
            "steps": torch.where(valid, carry.steps, 0).sum(),
        }
    return total, parts
