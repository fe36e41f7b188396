"""`hrmkit train`: parse the run settings, hand them to hrmkit.train.loop.train (torchrun-aware)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hrmkit.errors import HrmkitError


def train(
    overrides: Annotated[Optional[list[str]], typer.Argument(
        help="key=value settings: any training field (lr=3e-4, global_batch_size=64, loss=softmax, ema=true ...) "
             "or model field (hidden_size=128, halt_max_steps=8 ...); prefix model./train. to disambiguate.")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", help="Model preset (paper-sudoku, tiny, demo, trm-sudoku-mlp ...); "
                                                  "also picks the paper's training recipe for it.")] = None,
    data: Annotated[Path, typer.Option("--data", help="A data set folder built by `hrmkit data build` or by the "
                                      "authors' scripts (default: an authors' config's data_path).")] = None,
    out: Annotated[Path, typer.Option("--out", help="The run folder: weights, checkpoint, logs.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Optimiser steps (wins over --epochs).")] = None,
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="Epochs over the training groups.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of weights, batches and exploration.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")] = False,
    config: Annotated[Optional[str], typer.Option("--config", help="YAML with training fields (and `model:`, "
                                                   "`preset:`); FILE:section reads a section, e.g. params.yaml:train; "
                                                   "or the HRM authors' all_config.yaml as it is.")] = None,
    init: Annotated[Optional[Path], typer.Option("--init", help="Start from these weights (an authors' step_N file "
                                                 "or an hrmkit model folder), fresh optimiser state.")] = None,
    stop_at: Annotated[Optional[int], typer.Option("--stop-at", help="Stop after N optimiser steps; the schedule "
                                                   "keeps the run's full length (--resume continues it).")] = None,
    live_dir: Annotated[Optional[Path], typer.Option("--live-dir", help="dvclive folder (default RUN/live).")] = None,
    no_live: Annotated[bool, typer.Option("--no-live", help="Do not log with dvclive.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Train into an --out that holds a model which is "
                                            "no run (converted, pulled): its model files are replaced.")] = False,
) -> None:
    """Train an HRM/TRM model; under torchrun each process takes its share of the global batch."""
    from hrmkit.models.config import HRMConfig, TRMConfig
    from hrmkit.train import dist
    from hrmkit.train.config import resolve_run
    from hrmkit.train.loop import train as run_train

    model_fields = set(HRMConfig.__dataclass_fields__) | set(TRMConfig.__dataclass_fields__)
    resolved = resolve_run(preset, config, list(overrides or []), model_fields)
    preset, cfg, model_over = resolved.preset, resolved.train, resolved.model_overrides
    for note in resolved.notes:
        typer.echo(f"note: {note}", err=True)
    if data is None and resolved.data_path is not None:
        data = Path(resolved.data_path)
        if not data.is_dir():
            raise HrmkitError(f"{config}: data_path {resolved.data_path} is not a folder here; pass --data")
    if data is None or out is None:
        raise HrmkitError("--data and --out are required")
    explicit = {k: v for k, v in (("steps", steps), ("epochs", epochs), ("seed", seed)) if v is not None}
    if explicit:
        from hrmkit.train.config import TrainConfig

        if epochs is not None and steps is None:
            explicit["steps"] = 0  # --epochs alone: the length comes from epochs
        cfg = TrainConfig.from_dict({**cfg.to_dict(), **explicit})
    try:
        metrics = run_train(out, data, preset=preset, config=cfg, model_overrides=model_over, resume=resume,
                            live_dir=None if no_live else (live_dir or ""), progress=progress, init=init,
                            stop_at=stop_at, overwrite=overwrite)
    finally:
        dist.shutdown()
    if metrics:
        shown = ", ".join(f"{k.split('/')[-1]} {v:.4g}" for k, v in metrics.items()
                          if k in ("train/loss", "train/exact_accuracy", "train/act_steps"))
        typer.echo(f"trained into {out}: {shown}")
