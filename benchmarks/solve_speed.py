"""Per-puzzle halting vs fixed steps: puzzles/s and accuracy of `hrmkit solve --model` on the same puzzles.

    python benchmarks/solve_speed.py --model runs/demo --data data/sudoku --count 1000 [--threads 2] [--json OUT]
        [--thresholds 0.5,0.9,0.97]     # per-puzzle halting at each sigmoid(q_halt) threshold (default: the model's)

Puzzles: the first --count test puzzles of a data set built by `hrmkit data build` (its test/all__inputs.npy),
or a puzzle file (--puzzles FILE, any format `hrmkit solve` reads). Both modes run through
`hrmkit.solve.solve_with_model` with the same batch size (automatic unless --batch-size), after one warm-up
batch; the time is the whole solve (batching, forward passes, decoding, verification), best of --repeats.
Per-puzzle halting runs once per --thresholds value (`halt_threshold` of solve_with_model); speed-up is
against fixed steps.
Accuracy is the fraction of puzzles whose answer verifies (Sudoku: a valid grid keeping the givens).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hrmkit.puzzles import detect, sudoku
from hrmkit.solve import solve_with_model


def puzzle_file(data: Path, count: int, out: Path) -> Path:
    """Sudoku lines of the first `count` test puzzles of a built data set (tokens: 1 blank, 2..10 digits)."""
    inputs = np.load(data / "test" / "all__inputs.npy")[:count]
    out.write_text("".join(sudoku.format_one_line(sudoku.from_tokens(t)) + "\n" for t in inputs))
    return out


def measure(records, module, model: str, repeats: int, **kw) -> dict:
    best, results = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        results = solve_with_model(records, family=module, model=model, **kw)
        best = min(best, time.perf_counter() - start)
    n = len(results)
    return {"puzzles": n, "seconds": round(best, 3), "puzzles_per_s": round(n / best, 1),
            "accuracy": round(sum(r.status == "verified" for r in results) / n, 4),
            "mean_segments": round(float(np.mean([r.segments for r in results])), 3),
            "batch_size": results[0].info["batch_size"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="a Sudoku data set folder (its test split)")
    src.add_argument("--puzzles", type=Path, help="a file of puzzles")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    ap.add_argument("--thresholds", default=None,
                    help="comma-separated halting thresholds on sigmoid(q_halt) (default: the model's halt_threshold)")
    ap.add_argument("--halt-on", default="verified,either",
                    help="comma-separated --halt-on modes to measure besides q (default: verified,either; '' for none)")
    args = ap.parse_args()
    args.halt_on = [m for m in args.halt_on.split(",") if m]
    if args.threads:
        torch.set_num_threads(args.threads)
    thresholds = [float(t) for t in args.thresholds.split(",")] if args.thresholds else [None]

    with tempfile.TemporaryDirectory() as tmp:
        path = args.puzzles or puzzle_file(args.data, args.count, Path(tmp) / "puzzles.txt")
        module = detect(path)
        records = [r for r in module.read(path) if r.puzzle is not None][: args.count]
    kw = dict(batch_size=args.batch_size, device="cpu")
    solve_with_model(records[:64], family=module, model=args.model, **kw)  # warm-up
    fixed = measure(records, module, args.model, args.repeats, fixed_steps=True, **kw)
    halting = {}
    for t in thresholds:
        r = measure(records, module, args.model, args.repeats, halt_threshold=t, halt_on="q", **kw)
        r["speedup"] = round(r["puzzles_per_s"] / fixed["puzzles_per_s"], 2)
        halting["model's" if t is None else str(t)] = r
    for mode in args.halt_on:  # halting on the answer's verification (Sudoku/maze), alone or with the Q head
        r = measure(records, module, args.model, args.repeats, halt_on=mode, **kw)
        r["speedup"] = round(r["puzzles_per_s"] / fixed["puzzles_per_s"], 2)
        halting[f"on {mode}"] = r
    report = {"model": args.model, "machine": f"{platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} torch threads", "fixed_steps": fixed, "halting": halting}
    print(f"{'mode':<16} {'puzzles/s':>10} {'accuracy':>9} {'segments':>9} {'batch':>6} {'speed-up':>9}")
    rows = [("fixed steps", {**fixed, "speedup": 1.0})] + [(k if k.startswith("on ") else f"halt > {k}", r)
                                                   for k, r in halting.items()]
    for name, r in rows:
        print(f"{name:<16} {r['puzzles_per_s']:>10} {r['accuracy']:>9} {r['mean_segments']:>9} "
              f"{r['batch_size']:>6} {r['speedup']:>8}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
