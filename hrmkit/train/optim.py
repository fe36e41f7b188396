"""Optimisers of the HRM recipe, in plain PyTorch (no CUDA extension).

- `AdamATan2`: Adam with the division m / (sqrt(v) + eps) replaced by atan2, so there is no epsilon and the
  update is bounded. The arithmetic is the authors' kernel (sapientinc/adam-atan2), line for line:
      p     <- p * (1 - lr * wd)                       decoupled weight decay, before the update
      m     <- lerp(m, g, 1 - beta1);  v <- lerp(v, g^2, 1 - beta2)
      p     <- p - (lr / bc1) * atan2(m, sqrt(v) / sqrt(bc2))      bc_i = 1 - beta_i^t
  i.e. atan2(m, sqrt(v_hat)) scaled by lr / bc1 (this is what the authors' code computes; note it is not
  lr * atan2(m_hat, sqrt(v_hat)) in the first steps, where bc1 is small).
  `rounding="kernel"` also rounds as the CUDA kernel does (csrc/adam_atan2.cu), so a run matches the authors'
  weights bit for bit: the constants are computed in double and cast to float32 once, each lerp is two fused
  multiply-adds, lerp(a, b, t) = fma(t, b, fma(-t, a, a)), emulated exactly by `fma_f32`; the final update is a
  rounded multiply, then a rounded subtraction. `rounding="torch"` (default) keeps PyTorch's lerp_/sub_(alpha).
- `SparseSignSGD`: sign-SGD with decoupled weight decay for the puzzle-embedding table, touching only the rows
  that occur in the batch (a table of ~1M ARC puzzle ids must never be updated densely). Under DDP the rows'
  gradients and ids of every rank are all-gathered, so every rank applies the same update and the tables stay
  identical without broadcasting them.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist


ROUNDINGS = ("torch", "kernel")


def fma_f32(a: torch.Tensor | float, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a * b + c for float32 operands with one rounding (a fused multiply-add), exactly, without an fma op.

    The product is exact in float64 (24 + 24 <= 53 bits); TwoSum gives the exact error of the float64 sum;
    the sum is then rounded to odd (an inexact result with an even last bit moves one ulp toward the exact
    value), and the final cast to float32 rounds to nearest: with 53 >= 24 + 2 bits, round-to-odd followed by
    rounding is the correctly rounded result (Boldo & Melquiond)."""
    prod = b.double() * (a if isinstance(a, float) else a.double())  # exact
    c64 = c.double()
    s = prod + c64
    bb = s - prod
    err = (prod - (s - bb)) + (c64 - bb)  # prod + c == s + err exactly
    bits = s.view(torch.int64)
    fix = (err != 0) & ((bits & 1) == 0)
    toward = torch.where((err > 0) == (s > 0), 1, -1)  # magnitude up or down by one ulp
    return torch.where(fix, bits + toward, bits).view(torch.float64).float()


_TIE_BITS, _LOW_BITS = 1 << 28, (1 << 29) - 1  # a float64 halfway between two float32: low 29 bits 100...0
_EXP_BITS, _F32_NORMAL = 0x7FF << 52, (1023 - 126) << 52  # float64 exponent field; smallest normal float32
_CHUNK = 1 << 18  # elements per pass: the float64 temporaries stay in cache


