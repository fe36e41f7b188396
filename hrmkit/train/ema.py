"""Exponential moving average of the trainable weights (TRM evaluates with EMA weights, rate 0.999).

Only parameters are averaged; buffers (the puzzle-embedding table, init vectors) are taken from the live model
when the EMA weights are exported, as TRM does.
"""

from __future__ import annotations

import torch


class EMA:
    def __init__(self, model: torch.nn.Module, rate: float = 0.999):
        self.rate = rate
        self.shadow = {n: p.detach().clone().float() for n, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for n, p in model.named_parameters():
            if n in self.shadow:
                self.shadow[n].lerp_(p.detach().float(), 1 - self.rate)

    def state_dict(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The model's full state dict with the averaged parameters in place of the live ones."""
        out = {k: v.detach() for k, v in model.state_dict().items()}
        for n, t in self.shadow.items():
            out[n] = t.to(out[n].dtype)
        return out

    def load_shadow(self, tensors: dict[str, torch.Tensor]) -> None:
        for n in self.shadow:
            self.shadow[n].copy_(tensors[n].float())
