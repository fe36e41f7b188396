"""A/B of torch.compile on one training step of a model preset, interleaved in one process (benchmarks/sudoku_search/RESULTS.md).

    .venv/bin/python benchmarks/sudoku_search/compile_ab.py eager default [max-autotune-no-cudagraphs]
    PRESET=sudoku-search ROUNDS=6 (defaults)

Each variant is its own model (seed 0) and AdamW; rounds of 10 steps of batch 64 (random tokens: the cost does not
depend on the values) alternate between the variants, so a noisy machine affects all alike; prints the median ms
per step and the speed-up over the first variant. "eager" is no compile, any other name a torch.compile mode
("default" = mode None).
"""
import time, os, sys, statistics, torch
from hrmkit.models import ModelConfig, build
from hrmkit.models.losses import act_loss
cfg = ModelConfig.from_name(os.environ.get("PRESET","sudoku-search"))
B = int(__import__("os").environ.get("B", 64))
torch.manual_seed(0)
inputs = torch.randint(1, 11, (B, 81), dtype=torch.int32)
batch = {"inputs": inputs, "labels": inputs.long().clone(), "puzzle_identifiers": torch.zeros(B, dtype=torch.int32)}
variants = sys.argv[1:]
state = {}
for v in variants:
    torch.manual_seed(0)
    m = build(cfg); m.train()
    if v != "eager":
        m.inner.compile(mode=None if v == "default" else v)
    state[v] = [m, m.initial_carry(batch), torch.optim.AdamW(m.parameters(), lr=1e-3)]
def step(v):
    m, carry, opt = state[v]
    carry, out = m(carry, batch)
    loss, _ = act_loss(carry, out, "softmax_cross_entropy", ignore_index=-100, loss_on=cfg.loss_on, q_weight=0.1)
    loss.backward(); opt.step(); opt.zero_grad()
    state[v][1] = carry
for v in variants:
    t = time.perf_counter()
    for _ in range(5): step(v)
    print(v, "warmup", round(time.perf_counter() - t, 1), flush=True)
times = {v: [] for v in variants}
for r in range(int(os.environ.get("ROUNDS", 6))):
    for v in variants:
        t = time.perf_counter()
        for _ in range(10): step(v)
        times[v].append((time.perf_counter() - t) / 10 * 1e3)
base = statistics.median(times[variants[0]])
for v in variants:
    med = statistics.median(times[v])
    print(f"{v}: median {med:.1f} ms/step ({B/med*1e3:.0f} seg-samples/s), min {min(times[v]):.1f}, x{base/med:.2f}")
