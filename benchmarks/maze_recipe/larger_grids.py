"""Exact accuracy against segments for one model on maze sets of several sizes (issue 13: the same weights on
larger grids, given more segments).

    hrmkit data build maze --source generate --count 2 --size 40 --min-length 147 --style obstacles \
        --test-source generate --test-count 64 --seed 3 --out /tmp/mz40
    hrmkit data build maze --source generate --count 2 --size 60 --min-length 220 --style obstacles \
        --test-source generate --test-count 64 --seed 4 --out /tmp/mz60
    python benchmarks/maze_recipe/larger_grids.py --model pipelines/maze-hard-cpu/runs/maze-hard-cpu \
        --set 30=pipelines/maze-hard-cpu/data/maze-hard-cpu@64:128 --set 40=/tmp/mz40@64:128 \
        --set 60=/tmp/mz60@32:192 --batch-size 32 --out benchmarks/maze_recipe/larger_grids

Each set is a data folder whose test split holds the mazes (`hrmkit data build maze ... --test-size N`); the
model runs `--steps` segments once per set through `hrmkit eval` (fixed segments, no checker in the loop), whose
metrics give the exact accuracy after every segment. `SIZE=FOLDER@N` takes the first N mazes of that split and
`SIZE=FOLDER@N:STEPS` runs that set for STEPS segments instead of `--steps` (larger grids cost more per
segment). Writes OUT.csv (size, segment, exact), OUT.md (a table at selected segments) and OUT.png (the curves).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MARKS = (8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def curve(model: str, data: str, steps: int, batch_size: int, max_batches: int | None) -> tuple[list[float], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).parent / "hrmkit"), "eval", model, "--data", data, "--out", tmp,
               "--steps", str(steps), "--batch-size", str(batch_size), "--no-baselines", "--device", "cpu"]
        cmd += ["--max-batches", str(max_batches)] if max_batches else []
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        m = json.loads((Path(tmp) / "metrics.json").read_text())
    return [m[f"exact_accuracy_step_{k}"] for k in range(1, steps + 1)], m


def parse_set(spec: str, steps: int, max_batches: int | None, batch_size: int):
    """SIZE=FOLDER[@N[:STEPS]] -> (size, folder, steps, batch size, max batches)."""
    size, _, rest = spec.partition("=")
    data, _, limit = rest.partition("@")
    count, _, own_steps = limit.partition(":")
    if not size or not data:
        raise SystemExit(f"--set {spec!r}: expected SIZE=FOLDER[@N[:STEPS]]")
    if count:
        batch_size = min(batch_size, int(count))
        if int(count) % batch_size:
            raise SystemExit(f"--set {spec!r}: N must be a multiple of --batch-size ({batch_size})")
        max_batches = int(count) // batch_size
    return size, data, int(own_steps or steps), batch_size, max_batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--set", action="append", required=True, help="SIZE=DATA_FOLDER[@N[:STEPS]] (its test split; the first N mazes; STEPS segments)")
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-batches", type=int, default=None, help="only the first N batches of each test split")
    ap.add_argument("--out", required=True, help="output path without extension")
    args = ap.parse_args()
    out = Path(args.out)
    rows, table = [], []
    curves = {}
    sets = [parse_set(spec, args.steps, args.max_batches, args.batch_size) for spec in args.set]
    longest = max(steps for _, _, steps, _, _ in sets)
    marks = [k for k in MARKS if k <= longest]
    for size, data, steps, batch_size, max_batches in sets:
        exact, m = curve(args.model, data, steps, batch_size, max_batches)
        curves[size] = exact
        rows += [(size, k + 1, e) for k, e in enumerate(exact)]
        best = max(range(len(exact)), key=exact.__getitem__)
        table.append(f"| {size}x{size} | {m['num_examples']} | "
                     + " | ".join(f"{100 * exact[k - 1]:.1f}" if k <= steps else "-" for k in marks)
                     + f" | {100 * exact[best]:.1f} (segment {best + 1}) |")
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        csv.writer(f).writerows([("size", "segment", "exact_accuracy"), *rows])
    head = "| mazes | count | " + " | ".join(f"{k} seg" for k in marks) + " | best |"
    sep = "|---|---:|" + "---:|" * len(marks) + "---|"
    out.with_suffix(".md").write_text("\n".join([head, sep, *table]) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for size, exact in curves.items():
        ax.plot(range(1, len(exact) + 1), [100 * e for e in exact], label=f"{size}x{size}")
    ax.set_xlabel("segments")
    ax.set_ylabel("exact accuracy (%)")
    ax.set_xscale("log", base=2)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=100)
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
