"""Puzzle families: one module per family (sudoku, maze, arc), the only place that knows its format.

Each family module exposes ``NAME``, ``sniff(text) -> bool``, ``read(path, skip_invalid=False) -> list[Record]``,
``verify(puzzle, solution) -> bool``, formatting and token encoding; Sudoku and mazes also ``solve_exact``.

The facts other code reads from a family, near the top of its module (``CONTRACT`` lists them):

- ``NAME``, ``VOCAB_SIZE``, ``SEQ_LEN`` and ``GRID`` (rows, cols): the vocabulary and the canvas of the authors'
  data sets (a maze data set of another ``--size`` has its own canvas, side x side);
- ``AUGMENTATION_LAYOUT``: the name of its rows in ``augmentations.npy`` (``hrmkit.data.format``);
- ``AUGMENTED_SPLITS``: the splits a build augments; ``DISTINCT_AUGMENTATIONS``: whether a build keeps only the
  distinct copies (so a group may hold fewer than ``--augment`` + 1 puzzles);
- ``MULTIPLE_SOURCES``: whether ``data build`` takes several ``--source``;
- ``SHOW``: how ``data show`` prints its examples: ``"text"`` (then ``format_tokens(tokens, grid,
  crop_like=None)`` gives the text of one data set row) or ``"png"``;
- ``RECIPE``: ``"module:function"`` of its data set builder (imported only when building; the module also has
  ``cli_options``, see ``recipe_module``).

``FAMILIES`` is the registry, name -> the module (or its import path, imported on first use); everything else
(``data build``'s tasks, the zoo's tasks, ``convert --task``, the authors' data shapes) is derived from it, so
adding a family is adding one module and one entry in ``FAMILIES``.

Optional capabilities: names a family module may export and the rest of the code asks for (``capability``,
``with_capability``) instead of naming the family; a family without one lacks that feature:

- solving with a model (``hrmkit.solve``): ``model_codec(seq_len, any_size) -> (encode(puzzle) -> tokens,
  decode(puzzle, tokens) -> grid)`` (Sudoku, maze); ``ANY_SIZE`` (maze; default False): a model's canvas is its own,
  so only the vocabulary is checked against the family, not ``SEQ_LEN``; ``VOTES_OVER_AUGMENTATIONS`` (ARC; default
  False): a record is a task, each test input answered by a vote over augmented copies (``--augmentations``,
  ``--identifiers``, two attempts, Q-head halting only);
- views (``solve --views``, ``eval --views``; Sudoku, maze): ``random_views(rng, n)`` (n random symmetries),
  ``view_apply(view, puzzle)``, ``view_invert(view, answer)`` (exact), and ``MAX_VIEWS`` with ``TOO_MANY_VIEWS`` (the
  error, formatted with k and n) where the views are few (maze: 8; default None, any number);
- reading and writing in ``hrmkit solve`` (ARC; default False each): ``READS_FOLDERS`` (a folder is read by this
  family, the default one for a folder), ``SOLUTIONS_FILE`` (``read`` takes ``solutions=``, ``--solutions``),
  ``SUBMISSION`` (``--submission`` writes the ARC Prize JSON of the attempts);
- evaluation (``hrmkit.evaluate``; Sudoku, maze): ``difficulty(inputs, labels, ratings) -> {group: (values,
  bucket edges)}`` and ``difficulty_summary(inputs, labels, ratings, grid) -> {key: number}`` (``ratings()`` gives
  the data set's ratings per example, or None), ``BLANK_TOKEN`` (Sudoku: the input token of a cell to fill,
  ``token_accuracy_blanks``), ``one_pass_answers(inputs) -> tokens`` (the no-reasoning baseline),
  ``DEFAULT_BASELINES`` (the untrained baseline runs unless told not to), ``tta_transforms(rng, n, seq_len)`` (``n``
  (forward, inverse) token maps, ``--tta``), ``view_puzzle(tokens, grid)`` and ``answer_tokens(answer, seq_len)``
  (``--views`` on a data set: a row's input as ``solve`` reads it, an answer as a row's tokens);
- checking a built data set (``hrmkit data validate``; every family here): ``DATA_CHECKS``, ``"module:function"`` of
  ``f(ds, split) -> list[Checks]`` (``data_checks``; imported only when validating): the family's suites on one
  split (``ds`` a ``hrmkit.data.format.Dataset``, its other splits and ``extra`` files; ``split`` one of its
  ``Split``s, whose arrays and metadata already agree). Each ``Checks`` is one great-expectations suite, built
  with numpy only; ``hrmkit.data.validate`` turns its verdict columns into expectations. A family without
  ``DATA_CHECKS`` gets the file and metadata suites, and a failed ``family_checks_ran``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from hrmkit.errors import HrmkitError, where

# the registry: family name -> module or its import path, in the order the CLI lists them
FAMILIES: dict[str, ModuleType | str] = {
    "sudoku": "hrmkit.puzzles.sudoku",
    "maze": "hrmkit.puzzles.maze",
    "arc": "hrmkit.puzzles.arc",
}
# the names every family module exports (the facts in the module docstring, then the functions)
CONTRACT = ("NAME", "VOCAB_SIZE", "SEQ_LEN", "GRID", "AUGMENTATION_LAYOUT", "AUGMENTED_SPLITS",
            "DISTINCT_AUGMENTATIONS", "MULTIPLE_SOURCES", "SHOW", "RECIPE", "sniff", "read", "verify",
            "format_one_line", "format_pretty", "to_tokens", "from_tokens")


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


@dataclass
class Checks:
    """One suite of data set checks (``DATA_CHECKS``): what a row is, the row labels, and one boolean verdict
    column per check (numpy; ``hrmkit.data.validate`` makes each column one expectation)."""

    suite: str  # e.g. "sudoku.train.examples"
    row: str  # "file" | "example" | "puzzle" | "group" | "split"
    index: Any  # (R,) row labels (example numbers, file names, ...)
    checks: dict = field(default_factory=dict)  # name -> (R,) bool
    descriptions: dict = field(default_factory=dict)  # name -> what the check says of every row

    def add(self, name: str, verdict, description: str) -> None:
        """A verdict per row (one verdict for every row when given one)."""
        import numpy as np

        verdict = np.asarray(verdict, dtype=bool).reshape(-1)
        if len(verdict) == 1 and len(self.index) != 1:
            verdict = np.repeat(verdict, len(self.index))
        self.checks[name], self.descriptions[name] = verdict, description


def family(name: str) -> ModuleType:
    """The module of a puzzle family by name."""
    if name not in FAMILIES:
        raise HrmkitError(f"unknown puzzle format {name!r}; choose one of: {', '.join(FAMILIES)}")
    module = FAMILIES[name]
    return module if isinstance(module, ModuleType) else importlib.import_module(module)


def names() -> tuple[str, ...]:
    """The registered family names, in registry order."""
    return tuple(FAMILIES)


def modules() -> list[ModuleType]:
    """Every registered family module, in registry order."""
    return [family(name) for name in FAMILIES]


def capability(name_or_module: str | ModuleType, attr: str, default: Any = None) -> Any:
    """A family's optional capability ``attr`` (module docstring), or ``default`` when it has none; a name that is
    not a registered family has none."""
    module = name_or_module
    if isinstance(module, str):
        if module not in FAMILIES:
            return default
        module = family(module)
    return getattr(module, attr, default)


def with_capability(attr: str) -> list[ModuleType]:
    """The registered family modules that have ``attr`` (set, not None or False), in registry order."""
    return [m for m in modules() if getattr(m, attr, None) not in (None, False)]


def seq_lens() -> dict[str, int]:
    """name -> the sequence length of the family's authors' data sets."""
    return {m.NAME: m.SEQ_LEN for m in modules()}


def family_of_shape(seq_len: int, vocab_size: int) -> ModuleType | None:
    """The family whose authors' data sets have this sequence length and vocabulary, or None."""
    return next((m for m in modules() if (m.SEQ_LEN, m.VOCAB_SIZE) == (seq_len, vocab_size)), None)


