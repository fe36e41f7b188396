"""HRM ACT v1, the Hierarchical Reasoning Model with adaptive computation time, as the authors run it.

Two recurrent modules of post-norm transformer blocks: H (slow, planning) and L (fast, detail), both over the
sequence [puzzle embedding positions | tokens]. One *segment* (one ACT step) runs H_cycles x (L_cycles L-calls,
one H-call); every call but the last L-call and the last H-call runs without gradient (the 1-step gradient
approximation), and the state (z_H, z_L) is detached between segments.

Training API (used by hrmkit/train):

    carry = model.initial_carry(batch)           # every sequence "halted": the first forward loads the batch
    for step in ...:
        carry, out = model(carry, batch)         # one segment for every sequence of the batch
        loss, metrics = act_loss(carry, out)     # hrmkit.models.losses; labels come from carry.current_data
        loss.backward(); optimiser steps; model.puzzle_emb.sign_sgd_step(...) if it has one

`batch` is a dict of tensors with a leading batch dim: "inputs" [B, seq_len] int, optionally
"puzzle_identifiers" [B] int and "labels" [B, seq_len] (any extra key is carried along the same way).
A halted sequence (all of them in the first call) is reset to H_init/L_init and replaced by the same row of
the *new* batch; the others keep their data and state. `out` holds logits [B, seq_len, V], q_halt_logits [B],
q_continue_logits [B] and, in training, target_q_continue [B] (from one extra forward without gradient).
In training mode a sequence halts when it has run halt_max_steps segments or q_halt > q_continue, but no
earlier than a random minimum (2..halt_max_steps) drawn with probability halt_exploration_prob. In eval mode
it halts exactly at halt_max_steps. `trace()` (hrmkit.models.base) runs N segments for inference.

Switches of the config beyond the authors' model (defaults keep their behaviour; the CPU demo recipe,
benchmarks/demo_recipe/RESULTS.md, turns all of them on):
- pos_encodings: family-coords  one learned table [size, D] per coordinate axis of the `structure` family
  (hrmkit.models.structure; Sudoku: row, column, box of size 9, first spelled sudoku_rcb; mazes: row, column);
  token positions embed as sqrt(D) * (tok + sum of the axis tables) / sqrt(number of axes) (no RoPE);
  puzzle-embedding positions are left as they are. Tables are named embed_<axis> (embed_row, ...).
- attn_mask: family-graph     every attention (all heads, layers, both modules) sees only a position's neighbours in
  the `structure` family's relation graph. A graph of one relation (Sudoku: a cell's row, column and box, first
  spelled sudoku_peers) is a fixed mask (hrmkit.models.attention.graph_mask; puzzle-embedding positions see and
  are seen by everything); a graph of grid offsets (mazes: the cells within attn_radius, first spelled grid) runs
  on GridAttention, whose weights fit a grid of any size.
- grad_cycles: k             the last k H-cycles (their L-calls and H-call) are back-propagated in full; 0 = 1-step.
- loss_on: blanks            the loss covers cells whose input is blank (hrmkit.models.losses); the network is never
  taught the givens, so its logits at given cells are replaced by a fixed one-hot of the input token: every
  decoder (trace, evaluation, solve) copies the givens from the input, and exact accuracy still counts all cells.
- halting: fixed             training runs every sequence exactly halt_max_steps segments (no Q-learning halt, no
  exploration, no extra forward); q_halt is still trained (BCE on "answer fully right"), and inference may halt
  per puzzle on sigmoid(q_halt) > halt_threshold (`halts`; default 0.5, i.e. q_halt > 0).
- halt_rule: q_continue | threshold   the per-puzzle halting rule, named in the config (see HRM.halts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

import torch.nn.functional as F

from hrmkit.models import structure
from hrmkit.models.attention import Attention, GridAttention, graph_mask
from hrmkit.models.base import PretrainedModel
from hrmkit.models.config import BLANK_TOKEN_ID, HRMConfig, ModelConfig, check_halt_threshold
from hrmkit.models.layers import Embedding, Linear, PuzzleEmbedding, RotaryEmbedding, SwiGLU, rms_norm, trunc_normal_


def attention_mask(config: ModelConfig) -> torch.Tensor | None:
    """The fixed structural attention mask [P+L, P+L] the config asks for, or None."""
    if config.graph_kernel != "mask":
        return None
    return graph_mask(config.structure, config.seq_len, config.attn_radius, config.prefix_len)


def make_attention(config: ModelConfig) -> nn.Module:
    """The token mixer of one block: grid attention over the neighbours of a grid graph, or full/masked attention."""
    if config.graph_kernel == "lattice":
        return GridAttention(config.hidden_size, config.num_heads, config.attn_radius, config.structure)
    return Attention(config.hidden_size, config.num_heads, config.attention, attention_mask(config))


def keep_givens(logits: torch.Tensor, inputs: torch.Tensor, blank: int = BLANK_TOKEN_ID) -> torch.Tensor:
    """logits [B, L, V] with every non-blank input cell replaced by a one-hot (0 / -1e4) of its input token."""
    given = (inputs != blank).unsqueeze(-1)  # (B, L, 1)
    fixed = (F.one_hot(inputs.long(), logits.shape[-1]).to(logits.dtype) - 1) * 1e4  # (B, L, V)
    return torch.where(given, fixed, logits)


class Block(nn.Module):
    """Post-norm transformer block: x = norm(x + attn(x)); x = norm(x + swiglu(x))."""

    def __init__(self, config: HRMConfig):
        super().__init__()
        self.self_attn = make_attention(config)
        self.mlp = SwiGLU(config.hidden_size, config.expansion)
        self.eps = config.rms_norm_eps

    def forward(self, x: torch.Tensor, cos_sin) -> torch.Tensor:
        x = rms_norm(x + self.self_attn(x, cos_sin), self.eps)
        return rms_norm(x + self.mlp(x), self.eps)


class ReasoningModule(nn.Module):
    """A stack of blocks; the injection (the other module's state, plus the input for L) is added first."""

    def __init__(self, config: HRMConfig, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(Block(config) for _ in range(num_layers))

    def forward(self, z: torch.Tensor, injection: torch.Tensor, cos_sin) -> torch.Tensor:
        z = z + injection
        for layer in self.layers:
            z = layer(z, cos_sin)
        return z


class HRMInner(nn.Module):
    """Embeddings, the two modules, the heads, and one segment of computation (no ACT bookkeeping)."""

    def __init__(self, config: HRMConfig):
        super().__init__()
        self.config = config
        D = config.hidden_size
        self.prefix_len = config.prefix_len  # puzzle-embedding positions before the tokens
        self.coord_axes: tuple[str, ...] = ()  # pos_encodings family-coords: the family's coordinate axes
        self.embed_scale = math.sqrt(D)
        self.embed_tokens = Embedding(config.vocab_size, D, init_std=1.0 / self.embed_scale)
        self.lm_head = Linear(D, config.vocab_size)
        self.q_head = Linear(D, 2, bias=True)  # (q_halt, q_continue)
        if config.puzzle_emb_ndim > 0:
            self.puzzle_emb = PuzzleEmbedding(config.num_puzzle_identifiers, config.puzzle_emb_ndim)
        total_len = config.seq_len + self.prefix_len
        if config.pos_encodings == "rope":
            self.rotary_emb = RotaryEmbedding(D // config.num_heads, total_len, config.rope_theta)
        elif config.pos_encodings == "learned":
            self.embed_pos = Embedding(total_len, D, init_std=1.0 / self.embed_scale)
        elif config.uses_coords:  # one table per coordinate axis of the family (Sudoku: row, column, box)
            axes, sizes, coords = structure.coordinates(config.structure, config.seq_len)
            self.coord_axes = axes
            for axis, size in zip(axes, sizes):  # embed_row, embed_col, ... (the state-dict names)
                setattr(self, f"embed_{axis}", Embedding(size, D, init_std=1.0 / self.embed_scale))
            # each position's coordinate on each axis (A, L); not saved: it is a function of the config
            self.register_buffer("cell_units", torch.tensor(coords, dtype=torch.long).T.contiguous(), persistent=False)
        self._make_modules(config)
        # Initial states: fixed random vectors (buffers, never trained), broadcast over batch and positions.
        self.register_buffer("H_init", trunc_normal_(torch.empty(D), std=1.0), persistent=True)
        self.register_buffer("L_init", trunc_normal_(torch.empty(D), std=1.0), persistent=True)
        with torch.no_grad():  # Q head starts at "never halt": sigmoid(-5) ~ 0.007
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)

    def _make_modules(self, config: HRMConfig) -> None:
        self.H_level = ReasoningModule(config, config.H_layers)
        self.L_level = ReasoningModule(config, config.L_layers)

    def input_embeddings(self, inputs: torch.Tensor, puzzle_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """[B, seq_len] ids (+ [B] puzzle ids) -> [B, prefix_len + seq_len, D], scaled by sqrt(D)."""
        x = self.embed_tokens(inputs.long(), dtype)  # (B, L, D)
        if self.coord_axes:  # token + one table per axis, divided by sqrt(number of axes)
            for axis, index in zip(self.coord_axes, self.cell_units):
                x = x + getattr(self, f"embed_{axis}")(index, dtype)
            x = x / math.sqrt(len(self.coord_axes))
        if hasattr(self, "puzzle_emb"):
            B, D = x.shape[0], x.shape[-1]
            p = self.puzzle_emb(puzzle_ids, dtype)  # (B, puzzle_emb_ndim)
            p = nn.functional.pad(p, (0, self.prefix_len * D - p.shape[-1]))  # zero-fill the last position
            x = torch.cat((p.view(B, self.prefix_len, D), x), dim=1)  # (B, P + L, D)
        if hasattr(self, "embed_pos"):
            x = 0.707106781 * (x + self.embed_pos.embedding_weight.to(dtype))  # keep the variance of one embedding
        return self.embed_scale * x

    def cos_sin(self):
        return self.rotary_emb() if hasattr(self, "rotary_emb") else None

    def forward(self, z_H: torch.Tensor, z_L: torch.Tensor, inputs: torch.Tensor, puzzle_ids: torch.Tensor):
        """One segment: z_H, z_L [B, P+L, D] -> detached z_H, z_L, logits [B, L, V], q_halt [B], q_continue [B]."""
        cfg, cos_sin = self.config, self.cos_sin()
        x = self.input_embeddings(inputs, puzzle_ids, z_H.dtype)
        if cfg.grad_cycles == 0:
            with torch.no_grad():  # all but the last L-call and the last H-call
                for h in range(cfg.H_cycles):
                    for l in range(cfg.L_cycles):
                        if not (h == cfg.H_cycles - 1 and l == cfg.L_cycles - 1):
                            z_L = self.L_level(z_L, z_H + x, cos_sin)
                    if h != cfg.H_cycles - 1:
                        z_H = self.H_level(z_H, z_L, cos_sin)
            z_L = self.L_level(z_L, z_H + x, cos_sin)  # 1-step gradient: these two calls are back-propagated
            z_H = self.H_level(z_H, z_L, cos_sin)
        else:
            for h in range(cfg.H_cycles):  # the last grad_cycles H-cycles are back-propagated in full
                with torch.set_grad_enabled(torch.is_grad_enabled() and h >= cfg.H_cycles - cfg.grad_cycles):
                    for _ in range(cfg.L_cycles):
                        z_L = self.L_level(z_L, z_H + x, cos_sin)
                    z_H = self.H_level(z_H, z_L, cos_sin)
        return (z_H.detach(), z_L.detach(), *self.heads(z_H, inputs))

    def heads(self, z_H: torch.Tensor, inputs: torch.Tensor):
        """logits [B, L, V] (givens kept with loss_on=blanks), q_halt [B], q_continue [B] from the state z_H."""
        cfg = self.config
        logits = self.lm_head(z_H)[:, self.prefix_len:]  # (B, L, V): puzzle positions dropped
        if cfg.loss_on == "blanks":
            logits = keep_givens(logits, inputs, cfg.blank_token_id)
        q = self.q_head(z_H.mean(1) if cfg.q_pool == "mean" else z_H[:, 0]).float()  # (B, 2)
        return logits, q[:, 0], q[:, 1]


def exploration_min_steps(config, n: int, generator: torch.Generator | None = None,
                          device: torch.device | str | None = None) -> torch.Tensor:
    """ACT exploration for n sequences [n] int32: with probability halt_exploration_prob a minimum number of
    segments drawn uniformly from 2..halt_max_steps (the sequence may not halt before it), else 0."""
    explore = torch.rand(n, generator=generator, device=device) < config.halt_exploration_prob
    minimum = torch.randint(2, config.halt_max_steps + 1, (n,), generator=generator, device=device, dtype=torch.int32)
    return explore * minimum


def halt_logit(p: float) -> float:
    """The q_halt logit above which sigmoid(q_halt) > p (0 at p = 0.5)."""
    p = check_halt_threshold(p)
    return math.log(p / (1.0 - p))


@dataclass
class Carry:
    """ACT state between segments; every tensor has the batch as first dim."""

    z_H: torch.Tensor  # (B, P+L, D) in the forward dtype
    z_L: torch.Tensor  # (B, P+L, D)
    steps: torch.Tensor  # (B,) int32: segments run on the current data
    halted: torch.Tensor  # (B,) bool: replace this row with the next batch's on the next call
    current_data: dict[str, torch.Tensor]  # the batch rows being worked on (inputs, labels, puzzle ids, ...)


class HRM(PretrainedModel):
    """HRM ACT v1 (see the module docstring for the training API)."""

    config_class = HRMConfig
    inner_class = HRMInner
    bootstrap_q_continue = True  # target_q_continue from one extra forward (HRM); TRM halts on q_halt alone

    def __init__(self, config: HRMConfig):
        super().__init__(config)
        self.inner = self.inner_class(config)

    @property
    def puzzle_emb(self) -> PuzzleEmbedding | None:
        """The sparse puzzle embedding (trained by sign-SGD on the rows of the batch), or None."""
        return getattr(self.inner, "puzzle_emb", None)

    def initial_carry(self, batch: dict[str, torch.Tensor]) -> Carry:
        """A carry where every sequence is halted, so the first forward loads `batch` and resets the state."""
        inputs = batch["inputs"]
        B, device = inputs.shape[0], inputs.device
        shape = (B, self.seq_len_of(inputs) + self.inner.prefix_len, self.config.hidden_size)
        dtype = self.forward_dtype(device)
        data = {k: torch.zeros_like(v) for k, v in self._with_puzzle_ids(batch).items()}
        return Carry(z_H=torch.zeros(shape, dtype=dtype, device=device),
                     z_L=torch.zeros(shape, dtype=dtype, device=device),
                     steps=torch.zeros(B, dtype=torch.int32, device=device),
                     halted=torch.ones(B, dtype=torch.bool, device=device), current_data=data)

    def forward(self, carry: Carry, batch: dict[str, torch.Tensor],
                min_steps: torch.Tensor | None = None) -> tuple[Carry, dict[str, torch.Tensor]]:
        """One ACT step for every sequence: reset the halted ones onto the new batch, run a segment, decide halting.

        min_steps [B]: the exploration draw (a sequence may not halt before it; 0: no minimum), when the caller
        draws it (the trainer does, so that it does not depend on how the batch is split over processes);
        None draws it here from torch's global generator."""
        batch = self._with_puzzle_ids(batch)
        reset = carry.halted
        z_H = torch.where(reset.view(-1, 1, 1), self.inner.H_init.to(carry.z_H.dtype), carry.z_H)
        z_L = torch.where(reset.view(-1, 1, 1), self.inner.L_init.to(carry.z_L.dtype), carry.z_L)
        steps = torch.where(reset, 0, carry.steps)
        data = {k: torch.where(reset.view((-1,) + (1,) * (v.ndim - 1)), batch[k], v)
                for k, v in carry.current_data.items()}

        z_H, z_L, logits, q_halt, q_continue = self.inner(z_H, z_L, data["inputs"], data["puzzle_identifiers"])
        outputs = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_continue}
        if self.config.loss_on == "blanks":  # the cells the loss covers
            outputs["fill_mask"] = data["inputs"] == self.config.blank_token_id

        with torch.no_grad():
            steps = steps + 1
            is_last = steps >= self.config.halt_max_steps
            halted = is_last
            if self.training and self.config.halt_max_steps > 1 and self.config.halting == "act":
                halted = halted | self.halts(q_halt, q_continue)
                # Exploration: some sequences get a random minimum number of steps in 2..halt_max_steps.
                if min_steps is None:
                    min_steps = exploration_min_steps(self.config, steps.shape[0], device=steps.device)
                halted = halted & (steps >= min_steps.to(steps.device))
                if self.bootstrap_q_continue:
                    # Q-learning target for "continue": the value of the next state, from one more segment.
                    _, _, _, next_halt, next_continue = self.inner(z_H, z_L, data["inputs"], data["puzzle_identifiers"])
                    next_value = torch.where(is_last, next_halt, torch.maximum(next_halt, next_continue))
                    outputs["target_q_continue"] = torch.sigmoid(next_value)
        return Carry(z_H, z_L, steps, halted, data), outputs

    def halts(self, q_halt: torch.Tensor, q_continue: torch.Tensor, threshold: float | None = None) -> torch.Tensor:
        """The model's halting rule (training with halting=act, and per-puzzle halting at inference), config.halt_rule:
        q_continue: q_halt > q_continue (the authors' HRM); threshold: sigmoid(q_halt) > config.halt_threshold (at
        0.5, q_halt > 0: the authors' TRM, and a model trained without a q_continue target). A `threshold` given
        here asks for that rule with this probability instead (e.g. `hrmkit solve --halt-threshold`)."""
        if threshold is not None:
            return q_halt > halt_logit(threshold)
        if self.config.halt_rule == "q_continue":
            return q_halt > q_continue
        return q_halt > halt_logit(self.config.halt_threshold)
