"""Bidirectional multi-head self-attention with two interchangeable kernels.

`attention: auto | xformers | sdpa` in the model config picks the kernel:
- xformers: `xformers.ops.memory_efficient_attention` (CUDA only; layout [B, L, H, D], like the authors' FlashAttention)
- sdpa:     `torch.nn.functional.scaled_dot_product_attention` (any device; layout [B, H, L, D])
- auto:     xformers when the input is on CUDA and xformers imports, sdpa otherwise.
The choice depends on the device of the activations; it is made once per (request, device type) and logged on
the `hrmkit.models` logger.
An optional fixed boolean mask [L, L] (True = may attend; the same for every head and batch row) restricts which
keys a query sees (`attn_mask: family-graph` with a graph of one relation, such as the Sudoku peers: `graph_mask`).
SDPA takes it as attn_mask; with a mask the xformers kernel is not used: such calls run on SDPA and the fallback is
logged once. A family graph whose relations are grid offsets runs on `GridAttention` instead.
`reference_attention` is the plain softmax(QK^T/sqrt(d))V used by tests to check both kernels.
"""

from __future__ import annotations

import functools
import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

from hrmkit.errors import HrmkitError
from hrmkit.models import structure
from hrmkit.models.layers import Linear, apply_rope

log = logging.getLogger("hrmkit.models")

BACKENDS = ("auto", "xformers", "sdpa")


@functools.cache
def _xformers_ops():
    """xformers.ops if it imports and its CUDA kernels run here, else None (reason in `_xformers_problem`)."""
    return None if _xformers_problem() else __import__("xformers.ops").ops


@functools.cache
def _xformers_problem() -> str:
    """Why xformers cannot be used ('' if it can). A wheel built for another torch/CUDA imports fine but has no
    kernels, so one tiny attention is run on the GPU to find out."""
    try:
        import xformers.ops as xops  # optional extra: pip install 'hrmkit[xformers]'
    except Exception:  # ImportError, or a broken build that fails at import
        return "xformers is not installed (pip install 'hrmkit[xformers]')"
    if not torch.cuda.is_available():
        return "xformers needs CUDA"
    try:
        q = torch.zeros(1, 8, 1, 64, device="cuda", dtype=torch.bfloat16)
        xops.memory_efficient_attention(q, q, q)
    except Exception as err:  # NotImplementedError: no operator built for this torch/CUDA
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return f"xformers is installed but its CUDA kernels do not run with this torch ({first[:120]})"
    return ""


