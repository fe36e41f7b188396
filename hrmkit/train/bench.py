"""Measure this machine: matmul throughput, training samples/s and MFU for a preset, inference puzzles/s.

FLOPs of a training step are counted by running one under `torch.utils.flop_counter.FlopCounterMode` (every
matmul/attention FLOP the step really does, forward and backward, including the ACT bootstrap forward), so MFU
= counted FLOP/s / the float32 (CPU) or bfloat16 (CUDA) matmul throughput measured here.
"""

from __future__ import annotations

import time
from typing import Callable

import torch


def _timeit(fn: Callable[[], object], device: torch.device, min_seconds: float) -> float:
    """Seconds per call: one warm-up call, then repeat until `min_seconds` have passed."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fn()
    sync()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / n


def matmul_gflops(dtype: torch.dtype, device: torch.device, min_seconds: float = 1.0) -> dict[str, float]:
    """GFLOP/s of the matmul shapes that dominate HRM: square-ish MLP blocks and a (B*L, D) @ (D, 3D) projection.

    On CUDA the shapes are scaled up (a small matmul measures launch overhead, not the chip).
    """
    shapes = [(512, 2048, 512), (5184, 512, 1536)] if device.type == "cpu" else [(8192, 8192, 8192),
                                                                                  (49152, 512, 1536)]
    gen = torch.Generator(device="cpu").manual_seed(0)
    out = {}
    for m, k, n in shapes:
        a = torch.randn(m, k, generator=gen).to(device, dtype)
        b = torch.randn(k, n, generator=gen).to(device, dtype)
        seconds = _timeit(lambda: a @ b, device, min_seconds)
        out[f"{m}x{k}@{k}x{n}"] = 2 * m * k * n / seconds / 1e9
    return out


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of `fn`, as counted by PyTorch's FlopCounterMode (matmuls, attention, convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def throughput(fn: Callable[[], object], items: int, device: torch.device, min_seconds: float) -> float:
    """Items per second of `fn` (each call processes `items`)."""
    return items / _timeit(fn, device, min_seconds)
