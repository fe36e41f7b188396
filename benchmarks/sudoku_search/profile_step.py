"""Where one training step of the sudoku-search recipe spends its CPU time (benchmarks/sudoku_search/RESULTS.md).

    .venv/bin/python benchmarks/sudoku_search/profile_step.py        (B=32 OMP_NUM_THREADS=1: batch 32 on one thread)

Times 60 optimiser steps (batch 64, random tokens: the cost does not depend on the values), then prints the
torch.profiler table of 10 more, sorted by self CPU time.
"""

import time

import torch
from torch.profiler import ProfilerActivity, profile

from hrmkit.models import ModelConfig, build
from hrmkit.models.losses import act_loss

cfg = ModelConfig.from_name("sudoku-search")
model = build(cfg)
model.train()
B = int(__import__("os").environ.get("B", 64))
inputs = torch.randint(1, 11, (B, 81), dtype=torch.int32)
batch = {"inputs": inputs, "labels": inputs.long().clone(), "puzzle_identifiers": torch.zeros(B, dtype=torch.int32)}
carry = model.initial_carry(batch)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)


def step() -> None:
    global carry
    carry, out = model(carry, batch)
    loss, _ = act_loss(carry, out, "softmax_cross_entropy", ignore_index=-100, loss_on=cfg.loss_on, q_weight=0.1)
    loss.backward()
    opt.step()
    opt.zero_grad()


for _ in range(10):
    step()
t0, n = time.perf_counter(), 60
for _ in range(n):
    step()
dt = (time.perf_counter() - t0) / n
print(f"{dt * 1e3:.1f} ms/step, {B / dt:.0f} segment-samples/s, {torch.get_num_threads()} threads")
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(10):
        step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
