"""Benchmark: build (and validate) a data set, timing each step and its peak memory (each in its own process).

Sudoku 1k recipe (default): 1,000 bases x (1 + 1,000 augmentations) = 1,001,000 examples from a local puzzle list.
ARC (``--task arc``): the authors' recipe over ARC-AGI-1 training + evaluation (800 tasks), ``--augment`` copies
each; ``--code DIR`` runs another checkout (e.g. ``git worktree add /tmp/arc-old HEAD~1``) for a before/after.

    PYTHONPATH=. python benchmarks/data_build.py [--source FILE] [--bases 1000] [--augment 1000] [--out DIR]
    PYTHONPATH=. python benchmarks/data_build.py --task arc --augment 100 [--code /tmp/arc-old] [--validate]
    PYTHONPATH=. python benchmarks/data_build.py --task sudoku-generate --count 20000 [--min-guesses 1]

``--task sudoku-generate``: generated puzzles per second (train --count + test 10 %), minimal ones (``--minimal``)
with ``--min-guesses G`` (issue 14: puzzles that need search), and the same build without the band beside it.

Targets (issue 3): build < 2 min and < 2 GB; validate < 2 min. Results go to benchmarks/RESULTS-data.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HRMKIT_SHARED", REPO.parent / "shared"))

# Runs one `hrmkit` command in this process and prints its peak resident memory in MiB: VmHWM, the high-water
# mark of this process's own memory (ru_maxrss, the fallback off Linux, starts at the parent's size after exec).
CHILD = """
import os, re, resource, sys
from hrmkit.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
    code = 0
except SystemExit as e:
    code = e.code or 0
if os.path.exists("/proc/self/status"):
    kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
else:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"PEAK_RSS_MIB {kib / 1024:.0f}", file=sys.stderr)
sys.exit(code)
"""


def run(args: list[str], code: Path = REPO) -> tuple[float, float, str]:
    """(wall seconds, peak MiB, stderr) of ``hrmkit ARGS`` run from the checkout ``code`` (its folder as the working
    directory too, so that no other checkout shadows it on sys.path)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, cwd=code,
                          env={**os.environ, "PYTHONPATH": str(code)})
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"failed: hrmkit {' '.join(args)}\n{proc.stdout}\n{proc.stderr}")
    peak = float(next(ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("PEAK_RSS_MIB")))
    return seconds, peak, proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=("sudoku", "arc", "sudoku-generate"), default="sudoku")
    ap.add_argument("--count", type=int, default=20000, help="sudoku-generate: training puzzles (test: 10 %%)")
    ap.add_argument("--min-guesses", type=int, default=1, help="sudoku-generate: the band's minimum")
    ap.add_argument("--source", default=None, help="sudoku: a puzzle list; arc: a folder (default: ARC-AGI-1)")
    ap.add_argument("--bases", type=int, default=1000)
    ap.add_argument("--augment", type=int, default=1000)
    ap.add_argument("--test-fraction", type=float, default=0.3)
    ap.add_argument("--code", type=Path, default=REPO, help="the hrmkit checkout to run (default: this one)")
    ap.add_argument("--validate", action="store_true", help="arc: validate the result too (sudoku always does)")
    ap.add_argument("--out", default=None, help="data set folder (default: a temporary one, removed after)")
    opts = ap.parse_args()
    tmp = None if opts.out else tempfile.mkdtemp(prefix="hrmkit-bench-")
    out = Path(opts.out or Path(tmp) / f"{opts.task}-bench").resolve()
    code = opts.code.resolve()
    try:
        if opts.task == "sudoku-generate":
            return generate_bench(opts, out, code)
        if opts.task == "sudoku":
            source = opts.source or str(SHARED / "data" / "sudoku" / "magictour_top1465.txt")
            build_args = ["data", "build", "sudoku", "--out", str(out), "--source", source, "--test-fraction",
                          str(opts.test_fraction), "--subsample", str(opts.bases), "--augment", str(opts.augment),
                          "--seed", "0", "--overwrite"]
            command = f"--bases {opts.bases} --augment {opts.augment}"
        else:
            source = opts.source or str(SHARED / "data" / "arc" / "arc-agi-1")
            build_args = ["data", "build", "arc", "--out", str(out), "--source", source, "--augment",
                          str(opts.augment), "--seed", "0", "--overwrite"]
            command = f"--task arc --augment {opts.augment}" + (f" --code {opts.code}" if code != REPO else "")
        load = os.getloadavg()[0]
        b_s, b_mem, _ = run(build_args, code)
        meta = [json.loads((out / s / "dataset.json").read_text()) for s in ("train", "test")]
        n = sum(m["num_examples"] for m in meta)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
        print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}  load average before: {load:.2f}  "
              f"code: {code}")
        print(f"command: PYTHONPATH=. python benchmarks/data_build.py {command}")
        print(f"build    {n:,} examples: {b_s:6.1f} s  peak {b_mem:6.0f} MiB  ({size:.0f} MiB on disk)")
        if opts.task == "sudoku" or opts.validate:
            v_s, v_mem, _ = run(["data", "validate", str(out), "--report", str(out.parent / "report.json")], code)
            print(f"validate {n:,} examples: {v_s:6.1f} s  peak {v_mem:6.0f} MiB")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def generate_bench(opts, out: Path, code: Path) -> None:
    """Puzzles/s of `hrmkit data build sudoku --source generate --minimal`, with and without --min-guesses."""
    n_test = max(1, opts.count // 10)
    base = ["data", "build", "sudoku", "--out", str(out), "--source", "generate", "--count", str(opts.count),
            "--test-source", "generate", "--test-count", str(n_test), "--minimal", "--seed", "0", "--overwrite"]
    print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}  load average before: {os.getloadavg()[0]:.2f}"
          f"  code: {code}")
    print(f"command: PYTHONPATH=. python benchmarks/data_build.py --task sudoku-generate --count {opts.count} "
          f"--min-guesses {opts.min_guesses}")
    n = opts.count + n_test
    for label, extra in ((f"--minimal --min-guesses {opts.min_guesses}", ["--min-guesses", str(opts.min_guesses)]),
                         ("--minimal", [])):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, peak, _ = run(base + extra, code)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        build = json.loads((out / "provenance.json").read_text())["build"]
        ratings = np.concatenate([np.load(out / s / "all__ratings.npy") for s in ("train", "test")])
        # CPU seconds are the figure that holds on a shared machine (wall time is what the scheduler left us)
        print(f"{label:<28} {n:,} puzzles: {n / cpu:5.0f} puzzles per CPU second (process CPU {cpu:.1f} s, wall "
              f"{wall:.1f} s, of which build {build['seconds']:.1f} s; peak {peak:.0f} MiB); "
              f"{np.mean(ratings >= opts.min_guesses):.1%} with >= {opts.min_guesses} guesses, mean {ratings.mean():.1f}")


if __name__ == "__main__":
    main()
