"""Sudoku: parse and format, tokens, exact solver, verifier, generator, augmentation and canonical form.

A grid is ``np.int8[81]`` row-major with 0 for a blank. Token ids (the models' vocabulary of 11):
0 pad, 1 blank, 2..10 the digits 1..9, i.e. ``token = digit + 1``.

Input files, one style per line, mixed freely: 81-character lines (``.`` or ``0`` blank); 9-line grids with
optional ``|``, ``-``, ``+`` separators (and spaces); CSV with the header ``source,question,answer,rating``
(the Hugging Face sudoku-extreme layout; answers and ratings are kept). Blank lines and ``#`` comments are
skipped.

The solver and the canonical form run in C (``_sudoku_fast``, built by setup.py) when it is built, else in
pure Python (``_sudoku_py``); both give identical results.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from hrmkit.errors import HrmkitError, where
from hrmkit.puzzles import ExactResult, Record, read_text
from hrmkit.puzzles import _sudoku_py

try:
    from hrmkit.puzzles import _sudoku_fast as _kernels

    BACKEND = "c"
except ImportError:  # not compiled: the reference kernels, ~100x slower
    _kernels = _sudoku_py
    BACKEND = "python"

NAME = "sudoku"
PAD, BLANK = 0, 1
VOCAB_SIZE = 11
# the facts other code reads from a family (``hrmkit.puzzles.CONTRACT``)
GRID = (9, 9)
SEQ_LEN = 81
AUGMENTATION_LAYOUT = "sudoku-v1"  # a data set's augmentations.npy rows (hrmkit.data.format)
AUGMENTED_SPLITS = ("train",)  # test puzzles are never augmented
DISTINCT_AUGMENTATIONS = False  # a group holds its base and exactly --augment copies
MULTIPLE_SOURCES = False  # `data build` takes one --source
SHOW = "text"  # `data show` prints examples (format_tokens)
RECIPE = "hrmkit.data.sudoku_recipe:build_sudoku"
DATA_CHECKS = "hrmkit.puzzles.sudoku_checks:data_checks"  # `data validate`'s suites (imported only when validating)
CSV_HEADER = ("source", "question", "answer", "rating")
_CELLS = set("0123456789.")
_SEPARATORS = set("|-+ \t")


@dataclass
class Sudoku:
    """One puzzle: the givens and, when the file had them, the expected answer, a rating and a source."""

    grid: np.ndarray  # int8[81], 0 blank
    answer: np.ndarray | None = None  # int8[81] full grid
    rating: float | None = None
    source: str | None = None


# ---- parse --------------------------------------------------------------------------------------------------


def _cells(text: str) -> np.ndarray:
    return np.array([0 if ch == "." else int(ch) for ch in text], dtype=np.int8)


def _conflict(grid: np.ndarray) -> str | None:
    """The first unit with a repeated given digit, in words; None if the givens agree."""
    g = grid.reshape(9, 9)
    for kind, units in (("row", g), ("column", g.T), ("box", g.reshape(3, 3, 3, 3).swapaxes(1, 2).reshape(9, 9))):
        for k, unit in enumerate(units):
            digits = unit[unit > 0]
            if len(digits) != len(set(digits.tolist())):
                d = next(int(x) for x in digits if (digits == x).sum() > 1)
                return f"givens conflict: digit {d} twice in {kind} {k + 1}"
    return None


def _check_line(text: str, what: str) -> str:
    """The cells of an 81-character puzzle or answer, or raise ValueError saying what is wrong."""
    for col, ch in enumerate(text, 1):
        if ch not in _CELLS:
            raise ValueError(f"bad character {ch!r} at column {col} of the {what} (digits, '.' or '0' only)")
    if len(text) != 81:
        raise ValueError(f"the {what} has {len(text)} cells, expected 81")
    return text


def parse_line(text: str) -> Sudoku:
    """One 81-character puzzle (``.``/``0`` blank); ValueError says what is wrong."""
    grid = _cells(_check_line(text.strip(), "puzzle"))
    problem = _conflict(grid)
    if problem:
        raise ValueError(problem)
    return Sudoku(grid)


def _parse_csv_row(row: list[str], columns: dict[str, int]) -> Sudoku:
    def col(name: str) -> str:
        i = columns.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    if len(row) != len(columns):
        raise ValueError(f"expected {len(columns)} CSV fields, found {len(row)}")
    puzzle = parse_line(col("question"))
    if col("answer"):
        answer = _cells(_check_line(col("answer"), "answer"))
        if not verify(puzzle, answer):
            raise ValueError("the answer contradicts its question (not a valid full grid agreeing with the givens)")
        puzzle.answer = answer
    if col("rating"):
        try:
            puzzle.rating = float(col("rating"))
        except ValueError:
            raise ValueError(f"rating {col('rating')!r} is not a number") from None
    puzzle.source = col("source") or None
    return puzzle


def sniff(text: str) -> bool:
    """True if the first content line is a Sudoku CSV header, an 81-cell line or a 9-cell grid row."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.replace(" ", "").lower().startswith("source,question"):
            return True
        cells = "".join(ch for ch in line if ch not in _SEPARATORS)
        # digits and dots only: Sudoku, even with a wrong number of cells (the reader names the line)
        return len(cells) >= 9 and set(cells) <= _CELLS
    return False


