"""Mazes: text grids of ``# SGo`` (wall, open, start, goal, path), shortest paths, a generator, symmetries.

A maze is a 2-D ``numpy.uint8`` array of cell codes, the index of the character in ``CHARSET``::

    0 '#' wall   1 ' ' open   2 'S' start   3 'G' goal   4 'o' path

The *puzzle* is a maze with exactly one S and one G and no 'o'; a *solution* is the same maze with the cells of
one shortest 4-connected S-G path marked 'o'. ``path_length`` counts moves, so a solution has
``path_length - 1`` 'o' cells.

Files (``read``) hold one maze per block of lines:

    ; lines starting with ';' are comments ('#' is a wall, so it cannot start comments here)
    #######
    #S  # #
    # # #G#
    #######

    #####        <- blocks are separated by blank lines
    #S G#
    #####

All rows of a block have the same width. A line of spaces inside a block is a row of open cells when it is as
wide as the block, otherwise a separator; so a block may not start with an all-open row. 'o' cells in a block
are a given solution: ``Record.puzzle`` is the maze without them and ``MazeRecord.solution`` keeps them.
The Hugging Face CSV form of the authors' data (``source,question,answer,rating``, each maze one row-major
string of N*N characters) is read too.

Tokens (the authors' ids): 0 pad, then one id per character in ``CHARSET`` order: 1 '#', 2 ' ', 3 'S',
4 'G', 5 'o' (``token = code + 1``), vocabulary 6; mazes smaller than the canvas are padded right and below.

``solve_exact`` reports "solved" when the shortest path is unique, "multiple" when several shortest paths tie
(the returned solution is one of them; ``verify`` accepts any of them), "unsolvable" when G is unreachable.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hrmkit.errors import HrmkitError, where
from hrmkit.puzzles import ExactResult, Record, read_text

NAME = "maze"
CHARSET = "# SGo"
WALL, OPEN, START, GOAL, PATH = range(5)
PAD_ID = 0
VOCAB_SIZE = len(CHARSET) + 1
CSV_HEADER = ["source", "question", "answer", "rating"]
# the facts other code reads from a family (``hrmkit.puzzles.CONTRACT``); a data set of mazes of another size has
# its own canvas (side x side, seq_len side * side)
GRID = (30, 30)  # the authors' canvas (sapientinc/maze-30x30-hard-1k)
SEQ_LEN = GRID[0] * GRID[1]
AUGMENTATION_LAYOUT = "dihedral-v1"  # a data set's augmentations.npy rows (hrmkit.data.format)
AUGMENTED_SPLITS = ("train",)  # test mazes are never augmented
DISTINCT_AUGMENTATIONS = False  # a group holds its base and exactly --augment copies
MULTIPLE_SOURCES = False  # `data build` takes one --source
SHOW = "text"  # `data show` prints examples (format_tokens)
RECIPE = "hrmkit.data.maze_recipe:build_maze"
DATA_CHECKS = "hrmkit.puzzles.maze_checks:data_checks"  # `data validate`'s suites (imported only when validating)

_CODE = np.full(256, 255, dtype=np.uint8)  # byte -> cell code; 255 = not a maze character
_CODE[np.frombuffer(CHARSET.encode(), dtype=np.uint8)] = np.arange(len(CHARSET), dtype=np.uint8)
_CHARS = np.frombuffer(CHARSET.encode(), dtype=np.uint8)


@dataclass
class MazeRecord(Record):
    """A Record whose file also gave a solution ('o' cells of a block, or the CSV answer); not verified."""

    solution: np.ndarray | None = None


# ----------------------------------------------------------------------------- parse and format


def _row_codes(row: str, path, line: int) -> np.ndarray:
    raw = row.encode("utf-8")
    codes = _CODE[np.frombuffer(raw, dtype=np.uint8)] if raw else np.zeros(0, np.uint8)
    if len(raw) != len(row) or (codes == 255).any():
        col = next(i for i, ch in enumerate(row) if ch not in CHARSET)
        raise HrmkitError(
            f"{where(path, line)}: bad character {row[col]!r} in column {col + 1}"
            " (a maze uses '#', ' ', 'S', 'G', 'o')"
        )
    return codes


def _check(grid: np.ndarray, path, line: int) -> None:
    """Exactly one S and one G; raises 'FILE:LINE: ...' otherwise."""
    for code, name in ((START, "start 'S'"), (GOAL, "goal 'G'")):
        count = int((grid == code).sum())
        if count != 1:
            cells = ", ".join(f"row {r + 1} col {c + 1}" for r, c in np.argwhere(grid == code)[:4])
            found = "no " + name if count == 0 else f"{count} {name}s"
            listed = f" ({cells})" if count > 1 else ""
            raise HrmkitError(f"{where(path, line)}: {found} in the maze{listed}; a maze needs exactly one")


def parse(text: str, *, path="<string>", line: int = 1) -> np.ndarray:
    """One maze from its rows (newline-separated) -> (H, W) uint8 codes, 'o' cells kept. Errors name path:line."""
    rows = [row.rstrip("\r") for row in text.split("\n")]
    while rows and rows[-1] == "":
        rows.pop()
    return _parse_rows(rows, list(range(line, line + len(rows))), path)


def _parse_rows(rows: list[str], lines: list[int], path) -> np.ndarray:
    """Rows and their line numbers in the file (comment lines may sit between them) -> (H, W) codes."""
    if not rows or not rows[0]:
        raise HrmkitError(f"{where(path, lines[0] if lines else None)}: empty maze")
    width = len(rows[0])
    grid = np.empty((len(rows), width), dtype=np.uint8)
    for i, (row, line) in enumerate(zip(rows, lines)):
        codes = _row_codes(row, path, line)
        if len(codes) != width:
            raise HrmkitError(
                f"{where(path, line)}: row {i + 1} has {len(codes)} cells,"
                f" the maze's first row has {width} (ragged rows)"
            )
        grid[i] = codes
    _check(grid, path, lines[0])
    return grid


def parse_flat(text: str, *, side: int | None = None, path="<string>", line: int = 1) -> np.ndarray:
    """A maze written as one row-major string of side*side characters (the HF CSV form) -> (side, side) codes."""
    n = len(text)
    side = side or int(round(n**0.5))
    if side * side != n or n == 0:
        raise HrmkitError(f"{where(path, line)}: a one-line maze needs a square number of characters, got {n}")
    grid = _row_codes(text, path, line).reshape(side, side)
    _check(grid, path, line)
    return grid


def puzzle_of(grid: np.ndarray) -> np.ndarray:
    """The puzzle of a (solved) maze: 'o' cells become open."""
    grid = np.array(grid, dtype=np.uint8)
    grid[grid == PATH] = OPEN
    return grid


def format_pretty(grid: np.ndarray) -> str:
    """Rows on separate lines (the file format)."""
    return "\n".join(_CHARS[row].tobytes().decode() for row in np.asarray(grid))


def format_one_line(grid: np.ndarray) -> str:
    """Row-major characters on one line (the HF CSV form); the side is sqrt(len) for square mazes."""
    return _CHARS[np.asarray(grid)].tobytes().decode()


# ----------------------------------------------------------------------------- files


def sniff(text: str) -> bool:
    """A maze CSV (header source,question,answer,rating and a '# SGo' question) or blocks of '# SGo' rows."""
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    content = [ln for ln in lines if ln.strip() and not ln.startswith(";")]
    if not content:
        return False
    if content[0].replace(" ", "").split(",") == CSV_HEADER:
        if len(content) < 2:
            return False
        fields = next(csv.reader([content[1]]))
        return len(fields) >= 2 and set(fields[1]) <= set(CHARSET) and "S" in fields[1] and "G" in fields[1]
    head = content[:200]
    seen = set("".join(head))
    # walls and nothing but maze characters: a maze file, even one missing its S or G (the reader says so)
    return all(set(ln) <= set(CHARSET) for ln in head) and "#" in seen


def _blocks(lines: list[str]):
    """(rows, their line numbers) per block; comments skipped, blank lines separate blocks."""
    rows, numbers = [], []
    for number, ln in enumerate(lines, 1):
        ln = ln.rstrip("\r")
        if ln.startswith(";"):
            continue
        if ln.strip() == "" and not (rows and len(ln) == len(rows[0])):
            if rows:
                yield rows, numbers
            rows, numbers = [], []
            continue
        rows.append(ln)
        numbers.append(number)
    if rows:
        yield rows, numbers


def read(path, *, skip_invalid: bool = False) -> list[MazeRecord]:
    """Every maze of a file (blocks of rows, or the HF CSV); a bad entry raises "FILE:LINE: ..." unless
    ``skip_invalid``, which gives it a Record with ``error`` set instead."""
    path = Path(path)
    text = read_text(path)
    lines = text.split("\n")
    first = next((ln for ln in lines if ln.strip() and not ln.startswith(";")), "")
    is_csv = first.replace(" ", "").rstrip("\r").split(",") == CSV_HEADER
    entries = _csv_entries(path, text) if is_csv else _block_entries(path, lines)
    records = []
    for index, (line, shown, build) in enumerate(entries):
        try:
            puzzle, solution = build()
            records.append(MazeRecord(index, line, shown, puzzle, None, solution))
        except HrmkitError as err:
            if not skip_invalid:
                raise
            records.append(MazeRecord(index, line, shown, None, str(err)))
    return records


def _block_entries(path, lines):
    for rows, numbers in _blocks(lines):

        def build(rows=rows, numbers=numbers):
            grid = _parse_rows(rows, numbers, path)
            return puzzle_of(grid), grid if (grid == PATH).any() else None

        yield numbers[0], "\n".join(rows), build


def _csv_entries(path, text):
    reader = csv.reader(io.StringIO(text))
    header_seen = False
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()) or row[0].startswith(";"):
            continue
        if not header_seen:
            header_seen = True
            continue

        def build(row=row, line=line):
            if len(row) < 2:
                columns = ",".join(CSV_HEADER)
                raise HrmkitError(f"{where(path, line)}: expected columns {columns}, got {len(row)} field(s)")
            puzzle = parse_flat(row[1], path=path, line=line)
            if (puzzle == PATH).any():
                raise HrmkitError(f"{where(path, line)}: the question contains path cells 'o'")
            answer = row[2] if len(row) > 2 else ""
            solution = parse_flat(answer, side=puzzle.shape[0], path=path, line=line) if answer else None
            if solution is not None and not np.array_equal(puzzle_of(solution), puzzle):
                raise HrmkitError(f"{where(path, line)}: the answer is not the question with 'o' path cells added")
            return puzzle, solution

        yield line, row[1] if len(row) > 1 else ",".join(row), build


# ----------------------------------------------------------------------------- tokens


def to_tokens(grid: np.ndarray, size: int | None = None) -> np.ndarray:
    """(H, W) or (B, H, W) codes -> (H*W,) or (B, size*size) uint8 token ids (``code + 1``), padded with id 0
    right and below up to a size x size canvas."""
    grid = np.asarray(grid)
    h, w = grid.shape[-2:]
    size_h, size_w = (h, w) if size is None else (size, size)
    if h > size_h or w > size_w:
        raise HrmkitError(f"a {h}x{w} maze does not fit a {size}x{size} canvas")
    out = np.zeros(grid.shape[:-2] + (size_h, size_w), dtype=np.uint8)
    out[..., :h, :w] = grid + 1
    return out.reshape(grid.shape[:-2] + (size_h * size_w,))


def from_tokens(
    tokens: np.ndarray, shape: tuple[int, int] | None = None, *, size: int | None = None, strict: bool = True
) -> np.ndarray:
    """(L,) or (B, L) token ids -> (H, W) or (B, H, W) codes: the inverse of ``to_tokens(grid, size)``.

    The canvas is size x size when given, else ``shape`` when it has L cells, else square; it is cropped to
    ``shape`` (top-left). Pad or out-of-range ids inside the crop raise when ``strict``; otherwise they decode
    as walls, so a garbage model output never verifies (walls must match the puzzle)."""
    tokens = np.asarray(tokens)
    n = tokens.shape[-1]
    if size is None and shape is not None and shape[0] * shape[1] == n:
        rows, cols = shape
    else:
        rows = cols = size if size is not None else int(round(n**0.5))
        if rows * cols != n:
            raise HrmkitError(f"{n} tokens do not make a {'%dx%d' % (rows, cols) if size else 'square'} canvas")
    h, w = shape or (rows, cols)
    ids = tokens.reshape(tokens.shape[:-1] + (rows, cols))[..., :h, :w].astype(np.int64)
    bad = (ids < 1) | (ids > len(CHARSET))
    if bad.any():
        if strict:
            raise HrmkitError(f"token id {int(ids[bad][0])} is not a maze cell (ids 1..{len(CHARSET)})")
        ids = np.where(bad, WALL + 1, ids)
    return (ids - 1).astype(np.uint8)


def format_tokens(tokens: np.ndarray, grid: tuple[int, int], crop_like: np.ndarray | None = None) -> str:
    """One data set row on its ``grid`` canvas as ``format_pretty`` text, cropped to the rows and columns where
    ``crop_like`` (default: the row itself; a label is cropped like its input) holds a cell, not pad."""
    side = grid[0]
    cells = np.asarray(tokens if crop_like is None else crop_like).reshape(side, side) > 0
    shape = (int(cells.any(1).sum()), int(cells.any(0).sum()))
    return format_pretty(from_tokens(tokens, shape, strict=False))


# ----------------------------------------------------------------------------- shortest paths


def _bfs(open_: np.ndarray, source: int):
    """Distances (moves, -1 unreachable) and shortest-path counts from ``source`` over flat open cells."""
    h, w = open_.shape
    flat = open_.ravel().tolist()
    dist = [-1] * (h * w)
    count = [0] * (h * w)
    dist[source], count[source] = 0, 1
    queue = deque([source])
    while queue:
        u = queue.popleft()
        du, r, c = dist[u] + 1, divmod(u, w)[0], u % w
        for v, ok in ((u - w, r > 0), (u + w, r < h - 1), (u - 1, c > 0), (u + 1, c < w - 1)):
            if ok and flat[v]:
                if dist[v] < 0:
                    dist[v], count[v] = du, count[u]
                    queue.append(v)
                elif dist[v] == du:
                    count[v] += count[u]
    return dist, count


def _ends(puzzle: np.ndarray) -> tuple[int, int]:
    starts, goals = np.flatnonzero(puzzle == START), np.flatnonzero(puzzle == GOAL)
    if len(starts) != 1 or len(goals) != 1:
        raise HrmkitError(f"a maze needs exactly one 'S' and one 'G' (got {len(starts)} and {len(goals)})")
    return int(starts[0]), int(goals[0])


def shortest_path(puzzle: np.ndarray) -> list[tuple[int, int]] | None:
    """The cells (row, col) of one shortest S-G path, S and G included; None when G is unreachable."""
    puzzle = np.asarray(puzzle)
    s, g = _ends(puzzle)
    dist, _ = _bfs(puzzle != WALL, s)
    return None if dist[g] < 0 else _walk_back(dist, g, puzzle.shape)


def _walk_back(dist: list[int], g: int, shape) -> list[tuple[int, int]]:
    h, w = shape
    cells, u = [g], g
    while dist[u] > 0:
        r, c = divmod(u, w)
        steps = ((u - w, r > 0), (u + w, r < h - 1), (u - 1, c > 0), (u + 1, c < w - 1))
        u = next(v for v, ok in steps if ok and dist[v] == dist[u] - 1)
        cells.append(u)
    return [divmod(u, w) for u in reversed(cells)]


def solve_exact(puzzle: np.ndarray) -> ExactResult:
    """BFS from S. info: path_length (moves), shortest_paths (how many tie), or path_length None if unreachable."""
    puzzle = puzzle_of(puzzle)
    s, g = _ends(puzzle)
    dist, count = _bfs(puzzle != WALL, s)
    if dist[g] < 0:
        return ExactResult("unsolvable", None, {"path_length": None, "shortest_paths": 0})
    solution = puzzle.copy()
    for r, c in _walk_back(dist, g, puzzle.shape)[1:-1]:
        solution[r, c] = PATH
    status = "solved" if count[g] == 1 else "multiple"
    return ExactResult(status, solution, {"path_length": dist[g], "shortest_paths": count[g]})


def verify(puzzle: np.ndarray, solution: np.ndarray) -> bool:
    """True when ``solution`` is the puzzle with one shortest S-G path marked 'o': walls, S and G unchanged,
    the 'o' cells and S, G form a 4-connected path of optimal length, and nothing else is marked."""
    puzzle = puzzle_of(puzzle)
    s, g = _ends(puzzle)
    sol = np.asarray(solution)
    if sol.shape != puzzle.shape or not np.issubdtype(sol.dtype, np.integer):
        return False
    for code in (WALL, START, GOAL):
        if ((sol == code) != (puzzle == code)).any():
            return False
    if ((sol != WALL) & (sol != OPEN) & (sol != START) & (sol != GOAL) & (sol != PATH)).any():
        return False
    best = _bfs(puzzle != WALL, s)[0][g]
    if best < 0 or int((sol == PATH).sum()) != best - 1:
        return False
    # The marked cells reach G in `best` moves and there are exactly best + 1 of them: they are that path.
    return _bfs((sol == PATH) | (sol == START) | (sol == GOAL), s)[0][g] == best


# ----------------------------------------------------------------------------- symmetries

DIHEDRAL_INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)  # transform id -> id of its inverse


def dihedral(grid: np.ndarray, tid: int) -> np.ndarray:
    """One of the 8 symmetries of the square on the last two axes (the authors' numbering):
    0 identity, 1-3 rotations by 90/180/270 degrees (counter-clockwise), 4 left-right flip, 5 up-down flip,
    6 transpose, 7 anti-transpose. Works on one grid (H, W) or a batch (..., H, W); returns a new array."""
    a = np.asarray(grid)
    t = np.swapaxes(a, -1, -2)
    views = (
        a,  # 0 identity
        t[..., ::-1, :],  # 1 rot90
        a[..., ::-1, ::-1],  # 2 rot180
        t[..., :, ::-1],  # 3 rot270
        a[..., :, ::-1],  # 4 left-right flip
        a[..., ::-1, :],  # 5 up-down flip
        t,  # 6 transpose
        t[..., ::-1, ::-1],  # 7 anti-transpose
    )
    if not 0 <= tid < 8:
        raise HrmkitError(f"dihedral transform id must be 0..7, got {tid}")
    return np.ascontiguousarray(views[tid])


def augment(grid: np.ndarray, tid: int) -> np.ndarray:
    """A maze (or batch of mazes) under dihedral transform ``tid``; shortest paths map to shortest paths."""
    return dihedral(grid, tid)


def invert(grid: np.ndarray, tid: int) -> np.ndarray:
    """Undo ``augment(grid, tid)``."""
    return dihedral(grid, DIHEDRAL_INVERSE[tid])


# ----------------------------------------------------------------------------- generator


def _carve(n: int, rng: np.random.Generator, loops: float) -> np.ndarray:
    """A perfect maze (randomised depth-first search) on the cells at even coordinates, then ``loops`` of the
    remaining inner walls between two cells knocked down, so that several routes compete."""
    m = (n + 1) // 2  # lattice cells per side
    grid = np.zeros((n, n), dtype=np.uint8)
    grid[0::2, 0::2] = OPEN
    pick = random.Random(int(rng.integers(2**63))).randrange  # Python's RNG: ~10x cheaper per draw here
    seen = [[False] * m for _ in range(m)]
    i, j = divmod(pick(m * m), m)
    stack, seen[i][j] = [(i, j)], True
    while stack:
        i, j = stack[-1]
        around = ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
        nexts = [(a, b) for a, b in around if 0 <= a < m and 0 <= b < m and not seen[a][b]]
        if not nexts:
            stack.pop()
            continue
        a, b = nexts[pick(len(nexts))]
        grid[i + a, j + b] = OPEN  # the wall between cells (2i, 2j) and (2a, 2b) sits at (i + a, j + b)
        seen[a][b] = True
        stack.append((a, b))
    if loops > 0:
        between = np.zeros((n, n), dtype=bool)  # walls separating two lattice cells
        between[0::2, 1 : 2 * m - 2 : 2] = True
        between[1 : 2 * m - 2 : 2, 0::2] = True
        knock = between & (grid == WALL) & (rng.random((n, n)) < loops)
        grid[knock] = OPEN
    return grid


def _obstacles(n: int, min_length: int, rng: np.random.Generator, density: float,
               max_walls: int) -> tuple[np.ndarray, int, int] | None:
    """A random-obstacle grid (open 1 / wall 0) with ends s, g whose shortest path is unique and has at least
    ``min_length`` moves, or None when this draw gets stuck.

    Cells are walls with probability ``density``; S and G are the two ends of a double BFS sweep (far apart).
    Then, while the path is too short, a random cell of the current shortest path becomes a wall (kept only if
    G stays reachable), so the path grows a detour at every step; once it is long enough, cells of the other
    shortest paths (not on the chosen one) become walls until the shortest path is unique."""
    grid = rng.random((n, n)) >= density
    cells = np.flatnonzero(grid.ravel())
    if len(cells) < 2:
        return None
    dist = np.array(_bfs(grid, int(cells[rng.integers(len(cells))]))[0])
    s = int(np.argmax(dist))
    dist = np.array(_bfs(grid, s)[0])
    g = int(np.argmax(dist))
    if s == g:
        return None
    protected = {s, g}
    for _ in range(max_walls):
        dist, count = _bfs(grid, s)
        path = [r * n + c for r, c in _walk_back(dist, g, grid.shape)]
        if dist[g] >= min_length:
            if count[g] == 1:
                return grid.astype(np.uint8), s, g
            from_g = np.array(_bfs(grid, g)[0])
            from_s = np.array(dist)
            tied = (from_s >= 0) & (from_g >= 0) & (from_s + from_g == dist[g])
            tied[path] = False  # cells of another shortest path: walling them keeps the chosen one
            others = np.flatnonzero(tied)
            grid.flat[others[rng.integers(len(others))]] = False
            continue
        free = [u for u in path if u not in protected]
        if not free:
            return None
        u = free[rng.integers(len(free))]
        grid.flat[u] = False
        if _bfs(grid, s)[0][g] < 0:  # it cut the only way: keep it open, never try it again
            grid.flat[u] = True
            protected.add(u)
    return None


STYLES = ("lattice", "obstacles")


def generate(
    n: int,
    min_length: int = 0,
    *,
    rng: np.random.Generator,
    loops: float = 0.05,
    unique: bool = True,
    border: bool = True,
    max_tries: int = 200,
    style: str = "lattice",
    density: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """One n x n (puzzle, solution) whose shortest path has at least ``min_length`` moves.

    ``style`` "obstacles": a grid of random walls (``density``) lengthened until the shortest path is long
    enough and unique (see ``_obstacles``; the Maze-Hard kind: at 30x30 with min_length 110 and density 0.3, about
    80 ms a maze here); ``border``, ``loops`` and ``unique`` do not apply (its path is always unique).
    "lattice" (the default):
    S is a random open cell (or, if no G is far enough from it, the cell farthest from it); G is drawn among
    the cells at least ``min_length`` moves away, with a unique shortest path when ``unique`` (so that a
    model's answer can be compared cell by cell with the label). ``border`` surrounds the maze with walls
    (then no row of the text form starts or ends with an open cell that an editor could strip). More ``loops``
    give more competing routes but fewer long unique paths: at 30x30, min_length 110 succeeds on about half
    the mazes with loops 0.05 and a sixth with 0.1 (failures are retried, up to ``max_tries`` mazes)."""
    if style not in STYLES:
        raise HrmkitError(f"maze style must be one of {', '.join(STYLES)}, got {style!r}")
    if style == "obstacles":
        return _generate_obstacles(n, min_length, rng, density, max_tries)
    if n < (4 if border else 2):
        raise HrmkitError(f"maze size must be at least {4 if border else 2}, got {n}")
    for _ in range(max_tries):
        grid = np.pad(_carve(n - 2, rng, loops), 1) if border else _carve(n, rng, loops)
        cells = np.flatnonzero(grid.ravel() == OPEN)
        s = int(cells[rng.integers(len(cells))])
        for _attempt in range(2):
            dist, count = _bfs(grid == OPEN, s)
            d = np.array(dist)
            ok = d >= max(min_length, 1)
            if unique:
                ok &= np.array([c == 1 for c in count])
            if ok.any():
                g = int(rng.choice(np.flatnonzero(ok)))
                puzzle = grid.copy()
                puzzle.flat[s], puzzle.flat[g] = START, GOAL
                solution = puzzle.copy()
                for r, c in _walk_back(dist, g, grid.shape)[1:-1]:
                    solution[r, c] = PATH
                tid = int(rng.integers(8))  # even sizes leave a spare wall row and column: put them anywhere
                return dihedral(puzzle, tid), dihedral(solution, tid)
            s = int(np.argmax(d))
    raise HrmkitError(
        f"could not generate a {n}x{n} maze with a shortest path of at least {min_length} moves in {max_tries} tries;"
        " lower min_length or loops"
    )


def _generate_obstacles(n: int, min_length: int, rng: np.random.Generator, density: float,
                        max_tries: int) -> tuple[np.ndarray, np.ndarray]:
    if n < 2:
        raise HrmkitError(f"maze size must be at least 2, got {n}")
    if not 0.0 <= density < 1.0:
        raise HrmkitError(f"maze density must be in [0, 1), got {density}")
    if min_length > n * n // 2:
        raise HrmkitError(f"a {n}x{n} obstacle maze cannot hold a shortest path of {min_length} moves; "
                          f"at most about {n * n // 2}")
    for _ in range(max_tries):
        made = _obstacles(n, min_length, rng, density, max_walls=4 * n * n)
        if made is None:
            continue
        grid, s, g = made
        puzzle = np.where(grid == 1, OPEN, WALL).astype(np.uint8)
        dist = _bfs(grid == 1, s)[0]
        puzzle.flat[s], puzzle.flat[g] = START, GOAL
        solution = puzzle.copy()
        for r, c in _walk_back(dist, g, grid.shape)[1:-1]:
            solution[r, c] = PATH
        return puzzle, solution
    raise HrmkitError(f"could not generate a {n}x{n} obstacle maze with a shortest path of at least {min_length} "
                      f"moves in {max_tries} tries; lower min_length")


def generate_batch(
    count: int,
    n: int,
    min_length: int = 0,
    *,
    seed: int,
    loops: float = 0.05,
    unique: bool = True,
    border: bool = True,
    style: str = "lattice",
    density: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` mazes -> (puzzles, solutions), each (count, n, n) uint8; the same seed gives the same mazes,
    and a longer batch starts with the shorter one."""
    rng = np.random.default_rng(seed)
    puzzles = np.empty((count, n, n), dtype=np.uint8)
    solutions = np.empty((count, n, n), dtype=np.uint8)
    for i in range(count):
        puzzles[i], solutions[i] = generate(n, min_length, rng=rng, loops=loops, unique=unique, border=border,
                                            style=style, density=density)
    return puzzles, solutions


# ----------------------------------------------------------------------------- structure
# What a model may build in about the layout of a maze's tokens (hrmkit.models, `structure: maze`): a square
# canvas of side S read row-major (`to_tokens`), whose cells have coordinates (row, column), for factored position
# embeddings (`pos_encodings: family-coords`), and a relation graph for attention (`attn_mask: family-graph`):
# the cells within Manhattan distance `radius`, each neighbour labelled by its offset (dy, dx), which the same
# weights can use on a canvas of any size. Plain tuples: this module does not import torch.

COORDINATE_AXES = ("row", "col")


def _structure_side(seq_len: int) -> int:
    side = int(round(seq_len ** 0.5)) if seq_len > 0 else 0
    if side < 1 or side * side != seq_len:
        raise HrmkitError(f"the maze structure is a square grid (seq_len a square such as 900), got seq_len {seq_len}")
    return side


def neighbour_offsets(radius: int) -> tuple[tuple[int, int], ...]:
    """The (row, column) offsets within Manhattan distance `radius`: (0, 0) first, then row-major."""
    if radius < 1:
        raise HrmkitError(f"the maze structure's radius must be >= 1, got {radius}")
    rest = tuple((dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
                 if 0 < abs(dy) + abs(dx) <= radius)
    return ((0, 0),) + rest


def coordinates(seq_len: int) -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(axis names, axis sizes, the coordinates of each position): ("row", "col"), (S, S), and (c // S, c % S)
    for cell c of the S x S canvas (seq_len = S * S)."""
    side = _structure_side(seq_len)
    return COORDINATE_AXES, (side, side), tuple(divmod(c, side) for c in range(seq_len))


def relation_graph(seq_len: int, radius: int = 1) -> tuple[tuple, tuple[tuple[tuple[int, int], ...], ...]]:
    """(relations, neighbours) over the S x S canvas: the relations are `neighbour_offsets(radius)`; neighbours[i]
    holds (j, o) for each offset o = (dy, dx) whose cell j = (row + dy, col + dx) lies on the canvas, in offset
    order (cell i itself is offset 0)."""
    side = _structure_side(seq_len)
    offsets = neighbour_offsets(radius)
    neighbours = []
    for cell in range(seq_len):
        row, col = divmod(cell, side)
        neighbours.append(tuple(((row + dy) * side + col + dx, o) for o, (dy, dx) in enumerate(offsets)
                                if 0 <= row + dy < side and 0 <= col + dx < side))
    return offsets, tuple(neighbours)


# ----------------------------------------------------------------------------- optional capabilities
# (``hrmkit.puzzles``: what solve and eval ask a family for)
ANY_SIZE = True  # a model's canvas is its own (any square side), not SEQ_LEN: `solve` checks the vocabulary only
MAX_VIEWS = 8  # --views: the dihedral group of the square; a view is a transform id 1..7 (`dihedral`)
TOO_MANY_VIEWS = ("--views {k}: a maze has {n} views (the rotations and reflections of the square), so --views is at "
                  "most {n} for mazes")


def random_views(rng: np.random.Generator, n: int) -> list[int]:
    """``n`` (<= 7) distinct dihedral transforms other than the identity, in random order (`hrmkit solve --views`)."""
    return [int(t) for t in rng.permutation(np.arange(1, MAX_VIEWS))[:n]]


def view_apply(tid: int, puzzle) -> np.ndarray:
    """An (H, W) maze under a view: (H, W) or (W, H), walls, S and G move with the cells and 4-neighbours stay
    neighbours, so a shortest S-G path maps to one; every canvas of `model_codec` is square with sides >= max(H, W),
    so all 8 transforms fit every maze, square or not."""
    return augment(np.asarray(puzzle), tid)


def view_invert(tid: int, answer) -> np.ndarray:
    """An answer grid of the view back in the maze's frame, exactly."""
    return invert(np.asarray(answer), tid)


def model_codec(seq_len: int, any_size: bool):
    """(encode maze -> tokens, decode (maze, tokens) -> grid) for a model of ``seq_len`` (a square canvas) or of
    any size (each maze on its own square canvas)."""
    if any_size:
        return ((lambda p: to_tokens(p, max(p.shape))),
                (lambda p, t: from_tokens(t, p.shape, size=max(p.shape), strict=False)))
    side = int(round(math.sqrt(seq_len)))
    if side * side != seq_len:
        raise HrmkitError(f"a maze model has a square canvas; this one has seq_len {seq_len}")

    def encode(p):
        if p.shape[0] > side or p.shape[1] > side:
            raise HrmkitError(f"a {p.shape[0]}x{p.shape[1]} maze does not fit the model's {side}x{side} canvas")
        return to_tokens(p, side)

    return encode, (lambda p, t: from_tokens(t, p.shape, size=side, strict=False))


# evaluation (`hrmkit eval`)
DEFAULT_BASELINES = True  # eval runs the untrained baseline unless told not to


def _path_length(labels: np.ndarray) -> np.ndarray:
    return (np.asarray(labels) == PATH + 1).sum(1) + 1  # 'o' cells + 1 = moves


def difficulty(inputs: np.ndarray, labels: np.ndarray, ratings) -> dict[str, tuple[np.ndarray, list[int]]]:
    """{group: (value per example, bucket edges)}: the shortest path length, in about 6 equal buckets."""
    path = _path_length(labels)
    lo, hi = int(path.min()), int(path.max()) + 1
    width = max(1, math.ceil((hi - lo) / 6))
    return {"path_length": (path, list(range(lo, hi + width, width)))}


def difficulty_summary(inputs: np.ndarray, labels: np.ndarray, ratings, grid) -> dict[str, float]:
    """How hard the evaluated mazes are: path length mean/min/max and the canvas side."""
    path = _path_length(labels)
    return {"path_length_mean": float(path.mean()), "path_length_min": int(path.min()),
            "path_length_max": int(path.max()), "grid_side": int(grid[0])}


def one_pass_answers(inputs: np.ndarray) -> np.ndarray:
    """The no-reasoning baseline as tokens: the maze copied unchanged."""
    return np.asarray(inputs, dtype=np.int64)


def tta_transforms(rng: np.random.Generator, n: int, seq_len: int) -> list:
    """``n`` random (forward, inverse) token maps of ``eval --tta``: distinct dihedral transforms of the canvas."""
    side = _structure_side(seq_len)
    shape = lambda t: np.asarray(t).reshape(-1, side, side)  # noqa: E731
    return [(lambda t, tid=tid: augment(shape(t), tid).reshape(len(t), -1),
             lambda t, tid=tid: invert(shape(t), tid).reshape(len(t), -1)) for tid in random_views(rng, n)]


def view_puzzle(tokens: np.ndarray, grid) -> np.ndarray:
    """A data set row's input on its ``grid`` canvas as `hrmkit solve` reads it (``eval --views``)."""
    return from_tokens(tokens, tuple(int(x) for x in grid))


def answer_tokens(answer: np.ndarray, seq_len: int) -> np.ndarray:
    """An answer grid as a data set row's tokens on the square canvas of ``seq_len`` cells."""
    return to_tokens(answer, _structure_side(seq_len))
