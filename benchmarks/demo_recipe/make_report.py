"""Turn the run records into the CSV learning curves, the time-to-accuracy plot and the tables of RESULTS.md.

    python make_report.py --cpu runs/R4_recipe_seg4.json runs/R2_paper.json R3_trm_peers.log ...

Inputs: CPU runs (runs/<name>.json written by train_sudoku.py, the removed fork at adf39cc, or the run's log when it was stopped early) and
data/sweep_h200.json (run_sweep.sh). Outputs: data/curves_cpu.csv, data/curves_h200_sweep.csv,
time_to_accuracy.png, and the markdown tables on stdout.
"""
import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
LABELS = {"R4_recipe_seg4": "R4 recipe, ACT halting, max 4 segments", "R6_recipe_fixed4": "R6 recipe, fixed 4 segments",
          "R1_recipe": "R1 recipe, ACT halting, max 8 segments", "R2_paper": "R2 paper recipe scaled down",
          "R3_trm_peers": "R3 recipe in TRM shape (stopped at 3 min)",
          "R5_recipe_hard": "R5 recipe, 45-50 givens test (one-pass 0%)"}


def run_from_log(path: str) -> dict:
    """A run stopped before its end has no JSON: rebuild its record from the lines train_sudoku.py prints."""
    lines = open(path).read().splitlines()
    head = lines[0].split()  # NAME: params N data Xs untrained ex E bl B one-pass ex E bl B
    r = dict(name=head[0].rstrip(":"), params=int(head[2]), args=dict(batch=64), stopped_early=True,
             untrained=dict(exact=float(head[7]), blank=float(head[9])),
             one_pass=dict(exact=float(head[12]), blank=float(head[14])), curve=[])
    for line in lines:
        if not line.startswith("t "):
            continue
        fields, seg = line.split("seg [")
        kv = dict(zip(fields.split()[0::2], fields.split()[1::2]))
        r["curve"].append(dict(t=float(kv["t"]), wall=float(kv["wall"]), step=int(kv["step"]),
                               samples=int(kv["samples"]), exact=float(kv["exact"]), exact_q=float(kv["exact_q"]),
                               exact_full=float(kv["full"]), blank=float(kv["blank"]),
                               q_segments=float(kv["qseg"]), seg=[float(v) for v in seg.rstrip("]").split(",")]))
    r["steps"] = r["curve"][-1]["step"]
    r["seg_samples_per_s"] = r["steps"] * 64 / max(r["curve"][-1]["t"], 1e-9)
    return r


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def cpu_runs(paths: list[str]) -> dict[str, dict]:
    runs = {}
    rows = []
    for p in paths:
        r = json.load(open(p)) if p.endswith(".json") else run_from_log(p)
        runs[r["name"]] = r
        for c in r["curve"]:
            rows.append(dict(run=r["name"], cpu_s=c["t"], wall_s=c.get("wall", ""), step=c["step"],
                             segment_samples=c["step"] * r["args"]["batch"], puzzles=c["samples"],
                             exact=c["exact"], exact_q=c.get("exact_q", ""), exact_full=c.get("exact_full", ""),
                             blank=c["blank"], q_segments=c.get("q_segments", ""),
                             exact_per_segment=" ".join(str(v) for v in c.get("seg", []))))
    write_csv(HERE / "data/curves_cpu.csv", rows)
    return runs


def sweep_runs(path: Path) -> dict[str, dict]:
    sweep = json.load(open(path))
    rows = [dict(config=name, segment_samples=int(c["t"]), step=c["step"], puzzles=c["samples"],
                 exact_full=c["exact"], blank=c["blank"], best_segment_exact_full=max(c.get("seg", [0])))
            for name, r in sorted(sweep.items()) for c in r["curve"]]
    write_csv(HERE / "data/curves_h200_sweep.csv", rows)
    return sweep


def plot(runs: dict[str, dict], sweep: dict[str, dict]) -> None:
    fig, ax = plt.subplots(1, 3, figsize=(17, 4.8))
    for name, r in runs.items():
        t = [c["t"] / 60 for c in r["curve"]]
        ax[0].plot(t, [100 * c["exact"] for c in r["curve"]], marker="o", ms=3, label=LABELS.get(name, name))
        ax[1].plot(t, [100 * c["blank"] for c in r["curve"]], marker="o", ms=3, label=LABELS.get(name, name))
    base = next(iter(runs.values()))
    for a, key in ((ax[0], "exact"), (ax[1], "blank")):
        a.axhline(100 * base["one_pass"][key], color="grey", ls="--", label="one-pass baseline (50-55 givens)")
        a.axhline(100 * base["untrained"][key], color="black", ls=":", label="untrained model")
        a.set_xlabel("training time, minutes of one CPU core")
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    ax[0].axhline(90, color="red", lw=0.8)
    ax[0].set(title="exact: puzzles solved, % of 500 held-out", ylabel="%")
    ax[1].set(title="blank cells right, %", ylabel="%")
    for name, r in sorted(sweep.items()):
        bold = name in ("A_peers", "paper", "paper_opt")
        ax[2].plot([c["t"] / 1000 for c in r["curve"]], [100 * c["blank"] for c in r["curve"]],
                   "-" if name.startswith("A") else "--", lw=2.5 if bold else 1, label=name)
    ax[2].set(title="H200 sweep, same data: blank cells right, %", xlabel="segment-samples (thousands)", ylabel="%")
    ax[2].legend(fontsize=6, ncol=2)
    ax[2].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(HERE / "time_to_accuracy.png", dpi=110)


def tables(runs: dict[str, dict], sweep: dict[str, dict]) -> None:
    print("| run | exact % | exact % per segment | exact_q % | blank % | CPU s | steps | puzzles seen | "
          "seg-samples per CPU-s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        c = r["curve"][-1]
        segs = " / ".join(f"{100 * v:.1f}" for v in c.get("seg", []))
        print(f"| {name} | {100 * c['exact']:.1f} | {segs} | {100 * c.get('exact_q', float('nan')):.1f} | "
              f"{100 * c['blank']:.2f} | {c['t']:.0f} | {c['step']} | {c['samples']:,} | {r['seg_samples_per_s']:.0f} |")
    print()
    print("| config | params | blank % at ~100k / ~200k / final seg-samples | exact_full % final (best segment) | "
          "best exact_full % at any eval | puzzles seen |")
    print("|---|---|---|---|---|---|")
    for name, r in sorted(sweep.items()):
        curve = r["curve"]

        def at(k: int) -> str:
            return f"{100 * [c for c in curve if c['t'] <= k + 5000][-1]['blank']:.1f}"
        last = curve[-1]
        best = max(max(c.get("seg", [0])) for c in curve)
        print(f"| {name} | {r['params']:,} | {at(100000)} / {at(200000)} / {100 * last['blank']:.1f} "
              f"({int(last['t']) // 1000}k) | {100 * last['exact']:.1f} ({100 * max(last['seg']):.1f}) | "
              f"{100 * best:.1f} | {r['samples']:,} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu", nargs="+", required=True, help="runs/<name>.json or <name>.log")
    args = ap.parse_args()
    runs = cpu_runs(args.cpu)
    sweep = sweep_runs(HERE / "data/sweep_h200.json")
    plot(runs, sweep)
    tables(runs, sweep)


if __name__ == "__main__":
    main()
