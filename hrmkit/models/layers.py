"""Building blocks shared by HRM and TRM: init, RMS norm, linear/embedding layers, RoPE, SwiGLU, puzzle embedding.

Weights are stored in float32 and cast to the activation dtype at use (the authors' "Casted" layers): one
master copy serves a float32 CPU forward and a bfloat16 CUDA forward alike.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def trunc_normal_(tensor: torch.Tensor, std: float = 1.0, lower: float = -2.0, upper: float = 2.0) -> torch.Tensor:
    """Truncated normal on [lower*std, upper*std] whose *actual* standard deviation is `std` (JAX convention).

    torch.nn.init.trunc_normal_ keeps the std of the untruncated normal, which makes weights ~12% smaller.
    """
    with torch.no_grad():
        if std == 0:
            return tensor.zero_()
        sqrt2 = math.sqrt(2.0)
        a, b = math.erf(lower / sqrt2), math.erf(upper / sqrt2)
        z = (b - a) / 2
        c = (2 * math.pi) ** -0.5
        pdf_u, pdf_l = c * math.exp(-0.5 * lower**2), c * math.exp(-0.5 * upper**2)
        comp_std = std / math.sqrt(1 - (upper * pdf_u - lower * pdf_l) / z - ((pdf_u - pdf_l) / z) ** 2)
        tensor.uniform_(a, b).erfinv_().mul_(sqrt2 * comp_std).clip_(lower * comp_std, upper * comp_std)
    return tensor


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """RMS norm without a learned scale, computed in float32 whatever the activation dtype."""
    dtype = x.dtype
    x = x.float()
    x = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)
    return x.to(dtype)


class Linear(nn.Module):
    """Linear layer with truncated LeCun-normal init (std 1/sqrt(fan_in)); weight cast to the input dtype."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(trunc_normal_(torch.empty(out_features, in_features), std=in_features**-0.5))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.weight.to(x.dtype), bias)


class Embedding(nn.Module):
    """Token/position embedding table with truncated-normal init; output cast to `dtype` at call time."""

    def __init__(self, num_embeddings: int, dim: int, init_std: float):
        super().__init__()
        self.embedding_weight = nn.Parameter(trunc_normal_(torch.empty(num_embeddings, dim), std=init_std))

    def forward(self, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return F.embedding(ids, self.embedding_weight.to(dtype))


class RotaryEmbedding(nn.Module):
    """RoPE tables cos/sin [L, head_dim] (float32, not saved: they are a function of the config)."""

    def __init__(self, head_dim: int, max_len: int, theta: float):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        freqs = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)  # (L, D/2)
        emb = torch.cat((freqs, freqs), dim=-1)  # (L, D)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cos, self.sin


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """Rotate q, k [B, L, H, D] by the tables [L, D]; computed in the tables' dtype (float32), cast back."""
    dtype = q.dtype
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)  # (L, 1, D): broadcast over heads
    q, k = q.to(cos.dtype), k.to(cos.dtype)
    q = q * cos + _rotate_half(q) * sin
    k = k * cos + _rotate_half(k) * sin
    return q.to(dtype), k.to(dtype)


def swiglu_inner(hidden: int, expansion: float) -> int:
    """SwiGLU inner size: round(expansion * hidden * 2/3), rounded up to a multiple of 256 (the authors' rule)."""
    inner = round(expansion * hidden * 2 / 3)
    return -(inner // -256) * 256


class SwiGLU(nn.Module):
    def __init__(self, hidden: int, expansion: float):
        super().__init__()
        inner = swiglu_inner(hidden, expansion)
        self.gate_up_proj = Linear(hidden, 2 * inner)  # gate and up in one matmul
        self.down_proj = Linear(inner, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class PuzzleEmbedding(nn.Module):
    """One vector per puzzle id, prepended to the sequence; trained sparsely, outside the main optimiser.

    The table `weights` [num_ids, dim] is a persistent buffer (not a Parameter: a dense optimiser over millions
    of ARC rows would be wasteful). In a training forward with gradients enabled, the rows of the batch are
    copied into a leaf tensor `local_weights` [B, dim] (requires_grad) and their ids into `local_ids` [B]; after
    `backward()`, `sign_sgd_step(lr, weight_decay)` (or an optimiser reading the same two attributes) updates
    only those rows. Forwards without gradient (eval, the bootstrap forward of ACT) read the table directly and
    leave `local_*` untouched.
    """

    def __init__(self, num_ids: int, dim: int):
        super().__init__()
        self.register_buffer("weights", torch.zeros(num_ids, dim), persistent=True)  # zero-init, as the authors
        self.local_weights: torch.Tensor | None = None
        self.local_ids: torch.Tensor | None = None

    def forward(self, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        ids = ids.long()
        if not (self.training and torch.is_grad_enabled()):
            return self.weights[ids].to(dtype)
        self.local_ids = ids
        self.local_weights = self.weights[ids].detach().clone().requires_grad_(True)
        return self.local_weights.to(dtype)

    @torch.no_grad()
    def sign_sgd_step(self, lr: float, weight_decay: float) -> None:
        """Sign-SGD with decoupled weight decay on the rows seen in the last training forward.

        Gradients of duplicate ids are summed first, so each row moves once: w <- w*(1 - lr*wd) - lr*sign(g).
        """
        if self.local_weights is None or self.local_weights.grad is None:
            return
        grad, ids = self.local_weights.grad, self.local_ids
        uniq, inverse = ids.unique(return_inverse=True)
        summed = torch.zeros(len(uniq), grad.shape[-1], dtype=grad.dtype, device=grad.device)
        summed.index_add_(0, inverse, grad)
        rows = self.weights[uniq]
        rows.mul_(1.0 - lr * weight_decay).add_(torch.sign(summed), alpha=-lr)
        self.weights[uniq] = rows
        self.local_weights.grad = None
