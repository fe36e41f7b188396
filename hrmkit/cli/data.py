"""`hrmkit data build | validate | show`: thin wrappers over hrmkit.data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(no_args_is_help=True, help="Build, validate and show datasets.")


@app.command()
def build(
    task: Annotated[str, typer.Argument(help="sudoku | maze | arc")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (written to a temp name, then renamed).")],
    source: Annotated[list[str], typer.Option("--source", help=(  # "\\[" prints "[" (rich markup)
        "hf:<owner>/<name>\\[@rev]; gh:OWNER/REPO@COMMIT\\[:PATH] (a GitHub tree at a full 40-character commit, "
        "PATH a file in it, for ARC a folder); a file (ARC: a folder or an ARC Prize *_challenges.json; repeat); or generate."))],
    test_source: Annotated[Optional[str], typer.Option(help="Where test puzzles come from (default: the hub repo's test.csv).")] = None,
    test_fraction: Annotated[Optional[float], typer.Option(help="Hold out this fraction of the source as test (seeded).")] = None,
    subsample: Annotated[Optional[int], typer.Option(help="Keep N training puzzles (ARC: tasks), seeded.")] = None,
    test_subsample: Annotated[Optional[int], typer.Option(help="Keep N test puzzles, seeded.")] = None,
    augment: Annotated[int, typer.Option(help="Augmented copies per training puzzle (1k recipe: 1000; maze <= 7).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    count: Annotated[Optional[int], typer.Option(help="generate: training puzzles to generate.")] = None,
    test_count: Annotated[Optional[int], typer.Option(help="generate as --test-source: test puzzles to generate.")] = None,
    givens: Annotated[Optional[str], typer.Option(help="Sudoku generate: carve down to N or MIN-MAX givens "
                                                       "(default: --minimal).")] = None,
    minimal: Annotated[Optional[bool], typer.Option("--minimal/--no-minimal", help=(
        "Sudoku generate: carve until every given is needed (removing any one leaves several solutions); "
        "the default without --givens."))] = None,
    min_guesses: Annotated[Optional[int], typer.Option(help=(
        "Sudoku generate: keep puzzles whose exact solver needs at least N guesses (0: singles alone solve it; "
        "any search counts 2 or more)."))] = None,
    max_guesses: Annotated[Optional[int], typer.Option(help="Sudoku generate: at most N guesses.")] = None,
    rating: Annotated[Optional[str], typer.Option(help="Sudoku generate: MIN-MAX (or N), the older spelling of "
                                                       "--min-guesses MIN --max-guesses MAX.")] = None,
    test_givens: Annotated[Optional[str], typer.Option(help=(
        "Sudoku generate as --test-source: the test puzzles' givens (--test-givens or --test-minimal replace "
        "--givens / --minimal there)."))] = None,
    test_minimal: Annotated[Optional[bool], typer.Option("--test-minimal/--no-test-minimal", help=(
        "Sudoku generate as --test-source: minimal test puzzles."))] = None,
    test_min_guesses: Annotated[Optional[int], typer.Option(help=(
        "Sudoku generate as --test-source: their guesses band, with --test-max-guesses (default: the training "
        "band)."))] = None,
    test_max_guesses: Annotated[Optional[int], typer.Option(help="Sudoku generate as --test-source: at most N "
                                                                 "guesses.")] = None,
    size: Annotated[int, typer.Option(help="Maze generate: side of the maze.")] = 30,
    min_length: Annotated[int, typer.Option(help="Maze generate: minimum shortest-path length.")] = 0,
    loops: Annotated[float, typer.Option(help="Maze generate (lattice): fraction of inner walls knocked down.")] = 0.1,
    style: Annotated[str, typer.Option(help="Maze generate: lattice (DFS corridors) | obstacles (random walls, "
                                            "the Maze-Hard kind).")] = "lattice",
    density: Annotated[float, typer.Option(help="Maze generate (obstacles): initial wall probability.")] = 0.3,
    test_size: Annotated[Optional[int], typer.Option(help="Maze generate as --test-source: side of the test mazes "
                                                          "(default --size); each split gets its own canvas.")] = None,
    test_min_length: Annotated[Optional[int], typer.Option(help="Maze generate as --test-source: their minimum "
                                                                "shortest-path length (default --min-length).")] = None,
    leak_check: Annotated[bool, typer.Option(help="Sudoku: drop training puzzles equivalent to a test puzzle.")] = True,
    translate: Annotated[bool, typer.Option(help="ARC: random placement of training grids on the canvas.")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
) -> None:
    """Build a data set from real sources (hub, files) or the generator."""
    from hrmkit import puzzles
    from hrmkit.data.build import BuildParams, build as run_build

    values = dict(givens=givens, minimal=minimal, min_guesses=min_guesses, max_guesses=max_guesses, rating=rating,
                  test_givens=test_givens, test_minimal=test_minimal, test_min_guesses=test_min_guesses,
                  test_max_guesses=test_max_guesses, size=size, min_length=min_length, loops=loops, style=style,
                  density=density, test_size=test_size, test_min_length=test_min_length, translate=translate)
    # the family's recipe picks (and parses) its own options; an unknown task is reported by run_build
    options: dict = puzzles.recipe_module(task).cli_options(values) if task in puzzles.FAMILIES else {}
    params = BuildParams(source=list(source), test_source=test_source, test_fraction=test_fraction,
                         subsample=subsample, test_subsample=test_subsample, augment=augment, seed=seed,
                         count=count, test_count=test_count, leak_check=leak_check, family_options=options)
    run_build(task, out, params, overwrite=overwrite, log=lambda msg: typer.echo(msg, err=True))
    typer.echo(str(out))


@app.command()
def validate(
    directory: Annotated[Path, typer.Argument(help="A built data set folder.")],
    report: Annotated[Optional[Path], typer.Option(help="Write the JSON report here.")] = None,
) -> None:
    """Run the great-expectations suites; exit 1 when any expectation fails."""
    from hrmkit.data.validate import validate as run_validate

    result = run_validate(directory, report)
    for suite in result["suites"]:
        for e in suite["expectations"]:
            mark = "ok  " if e["success"] else "FAIL"
            detail = "" if e["success"] else f"  ({e['unexpected_count']}/{e['element_count']} {e['rows']}s, e.g. {e['sample_rows'][:5]})"
            typer.echo(f"{mark} {suite['suite']}: {e['check']}{detail}")
    if not result["success"]:
        typer.echo(f"error: {directory}: validation failed: {', '.join(result['failed'])}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{directory}: all {sum(len(s['expectations']) for s in result['suites'])} expectations met")


@app.command()
def show(
    directory: Annotated[Path, typer.Argument(help="A built data set folder.")],
    n: Annotated[int, typer.Option("--n", help="Examples to show.")] = 5,
    split: Annotated[str, typer.Option(help="train | test")] = "train",
    seed: Annotated[int, typer.Option(help="Which examples (seeded choice).")] = 0,
    png: Annotated[Optional[Path], typer.Option(help="ARC: the PNG to write (default: <DIR name>-<split>.png).")] = None,
) -> None:
    """Print examples (Sudoku, mazes) or draw them to a PNG (ARC)."""
    from hrmkit import puzzles
    from hrmkit.data.format import open_dataset
    from hrmkit.data.show import show_png, show_text

    if puzzles.family(open_dataset(directory).family).SHOW == "png":
        out = show_png(directory, png or Path(f"{directory.name}-{split}.png"), split, n, seed)
        typer.echo(f"wrote {out}")
    else:
        typer.echo(show_text(directory, split, n, seed))
