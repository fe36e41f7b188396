"""`hrmkit convert ...`: foreign checkpoints to hrmkit model folders."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from hrmkit import puzzles

app = typer.Typer(no_args_is_help=True, help="Convert foreign checkpoints (the authors' format) to hrmkit.")


# --task's choices: the registered families (hrmkit.puzzles.FAMILIES), as Task.sudoku, Task.maze, ...
Task = Enum("Task", {name: name for name in puzzles.names()}, type=str)


@app.callback()
def _group() -> None:
    """Convert foreign checkpoints (the authors' format) to hrmkit."""


@app.command()
def official(
    checkpoint: Annotated[Path, typer.Argument(help="The authors' checkpoint file (step_N / checkpoint).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: model.safetensors + config.json.")],
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="The authors' all_config.yaml (default: beside CHECKPOINT).")] = None,
    seq_len: Annotated[Optional[int], typer.Option(
        "--seq-len", min=1, help="Sequence length (not in their config).")] = None,
    task: Annotated[Optional[Task], typer.Option(
        "--task", help="Sets the sequence length: sudoku 81, maze/arc 900.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing model folder --out.")] = False,
) -> None:
    """Convert a checkpoint of the HRM or TRM authors' code (step_N + all_config.yaml) into an hrmkit model folder."""
    if seq_len is not None and task is not None:
        raise typer.BadParameter("give --seq-len or --task, not both")
    from hrmkit.zoo.official import convert_official  # torch import only when the command runs

    out_dir = convert_official(checkpoint, out, config_path=config, seq_len=seq_len,
                               task=task.value if task is not None else None, overwrite=overwrite)
    from hrmkit.models import ModelConfig

    cfg = ModelConfig.from_checkpoint(out_dir)
    typer.echo(f"converted {checkpoint} -> {out_dir} ({cfg.arch}, hidden {cfg.hidden_size}, vocab {cfg.vocab_size}, "
               f"seq_len {cfg.seq_len}, puzzle ids {cfg.num_puzzle_identifiers})")
