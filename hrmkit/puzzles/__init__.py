"""Puzzle families: one module per family (sudoku, maze, arc), the only place that knows its format.

Each family module exposes ``NAME``, ``sniff(text) -> bool``, ``read(path, skip_invalid=False) -> list[Record]``,
``verify(puzzle, solution) -> bool``, formatting and token encoding; Sudoku and mazes also ``solve_exact``.
Adding a family is adding one module and one line in ``FAMILIES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from hrmkit.errors import HrmkitError, where

FAMILIES = ("sudoku", "maze", "arc")


@dataclass
class Record:
    """One puzzle read from a file: where it was, its text, and either the parsed puzzle or the error."""

    index: int  # 0-based position among the puzzles of the file
    line: int  # 1-based line where the puzzle starts
    text: str  # the puzzle as written (one-line form where the family has one)
    puzzle: Any | None = None  # family-specific parsed puzzle; None when invalid
    error: str | None = None  # "FILE:LINE: message" when invalid


@dataclass
class ExactResult:
    """Outcome of an exact solver."""

    status: str  # "solved" | "unsolvable" | "multiple"
    solution: Any | None = None  # the (first) solution found; None when unsolvable
    info: dict = field(default_factory=dict)  # family-specific: guesses, path length, ...


def family(name: str) -> ModuleType:
    """The module of a puzzle family by name."""
    if name not in FAMILIES:
        raise HrmkitError(f"unknown puzzle format {name!r}; choose one of: {', '.join(FAMILIES)}")
    return importlib.import_module(f"hrmkit.puzzles.{name}")


STDIN = "-"  # the file name that means standard input (read once per stream, then kept for every reader)
_stdin_cache: tuple[object, str] | None = None


def read_text(path: str | Path) -> str:
    """The file's text, decoded as UTF-8 (a byte-order mark dropped); ``-`` is standard input. A missing or
    undecodable file is an HrmkitError naming it."""
    global _stdin_cache
    if str(path) == STDIN:
        import sys

        if _stdin_cache is None or _stdin_cache[0] is not sys.stdin:
            data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
            try:
                _stdin_cache = (sys.stdin, data.decode("utf-8-sig"))
            except UnicodeDecodeError:
                raise HrmkitError("standard input: not UTF-8 text") from None
        return _stdin_cache[1]
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark (Excel, Notepad) is dropped
    except FileNotFoundError:
        raise HrmkitError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise HrmkitError(f"{path}: not a UTF-8 text file") from None


def detect(path: str | Path) -> ModuleType:
    """The family whose ``sniff`` accepts the file's text (ARC JSON: a task or an ARC Prize collection; then mazes,
    then Sudoku)."""
    path = Path(path)
    if str(path) != STDIN and not path.is_file():
        raise HrmkitError(f"{path}: no such file")
    text = read_text(path)
    if not text.strip():
        raise HrmkitError(f"{where(path)}: no puzzles (the input is empty)")
    for name in ("arc", "maze", "sudoku"):
        try:
            module = family(name)
        except ModuleNotFoundError:
            continue
        if module.sniff(text):
            return module
    raise HrmkitError(f"{where(path)}: cannot tell the puzzle format (Sudoku, maze or ARC); use --format")