@functools.cache
def resolve_backend(requested: str, device_type: str) -> str:
    """The kernel used for `requested` on a device type ("cpu", "cuda"); logged once per (request, device type)."""
    if requested not in BACKENDS:
        raise HrmkitError(f"attention: {requested!r} is not one of {', '.join(BACKENDS)}")
    if requested == "sdpa":
        chosen, why = "sdpa", "requested"
    elif requested == "xformers":
        if device_type != "cuda":
            raise HrmkitError(f"attention: xformers needs a CUDA device (the model is on {device_type}); use sdpa")
        if _xformers_problem():
            raise HrmkitError(f"attention: {_xformers_problem()}; use sdpa")
        chosen, why = "xformers", "requested"
    elif device_type != "cuda":
        chosen, why = "sdpa", f"auto on {device_type}"
    elif _xformers_problem():
        chosen, why = "sdpa", f"auto: {_xformers_problem()}"
    else:
        chosen, why = "xformers", "auto on cuda"
    if not torch.compiler.is_compiling():  # torch.compile traces this call: logging there is a graph break
        log.info("attention backend: %s (%s)", chosen, why)
    return chosen


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v in float32, q/k/v [B, L, H, D] -> [B, L, H, D]; mask [L, L] True = may
    attend. For tests only."""
    q, k, v = (t.float().transpose(1, 2) for t in (q, k, v))  # (B, H, L, D)
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5  # (B, H, L, L)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(-1) @ v).transpose(1, 2)


@functools.cache
def _log_mask_fallback() -> None:
    log.info("attention backend: sdpa for masked attention (attn_mask is not passed to xformers)")


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: str,
           mask: torch.Tensor | None = None) -> torch.Tensor:
    """Non-causal attention, q/k/v [B, L, H, D] -> [B, L, H, D] with the resolved `backend`; optional fixed
    boolean mask [L, L] (True = may attend; every row needs one True)."""
    if backend == "xformers" and mask is None:
        return _xformers_ops().memory_efficient_attention(q, k, v)
    if backend == "xformers":
        _log_mask_fallback()
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                         attn_mask=mask)  # (B, H, L, D)
    return out.transpose(1, 2)


def graph_mask(name: str, seq_len: int, radius: int = 1, prefix_len: int = 0) -> torch.Tensor:
    """[P+L, P+L] bool from the relation graph of the family `name` (hrmkit.models.structure): position i may attend
    to j when j is one of i's neighbours. The P puzzle-embedding positions in front attend everywhere and are
    attended by every position (they carry puzzle-wide information, not a cell)."""
    _, neighbours = structure.relation_graph(name, seq_len, radius)
    rows = torch.tensor([i for i, edges in enumerate(neighbours) for _ in edges], dtype=torch.long)
    cols = torch.tensor([j for edges in neighbours for j, _ in edges], dtype=torch.long)
    graph = torch.zeros(seq_len, seq_len, dtype=torch.bool)
    graph[rows, cols] = True
    mask = torch.ones(prefix_len + seq_len, prefix_len + seq_len, dtype=torch.bool)
    mask[prefix_len:, prefix_len:] = graph
    return mask


def sudoku_peer_mask(prefix_len: int = 0) -> torch.Tensor:
    """The Sudoku structure's graph mask (`attn_mask: sudoku_peers`, the first spelling of family-graph with
    structure sudoku): [P+81, P+81], cells that share a row, a column or a box (the diagonal included: 21 keys per
    cell)."""
    return graph_mask(structure.LEGACY_PRIORS[("attn_mask", "sudoku_peers")], 81, prefix_len=prefix_len)


class Attention(nn.Module):
    """Fused QKV projection, optional RoPE, non-causal attention, output projection (no biases)."""

    def __init__(self, hidden: int, num_heads: int, backend: str = "auto", mask: torch.Tensor | None = None):
        super().__init__()
        if hidden % num_heads:
            raise HrmkitError(f"hidden_size {hidden} is not a multiple of num_heads {num_heads}")
        if backend not in BACKENDS:
            raise HrmkitError(f"attention: {backend!r} is not one of {', '.join(BACKENDS)}")
        self.num_heads, self.head_dim = num_heads, hidden // num_heads
        self.backend = backend  # the request; resolve_backend turns it into a kernel per device
        self.qkv_proj = Linear(hidden, 3 * hidden)
        self.o_proj = Linear(hidden, hidden)
        # a fixed structural mask [L, L] (not saved: it is a function of the config)
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor, cos_sin: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        B, L, D = x.shape
        qkv = self.qkv_proj(x).view(B, L, 3, self.num_heads, self.head_dim)  # (B, L, 3, H, hd)
        q, k, v = qkv.unbind(2)  # each (B, L, H, hd)
        if cos_sin is not None:
            q, k = apply_rope(q, k, *cos_sin)
        out = attend(q, k, v, resolve_backend(self.backend, x.device.type), self.attn_mask)  # (B, L, H, hd)
        return self.o_proj(out.reshape(B, L, D))


def grid_offsets(radius: int, name: str = structure.GRID_FAMILY) -> list[tuple[int, int]]:
    """The relations (row, column offsets) of a grid family's graph for `radius` (mazes: the offsets within
    Manhattan distance `radius`, (0, 0) first, then row-major), read from a canvas on which every offset occurs.
    They must be the same on a canvas of any size (`grid_neighbours` checks)."""
    side = 2 * radius + 1
    offsets, _ = structure.lattice_valid(name, side * side, radius)
    return list(offsets)


@functools.cache
def grid_neighbours(side: int, radius: int, name: str = structure.GRID_FAMILY) -> tuple[torch.Tensor, torch.Tensor]:
    """For a side x side grid (row-major cells) of the family `name`: index [L, K] of each cell's K neighbours in
    `grid_offsets` order (L, a row past the grid, where the neighbour is off the grid) and valid [L, K] bool."""
    offsets, valid = structure.lattice_valid(name, side * side, radius)
    if list(offsets) != grid_offsets(radius, name):
        raise HrmkitError(f"the {name} structure's offsets on a {side}x{side} grid differ from those on other sizes")
    valid = torch.tensor(valid, dtype=torch.bool).view(side * side, len(offsets))
    cell = torch.arange(side * side)
    index = torch.stack([(cell // side + dy) * side + cell % side + dx for dy, dx in offsets], 1)
    return torch.where(valid, index, side * side), valid


class GridAttention(nn.Module):
    """Attention of each cell of a square grid over its neighbours in a grid family's relation graph (mazes: the
    cells within Manhattan distance `radius`; `attn_mask: family-graph` with structure maze, first spelled `grid`).

    The graph's relations are offsets o = (dy, dx); each has learned key and value embeddings per head (rel_k[o],
    rel_v[o]): the score of a neighbour is q . (k + rel_k[o]) / sqrt(d) and it contributes v + rel_v[o], so a head
    can tell its neighbours apart by direction, as a convolution does, while nothing depends on the grid size: the
    side is read from the sequence length at every call (L = side * side) and the family's graph for that size
    says which neighbours exist (the others, off the grid, are masked). The same QKV and output projections as
    `Attention` (no biases)."""

    def __init__(self, hidden: int, num_heads: int, radius: int, name: str = structure.GRID_FAMILY):
        super().__init__()
        if hidden % num_heads:
            raise HrmkitError(f"hidden_size {hidden} is not a multiple of num_heads {num_heads}")
        self.num_heads, self.head_dim, self.radius, self.structure = num_heads, hidden // num_heads, radius, name
        self.offsets = tuple(grid_offsets(radius, name))
        self.reach = max(max(abs(dy), abs(dx)) for dy, dx in self.offsets)  # padding that holds every neighbour
        k = len(self.offsets)
        self.qkv_proj = Linear(hidden, 3 * hidden)
        self.o_proj = Linear(hidden, hidden)
        self.rel_k = nn.Parameter(torch.randn(k, num_heads, self.head_dim) * 0.5)
        self.rel_v = nn.Parameter(torch.randn(k, num_heads, self.head_dim) * 0.5)

    def forward(self, x: torch.Tensor, cos_sin=None) -> torch.Tensor:
        B, L, D = x.shape
        side = math.isqrt(L)
        if side * side != L:
            raise HrmkitError(f"grid attention needs a square grid, got a sequence of {L}")
        H, hd, r = self.num_heads, self.head_dim, self.reach
        _, valid = grid_neighbours(side, self.radius, self.structure)  # the family's graph at this size
        q, k, v = self.qkv_proj(x).view(B, side, side, 3, H, hd).unbind(3)  # each (B, S, S, H, hd)
        # zero-padded by r on both grid axes; each offset's neighbours are then a shifted view (cheap backward)
        k_pad = F.pad(k, (0, 0, 0, 0, r, r, r, r))
        v_pad = F.pad(v, (0, 0, 0, 0, r, r, r, r))
        offsets = self.offsets
        scores = torch.stack([(q * k_pad[:, r + dy: r + dy + side, r + dx: r + dx + side]).sum(-1)
                              for dy, dx in offsets], -1)  # (B, S, S, H, K)
        scores = (scores + torch.einsum("bijhd,khd->bijhk", q, self.rel_k.to(x.dtype))) / math.sqrt(hd)
        scores = scores.masked_fill(~valid.to(x.device).view(1, side, side, 1, -1), float("-inf"))
        p = scores.softmax(-1)  # (B, S, S, H, K)
        out = torch.einsum("bijhk,khd->bijhd", p, self.rel_v.to(x.dtype))
        for o, (dy, dx) in enumerate(offsets):
            out = out + p[..., o, None] * v_pad[:, r + dy: r + dy + side, r + dx: r + dx + side]
        return self.o_proj(out.reshape(B, L, D))