def _lerp_kernel(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """The kernel's lerp(a, b, t) = fma(t, b, fma(-t, a, a)) on float32 tensors, exactly, for 1/64 <= t < 1/2.

    Inner fma: a - t*a = a * (1 - t), and 1 - t (at most 29 significant bits for such t) times a (24 bits) is
    exact in float64, so one cast rounds it once, as the fma does. Outer: t*b is exact in float64; the float64
    sum is rounded once more by the cast to float32, which is wrong only where that sum sits exactly halfway
    between two float32 values (or in the float32 subnormal range): those rare elements are redone by fma_f32."""
    inner = (a.double() * (1.0 - t)).float()
    s = b.double() * t + inner.double()
    out = s.float()
    bits = s.view(torch.int64)
    redo = ((bits & _LOW_BITS) == _TIE_BITS) | (((bits & _EXP_BITS) < _F32_NORMAL) & (s != 0))
    if redo.any():
        out[redo] = fma_f32(t, b[redo], inner[redo])
    return out


def _kernel_step(tensors: list[tuple], step: float, lr: float, beta1: float, beta2: float, wd: float) -> None:
    """One Adam-atan2 update of float32 (param, grad, exp_avg, exp_avg_sq) tuples at the same step count,
    rounded as csrc/adam_atan2.cu rounds (opmath float32). Small tensors are updated as one concatenation,
    large ones in chunks (few op calls; float64 temporaries in cache); element-wise, so the bits are the same."""
    bc1, bc2 = 1 - beta1**step, 1 - beta2**step  # double
    device = tensors[0][0].device
    f32 = lambda x: torch.tensor(x, dtype=torch.float32, device=device)  # noqa: E731
    step_size, wd_alpha, bc2_sqrt = f32(lr / bc1), f32(1 - lr * wd), f32(math.sqrt(bc2))
    mbeta1, mbeta2 = float(np.float32(1 - beta1)), float(np.float32(1 - beta2))
    exact_lerp = all(1 / 64 <= t < 0.5 for t in (mbeta1, mbeta2))

    def update(p, g, m, v) -> None:  # flat float32 tensors, in place
        p.mul_(wd_alpha)
        gg = g * g
        if exact_lerp:
            m.copy_(_lerp_kernel(m, g, mbeta1))
            v.copy_(_lerp_kernel(v, gg, mbeta2))
        else:
            m.copy_(fma_f32(mbeta1, g, fma_f32(-mbeta1, m, m)))
            v.copy_(fma_f32(mbeta2, gg, fma_f32(-mbeta2, v, v)))
        p.sub_(step_size * torch.atan2(m, v.sqrt() / bc2_sqrt))

    small = [t for t in tensors if t[0].numel() < _CHUNK]
    if small:
        flat = [torch.cat([t[i].reshape(-1) for t in small]) for i in range(4)]
        update(*flat)
        offset = 0
        for p, _, m, v in small:
            n = p.numel()
            for dst, src in ((p, flat[0]), (m, flat[2]), (v, flat[3])):
                dst.copy_(src[offset:offset + n].view_as(dst))
            offset += n
    for p, g, m, v in (t for t in tensors if t[0].numel() >= _CHUNK):
        views = [x.view(-1) if x.is_contiguous() else None for x in (p, g, m, v)]
        if any(x is None for x in views):
            flat = [x.reshape(-1).clone() for x in (p, g, m, v)]
            update(*flat)
            for dst, src in ((p, flat[0]), (m, flat[2]), (v, flat[3])):
                dst.copy_(src.view_as(dst))
            continue
        for i in range(0, p.numel(), _CHUNK):
            update(*(x[i:i + _CHUNK] for x in views))


class AdamATan2(torch.optim.Optimizer):
    """Adam-atan2 (authors' arithmetic, see module docstring). State per parameter: step, exp_avg, exp_avg_sq."""

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.95), weight_decay: float = 0.0,
                 rounding: str = "torch"):
        if lr < 0 or weight_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"AdamATan2: bad lr={lr}, betas={betas} or weight_decay={weight_decay}")
        if rounding not in ROUNDINGS:
            raise ValueError(f"AdamATan2: rounding must be one of {ROUNDINGS}, got {rounding!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))
        self.rounding = rounding

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            kernel: dict[float, list] = {}  # step count -> tensors for the kernel-rounded update
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"].item()
                if self.rounding == "kernel" and p.dtype == torch.float32:
                    kernel.setdefault(t, []).append((p, p.grad, state["exp_avg"], state["exp_avg_sq"]))
                    continue
                bc1 = 1 - beta1**t
                bc2_sqrt = math.sqrt(1 - beta2**t)
                m, v, g = state["exp_avg"], state["exp_avg_sq"], p.grad
                p.mul_(1 - lr * wd)
                m.lerp_(g, 1 - beta1)
                v.lerp_(g * g, 1 - beta2)
                p.sub_(torch.atan2(m, v.sqrt() / bc2_sqrt), alpha=lr / bc1)
            for t, tensors in kernel.items():
                _kernel_step(tensors, t, lr, beta1, beta2, wd)
        return loss


def sparse_sign_sgd_(
    table: torch.Tensor,
    rows_grad: torch.Tensor,
    ids: torch.Tensor,
    lr: float,
    weight_decay: float,
    group=None,
) -> torch.Tensor:
    """Update `table` [N, D] in place on the rows `ids` [B] whose gradient rows are `rows_grad` [B, D].

    Duplicate ids (the same puzzle twice in a batch, or on two ranks) have their gradients summed first, as a
    dense gradient would. Returns the unique ids updated. With torch.distributed initialised, gathers every
    rank's (ids, grads) first; the ranks must pass the same B.
    """
    if dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1:
        world = dist.get_world_size(group)
        all_grad = rows_grad.new_empty((world * rows_grad.shape[0], rows_grad.shape[1]))
        all_ids = ids.new_empty((world * ids.shape[0],))
        dist.all_gather_into_tensor(all_grad, rows_grad.contiguous(), group=group)
        dist.all_gather_into_tensor(all_ids, ids.contiguous(), group=group)
        rows_grad, ids = all_grad, all_ids
    uniq, inverse = ids.unique(return_inverse=True)  # (U,), (B,)
    grad = rows_grad.new_zeros((uniq.shape[0], rows_grad.shape[1]))  # (U, D)
    grad.index_add_(0, inverse, rows_grad)
    rows = table[uniq].to(grad.dtype)
    rows.mul_(1 - lr * weight_decay).add_(torch.sign(grad), alpha=-lr)
    table[uniq] = rows.to(table.dtype)
    return uniq


class SparseSignSGD:
    """Sign-SGD with decoupled weight decay on the rows of a puzzle-embedding table seen in the last forward.

    `source` is a callable returning (table [N, D], rows_grad [B, D] or None, ids [B]) for the current step;
    the loop builds it from the model's puzzle embedding. Holds no state beyond lr (sign-SGD has no moments);
    `param_groups` mirrors torch optimisers so the same schedule code sets its learning rate.
    """

    def __init__(self, source: Callable, lr: float, weight_decay: float):
        self.source = source
        self.param_groups = [dict(lr=lr, weight_decay=weight_decay)]

    @torch.no_grad()
    def step(self) -> None:
        table, rows_grad, ids = self.source()
        if rows_grad is None:
            return
        g = self.param_groups[0]
        sparse_sign_sgd_(table, rows_grad, ids, g["lr"], g["weight_decay"])

    def zero_grad(self) -> None:  # the rows' gradient lives on the model's buffer; the loop clears it
        pass