_UNITS = np.concatenate([np.arange(81).reshape(9, 9), np.arange(81).reshape(9, 9).T,
                         np.arange(81).reshape(3, 3, 3, 3).swapaxes(1, 2).reshape(9, 9)])  # (27, 9) cell ids


def _units_ok(grids: np.ndarray, full: bool) -> np.ndarray:
    """(n,) bool: no digit twice in a row, column or box; with ``full``, every unit holds 1..9 exactly.

    Each digit d is the bit 1 << d (blank: 0); a unit repeats a digit exactly when the sum of its bits differs
    from their OR, and holds 1..9 when the OR is 0b1111111110.
    """
    bits = np.where(grids > 0, np.left_shift(1, grids.astype(np.int32)), 0)[:, _UNITS]  # (n, 27, 9)
    union = np.bitwise_or.reduce(bits, axis=2)
    if full:
        return (union == 0b1111111110).all(axis=1)
    return (bits.sum(axis=2) == union).all(axis=1)


def _read_csv_fast(lines: list[str], first: int, columns: dict[str, int]) -> list[Record] | None:
    """The Hub's CSV layout (source,question,answer,rating; millions of rows) parsed and checked with numpy.

    Returns None unless every row is plain and valid (no quotes, comments or blank lines, the right number of
    fields, 81-cell puzzle and answer, consistent givens, an answer that is a full valid grid keeping them, a
    numeric rating): the line-by-line reader then runs and names the first bad line. ~6x faster than it here.
    """
    body = lines[first:]
    if not body or not {"question", "answer"} <= set(columns):
        return None
    rows = [line.split(",") for line in body]
    width = len(columns)
    if any(len(r) != width or '"' in line or not line.strip() or line.lstrip().startswith("#")
           for r, line in zip(rows, body)):
        return None
    qi, ai = columns["question"], columns["answer"]
    questions = [r[qi].strip() for r in rows]
    answers = [r[ai].strip() for r in rows]
    if any(len(q) != 81 for q in questions) or any(len(a) != 81 for a in answers):
        return None
    try:
        q = np.frombuffer("".join(questions).encode("ascii"), np.uint8).reshape(-1, 81)
        a = np.frombuffer("".join(answers).encode("ascii"), np.uint8).reshape(-1, 81)
    except UnicodeEncodeError:
        return None
    q = np.where(q == ord("."), ord("0"), q).astype(np.int16) - ord("0")
    a = a.astype(np.int16) - ord("0")
    if ((q < 0) | (q > 9)).any() or ((a < 1) | (a > 9)).any() or ((q > 0) & (q != a)).any():
        return None
    ok = np.ones(len(q), bool)
    for lo in range(0, len(q), 65536):  # bounded memory: (chunk, 27, 10) counts
        ok[lo:lo + 65536] = _units_ok(q[lo:lo + 65536], False) & _units_ok(a[lo:lo + 65536], True)
    if not ok.all():
        return None
    ratings: list[float | None] = [None] * len(rows)
    if "rating" in columns:
        try:
            ratings = [float(r[columns["rating"]]) if r[columns["rating"]].strip() else None for r in rows]
        except ValueError:
            return None
    si = columns.get("source")
    q8, a8 = q.astype(np.int8), a.astype(np.int8)
    return [Record(i, first + i + 1, questions[i],
                   Sudoku(q8[i], a8[i], ratings[i], (rows[i][si].strip() or None) if si is not None else None))
            for i in range(len(rows))]


