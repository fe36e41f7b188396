"""`hrmkit solve FILE`: solve every puzzle of a file and say which answers are verified correct.

The format (Sudoku, maze, ARC) is detected from the file or forced with ``--format``; the puzzle family module
does all the parsing, solving, verifying and formatting, so a new family needs no change here.

Solvers: ``exact`` (the family's ``solve_exact``: Sudoku and mazes) and ``model`` (the default when
``--model`` is given), which hands the records to ``hrmkit.solve.solve_with_model(records, family=module,
model=NAME_OR_DIR)``; it returns one ExactResult per record that parsed, in order.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import ExactResult, Record, detect, family


def _exact_results(records: list[Record], module) -> list[ExactResult]:
    if not hasattr(module, "solve_exact"):
        raise HrmkitError(f"{module.NAME} puzzles have no exact solver; use --model NAME|DIR")
    return [module.solve_exact(r.puzzle) for r in records if r.puzzle is not None]


def _model_results(records: list[Record], module, model: str | None) -> list[ExactResult]:
    if model is None:
        raise HrmkitError("--solver model needs --model NAME|DIR (a zoo name or a model directory)")
    if importlib.util.find_spec("hrmkit.solve") is None:
        raise HrmkitError("solving with a model (--model) is not available in this version; use --solver exact")
    solve_with_model = getattr(importlib.import_module("hrmkit.solve"), "solve_with_model", None)
    if solve_with_model is None:
        raise HrmkitError("solving with a model (--model) is not available in this version; use --solver exact")
    return list(solve_with_model([r for r in records if r.puzzle is not None], family=module, model=model))


def solve(
    file: Annotated[Path, typer.Argument(help="A file of puzzles (Sudoku lines/grids/CSV, mazes, ARC JSON).")],
    solver: Annotated[
        Optional[str], typer.Option(help="exact | model (default: model when --model is given, else exact).")
    ] = None,
    model: Annotated[Optional[str], typer.Option(help="A zoo model name or a model directory.")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="sudoku | maze | arc (default: detect).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per puzzle, one per line.")] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Report malformed puzzles as invalid instead of stopping.")
    ] = False,
) -> None:
    """Solve a file of puzzles (exact solver or a model) and verify the answers."""
    solver = solver or ("model" if model else "exact")
    if solver not in ("exact", "model"):
        raise HrmkitError(f"--solver must be exact or model, got {solver!r}")
    module = family(format) if format else detect(file)
    records = module.read(file, skip_invalid=skip_invalid)
    results = iter(_exact_results(records, module) if solver == "exact" else _model_results(records, module, model))

    for record in records:
        if record.puzzle is None:
            status, solution, verified = "invalid", None, False
        else:
            result = next(results)
            status, solution = result.status, result.solution
            verified = solution is not None and bool(module.verify(record.puzzle, solution))
        if as_json:
            row = {
                "index": record.index,
                "puzzle": record.text,
                "solution": module.format_one_line(solution) if solution is not None else None,
                "status": status,
                "verified": verified,
            }
            typer.echo(json.dumps(row))
            continue
        mark = "verified" if verified else "not verified"
        typer.echo(f"# puzzle {record.index} (line {record.line}): {status}, {mark}")
        if record.puzzle is None:
            typer.echo(record.error)
        else:
            typer.echo(module.format_pretty(solution if solution is not None else record.puzzle))
        typer.echo("")
