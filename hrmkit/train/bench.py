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


def training_step_fn(model, batch: dict[str, torch.Tensor], loss: str = "stablemax"):
    """A closure running one ACT training step as the loop does (forward, ACT loss, backward, Adam-atan2)."""
    from hrmkit.models.losses import act_loss
    from hrmkit.train.optim import AdamATan2

    model.train()
    opt = AdamATan2(model.parameters(), lr=1e-4, weight_decay=0.1)
    state = {"carry": model.initial_carry(batch)}
    local_bs = batch["inputs"].shape[0]

    def step():
        state["carry"], out = model(state["carry"], batch)
        total, _ = act_loss(state["carry"], out, f"{loss}_cross_entropy", ignore_index=0)
        (total / local_bs).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if model.puzzle_emb is not None:
            model.puzzle_emb.local_weights = None

    return step


def run(preset: str, *, batch_size: int, device: str = "auto", seconds: float = 1.0, bf16: bool = True,
        inference_batch: int | None = None, overrides: dict | None = None, compile: bool = False) -> dict:
    """All measurements for this machine and `preset`; see the module docstring."""
    from hrmkit.models import ModelConfig, build

    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    result: dict = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                    "threads": torch.get_num_threads(), "torch": torch.__version__, "preset": preset,
                    "batch_size": batch_size}
    result["matmul_gflops_float32"] = matmul_gflops(torch.float32, dev, seconds)
    if bf16:
        result["matmul_gflops_bfloat16"] = matmul_gflops(torch.bfloat16, dev, seconds)
    peak_dtype = "bfloat16" if dev.type == "cuda" else "float32"
    peak = max(result[f"matmul_gflops_{peak_dtype}"].values())

    torch.manual_seed(0)
    cfg = ModelConfig.from_name(preset, **(overrides or {}))
    model = build(cfg).to(dev)
    result["parameters"] = model.num_parameters()
    if compile:  # the first calls compile (timed apart, as compile_seconds)
        model.inner.compile()
    gen = torch.Generator().manual_seed(0)
    batch = {"inputs": torch.randint(1, cfg.vocab_size, (batch_size, cfg.seq_len), generator=gen).to(dev),
             "labels": torch.randint(1, cfg.vocab_size, (batch_size, cfg.seq_len), generator=gen).to(dev),
             "puzzle_identifiers": torch.zeros(batch_size, dtype=torch.int32, device=dev)}
    step = training_step_fn(model, batch)
    t0 = time.perf_counter()
    step()  # warm-up (also builds the carry's state, and compiles)
    step()
    result["first_steps_seconds"] = time.perf_counter() - t0
    flops = count_flops(step)
    sps = throughput(step, batch_size, dev, seconds)
    result.update(train_flops_per_sample=flops / batch_size, train_samples_per_s=sps,
                  train_gflops=flops / batch_size * sps / 1e9)
    result["train_mfu"] = result["train_gflops"] / peak
    result["mfu_reference"] = f"{peak_dtype} matmul peak {peak:.1f} GFLOP/s"

    ib = inference_batch or batch_size
    inputs = batch["inputs"][:ib] if ib <= batch_size else batch["inputs"].repeat(-(-ib // batch_size), 1)[:ib]
    model.eval()
    result["compile"] = compile
    result["inference_batch"] = ib
    result["inference_segments"] = cfg.halt_max_steps
    result["inference_puzzles_per_s"] = throughput(lambda: model.trace(inputs), ib, dev, seconds)
    if dev.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
    return result