def _maze_row(line: str) -> bool:
    """A maze row with its start or goal ('#  S  #'), which the Sudoku reader would skip as a '#' comment."""
    return (len(line) >= 5 and line[0] == "#" and line[-1] == "#" and set(line) <= set("# SGo")
            and ("S" in line or "G" in line))


def read(path: str | Path, *, skip_invalid: bool = False) -> list[Record]:
    """Every puzzle of a file, in order. A bad entry raises ``HrmkitError("FILE:LINE: ...")`` unless
    ``skip_invalid``, in which case its Record has ``puzzle=None`` and ``error`` set."""
    path = Path(path)
    lines = read_text(path).splitlines()
    records: list[Record] = []
    head = next((i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")), None)
    if head is not None and lines[head].replace(" ", "").lower().startswith("source,question"):
        header = [h.strip().lower() for h in next(csv.reader([lines[head]]))]
        fast = _read_csv_fast(lines, head + 1, {name: i for i, name in enumerate(header)})
        if fast is not None:
            return fast

    def add(line_no: int, text: str, make) -> None:
        try:
            puzzle, error = make(), None
        except ValueError as exc:
            puzzle, error = None, f"{where(path, line_no)}: {exc}"
            if not skip_invalid:
                raise HrmkitError(error) from None
        records.append(Record(len(records), line_no, text, puzzle, error))

    columns: dict[str, int] | None = None  # set once a CSV header is seen
    grid_rows: list[tuple[int, str]] = []  # rows of a 9-line grid being read: (line number, raw text)

    def grid_done() -> None:
        start = grid_rows[0][0]
        text = "".join("".join(ch for ch in raw if ch not in _SEPARATORS) for _, raw in grid_rows)

        def make() -> Sudoku:
            for n, raw in grid_rows:
                cells = "".join(ch for ch in raw if ch not in _SEPARATORS)
                bad = next((ch for ch in cells if ch not in _CELLS), None)
                if bad is not None:
                    raise ValueError(f"bad character {bad!r} in grid row at line {n} (digits, '.' or '0' only)")
                if len(cells) != 9:
                    raise ValueError(f"grid row at line {n} has {len(cells)} cells, expected 9")
            if len(grid_rows) != 9:
                raise ValueError(f"grid has {len(grid_rows)} rows, expected 9")
            return parse_line(text)

        add(start, text if len(text) == 81 else " / ".join(raw.strip() for _, raw in grid_rows), make)
        grid_rows.clear()

    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if _maze_row(line):  # '#' starts a comment, and every maze row: a maze here is no comment
            raise HrmkitError(f"{where(path, n)}: a maze row among Sudoku puzzles; a file holds one puzzle format "
                              f"(split it, or use --format maze for a maze file)")
        if not line or line.startswith("#"):
            continue
        if columns is None and line.replace(" ", "").lower().startswith("source,question"):
            header = [h.strip().lower() for h in next(csv.reader([line]))]
            columns = {name: i for i, name in enumerate(header)}
            continue
        if columns is not None:
            row = next(csv.reader([line]))
            add(n, row[columns["question"]].strip() if len(row) > columns["question"] else line,
                lambda row=row: _parse_csv_row(row, columns))
            continue
        if set(line) <= _SEPARATORS:  # a grid's separator line, e.g. ------+-------+------
            continue
        cells = "".join(ch for ch in line if ch not in _SEPARATORS)
        if grid_rows or len(cells) == 9:
            grid_rows.append((n, raw))
            if len(grid_rows) == 9:
                grid_done()
            continue
        add(n, line, lambda line=line: parse_line(line))
    if grid_rows:
        grid_done()
    return records


def parse_text(text: str) -> Sudoku:
    """A puzzle from a string: 81 cells, with any separators or line breaks ignored."""
    cells = "".join(ch for ch in text if ch not in _SEPARATORS and not ch.isspace())
    try:
        return parse_line(cells)
    except ValueError as exc:
        raise HrmkitError(str(exc)) from None


# ---- format and tokens --------------------------------------------------------------------------------------


def _grid(puzzle_or_grid) -> np.ndarray:
    g = puzzle_or_grid.grid if isinstance(puzzle_or_grid, Sudoku) else puzzle_or_grid
    g = np.asarray(g, dtype=np.int8).reshape(-1)
    if g.shape != (81,) or g.min() < 0 or g.max() > 9:
        raise ValueError("a Sudoku grid is 81 values in 0..9")
    return g


def format_one_line(grid) -> str:
    """81 characters, ``.`` for blanks."""
    return "".join("." if v == 0 else str(int(v)) for v in _grid(grid))


def format_pretty(grid) -> str:
    """9 rows with ``|`` between boxes and ``------+-------+------`` between bands."""
    s = format_one_line(grid)
    rows = []
    for r in range(9):
        row = s[9 * r : 9 * r + 9]
        rows.append(" | ".join(" ".join(row[3 * b : 3 * b + 3]) for b in range(3)))
        if r in (2, 5):
            rows.append("------+-------+------")
    return "\n".join(rows)


def to_tokens(grid: np.ndarray) -> np.ndarray:
    """Grids [..., 81] with 0 blank -> token ids (1 blank, 2..10 digits), int64."""
    return np.asarray(grid, dtype=np.int64) + 1


def from_tokens(tokens: np.ndarray) -> np.ndarray:
    """Token ids [..., 81] -> grids int8 (pad and blank both become 0)."""
    t = np.asarray(tokens, dtype=np.int64)
    if t.size and (t.min() < 0 or t.max() >= VOCAB_SIZE):
        raise ValueError(f"Sudoku token ids are 0..{VOCAB_SIZE - 1}")
    return np.maximum(t - 1, 0).astype(np.int8)


def format_tokens(tokens: np.ndarray, grid: tuple[int, int] = GRID, crop_like: np.ndarray | None = None) -> str:
    """One data set row (its canvas ``grid``, always 9x9 here; no crop, ``crop_like`` is for other families) as
    ``format_pretty`` text."""
    return format_pretty(from_tokens(tokens))


# ---- solve and verify ---------------------------------------------------------------------------------------


def count_solutions(grid, limit: int = 2) -> tuple[int, np.ndarray | None, int]:
    """(number of solutions up to ``limit``, the first solution or None, guesses)."""
    count, solution, guesses = _kernels.solve(_grid(grid).tobytes(), limit)
    return count, (np.frombuffer(solution, dtype=np.int8).copy() if solution is not None else None), guesses


def solve_exact(puzzle_or_grid) -> ExactResult:
    """Constraint propagation (naked and hidden singles on bitmasks) + backtracking on the most constrained
    cell, counting solutions up to 2. ``info["guesses"]`` (digits tried at branch points, the uniqueness
    proof included) is the difficulty rating."""
    count, solution, guesses = count_solutions(puzzle_or_grid, 2)
    status = {0: "unsolvable", 1: "solved"}.get(count, "multiple")
    return ExactResult(status, solution, {"guesses": guesses, "backend": BACKEND})


def verify(puzzle, solution) -> bool:
    """True if ``solution`` is a full valid grid that keeps every given of ``puzzle``."""
    try:
        s = _grid(solution).astype(np.int64)
        g = _grid(puzzle).astype(np.int64)
    except (ValueError, TypeError):
        return False
    if (s == 0).any() or ((g != 0) & (g != s)).any():
        return False
    return bool(_units_ok(s.reshape(1, 81), full=True)[0])


def one_pass_baseline(grid: np.ndarray) -> np.ndarray:
    """Fill every blank that has exactly one candidate, once (candidates from the input grid only).

    A weak solver whose success rate measures how much search a set of puzzles needs; works on [81] and [N, 81].
    """
    g = np.asarray(grid, dtype=np.int8)
    batch = g.reshape(-1, 9, 9)
    onehot = np.eye(10, dtype=bool)[batch][..., 1:]  # [N, 9, 9, 9 digits]
    rows = onehot.any(axis=2)  # [N, 9 rows, 9]
    cols = onehot.any(axis=1)  # [N, 9 cols, 9]
    boxes = onehot.reshape(-1, 3, 3, 3, 3, 9).any(axis=(2, 4))  # [N, 3, 3, 9]
    r, c = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    used = rows[:, r] | cols[:, c] | boxes[:, r // 3, c // 3]  # [N, 9, 9, 9]
    free = ~used & (batch == 0)[..., None]
    single = free.sum(-1) == 1
    out = np.where(single, free.argmax(-1) + 1, batch).astype(np.int8)
    return out.reshape(g.shape)


# ---- augmentation -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transform:
    """One element of the Sudoku symmetry group: relabel digits, then (optionally) transpose, then reorder
    bands, rows within each band, stacks and columns within each stack.

    Output row ``3*b + k`` is input row ``3*bands[b] + rows[b][k]`` (after the transpose); columns alike."""

    digits: tuple[int, ...]  # digits[d - 1] = the new digit for d
    transpose: bool
    bands: tuple[int, ...]
    rows: tuple[tuple[int, ...], ...]  # one order of 3 rows per output band
    stacks: tuple[int, ...]
    cols: tuple[tuple[int, ...], ...]

    def positions(self) -> np.ndarray:
        """[81] source cell of each output cell."""
        idx = np.arange(81).reshape(9, 9)
        if self.transpose:
            idx = idx.T
        row_order = [3 * self.bands[b] + self.rows[b][k] for b in range(3) for k in range(3)]
        col_order = [3 * self.stacks[s] + self.cols[s][k] for s in range(3) for k in range(3)]
        return idx[row_order][:, col_order].reshape(81)

    def digit_map(self) -> np.ndarray:
        return np.array((0, *self.digits), dtype=np.int8)


def random_transform(rng: np.random.Generator) -> Transform:
    """A uniformly random element of the symmetry group."""

    def perm(n: int) -> tuple[int, ...]:
        return tuple(int(x) for x in rng.permutation(n))

    return Transform(
        digits=tuple(int(x) + 1 for x in rng.permutation(9)),
        transpose=bool(rng.integers(2)),
        bands=perm(3),
        rows=(perm(3), perm(3), perm(3)),
        stacks=perm(3),
        cols=(perm(3), perm(3), perm(3)),
    )


def apply(t: Transform, grid: np.ndarray) -> np.ndarray:
    """The transformed grid(s): works on [81] and [N, 81]."""
    g = np.asarray(grid)
    return t.digit_map()[g[..., t.positions()]].astype(g.dtype)


def invert(t: Transform, grid: np.ndarray) -> np.ndarray:
    """Undo ``apply(t, .)``: ``invert(t, apply(t, g)) == g``."""
    g = np.asarray(grid)
    inverse_digits = np.zeros(10, dtype=np.int8)
    inverse_digits[t.digit_map()] = np.arange(10)
    return inverse_digits[g[..., np.argsort(t.positions())]].astype(g.dtype)


def canonical(grid: np.ndarray) -> np.ndarray:
    """The canonical form under the whole symmetry group (2 x 6^8 position maps x 9! relabellings): the
    lexicographically smallest grid with digits relabelled in order of first appearance, blanks first.

    Two grids are images of each other under some Transform iff their canonical forms are equal, which is
    what leakage checks between splits need. Row-by-row branch and bound; ~1-2 ms per grid in C."""
    g = _grid(grid)
    if _kernels is _sudoku_py:
        return _sudoku_py.canonical(g)
    return np.frombuffer(_kernels.canonical(g.tobytes()), dtype=np.int8).copy()


# ---- generator ----------------------------------------------------------------------------------------------


def _random_solution(rng: np.random.Generator) -> np.ndarray:
    """A random full grid: the three diagonal boxes filled at random (they never conflict), completed by the
    solver, then a random symmetry applied."""
    g = np.zeros(81, dtype=np.int8)
    for b in (0, 4, 8):
        box = rng.permutation(9) + 1
        for k in range(9):
            g[9 * (3 * (b // 3) + k // 3) + 3 * (b % 3) + k % 3] = box[k]
    _, solution, _ = count_solutions(g, 1)
    return apply(random_transform(rng), solution)


def _carve(solution: np.ndarray, target: int, rng: np.random.Generator) -> np.ndarray:
    """Remove givens in random order, keeping each removal only if the solution stays unique, until
    ``target`` givens remain (or no more can go: then fewer than 81 - target were removed).

    With ``target`` 0 every cell is tried once and the result is minimal: a given kept was needed when it was
    tried, and removing more givens afterwards only adds solutions to the puzzle without it."""
    g = bytearray(solution.astype(np.int8).tobytes())  # the kernel reads any buffer: no numpy per removal
    givens = 81
    for cell in rng.permutation(81).tolist():
        if givens <= target:
            break
        keep = g[cell]
        g[cell] = 0
        if _kernels.solve(g, 2)[0] == 1:
            givens -= 1
        else:
            g[cell] = keep
    return np.frombuffer(bytes(g), dtype=np.int8).copy()


def generate_iter(
    *,
    givens: int | tuple[int, int] | None = None,
    rating: tuple[float, float | None] | None = None,
    minimal: bool = False,
    seed: int = 0,
    max_tries: int = 1000,
) -> Iterator[Sudoku]:
    """The endless seeded stream of puzzles that ``generate`` takes its first ``n`` from (same arguments):
    ``generate(n + k)`` starts with ``generate(n)``, so a caller can draw more of the same stream."""
    lo = hi = 0
    if givens is not None:
        if minimal:
            raise HrmkitError(f"givens={givens} and minimal: a minimal puzzle keeps only the givens it needs "
                              f"(as many as that is); give one of them")
        lo, hi = (givens, givens) if isinstance(givens, int) else givens
        if not 17 <= lo <= hi <= 81:
            raise HrmkitError(f"givens must be within 17..81 (min <= max), got {givens}")
    r_lo, r_hi = rating if rating is not None else (0, None)
    if r_lo < 0 or (r_hi is not None and r_hi < r_lo):
        raise HrmkitError(f"the guesses band must be 0 <= min <= max, got {r_lo}..{r_hi}")
    return _stream(givens is not None, lo, hi, rating is not None, r_lo, r_hi, seed, max_tries)


def _stream(carve_to: bool, lo: int, hi: int, banded: bool, r_lo: float, r_hi: float | None, seed: int,
            max_tries: int) -> Iterator[Sudoku]:
    rng = np.random.default_rng(seed)
    while True:
        for _try in range(max_tries):
            target = int(rng.integers(lo, hi + 1)) if carve_to else 0
            solution = _random_solution(rng)
            grid = _carve(solution, target, rng)
            if carve_to and (grid > 0).sum() != target:
                continue  # this grid cannot be carved down to the target: draw another
            guesses = solve_exact(grid).info["guesses"]
            if banded and not (r_lo <= guesses and (r_hi is None or guesses <= r_hi)):
                continue
            yield Sudoku(grid, answer=solution, rating=guesses, source=f"hrmkit.generate(seed={seed})")
            break
        else:
            shape = f"{lo}-{hi} givens" if carve_to else "minimal"
            band = f"{r_lo}-{'' if r_hi is None else r_hi} guesses" if banded else "any guesses"
            raise HrmkitError(f"could not generate a Sudoku ({shape}, {band}) in {max_tries} tries")


def generate(
    n: int,
    *,
    givens: int | tuple[int, int] | None = None,
    rating: tuple[float, float | None] | None = None,
    minimal: bool = False,
    seed: int = 0,
    max_tries: int = 1000,
) -> list[Sudoku]:
    """``n`` puzzles with a unique solution (kept as ``answer``), reproducible from ``seed``.

    ``givens``: an exact number of givens, or an inclusive (min, max) range drawn uniformly per puzzle; None
    carves as far as possible: a minimal puzzle (every given needed: without any one of them the solution is
    not unique). ``minimal=True`` asks for that explicitly and refuses ``givens``. ``rating``: inclusive
    (min, max) band of exact-solver guesses (``max`` None: no upper bound; 0 = solved by singles alone, a
    puzzle that needs search has at least 2), kept as each puzzle's ``rating``; candidates outside it are
    discarded (``max_tries`` candidates per puzzle, then HrmkitError).
    """
    return list(itertools.islice(generate_iter(givens=givens, rating=rating, minimal=minimal, seed=seed,
                                               max_tries=max_tries), n))


# ---- structure ----------------------------------------------------------------------------------------------
# What a model may build in about the layout of the 81 tokens (hrmkit.models, `structure: sudoku`): the cells'
# coordinates, for factored position embeddings (`pos_encodings: family-coords`), and the relation graph its
# attention is restricted to (`attn_mask: family-graph`). Plain tuples: this module does not import torch.

COORDINATE_AXES = ("row", "col", "box")


def _check_structure_len(seq_len: int) -> None:
    if seq_len != 81:
        raise HrmkitError(f"the sudoku structure is a 9x9 grid (seq_len 81), got seq_len {seq_len}")


def coordinates(seq_len: int = 81) -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(axis names, axis sizes, the coordinates of each position): ("row", "col", "box"), (9, 9, 9), and for
    cell c of the row-major grid (c // 9, c % 9, 3 * (row // 3) + col // 3)."""
    _check_structure_len(seq_len)
    coords = tuple((c // 9, c % 9, 3 * (c // 27) + (c % 9) // 3) for c in range(81))
    return COORDINATE_AXES, (9, 9, 9), coords


def relation_graph(seq_len: int = 81, radius: int = 1) -> tuple[tuple, tuple[tuple[tuple[int, int], ...], ...]]:
    """(relations, neighbours) over the 81 cells: one relation, "peer"; neighbours[i] holds (j, 0) for every cell
    j that shares a row, a column or a box with cell i, i itself included (21 per cell), in increasing j.
    `radius` is a grid setting and does not apply: the units are the relation."""
    _check_structure_len(seq_len)
    _, _, coords = coordinates(seq_len)
    neighbours = tuple(tuple((j, 0) for j in range(81) if any(a == b for a, b in zip(coords[i], coords[j])))
                       for i in range(81))
    return ("peer",), neighbours


# ---- optional capabilities (``hrmkit.puzzles``: what solve and eval ask a family for) ------------------------
# --views: any number of views (no MAX_VIEWS); a view is a Transform


def random_views(rng: np.random.Generator, n: int) -> list[Transform]:
    """``n`` random views (`hrmkit solve --views`): uniform elements of the symmetry group."""
    return [random_transform(rng) for _ in range(n)]


def view_apply(transform: Transform, puzzle):
    """A puzzle (a `Sudoku` or a grid [81]) under a view: relabelled digits, transposed, permuted bands, stacks and
    the rows/columns inside them keep a valid grid valid and the givens given."""
    if isinstance(puzzle, Sudoku):
        return Sudoku(apply(transform, puzzle.grid))
    return apply(transform, np.asarray(puzzle))


def view_invert(transform: Transform, answer) -> np.ndarray:
    """An answer grid of the view back in the puzzle's frame, exactly (``view_invert(t, view_apply(t, g)) == g``)."""
    return invert(transform, np.asarray(answer))


def model_codec(seq_len: int, any_size: bool):
    """(encode puzzle -> tokens, decode (puzzle, tokens) -> grid) for a model (every Sudoku model has 81 cells)."""
    return (lambda p: to_tokens(p.grid)), (lambda p, t: from_tokens(t))


# evaluation (`hrmkit eval`)
BLANK_TOKEN = BLANK  # token_accuracy_blanks: the accuracy on the cells to fill (input blank)
DEFAULT_BASELINES = True  # eval runs the untrained baseline unless told not to


def _givens(inputs: np.ndarray) -> np.ndarray:
    return (np.asarray(inputs) >= 2).sum(1)  # tokens 2..10 are digits


def difficulty(inputs: np.ndarray, labels: np.ndarray, ratings) -> dict[str, tuple[np.ndarray, list[int]]]:
    """{group: (value per example, bucket edges)}: the givens, and the rating (the exact solver's guess count of
    the base puzzle, from ``ratings()``, None when the data set has none)."""
    out = {"givens": (_givens(inputs), [0, 20, 25, 30, 35, 40, 50, 82])}
    rating = ratings()
    if rating is not None:
        out["rating"] = (rating, [0, 1, 10, 100, 1000, 10**9])
    return out


def difficulty_summary(inputs: np.ndarray, labels: np.ndarray, ratings, grid) -> dict[str, float]:
    """How hard the evaluated puzzles are, in a few numbers: givens mean/min/max and the mean known rating."""
    givens = _givens(inputs)
    out = {"givens_mean": float(givens.mean()), "givens_min": int(givens.min()), "givens_max": int(givens.max())}
    rating = ratings()
    if rating is not None and (rating >= 0).any():
        out["rating_mean"] = float(rating[rating >= 0].mean())
    return out


def one_pass_answers(inputs: np.ndarray) -> np.ndarray:
    """The no-reasoning baseline as tokens [N, 81]: the blanks with exactly one candidate filled once."""
    return to_tokens(one_pass_baseline(from_tokens(inputs)))


def tta_transforms(rng: np.random.Generator, n: int, seq_len: int) -> list:
    """``n`` random (forward, inverse) token maps of ``eval --tta`` (uniform elements of the symmetry group)."""
    out = []
    for _ in range(n):
        tr = random_transform(rng)
        # tokens = digit + 1 (1 blank); the transform works on digits 0..9, so shift around it
        out.append((lambda t, tr=tr: apply(tr, np.asarray(t, np.int64) - 1) + 1,
                    lambda t, tr=tr: invert(tr, np.clip(np.asarray(t, np.int64) - 1, 0, 9)) + 1))
    return out


def view_puzzle(tokens: np.ndarray, grid) -> Sudoku:
    """A data set row's input as `hrmkit solve` reads it (``eval --views``)."""
    return Sudoku(from_tokens(tokens))


def answer_tokens(answer: np.ndarray, seq_len: int) -> np.ndarray:
    """An answer grid as a data set row's tokens (``eval --views`` scores it against the label)."""
    return to_tokens(answer)
