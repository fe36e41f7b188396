"""GPU check of the models: attention backend parity in bfloat16, a short bfloat16 training run, tokens/s per backend.

    python benchmarks/gpu_check.py --out gpu_check.json          # on a CUDA machine (xformers optional)
    python benchmarks/gpu_check.py --smoke --device cpu          # a 1-minute dry run of the same code on CPU

1. Kernel parity: xformers vs sdpa vs a float32 reference attention on random bfloat16 q/k/v [B, L, H, D].
2. Model parity: paper-sudoku, the same weights, trace(steps=2) in bfloat16 with each backend, against float32.
3. Training: paper-sudoku in bfloat16 (weights float32, forward bfloat16), one ACT segment per step on a fixed set
   of Sudoku puzzles (made here from a permuted base pattern, ~50 blanks), Adam-atan2 (hrmkit.train.optim) or Adam;
   the loss must fall. Then ms/step and tokens/s of training (forward with the bootstrap forward, backward,
   optimiser) and of inference (trace) per backend. tokens = batch x seq_len per segment.
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hrmkit.models import ModelConfig, build  # noqa: E402
from hrmkit.models.attention import _xformers_ops, _xformers_problem, attend, reference_attention  # noqa: E402
from hrmkit.models.losses import act_loss  # noqa: E402


def sudoku_batch(n: int, seed: int, blanks: int = 50) -> dict[str, torch.Tensor]:
    """n valid Sudoku grids (a base Latin pattern under random digit/row/column/band/stack permutations)."""
    rng = np.random.default_rng(seed)
    r, c = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    base = (3 * (r % 3) + r // 3 + c) % 9  # a valid solution, digits 0..8
    grids = []
    for _ in range(n):
        rows = np.concatenate([3 * b + rng.permutation(3) for b in rng.permutation(3)])
        cols = np.concatenate([3 * s + rng.permutation(3) for s in rng.permutation(3)])
        grids.append(rng.permutation(9)[base[rows][:, cols]])
    labels = torch.from_numpy(np.stack(grids).reshape(n, 81) + 2).int()  # tokens 2..10
    hide = torch.from_numpy(np.stack([rng.permutation(81) < blanks for _ in range(n)]))
    return {"inputs": torch.where(hide, 1, labels).int(), "labels": labels,
            "puzzle_identifiers": torch.zeros(n, dtype=torch.int32)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def kernel_parity(device, backends) -> dict:
    torch.manual_seed(0)
    q, k, v = (torch.randn(8, 82, 8, 64, device=device, dtype=torch.bfloat16) for _ in range(3))
    ref = reference_attention(q, k, v)
    out = {b: attend(q, k, v, b).float() for b in backends}
    res = {f"{b}_vs_fp32_max_abs": (o - ref).abs().max().item() for b, o in out.items()}
    if len(backends) == 2:
        res["xformers_vs_sdpa_max_abs"] = (out["xformers"] - out["sdpa"]).abs().max().item()
    res["pass"] = all(v < 2e-2 for k_, v in res.items() if k_.endswith("fp32_max_abs"))
    return res


def model_parity(preset, device, backends, batch) -> dict:
    outs = {}
    for name, backend, dtype in [("fp32", "sdpa", "float32")] + [(b, b, "bfloat16") for b in backends]:
        torch.manual_seed(0)
        model = build(ModelConfig.from_name(preset, attention=backend, forward_dtype=dtype)).to(device).eval()
        outs[name] = model.trace(batch["inputs"].to(device), steps=2)
        del model
    ref = outs["fp32"]["logits"]
    res = {}
    for b in backends:
        res[f"{b}_bf16_vs_fp32_max_abs"] = (outs[b]["logits"] - ref).abs().max().item()
        res[f"{b}_bf16_argmax_agree_fp32"] = (outs[b]["logits"].argmax(-1) == ref.argmax(-1)).float().mean().item()
    if len(backends) == 2:
        x, s = outs["xformers"], outs["sdpa"]
        res["xformers_vs_sdpa_max_abs"] = (x["logits"] - s["logits"]).abs().max().item()
        res["xformers_vs_sdpa_argmax_agree"] = (x["logits"].argmax(-1) == s["logits"].argmax(-1)).float().mean().item()
        res["xformers_vs_sdpa_q_halt_max_abs"] = (x["q_halt_logits"] - s["q_halt_logits"]).abs().max().item()
        # backends agree when they differ from each other no more than bfloat16 differs from float32
        res["pass"] = (res["xformers_vs_sdpa_max_abs"] <= max(res[f"{b}_bf16_vs_fp32_max_abs"] for b in backends)
                       and res["xformers_vs_sdpa_argmax_agree"] > 0.99)
    return res


def make_optimizer(model, lr):
    try:
        from hrmkit.train.optim import AdamATan2

        return AdamATan2(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1), "adam-atan2"
    except Exception:  # the training package may be absent or differ: the check is about the model
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.95)), "adam"


def train(preset, backend, device, data, steps, lr, log_every=0) -> dict:
    torch.manual_seed(0)
    model = build(ModelConfig.from_name(preset, attention=backend)).to(device).train()
    opt, opt_name = make_optimizer(model, lr)
    batch = {k: v.to(device) for k, v in data.items()}
    B, L = batch["inputs"].shape
    carry = model.initial_carry(batch)
    losses, times = [], []
    for step in range(steps):
        sync(device)
        t0 = time.perf_counter()
        carry, out = model(carry, batch)
        loss, metrics = act_loss(carry, out)
        (loss / B).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if model.puzzle_emb is not None:
            model.puzzle_emb.sign_sgd_step(lr=lr, weight_decay=0.1)
        sync(device)
        times.append(time.perf_counter() - t0)
        lm = (metrics["lm_loss"] / B).item()
        losses.append(lm)
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"  [{backend}] step {step:4d}  lm_loss/seq {lm:.4f}  ms {1000 * times[-1]:.1f}", flush=True)
    timed = times[min(5, steps // 2):]
    ms = 1000 * float(np.median(timed))
    return {"optimizer": opt_name, "steps": steps, "batch": B, "lm_loss_first": losses[0],
            "lm_loss_last": float(np.mean(losses[-10:])), "ms_per_step": ms, "train_tokens_per_s": B * L / (ms / 1000),
            "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None}


def inference_speed(preset, backend, device, data, repeats) -> dict:
    torch.manual_seed(0)
    model = build(ModelConfig.from_name(preset, attention=backend)).to(device).eval()
    x = data["inputs"].to(device)
    model.trace(x, steps=2)  # warm-up
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.trace(x, steps=2)
    sync(device)
    seconds = (time.perf_counter() - t0) / (2 * repeats)  # per segment
    return {"ms_per_segment": 1000 * seconds, "infer_tokens_per_s": x.numel() / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--preset", default="paper-sudoku")
    ap.add_argument("--batch", type=int, default=384)
    ap.add_argument("--train-steps", type=int, default=400)
    ap.add_argument("--speed-steps", type=int, default=25)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--smoke", action="store_true", help="tiny preset, few steps (to test this script on CPU)")
    ap.add_argument("--out", default="gpu_check.json")
    args = ap.parse_args()
    if args.smoke:
        args.preset, args.batch, args.train_steps, args.speed_steps = "tiny", 8, 6, 4
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device (use --device cpu --smoke for a dry run)")
    xops = _xformers_ops()
    backends = ["xformers", "sdpa"] if (device.type == "cuda" and xops is not None) else ["sdpa"]
    env = {"torch": torch.__version__, "python": platform.python_version(), "device": str(device),
           "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
           "xformers": getattr(sys.modules.get("xformers"), "__version__", None),
           "xformers_problem": _xformers_problem() if device.type == "cuda" else "not on cuda",
           "backends": backends, "preset": args.preset, "batch": args.batch}
    print("env", json.dumps(env), flush=True)
    results = {"env": env}
    data = sudoku_batch(args.batch, seed=0)

    results["kernel_parity"] = kernel_parity(device, backends)
    print("kernel parity", json.dumps(results["kernel_parity"]), flush=True)
    results["model_parity"] = model_parity(args.preset, device, backends, sudoku_batch(64 if not args.smoke else 4, 1))
    print("model parity", json.dumps(results["model_parity"]), flush=True)

    print(f"training {args.preset} bf16 x {args.train_steps} steps, backend {backends[0]}", flush=True)
    results["training"] = train(args.preset, backends[0], device, data, args.train_steps, args.lr, log_every=50)
    results["training"]["loss_fell"] = results["training"]["lm_loss_last"] < 0.8 * results["training"]["lm_loss_first"]

    results["speed"] = {}
    for b in backends:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        speed = train(args.preset, b, device, data, args.speed_steps, args.lr)
        speed.update(inference_speed(args.preset, b, device, data, repeats=5 if not args.smoke else 1))
        results["speed"][b] = speed

    print()
    print(f"{'backend':10s} {'train ms/step':>14s} {'train tok/s':>12s} {'infer ms/seg':>13s} {'infer tok/s':>12s} "
          f"{'peak GiB':>9s}")
    for b, s in results["speed"].items():
        mem = f"{s['peak_mem_gib']:.2f}" if s["peak_mem_gib"] is not None else "-"
        print(f"{b:10s} {s['ms_per_step']:14.1f} {s['train_tokens_per_s']:12.0f} {s['ms_per_segment']:13.2f} "
              f"{s['infer_tokens_per_s']:12.0f} {mem:>9s}")
    t = results["training"]
    print(f"training: lm_loss/seq {t['lm_loss_first']:.3f} -> {t['lm_loss_last']:.3f} "
          f"({'fell' if t['loss_fell'] else 'DID NOT FALL'}), optimiser {t['optimizer']}")
    print(f"kernel parity pass: {results['kernel_parity']['pass']}; model parity: "
          f"{results['model_parity'].get('pass', 'n/a (one backend)')}")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print("wrote", args.out)
    ok = results["kernel_parity"]["pass"] and results["model_parity"].get("pass", True) and t["loss_fell"]
    sys.exit(0 if ok or args.smoke else 1)


if __name__ == "__main__":
    main()
