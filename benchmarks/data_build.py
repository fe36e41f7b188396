"""Benchmark: build and validate the Sudoku 1k recipe (1,000 bases x (1 + 1,000 augmentations) = 1,001,000
examples) from a local puzzle list, timing each step and its peak memory (each in its own process).

    PYTHONPATH=. python benchmarks/data_build.py [--source FILE] [--bases 1000] [--augment 1000] [--out DIR]

Targets (issue 3): build < 2 min and < 2 GB; validate < 2 min. Results go to benchmarks/RESULTS-data.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HRMKIT_SHARED", REPO.parent / "shared"))

# Runs one `hrmkit` command in this process and prints its peak resident memory (ru_maxrss is in KiB on Linux).
CHILD = """
import resource, sys
from hrmkit.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
    code = 0
except SystemExit as e:
    code = e.code or 0
print(f"PEAK_RSS_MIB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}", file=sys.stderr)
sys.exit(code)
"""


def run(args: list[str]) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"failed: hrmkit {' '.join(args)}\n{proc.stdout}\n{proc.stderr}")
    peak = float(next(ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("PEAK_RSS_MIB")))
    return seconds, peak, proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default=str(SHARED / "data" / "sudoku" / "magictour_top1465.txt"))
    ap.add_argument("--bases", type=int, default=1000)
    ap.add_argument("--augment", type=int, default=1000)
    ap.add_argument("--test-fraction", type=float, default=0.3)
    ap.add_argument("--out", default=None, help="data set folder (default: a temporary one, removed after)")
    opts = ap.parse_args()
    tmp = None if opts.out else tempfile.mkdtemp(prefix="hrmkit-bench-")
    out = Path(opts.out or Path(tmp) / "sudoku-1k")
    try:
        build_args = ["data", "build", "sudoku", "--out", str(out), "--source", opts.source, "--test-fraction",
                      str(opts.test_fraction), "--subsample", str(opts.bases), "--augment", str(opts.augment),
                      "--seed", "0", "--overwrite"]
        b_s, b_mem, _ = run(build_args)
        v_s, v_mem, _ = run(["data", "validate", str(out), "--report", str(out.parent / "report.json")])
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
        n = opts.bases * (opts.augment + 1)
        print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}")
        print(f"command: PYTHONPATH=. python benchmarks/data_build.py --bases {opts.bases} --augment {opts.augment}")
        print(f"build    {n:,} examples: {b_s:6.1f} s  peak {b_mem:6.0f} MiB  ({size:.0f} MiB on disk)")
        print(f"validate {n:,} examples: {v_s:6.1f} s  peak {v_mem:6.0f} MiB")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
