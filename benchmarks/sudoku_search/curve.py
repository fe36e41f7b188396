"""Time-to-accuracy of a sudoku-search-cpu pipeline run (benchmarks/sudoku_search/RESULTS.md, "Speed of training").

    .venv/bin/python benchmarks/sudoku_search/curve.py [PIPELINE_DIR]   (default pipelines/sudoku-search-cpu)

Reads the run's reports (dvclive series of both training stages): the training time up to each evaluation,
summed from the logged segment-samples/s of every logging window (global_batch_size x steps / rate, so the
evaluations' own time is left out), and the evaluation's exact accuracy (the stage's eval_segments on its
eval_batches of the test split).
"""

import sys
from pathlib import Path

import yaml


def series(live: Path, name: str) -> list[tuple[int, float]]:
    path = live / "plots" / "metrics" / f"{name}.tsv"
    if not path.is_file():
        return []
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:] if line.strip()]
    return [(int(step), float(value)) for step, value in rows]


def minutes_by_step(live: Path, batch: int) -> dict[int, float]:
    """Cumulative training minutes at each logged step."""
    out, total, last = {}, 0.0, 0
    for step, rate in series(live, "train/samples_per_s"):
        total += (step - last) * batch / rate / 60
        out[step], last = total, step
    return out


def main(root: Path) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    batch = 64  # the sudoku-search training preset's global_batch_size (params.yaml does not override it)
    easy = minutes_by_step(root / "reports" / "train_easy", batch)
    offset = max(easy.values(), default=0.0)
    main_stage = minutes_by_step(root / "reports" / "train", batch)
    print(f"stage 1: {max(easy, default=0)} steps, {offset:.1f} min; stage 2 evaluations at "
          f"{params['train'].get('eval_segments', '?')} segments on {params['train'].get('eval_batches', 0) * batch} "
          f"test puzzles:")
    print("| stage-2 step | training minutes (both stages) | exact |")
    print("|---|---|---|")
    for step, exact in series(root / "reports" / "train", "eval/exact_accuracy"):
        print(f"| {step} | {offset + main_stage.get(step, float('nan')):.1f} | {100 * exact:.1f}% |")
    final = max(main_stage, default=0)
    print(f"| {final} (end) | {offset + main_stage.get(final, 0.0):.1f} | (reports/eval/metrics.json) |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "pipelines/sudoku-search-cpu"))
