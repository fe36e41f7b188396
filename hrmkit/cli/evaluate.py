"""`hrmkit eval RUN --data DIR --out REPORT_DIR`: metrics.json, plots/*.png (and ARC submission.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def evaluate(
    run: Annotated[Path, typer.Argument(help="A run or model folder (model.safetensors + config.json).")],
    data: Annotated[Path, typer.Option("--data", help="A data set folder built by `hrmkit data build`.")],
    out: Annotated[Path, typer.Option("--out", help="Report folder: metrics.json, plots/ (PNG).")],
    split: Annotated[str, typer.Option(help="Split to evaluate.")] = "test",
    batch_size: Annotated[int, typer.Option(help="Puzzles per forward.")] = 256,
    max_batches: Annotated[Optional[int], typer.Option(help="Evaluate only this many batches.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Segments to run (default: the model's eval_segments, else its halt_max_steps).")] = None,
    tta: Annotated[int, typer.Option(help="Sudoku/maze: vote over this many symmetric copies (0: off).")] = 0,
    weights: Annotated[str, typer.Option(help="auto (EMA when present) | ema | raw.")] = "auto",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the test-time augmentations, the --views symmetries and the "
                                           "untrained baseline.")] = 0,
    views: Annotated[int, typer.Option(
        "--views", help="Sudoku/maze: also score `hrmkit solve --views K` on the same examples (K symmetric views "
        "per puzzle, the first verified answer else the Q-weighted vote): views_exact_accuracy, views_verified, "
        "segments_per_puzzle, views_per_puzzle (1: off).")] = 1,
    halt_on: Annotated[Optional[str], typer.Option(
        "--halt-on", help="Halting of the --views pass, as in `hrmkit solve`: q | verified | either (default: the "
        "fixed segments of the evaluation). Given alone, runs that pass with one view.")] = None,
    baselines: Annotated[Optional[bool], typer.Option(
        "--baselines/--no-baselines",
        help="Also evaluate the same config with fresh (seeded) weights: baseline_untrained_* keys. Default: on "
             "for sudoku and maze, off for arc. The one-pass baseline and difficulty keys are always written.",
    )] = None,
) -> None:
    """Evaluate a trained model on a data set."""
    from hrmkit.evaluate import evaluate_run

    m = evaluate_run(run, data, out, split=split, batch_size=batch_size, max_batches=max_batches, steps=steps,
                     tta=tta, weights=weights, device=device, seed=seed, baselines=baselines, views=views,
                     halt_on=halt_on)
    keys = ["exact_accuracy", "token_accuracy", "act_steps", "arc_pass@2", "tta_exact_accuracy",
            "views_exact_accuracy", "segments_per_puzzle",
            "baseline_one_pass_exact_accuracy", "baseline_untrained_exact_accuracy"]
    typer.echo(", ".join(f"{k} {m[k]:.4f}" for k in keys if k in m) + f"  ->  {out / 'metrics.json'}")
