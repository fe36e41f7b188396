"""`hrmkit solve FILE`: solve every puzzle of a file and say which answers are verified correct.

The format (Sudoku, maze, ARC) is detected from the file or forced with ``--format``; the puzzle family module
does all the parsing, verifying and formatting, and the paths that are not every family's are chosen by its optional
capabilities (``hrmkit.puzzles``: ``READS_FOLDERS``, ``SOLUTIONS_FILE``, ``VOTES_OVER_AUGMENTATIONS``,
``SUBMISSION``, ``solve_exact``), never by its name. An ARC FILE may also be an
ARC Prize collection (``arc-agi_evaluation_challenges.json``: {task_id: task}, its ``*_solutions.json`` beside it
read too, or given with ``--solutions``) or a folder of task files and collections.

Solvers: ``exact`` (the family's ``solve_exact``: Sudoku and mazes) and ``model`` (the default when ``--model``
is given), which hands the records to ``hrmkit.solve.solve_with_model`` (batched inference with per-puzzle
halting; see that module for statuses, confidence and ARC voting).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import capability, detect, family, with_capability

_HELP = """Solve a file of puzzles (exact solver or a model) and verify the answers.

\b
Statuses, exact solver: solved (one solution), multiple (several; one is shown), unsolvable.
Statuses, model (--model NAME|DIR):
  verified    checked and right: Sudoku a full valid grid keeping the givens; maze one shortest
              S-G path; ARC attempt 1 or 2 equals the test output (file or solutions)
  wrong       checked and not right
  unverified  nothing to check against (an ARC test input without its output)
  no-answer   ARC: no answer decoded to a grid
  invalid     the puzzle is malformed (with --skip-invalid; otherwise the run stops at FILE:LINE)
