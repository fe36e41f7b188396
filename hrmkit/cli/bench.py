"""`hrmkit bench`: measure matmul throughput, training samples/s + MFU and inference puzzles/s; table + JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer


def bench(
    preset: Annotated[str, typer.Option(help="Model preset to time.")] = "demo",
    batch_size: Annotated[int, typer.Option(help="Training batch.")] = 32,
    inference_batch: Annotated[Optional[int], typer.Option(help="Inference batch (default: the training batch).")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    seconds: Annotated[float, typer.Option(help="Minimum timing per measurement.")] = 2.0,
    bf16: Annotated[bool, typer.Option(help="Also time bfloat16 matmuls.")] = True,
    out: Annotated[Path, typer.Option("--out", help="JSON file for the results.")] = Path("bench.json"),
    overrides: Annotated[Optional[list[str]], typer.Argument(help="Model field overrides key=value.")] = None,
) -> None:
    """Measure this machine (matmul, training, inference) and write the figures as JSON."""
    from rich.console import Console
    from rich.table import Table

    from hrmkit.errors import HrmkitError
    from hrmkit.train.bench import run
    from hrmkit.train.config import parse_value

    over = {}
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise HrmkitError(f"override {item!r}: expected key=value")
        over[key] = parse_value(value)
    r = run(preset, batch_size=batch_size, device=device, seconds=seconds, bf16=bf16,
            inference_batch=inference_batch, overrides=over)
    table = Table(title=f"hrmkit bench: {r['device']}, {r['threads']} threads, torch {r['torch']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for dtype in ("float32", "bfloat16"):
        for shape, g in r.get(f"matmul_gflops_{dtype}", {}).items():
            table.add_row(f"matmul {dtype} {shape}", f"{g:,.1f} GFLOP/s")
    table.add_row(f"training {preset} ({r['parameters']:,} params), batch {batch_size}",
                  f"{r['train_samples_per_s']:,.2f} samples/s")
    table.add_row("training FLOPs per sample (counted)", f"{r['train_flops_per_sample'] / 1e9:,.2f} GFLOP")
    table.add_row(f"training MFU (vs {r['mfu_reference']})", f"{100 * r['train_mfu']:.1f} %")
    table.add_row(f"inference, {r['inference_segments']} segments, batch {r['inference_batch']}",
                  f"{r['inference_puzzles_per_s']:,.2f} puzzles/s")
    Console().print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(r, indent=1) + "\n")
    os.replace(tmp, out)
