"""The `hrmkit` command line: one Typer app, one sub-module per command group.

The CLI is thin: it parses arguments, calls the library, prints. The root group is the one error boundary:
an HrmkitError, an OS error (disk full, read-only, a path that is a file), a network error of the Hub client,
a corrupt safetensors file or an unusable device ends as one `error: ...` line on stderr and exit code 1, no
traceback (`hrmkit.errors.describe_failure` words it); Ctrl-C exits 130 keeping what was printed. Anything else
is a bug and keeps its traceback. HRMKIT_DEBUG=1 shows the traceback of every failure.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from typer.core import TyperGroup

from hrmkit.errors import describe_failure


def _debug() -> bool:
    return os.environ.get("HRMKIT_DEBUG", "") not in ("", "0")


class _Group(TyperGroup):
    """Root group: a failure the user or the environment caused becomes one line on stderr and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if _debug():
                raise
            sys.stdout.flush()
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:  # `hrmkit solve ... | head`: the reader is gone, nothing to say
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except OSError:
                pass
            raise typer.Exit(141) from None
        except Exception as err:  # noqa: BLE001 - sorted by describe_failure; bugs are re-raised
            if getattr(err, "exit_code", None) is not None and type(err).__module__.startswith("click"):
                raise  # click's own usage errors print themselves
            message = describe_failure(err)
            if message is None or _debug():
                raise
            typer.echo(f"error: {message}", err=True)
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
