"""Losses for ACT training: stablemax / softmax cross-entropy and the ACT loss head (LM loss + Q-learning halting).

    carry, out = model(carry, batch)
    loss, metrics = act_loss(carry, out)          # loss is a SUM over the batch: divide by the global batch size

Labels come from `carry.current_data["labels"]` (the rows each sequence is working on); positions whose label is
`ignore_index` do not count; with loss_on="blanks" neither do cells whose input is not the blank token (the givens
of a Sudoku), so "sequence fully correct", the Q-halt target, means every blank right. Metrics count only sequences that halted in this step (so they describe final answers).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hrmkit.models.config import BLANK_TOKEN_ID

IGNORE_LABEL_ID = -100


def _stablemax_s(x: torch.Tensor, eps: float = 1e-30) -> torch.Tensor:
    # s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0: grows linearly, so no overflow and no vanishing gradient
    return torch.where(x < 0, 1 / (1 - x + eps), x + 1)


def log_stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    s = _stablemax_s(x)
    return torch.log(s / s.sum(dim=dim, keepdim=True))


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_LABEL_ID):
    """Per-position loss [B, L] of stablemax (computed in float64, as the authors); 0 where ignored."""
    logprobs = log_stablemax(logits.to(torch.float64), dim=-1)  # (B, L, V)
    valid = labels != ignore_index
    picked = logprobs.gather(-1, torch.where(valid, labels, 0).long().unsqueeze(-1)).squeeze(-1)  # (B, L)
    return -torch.where(valid, picked, 0)


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_LABEL_ID):
    """Per-position softmax cross-entropy [B, L] in float32; 0 where ignored."""
    flat = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.long().reshape(-1),
                           ignore_index=ignore_index, reduction="none")
    return flat.view(labels.shape)


LOSSES = {"stablemax_cross_entropy": stablemax_cross_entropy, "softmax_cross_entropy": softmax_cross_entropy}


def act_loss(carry, outputs: dict[str, torch.Tensor], loss_type: str = "stablemax_cross_entropy",
             ignore_index: int = IGNORE_LABEL_ID, loss_on: str = "all",
             q_weight: float = 0.5) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The authors' ACT loss head, summed over the batch.

    loss = sum_b mean_{valid positions} CE(logits, labels)
           + q_weight * (BCE(q_halt, sequence fully correct) + BCE(q_continue, target_q_continue) where present)
    loss_on: "all" labelled cells (the authors), or "blanks": only cells whose input is the blank token.
    q_weight: 0.5 is the authors' weight.
    metrics (sums over halted sequences with at least one label; divide by `count`): count, accuracy (per-token,
    averaged per sequence), exact_accuracy, q_halt_accuracy, steps; plus the detached loss terms.
    """
    labels = carry.current_data["labels"]
    if loss_on == "blanks":  # the model's fill_mask names them (its blank_token_id); else the Sudoku blank
        fill = outputs.get("fill_mask")
        fill = carry.current_data["inputs"] == BLANK_TOKEN_ID if fill is None else fill
        labels = torch.where(fill, labels, ignore_index)
    elif loss_on != "all":
        raise ValueError(f"act_loss: loss_on must be all or blanks, got {loss_on!r}")
    logits = outputs["logits"]
    with torch.no_grad():
        mask = labels != ignore_index
        counts = mask.sum(-1)  # (B,)
        divisor = counts.clamp_min(1).unsqueeze(-1)  # (B, 1)
        correct = mask & (logits.argmax(-1) == labels)
        seq_correct = correct.sum(-1) == counts  # (B,)
        valid = carry.halted & (counts > 0)
        metrics = {
            "count": valid.sum(),
            "accuracy": torch.where(valid, (correct.float() / divisor).sum(-1), 0).sum(),
            "exact_accuracy": (valid & seq_correct).sum(),
            "q_halt_accuracy": (valid & ((outputs["q_halt_logits"] >= 0) == seq_correct)).sum(),
            "steps": torch.where(valid, carry.steps, 0).sum(),
        }
    lm_loss = (LOSSES[loss_type](logits, labels, ignore_index=ignore_index) / divisor).sum()
    q_halt = outputs["q_halt_logits"]
    q_halt_loss = F.binary_cross_entropy_with_logits(q_halt, seq_correct.to(q_halt.dtype), reduction="sum")
    metrics.update(lm_loss=lm_loss.detach(), q_halt_loss=q_halt_loss.detach())
    loss = lm_loss + q_weight * q_halt_loss
    if "target_q_continue" in outputs:
        q_continue_loss = F.binary_cross_entropy_with_logits(outputs["q_continue_logits"],
                                                             outputs["target_q_continue"], reduction="sum")
        metrics["q_continue_loss"] = q_continue_loss.detach()
        loss = loss + q_weight * q_continue_loss
    return loss, metrics
