"""The `hrmkit` command line: one Typer app, one sub-module per command group.

The CLI is thin: it parses arguments, calls the library, prints. Every user-facing failure is an
HrmkitError; `main()` prints it to stderr as one line and exits 1 (no traceback).
"""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperGroup

from hrmkit.errors import HrmkitError


class _Group(TyperGroup):
    """Root group: any HrmkitError raised by any command becomes one line on stderr and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HrmkitError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="hrmkit",
    help="Hierarchical Reasoning Models (HRM, TRM) for Sudoku, mazes and ARC.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module under hrmkit.cli, attribute, name, help). A module exports either a Typer sub-app (a group) or a
# function registered as a single command. Order here is the order in `hrmkit --help`.
_COMMANDS = [
    ("solve", "solve", "solve", "Solve a file of puzzles (exact solver or a model) and verify the answers."),
    ("zoo", "pull", "pull", "Download a model from the zoo / Hugging Face Hub and convert it."),
    ("zoo", "publish", "publish", "Publish a trained run or model directory to the Hub (or a local repo)."),
    ("zoo", "zoo_app", "zoo", "List, inspect and pin the model registry; write model cards."),
    ("data", "app", "data", "Build, validate and show datasets."),
    ("train", "train", "train", "Train an HRM/TRM model (single process or torchrun)."),
    ("evaluate", "evaluate", "eval", "Evaluate a trained model on a dataset."),
    ("convert", "app", "convert", "Convert foreign checkpoints (the authors' format) to hrmkit."),
    ("bench", "bench", "bench", "Measure this machine: matmul throughput, training and inference speed."),
]


def _not_built(name: str, help_text: str):
    def command() -> None:
        typer.echo(f"hrmkit {name}: not built yet in this version.", err=True)
        raise typer.Exit(2)

    command.__doc__ = f"{help_text} (not built yet)"
    return command


def _register() -> None:
    for module_name, attr, name, help_text in _COMMANDS:
        try:
            module = importlib.import_module(f"hrmkit.cli.{module_name}")
        except ModuleNotFoundError as exc:
            # Only a missing command module means "not built"; a broken one must fail loudly.
            if exc.name != f"hrmkit.cli.{module_name}":
                raise
            app.command(name=name, help=f"{help_text} (not built yet)")(_not_built(name, help_text))
            continue
        obj = getattr(module, attr)
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=name, help=help_text)
        else:
            # The one-liner shows in `hrmkit --help`; the command's docstring, if any, is its long help.
            app.command(name=name, short_help=help_text, help=obj.__doc__ or help_text)(obj)


_register()


def _print_version(value: bool) -> None:
    if value:
        from hrmkit import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Hierarchical Reasoning Models (HRM, TRM) for Sudoku, mazes and ARC."""


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