confidence = sigmoid(q_halt) at the answer (the Q head's estimate that the answer is right);
token_prob = mean over cells of the top softmax probability.
\b
Halting, by default as `hrmkit eval` measured the model (so the default gives its card's accuracy):
a model trained with halting: fixed runs every puzzle a fixed number of segments (the segments of an
eval report in its folder, else its config's eval_segments or halt_max_steps); a model trained with halting: act stops a puzzle
when its Q head says halt (HRM q_halt > q_continue, TRM q_halt > 0) or at --max-steps (default: its
halt_max_steps). A stopped puzzle's batch slot takes the next puzzle. --halt-on q forces the Q head.
--halt-threshold P halts on sigmoid(q_halt) > P, whatever the model's halt_rule (its default:
the model's halt_rule, q_continue or sigmoid(q_halt) > its halt_threshold; P = 0.5 is q_halt > 0).
--halt-on verified stops a Sudoku or maze at the first segment whose answer checks out (else at --max-steps).
--fixed-steps runs every puzzle to --max-steps, as the authors evaluate. --max-steps alone sets the
segments, not the halting.
\b
Test-time scaling (Sudoku, mazes): --views K solves each puzzle under K symmetric views in one batch
(view 0 as given, the others random symmetries seeded by --seed: Sudoku relabellings, transposition,
band/stack and row/column permutations; mazes rotations and reflections, K <= 8), maps each answer
back, and takes the first view's that verifies, else the answer with the largest summed
sigmoid(q_halt) (ties: the lowest view). With --halt-on verified a puzzle stops at its first verified
view. segments then sums over the views run; --json/--csv add views (run) and view (the one taken).
ARC has its own vote instead (--augmentations). --batch-size default:
CPU 32768 token positions per batch (at most 512 rows); CUDA half the free memory over a per-row
activation estimate.
ARC: FILE is a task file, an ARC Prize collection (arc-agi_*_challenges.json; the
*_solutions.json beside it, or --solutions FILE, gives the test outputs to verify against) or a
folder of them. Each test input is solved under --augmentations augmentations, answers are mapped
back and voted (ties by mean q_halt); attempts 1 and 2 are the two best; --submission writes the
ARC Prize JSON {task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]}, every task and test input.
"""

# The root app registers commands with a one-line help, so the model's statuses are documented on --model.
_MODEL_HELP = ("Statuses: verified (checked and right: Sudoku a full valid grid keeping the givens, maze one shortest "
               "S-G path, ARC attempt 1 or 2 equals the test output from the file or its solutions), wrong (checked, "
               "not right), unverified (nothing to check against: an ARC test input without output), no-answer (ARC: "
               "nothing decoded to a grid), invalid (malformed puzzle, with --skip-invalid). confidence = "
               "sigmoid(q_halt) at the answer; token_prob = mean over cells of the top softmax probability. Halting "
               "by default as the model was evaluated: a halting=fixed model runs fixed segments, a halting=act model "
               "halts a puzzle when its Q head says so (HRM q_halt > q_continue, TRM q_halt > 0; see --halt-on) or at "
               "--max-steps; a halted puzzle's batch slot takes the next puzzle.")

EXACT_KEYS = ("index", "puzzle", "solution", "status", "verified")
MODEL_KEYS = EXACT_KEYS + ("segments", "confidence", "token_prob")
ARC_KEYS = ("test_index", "attempt_2", "votes")
VIEW_KEYS = ("views", "view")  # with --views K > 1


def _read(file: Path, format: str | None, skip_invalid: bool, solutions: Path | None):
    """(family module, records); ARC gives one record per task (of a file, a collection, or a folder of them)."""
    if file.is_dir():
        module = family(format) if format else with_capability("READS_FOLDERS")[0]
        if not capability(module, "READS_FOLDERS", False):
            raise HrmkitError(f"{file}: a folder of puzzles is read as ARC task files, not {module.NAME}")
    else:
        module = family(format) if format else detect(file)
    if solutions is None:
        return module, module.read(file, skip_invalid=skip_invalid)
    if not capability(module, "SOLUTIONS_FILE", False):
        raise HrmkitError(f"--solutions is for ARC tasks (an ARC Prize *_solutions.json file); {file} holds "
                          f"{module.NAME} puzzles")
    return module, module.read(file, skip_invalid=skip_invalid, solutions=solutions)


def _votes(module) -> bool:
    """Whether the model answers each test input of a record by a vote (ARC: test_index, attempts, votes)."""
    return bool(capability(module, "VOTES_OVER_AUGMENTATIONS", False))


def _one_line(module, grid) -> str | None:
    return None if grid is None else module.format_one_line(grid)


def _rows(records, module, results, model: bool, trace: bool, views: int = 1):
    """One output dict per puzzle (ARC: per test input), invalid records included, in file order."""
    by_record: dict[int, list] = {}
    for res in results if model else []:
        by_record.setdefault(res.record, []).append(res)
    exact = iter(results) if not model else None
    for record in records:
        base = {"index": record.index, "puzzle": record.text}
        if record.puzzle is None:
            row = {**base, "solution": None, "status": "invalid", "verified": False}
            if model:
                row.update(segments=None, confidence=None, token_prob=None)
                if views > 1:
                    row.update(views=None, view=None)
            yield record, row, None
            continue
        if not model:
            res = next(exact)
            ok = res.solution is not None and bool(module.verify(record.puzzle, res.solution))
            yield record, {**base, "solution": _one_line(module, res.solution), "status": res.status,
                           "verified": ok}, res
            continue
        for res in by_record.get(record.index, []):
            row = {**base, "solution": _one_line(module, res.solution), "status": res.status,
                   "verified": res.verified, "segments": res.segments, "confidence": round(res.confidence, 6),
                   "token_prob": round(res.token_prob, 6)}
            if _votes(module):
                row.update(test_index=res.part, attempt_2=_one_line(module, res.attempts[1] if res.attempts else None),
                           votes=res.votes)
            if views > 1:
                row.update(views=res.views, view=res.view)
            if trace:
                row["trace"] = [_one_line(module, g) for g in res.trace or []]
            yield record, row, res


def _pretty(record, row, res, module) -> str:
    head = f"# puzzle {record.index} (line {record.line})"
    if _votes(module):
        head = f"# task {record.text}" + (f" test {row['test_index']}" if "test_index" in row else "")
    if res is None or record.puzzle is None:
        return f"{head}: invalid, not verified\n{record.error}\n"
    if "segments" not in row:  # exact solver
        mark = "verified" if row["verified"] else "not verified"
        grid = res.solution if res.solution is not None else record.puzzle
        return f"{head}: {row['status']}, {mark}\n{module.format_pretty(grid)}\n"
    spent = f"{res.segments:g} segments" + (f" over {row['views']} views (answer of view {row['view']})"
                                            if "views" in row else "")
    lines = [f"{head}: {row['status']}, {spent}, confidence {res.confidence:.3f}, token_prob {res.token_prob:.3f}"]
    for k, grid in enumerate(res.trace or [], 1):
        lines += [f"## after segment {k}", module.format_pretty(grid) if grid is not None else "(no grid)"]
    if _votes(module):
        for k, grid in enumerate(res.attempts or [], 1):
            votes = res.votes[k - 1] if res.votes and k <= len(res.votes) else 0
            lines += [f"## attempt {k} ({votes} votes)", module.format_pretty(grid)]
        if not res.attempts:
            lines.append("(no answer)")
    else:
        lines += (["## answer"] if res.trace else []) + [module.format_pretty(res.solution)]
    return "\n".join(lines) + "\n"


def solve(
    file: Annotated[Path, typer.Argument(help="A file of puzzles (Sudoku lines/grids/CSV, mazes, an ARC task or "
                                              "ARC Prize *_challenges.json) or a folder of ARC task files.")],
    solver: Annotated[
        Optional[str], typer.Option(help="exact | model (default: model when --model is given, else exact).")
    ] = None,
    model: Annotated[Optional[str], typer.Option(help="A zoo model name or a model directory. " + _MODEL_HELP)] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="sudoku | maze | arc (default: detect).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per puzzle, one per line.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header row, one row per puzzle.")] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Report malformed puzzles as invalid instead of stopping.")
    ] = False,
    max_steps: Annotated[Optional[int], typer.Option(
        "--max-steps", help="Most segments per puzzle (default: the model's eval_segments, else its halt_max_steps).")] = None,
    fixed_steps: Annotated[bool, typer.Option(
        "--fixed-steps", help="Run every puzzle to --max-steps, ignoring the Q head.")] = False,
    halt_threshold: Annotated[Optional[float], typer.Option(
        "--halt-threshold", help="Halt a puzzle once sigmoid(q_halt) > P (default: the model's "
        "halt_threshold).")] = None,
    halt_on: Annotated[Optional[str], typer.Option(
        "--halt-on", help="q: the Q head (the authors' rule); verified: stop a Sudoku/maze at the first segment "
        "whose answer checks out (at least the --fixed-steps accuracy, far fewer segments); either: the first "
        "of the two. Default: as the model was evaluated (halting=fixed models: fixed segments; else q).")] = None,
    views: Annotated[int, typer.Option(
        "--views", help="Sudoku/maze: solve each puzzle under K symmetric views (the identity first, the others "
        "seeded by --seed; mazes: K <= 8) and keep the first verified answer, else the Q-weighted vote "
        "(1: off).")] = 1,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", help="Puzzles in flight at once (default: chosen for the machine).")] = None,
    trace: Annotated[bool, typer.Option(
        "--trace", help="Show the answer after each segment (pretty and --json; ARC: the identity copy).")] = False,
    submission: Annotated[Optional[Path], typer.Option(
        "--submission", help="ARC: write the ARC Prize submission JSON here.")] = None,
    solutions: Annotated[Optional[Path], typer.Option(
        "--solutions", help="ARC: the ARC Prize solutions file {task_id: \\[output grid, ...]} to verify against "
        "(default: PREFIX_solutions.json beside PREFIX_challenges.json).")] = None,
    identifiers: Annotated[Optional[Path], typer.Option(
        "--identifiers", help="ARC: the data set (folder or identifiers.json, hrmkit's or the HRM authors') whose "
        "puzzle identifiers the model learned (default: found beside the model or its run).")] = None,
    augmentations: Annotated[int, typer.Option(
        help="ARC: augmented copies voted per test input (the identity included).")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the ARC augmentations and of the --views symmetries.")] = 0,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N.")] = "auto",
) -> None:
    if solver == "exact" and model is not None:
        raise HrmkitError("--solver exact uses no model; drop --model (or use --solver model to solve with it)")
    solver = solver or ("model" if model else "exact")
    if solver not in ("exact", "model"):
        raise HrmkitError(f"--solver must be exact or model, got {solver!r}")
    if as_json and as_csv:
        raise HrmkitError("--json and --csv: choose one output format")
    if solver == "model" and model is None:
        raise HrmkitError("--solver model needs --model NAME|DIR (a zoo name or a model directory)")
    for name, value in (("--batch-size", batch_size), ("--max-steps", max_steps)):
        if value is not None and value < 1:
            raise HrmkitError(f"{name} must be >= 1, got {value}")
    if halt_threshold is not None and not 0.0 < halt_threshold < 1.0:
        raise HrmkitError(f"--halt-threshold must be a probability in (0, 1), got {halt_threshold}")
    if augmentations < 1:
        raise HrmkitError(f"--augmentations must be >= 1, got {augmentations}")
    if views < 1:
        raise HrmkitError(f"--views must be >= 1, got {views}")
    if seed < 0:
        raise HrmkitError(f"--seed must be >= 0, got {seed}")
    if solver == "model":
        from hrmkit.api import resolve_device

        resolve_device(device)  # a bad --device is said before reading or loading anything
    stdin = str(file) == "-"
    if not stdin and not file.exists():
        raise HrmkitError(f"{file}: no such file")
    if stdin and file.is_dir():
        stdin = False
    module, records = _read(file, format, skip_invalid, solutions)
    if not records:
        raise HrmkitError(f"{'standard input' if stdin else file}: no puzzles (the input is empty or holds only "
                          f"comments)")
    if submission is not None and (not capability(module, "SUBMISSION", False) or solver != "model"):
        raise HrmkitError("--submission is for ARC tasks solved with --model")
    if submission is not None:
        from hrmkit.atomic import check_writable

        check_writable(submission)  # before the long work: a read-only or missing folder is said now
    if solver == "exact":
        for flag, used in (("--trace", trace), ("--fixed-steps", fixed_steps), ("--max-steps", max_steps),
                           ("--batch-size", batch_size), ("--halt-threshold", halt_threshold is not None),
                           ("--halt-on", halt_on not in (None, "q")), ("--identifiers", identifiers is not None),
                           ("--views", views != 1)):
            if used:
                raise HrmkitError(f"{flag} is for --model solving, not the exact solver")
        if not hasattr(module, "solve_exact"):
            raise HrmkitError(f"{module.NAME} puzzles have no exact solver; use --model NAME|DIR")
        valid = [r for r in records if r.puzzle is not None]
        chunks = ([module.solve_exact(r.puzzle)] for r in valid)
    else:
        from hrmkit.solve import iter_solve_with_model

        info: dict = {}
        chunks = iter_solve_with_model(records, family=module, model=model, batch_size=batch_size,
                                       max_steps=max_steps, fixed_steps=fixed_steps, trace=trace,
                                       augmentations=augmentations, seed=seed, device=device, source=str(file),
                                       halt_threshold=halt_threshold, halt_on=halt_on, identifiers=identifiers,
                                       views=views, info=info)

    is_model = solver == "model"
    any_invalid = any(r.puzzle is None for r in records)
    writer = None
    keys: list[str] = []
    if as_csv:
        keys = list(MODEL_KEYS if is_model else EXACT_KEYS) + (list(ARC_KEYS) if is_model and _votes(module)
                                                              else []) + (list(VIEW_KEYS) if views > 1 else []) + \
            (["line", "error"] if any_invalid else [])
        writer = csv.DictWriter(sys.stdout, fieldnames=keys, extrasaction="ignore", lineterminator="\n")

    def emit(row_items) -> None:
        """Print rows as they are ready (one batch of answers at a time), flushed: Ctrl-C keeps what was shown."""
        for record, row, res in row_items:
            if record.puzzle is None:
                row.update(line=record.line, error=record.error)
            if writer is not None:
                writer.writerow({k: ("" if row.get(k) is None else
                                     " ".join(map(str, row[k])) if isinstance(row.get(k), list) else row[k])
                                 for k in keys})
            else:
                sys.stdout.write((json.dumps(row) if as_json else _pretty(record, row, res, module)) + "\n")
        sys.stdout.flush()

    if writer is not None:
        writer.writeheader()
    start = time.perf_counter()
    results: list = []
    pending = list(records)  # records not printed yet, in file order
    for chunk in chunks:
        results.extend(chunk)
        # print every record up to the last one answered (invalid records in between come with them)
        answered = {res.record for res in chunk} if is_model else None
        upto = 0
        if is_model:
            for k, record in enumerate(pending):
                if record.index in answered:
                    upto = k + 1
        else:
            upto = next(k for k, r in enumerate(pending) if r.puzzle is not None) + 1
        done, pending = pending[:upto], pending[upto:]
        emit(_rows(done, module, chunk, is_model, trace, views))
    emit(_rows(pending, module, [], is_model, trace, views))  # trailing invalid records
    if submission is not None:
        from hrmkit.solve import write_submission

        write_submission(submission, results, records)
    if is_model and results:
        n = len(results)
        seconds = time.perf_counter() - start
        verified = sum(r.status == "verified" for r in results)
        mean = sum(r.segments for r in results) / n
        invalid = sum(r.puzzle is None for r in records)
        left_out = f" ({invalid} invalid task{'s' * (invalid != 1)} left out)" if invalid else ""
        spent = f"{mean:.2f} segments on average"
        if views > 1:
            spent += f" ({sum(r.views for r in results) / n:.2f} of {views} views)"
        typer.echo(f"{n} answers, {verified} verified, {spent}, "
                   f"{seconds:.2f} s ({n / max(seconds, 1e-9):.1f} puzzles/s, batch "
                   f"{info['batch_size']} on {info['device']}; halting: {info['halting']})" +
                   (f"; submission: {submission}{left_out}" if submission else ""), err=True)


solve.__doc__ = _HELP
