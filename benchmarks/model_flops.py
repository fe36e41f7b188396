"""FLOPs per preset, CPU training-step speed and MFU of paper-sudoku, and peak memory of its training step.

    python benchmarks/model_flops.py flops                        # table: parameters, GFLOP per sequence
    python benchmarks/model_flops.py speed --batch 32 --threads 1 # ms/step, samples/s, MFU vs float32 matmul
    python benchmarks/model_flops.py memory --batch 32            # peak memory of one training step
    python benchmarks/model_flops.py all --out benchmarks/model_flops.json

FLOPs are *counted*: one segment / one training step runs under torch.utils.flop_counter.FlopCounterMode on the
meta device (shapes only, so the 900-token presets cost nothing), and an analytic count is printed beside it as a
check. A training step is what hrmkit/train runs per batch: the ACT forward (one segment), the bootstrap forward
of the next segment without gradient (HRM; TRM with no_ACT_continue has none), the backward through the
gradient-carrying calls, and an optimiser step (no matmul FLOPs). MFU = counted FLOPs / step time / the float32
matmul throughput measured in the same process, with the same threads, interleaved with the steps (two CPU cores
are shared with other work here: interleaving keeps both figures under the same load).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hrmkit.models import PRESETS, HRMConfig, ModelConfig, build  # noqa: E402
from hrmkit.models.layers import swiglu_inner  # noqa: E402
from hrmkit.models.losses import act_loss  # noqa: E402


def make_batch(cfg: ModelConfig, B: int, device="cpu", seed: int = 0) -> dict[str, torch.Tensor]:
    if device == "meta":
        ones = torch.ones(B, cfg.seq_len, dtype=torch.int32, device="meta")
        return {"inputs": ones, "labels": ones, "puzzle_identifiers": torch.zeros(B, dtype=torch.int32, device="meta")}
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(2, cfg.vocab_size, (B, cfg.seq_len), generator=g, dtype=torch.int32)
    inputs = torch.where(torch.rand(B, cfg.seq_len, generator=g) < 0.5, 1, labels)
    return {"inputs": inputs, "labels": labels, "puzzle_identifiers": torch.zeros(B, dtype=torch.int32)}


def make_optimizer(model):
    try:
        from hrmkit.train.optim import AdamATan2  # the project's optimiser (2 states per weight, like Adam)

        return AdamATan2(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    except Exception:
        return torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.95))


def training_step(model, batch, opt, state):
    """One training step as hrmkit/train runs it; `state` holds the carry across steps."""
    if state.get("carry") is None:
        state["carry"] = model.initial_carry(batch)
    state["carry"], out = model(state["carry"], batch)
    loss, _ = act_loss(state["carry"], out)
    (loss / batch["inputs"].shape[0]).backward()
    if opt is not None:
        opt.step()
        opt.zero_grad(set_to_none=True)
    if opt is not None and model.puzzle_emb is not None:
        model.puzzle_emb.sign_sgd_step(lr=1e-4, weight_decay=0.1)


# ---- FLOPs -------------------------------------------------------------------------------------------------
def counted_flops(cfg: ModelConfig, B: int = 2) -> dict[str, float]:
    """GFLOP per sequence of one eval segment and one training step, counted on the meta device."""
    with torch.device("meta"):
        model = build(cfg)
    batch = make_batch(cfg, B, "meta")
    z = torch.zeros(B, cfg.seq_len + model.inner.prefix_len, cfg.hidden_size, device="meta")
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fwd:
        model.inner(z, z, batch["inputs"], batch["puzzle_identifiers"])
    model.train()
    with FlopCounterMode(display=False) as step:
        training_step(model, batch, None, {})
    return {"params": model.num_parameters(), "segment_gflop": fwd.get_total_flops() / B / 1e9,
            "train_step_gflop": step.get_total_flops() / B / 1e9}


def analytic_flops(cfg: ModelConfig) -> dict[str, float]:
    """The same counts from the architecture: 2 FLOPs per multiply-add of every matmul."""
    D, S, V = cfg.hidden_size, cfg.seq_len + cfg.prefix_len, cfg.vocab_size
    proj = 2 * (4 * D * D + 3 * D * swiglu_inner(D, cfg.expansion))  # QKV, O, gate_up, down; per token
    attn = 4 * S * D  # QK^T and AV; per token
    heads = 2 * D * V * S + 2 * D * 2  # lm_head on every position, q_head on the first; per sequence
    if isinstance(cfg, HRMConfig):
        block = proj + attn
        apps = cfg.H_cycles * (cfg.L_cycles * cfg.L_layers + cfg.H_layers)
        grad_apps = cfg.L_layers + cfg.H_layers
        forwards = 2  # the segment and the bootstrap forward for the q_continue target
    else:
        mix = 6 * D * swiglu_inner(S, cfg.expansion)  # token-mixing SwiGLU, per token
        block = 2 * 3 * D * swiglu_inner(D, cfg.expansion) + (mix if cfg.mlp_t else 4 * 2 * D * D + attn)
        apps = cfg.H_cycles * (cfg.L_cycles + 1) * cfg.L_layers
        grad_apps = (cfg.L_cycles + 1) * cfg.L_layers
        forwards = 1 if cfg.no_ACT_continue else 2
    segment = apps * block * S + heads
    backward = 2 * (grad_apps * block * S + heads)  # input and weight gradients: twice the forward
    return {"segment_gflop": segment / 1e9, "train_step_gflop": (forwards * segment + backward) / 1e9}


def flops_table() -> list[dict]:
    rows = []
    for name in PRESETS:
        cfg = ModelConfig.from_name(name)
        counted, analytic = counted_flops(cfg), analytic_flops(cfg)
        rows.append({"preset": name, "arch": cfg.arch, "seq": cfg.seq_len + cfg.prefix_len, **counted,
                     "segment_gflop_analytic": analytic["segment_gflop"],
                     "train_step_gflop_analytic": analytic["train_step_gflop"],
                     "inference_gflop": counted["segment_gflop"] * cfg.halt_max_steps,
                     "halt_max_steps": cfg.halt_max_steps})
    return rows


# ---- speed -------------------------------------------------------------------------------------------------
def matmul_gflops(shapes, repeats: int = 3) -> dict[str, float]:
    out = {}
    for m, k, n in shapes:
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        out[f"{m}x{k}@{k}x{n}"] = 2 * m * k * n * repeats / (time.perf_counter() - t0) / 1e9
    return out


def speed(preset: str, B: int, threads: int, rounds: int) -> dict:
    torch.set_num_threads(threads)
    cfg = ModelConfig.from_name(preset)
    torch.manual_seed(0)
    model = build(cfg).train()
    opt = make_optimizer(model)
    batch, state = make_batch(cfg, B), {}
    training_step(model, batch, opt, state)  # warm-up (also creates the optimiser state)
    with FlopCounterMode(display=False) as counter:
        training_step(model, batch, opt, state)
    flops = counter.get_total_flops()
    T = B * (cfg.seq_len + cfg.prefix_len)  # rows of the model's matmuls
    D, inner = cfg.hidden_size, swiglu_inner(cfg.hidden_size, cfg.expansion)
    shapes = [(T, D, 3 * D), (T, D, 2 * inner), (T, inner, D), (2048, 2048, 2048)]
    steps, mm = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        training_step(model, batch, opt, state)
        steps.append(time.perf_counter() - t0)
        mm.append(matmul_gflops(shapes))
    step_s = statistics.median(steps)
    per_shape = {k: statistics.median(r[k] for r in mm) for k in mm[0]}
    peak = max(per_shape.values())
    achieved = flops / step_s / 1e9
    return {"preset": preset, "batch": B, "threads": threads, "rounds": rounds, "step_s": step_s,
            "step_s_all": steps, "samples_per_s": B / step_s, "step_gflop": flops / 1e9,
            "achieved_gflops": achieved, "matmul_gflops": per_shape, "matmul_peak_gflops": peak,
            "mfu": achieved / peak, "loadavg": os.getloadavg()}


# ---- memory ------------------------------------------------------------------------------------------------
def _memory_child(preset: str, B: int) -> dict:
    """Runs in a fresh process: RSS before and at the peak of the first training step, and a breakdown."""
    torch.set_num_threads(1)
    cfg = ModelConfig.from_name(preset)
    torch.manual_seed(0)
    model = build(cfg).train()
    opt = make_optimizer(model)
    batch, state = make_batch(cfg, B), {}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    saved: dict[int, int] = {}

    def pack(t):  # every tensor autograd keeps for backward, by storage (views share one)
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        training_step(model, batch, opt, state)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    optim = sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values()
                if isinstance(t, torch.Tensor))
    return {"preset": preset, "batch": B, "rss_before_step_mib": rss_before / 2**20,
            "rss_peak_mib": rss_peak / 2**20, "step_peak_over_baseline_mib": (rss_peak - rss_before) / 2**20,
            "weights_mib": weights / 2**20, "buffers_mib": buffers / 2**20, "grads_mib": weights / 2**20,
            "optimizer_state_mib": optim / 2**20, "saved_for_backward_mib": sum(saved.values()) / 2**20}


def memory(preset: str, B: int) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
            f"import model_flops as m; print(json.dumps(m._memory_child({preset!r}, {B})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- main --------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["flops", "speed", "memory", "all"])
    ap.add_argument("--preset", default="paper-sudoku")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    results = {"env": {"torch": torch.__version__, "python": platform.python_version(), "cpu": platform.processor()
                       or platform.machine(), "cores": os.cpu_count()}}
    if args.what in ("flops", "all"):
        rows = results["flops"] = flops_table()
        print(f"{'preset':16s} {'params':>11s} {'seq':>4s} {'GFLOP/segment':>14s} {'(analytic)':>11s} "
              f"{'GFLOP/train step':>17s} {'(analytic)':>11s} {'GFLOP/inference':>16s}   per sequence")
        for r in rows:
            print(f"{r['preset']:16s} {r['params']:11,d} {r['seq']:4d} {r['segment_gflop']:14.3f} "
                  f"{r['segment_gflop_analytic']:11.3f} {r['train_step_gflop']:17.3f} "
                  f"{r['train_step_gflop_analytic']:11.3f} {r['inference_gflop']:16.2f}")
    if args.what in ("speed", "all"):
        results["speed"] = []
        for threads in args.threads:
            s = speed(args.preset, args.batch, threads, args.rounds)
            results["speed"].append(s)
            print(f"speed {s['preset']} batch {s['batch']} threads {threads}: {s['step_s']:.2f} s/step "
                  f"({s['samples_per_s']:.2f} samples/s), {s['step_gflop']:.0f} GFLOP/step, "
                  f"{s['achieved_gflops']:.1f} GFLOP/s vs matmul {s['matmul_peak_gflops']:.1f} -> MFU "
                  f"{100 * s['mfu']:.0f}%  (matmul {', '.join(f'{k} {v:.1f}' for k, v in s['matmul_gflops'].items())};"
                  f" load {s['loadavg'][0]:.1f})")
    if args.what in ("memory", "all"):
        m = results["memory"] = memory(args.preset, args.batch)
        print(f"memory {m['preset']} batch {m['batch']}: peak RSS {m['rss_peak_mib']:.0f} MiB "
              f"(+{m['step_peak_over_baseline_mib']:.0f} MiB over the built model); weights {m['weights_mib']:.0f}, "
              f"grads {m['grads_mib']:.0f}, optimiser {m['optimizer_state_mib']:.0f}, saved for backward "
              f"{m['saved_for_backward_mib']:.0f} MiB")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