def infer_family(seq_len: int | None, vocab_size: int | None) -> ModuleType | None:
    """The family a model of this shape is most likely for, or None: among the families whose authors' data has
    this sequence length, the only one; else the one with the smallest vocabulary that holds ``vocab_size`` (the
    largest when none does; None when ``vocab_size`` is unknown). 81 is Sudoku; 900 a maze (vocab <= 6) or ARC."""
    same = sorted((m for m in modules() if m.SEQ_LEN == seq_len), key=lambda m: m.VOCAB_SIZE)
    if len(same) <= 1:
        return same[0] if same else None
    if vocab_size is None:
        return None
    return next((m for m in same if vocab_size <= m.VOCAB_SIZE), same[-1])


def recipe_module(name: str) -> ModuleType:
    """The module of a family's data set builder (``RECIPE``); it also has ``cli_options(values)``, the
    ``BuildParams.family_options`` from the values of every ``data build`` option."""
    return importlib.import_module(family(name).RECIPE.partition(":")[0])


def data_checks(name_or_module: str | ModuleType):
    """The family's data set checks, ``f(ds, split) -> list[Checks]`` (``DATA_CHECKS``), or None when it has none."""
    spec = capability(name_or_module, "DATA_CHECKS")
    if spec is None:
        return None
    module, _, function = spec.partition(":")
    return getattr(importlib.import_module(module), function)


def recipe(name: str):
    """The data set builder of a family, ``f(params, log) -> RecipeResult`` (``hrmkit.data.build``)."""
    return getattr(recipe_module(name), family(name).RECIPE.partition(":")[2])


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
