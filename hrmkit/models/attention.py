"""Bidirectional multi-head self-attention with two interchangeable kernels.

`attention: auto | xformers | sdpa` in the model config picks the kernel:
- xformers: `xformers.ops.memory_efficient_attention` (CUDA only; layout [B, L, H, D], like the authors' FlashAttention)
- sdpa:     `torch.nn.functional.scaled_dot_product_attention` (any device; layout [B, H, L, D])
- auto:     xformers when the input is on CUDA and xformers imports, sdpa otherwise.
The choice depends on the device of the activations; it is made once per (request, device type) and logged on
the `hrmkit.models` logger.
An optional fixed boolean mask [L, L] (True = may attend; the same for every head and batch row) restricts which
keys a query sees (`attn_mask: sudoku_peers`). SDPA takes it as attn_mask; with a mask the xformers kernel is not
used: such calls run on SDPA and the fallback is logged once.
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


def sudoku_peer_mask(prefix_len: int = 0) -> torch.Tensor:
    """[P+81, P+81] bool: cells i, j may attend to each other when they share a row, a column or a box (the
    diagonal included: 21 keys per cell). The P puzzle-embedding positions in front attend everywhere and are
    attended by every position (they carry puzzle-wide information, not a cell)."""
    cell = torch.arange(81)
    row, col = cell // 9, cell % 9
    box = 3 * (row // 3) + col // 3
    peers = (row[:, None] == row) | (col[:, None] == col) | (box[:, None] == box)  # (81, 81)
    mask = torch.ones(prefix_len + 81, prefix_len + 81, dtype=torch.bool)
    mask[prefix_len:, prefix_len:] = peers
    return mask


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


def grid_offsets(radius: int) -> list[tuple[int, int]]:
    """The (row, column) offsets within Manhattan distance `radius`, (0, 0) first, then row-major."""
    rest = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
            if 0 < abs(dy) + abs(dx) <= radius]
    return [(0, 0)] + rest


@functools.cache
def grid_neighbours(side: int, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For a side x side grid (row-major cells): index [L, K] of each cell's K neighbours in `grid_offsets` order
    (L, a row past the grid, where the neighbour is off the grid) and valid [L, K] bool."""
    cell = torch.arange(side * side)
    row, col = cell // side, cell % side
    index, valid = [], []
    for dy, dx in grid_offsets(radius):
        r, c = row + dy, col + dx
        ok = (r >= 0) & (r < side) & (c >= 0) & (c < side)
        index.append(torch.where(ok, r * side + c, side * side))
        valid.append(ok)
    return torch.stack(index, 1), torch.stack(valid, 1)


class GridAttention(nn.Module):
    """Attention of each cell of a square grid over its neighbours within Manhattan distance `radius`.

    Every offset o = (dy, dx) has learned key and value embeddings per head (rel_k[o], rel_v[o]): the score of a
    neighbour is q . (k + rel_k[o]) / sqrt(d) and it contributes v + rel_v[o], so a head can tell its neighbours
    apart by direction, as a convolution does, while nothing depends on the grid size: the side is read from
    the sequence length at every call (L = side * side). Off-grid neighbours are masked. The same QKV and output
    projections as `Attention` (no biases)."""

    def __init__(self, hidden: int, num_heads: int, radius: int):
        super().__init__()
        if hidden % num_heads:
            raise HrmkitError(f"hidden_size {hidden} is not a multiple of num_heads {num_heads}")
        self.num_heads, self.head_dim, self.radius = num_heads, hidden // num_heads, radius
        k = len(grid_offsets(radius))
        self.qkv_proj = Linear(hidden, 3 * hidden)
        self.o_proj = Linear(hidden, hidden)
        self.rel_k = nn.Parameter(torch.randn(k, num_heads, self.head_dim) * 0.5)
        self.rel_v = nn.Parameter(torch.randn(k, num_heads, self.head_dim) * 0.5)

    def forward(self, x: torch.Tensor, cos_sin=None) -> torch.Tensor:
        B, L, D = x.shape
        side = math.isqrt(L)
        if side * side != L:
            raise HrmkitError(f"grid attention needs a square grid, got a sequence of {L}")
        H, hd, r = self.num_heads, self.head_dim, self.radius
        q, k, v = self.qkv_proj(x).view(B, side, side, 3, H, hd).unbind(3)  # each (B, S, S, H, hd)
        # zero-padded by r on both grid axes; each offset's neighbours are then a shifted view (cheap backward)
        k_pad = F.pad(k, (0, 0, 0, 0, r, r, r, r))
        v_pad = F.pad(v, (0, 0, 0, 0, r, r, r, r))
        offsets = grid_offsets(r)
        scores = torch.stack([(q * k_pad[:, r + dy: r + dy + side, r + dx: r + dx + side]).sum(-1)
                              for dy, dx in offsets], -1)  # (B, S, S, H, K)
        scores = (scores + torch.einsum("bijhd,khd->bijhk", q, self.rel_k.to(x.dtype))) / math.sqrt(hd)
        _, valid = grid_neighbours(side, r)
        scores = scores.masked_fill(~valid.to(x.device).view(1, side, side, 1, -1), float("-inf"))
        p = scores.softmax(-1)  # (B, S, S, H, K)
        out = torch.einsum("bijhk,khd->bijhd", p, self.rel_v.to(x.dtype))
        for o, (dy, dx) in enumerate(offsets):
            out = out + p[..., o, None] * v_pad[:, r + dy: r + dy + side, r + dx: r + dx + side]
        return self.o_proj(out.reshape(B, L, D))
