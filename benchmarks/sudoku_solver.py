"""Sudoku kernels on one core: exact solver (uniqueness check included), generator, canonical form.

    python benchmarks/sudoku_solver.py [--data ../shared/data/sudoku] [--python-subset 300]

Prints a Markdown table; the recorded figures are in benchmarks/RESULTS-sudoku-solver.md. Each timing is the
best of ``--repeats`` runs (the machine is shared), measured through the public API (``solve_exact``,
``generate``, ``canonical``), so Python-call and numpy overheads are included.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from hrmkit.puzzles import _sudoku_py
from hrmkit.puzzles import sudoku as S


def best_of(repeats: int, fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of the fastest run: on a shared machine the CPU time is
    what one core actually spent."""
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return min(times)


def solve_all(grids: list[np.ndarray]) -> None:
    for g in grids:
        result = S.solve_exact(g)
        assert result.status == "solved" and S.verify(g, result.solution)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/sudoku")
    parser.add_argument("--python-subset", type=int, default=300, help="puzzles for the pure-Python fallback")
    parser.add_argument("--generate", type=int, default=20_000)
    parser.add_argument("--canonical", type=int, default=2_000, help="puzzles (and as many solutions)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rows = [("what", "backend", "items", "wall s", "CPU s", "per CPU second")]

    def add(what: str, backend: str, items: int, seconds: tuple[float, float]) -> None:
        wall, cpu = seconds
        rows.append((what, backend, f"{items:,}", f"{wall:.3f}", f"{cpu:.3f}", f"{items / cpu:,.0f}"))

    print(f"# hrmkit Sudoku kernels on {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"# C kernels built: {S.BACKEND == 'c'}")
    for name in ("magictour_top1465.txt", "forum_hardest_1905_11plus.txt", "17_clue.txt"):
        path = args.data / name
        if not path.exists():
            continue
        start, cpu = time.perf_counter(), time.process_time()
        records = S.read(path)
        add(f"read {name}", "python", len(records), (time.perf_counter() - start, time.process_time() - cpu))
        grids = [r.puzzle.grid for r in records]
        if name != "magictour_top1465.txt":
            grids = grids[:5000]
        guesses = [S.solve_exact(g).info["guesses"] for g in grids]
        print(f"# {name}: {len(grids)} puzzles, guesses mean {np.mean(guesses):.1f}, max {max(guesses)}")
        add(f"solve_exact {name}", S.BACKEND, len(grids), best_of(args.repeats, lambda: solve_all(grids)))
        if name == "magictour_top1465.txt" and S.BACKEND == "c":
            subset = grids[: args.python_subset]
            kernels = S._kernels
            S._kernels = _sudoku_py  # the fallback, through the same public API
            try:
                add(f"solve_exact {name} (first {len(subset)})", "python", len(subset), best_of(1, lambda: solve_all(subset)))
            finally:
                S._kernels = kernels

    seconds = best_of(1, lambda: S.generate(args.generate, givens=(40, 55), seed=0))
    add("generate givens=(40,55)", S.BACKEND, args.generate, seconds)
    seconds = best_of(1, lambda: S.generate(200, seed=0))
    add("generate minimal (givens=None)", S.BACKEND, 200, seconds)

    puzzles = S.generate(args.canonical, givens=(24, 40), seed=1)
    add("canonical puzzles (24-40 givens)", S.BACKEND, len(puzzles), best_of(1, lambda: [S.canonical(p.grid) for p in puzzles]))
    add("canonical full grids", S.BACKEND, len(puzzles), best_of(1, lambda: [S.canonical(p.answer) for p in puzzles]))
    few = puzzles[:50]
    add("canonical puzzles", "python", len(few), best_of(1, lambda: [_sudoku_py.canonical(p.grid) for p in few]))
    add("canonical full grids", "python", len(few), best_of(1, lambda: [_sudoku_py.canonical(p.answer) for p in few]))

    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for k, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
