"""TRM, the Tiny Recursive Model: one small network, a latent z and an answer y, deep recursion.

Per segment (ACT step), with x the input embedding and `net` one stack of L_layers blocks:

    repeat H_cycles times:                       # T in the paper
        repeat L_cycles times: z = net(z, y + x) # n latent updates, with the input
        y = net(y, z)                            # one answer update, without the input
    the first H_cycles - 1 repetitions run without gradient; the last is back-propagated in full.

y is stored in the carry's z_H slot and z in z_L, so the ACT wrapper, the carry, `trace` and the checkpoint format
are HRM's (hrmkit.models.hrm). Differences there: with no_ACT_continue (the paper's setting) a sequence halts on
q_halt > 0 alone and no target_q_continue is produced, so training needs no extra forward. The model has no
state outside its weights, so an EMA copy (copy.deepcopy + lerp of parameters) works as is.

The config switches described in hrmkit.models.hrm (pos_encodings: family-coords, attn_mask: family-graph, loss_on,
halting, halt_rule) work the same here; grad_cycles is HRM's (TRM back-propagates its whole last cycle already). With
no_ACT_continue q_continue gets no target, so the halting rule is threshold (TRMConfig.q_continue_trained).

Blocks: attention + SwiGLU as HRM, or with mlp_t (the Sudoku "MLP-mixer" variant) a SwiGLU across the sequence
positions replaces attention: x = norm(x + mlp_t(x^T)^T).
"""

from __future__ import annotations

import torch
from torch import nn

from hrmkit.models.config import TRMConfig
from hrmkit.models.hrm import HRM, HRMInner, make_attention
from hrmkit.models.layers import SwiGLU, rms_norm


class TRMBlock(nn.Module):
    def __init__(self, config: TRMConfig):
        super().__init__()
        self.mixes_tokens = config.mlp_t
        if config.mlp_t:  # mixes positions: its "hidden" size is the sequence length
            self.mlp_t = SwiGLU(config.seq_len + config.prefix_len, config.expansion)
        else:
            self.self_attn = make_attention(config)
        self.mlp = SwiGLU(config.hidden_size, config.expansion)
        self.eps = config.rms_norm_eps

    def forward(self, x: torch.Tensor, cos_sin) -> torch.Tensor:
        if self.mixes_tokens:
            xt = x.transpose(1, 2)  # (B, D, L)
            x = rms_norm(xt + self.mlp_t(xt), self.eps).transpose(1, 2)  # normalised over positions, as the authors
        else:
            x = rms_norm(x + self.self_attn(x, cos_sin), self.eps)
        return rms_norm(x + self.mlp(x), self.eps)


class TRMNet(nn.Module):
    """The single network: adds the injection, then runs the blocks (same interface as HRM's ReasoningModule)."""

    def __init__(self, config: TRMConfig):
        super().__init__()
        self.layers = nn.ModuleList(TRMBlock(config) for _ in range(config.L_layers))

    def forward(self, z: torch.Tensor, injection: torch.Tensor, cos_sin) -> torch.Tensor:
        z = z + injection
        for layer in self.layers:
            z = layer(z, cos_sin)
        return z


class TRMInner(HRMInner):
    """HRM's embeddings and heads around one network `L_level`; z_H holds the answer y, z_L the latent z."""

    def _make_modules(self, config: TRMConfig) -> None:
        self.L_level = TRMNet(config)

    def forward(self, z_H: torch.Tensor, z_L: torch.Tensor, inputs: torch.Tensor, puzzle_ids: torch.Tensor):
        """One segment: y=z_H, z=z_L [B, P+L, D] -> detached y, z, logits [B, L, V], q_halt [B], q_continue [B]."""
        cfg, cos_sin = self.config, self.cos_sin()
        x = self.input_embeddings(inputs, puzzle_ids, z_H.dtype)
        y, z = z_H, z_L
        with torch.no_grad():  # T-1 cycles without gradient
            for _ in range(cfg.H_cycles - 1):
                for _ in range(cfg.L_cycles):
                    z = self.L_level(z, y + x, cos_sin)
                y = self.L_level(y, z, cos_sin)
        for _ in range(cfg.L_cycles):  # the last cycle, back-propagated in full
            z = self.L_level(z, y + x, cos_sin)
        y = self.L_level(y, z, cos_sin)
        return (y.detach(), z.detach(), *self.heads(y, inputs))


class TRM(HRM):
    config_class = TRMConfig
    inner_class = TRMInner

    def __init__(self, config: TRMConfig):
        super().__init__(config)
        self.bootstrap_q_continue = not config.no_ACT_continue
