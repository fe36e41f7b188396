"""Mazes: file format and errors, tokens, BFS against brute force, the verifier, the generator, symmetries."""

import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import detect, maze

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "maze-small.txt"

SMALL = "#####\n#S  #\n# # #\n#  G#\n#####"  # two shortest paths (around either side of the pillar)
CORRIDOR = "######\n#S  G#\n######"


def grid(text: str) -> np.ndarray:
    return maze.parse(text)


def mark(puzzle: np.ndarray, cells) -> np.ndarray:
    out = puzzle.copy()
    for r, c in cells:
        out[r, c] = maze.PATH
    return out


# ----------------------------------------------------------------------------- file format


def test_parse_format_round_trip():
    assert maze.format_pretty(grid(SMALL)) == SMALL
    g = grid(SMALL)
    assert g.dtype == np.uint8 and g.shape == (5, 5) and g[1, 1] == maze.START and g[3, 3] == maze.GOAL
    assert np.array_equal(maze.parse_flat(maze.format_one_line(g)), g)


def test_example_file():
    records = maze.read(EXAMPLE)
    assert len(records) == 4 and detect(EXAMPLE) is maze
    assert [r.line for r in records] == [5, 17, 29, 41]
    assert [r.puzzle.shape for r in records] == [(11, 11)] * 3 + [(21, 21)]
    for r in records:
        assert not (r.puzzle == maze.PATH).any()  # the puzzle never shows the path
        assert maze.solve_exact(r.puzzle).status == "solved"
    given = records[1]
    assert given.solution is not None and maze.verify(given.puzzle, given.solution)
    assert records[0].solution is None
    assert maze.format_pretty(maze.parse(records[1].text)) == records[1].text


def test_blocks_comments_crlf_and_open_rows(tmp_path):
    open_row = "#S  #\n     \n#  G#"  # an all-open row inside a block (as wide as the block)
    text = "; comment first\n\n\n" + SMALL + "\n   \n; between\n" + CORRIDOR + "\n\n" + open_row + "\n"
    path = tmp_path / "m.txt"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    records = maze.read(path)
    assert [r.line for r in records] == [4, 11, 15]
    assert np.array_equal(records[0].puzzle, grid(SMALL)) and np.array_equal(records[1].puzzle, grid(CORRIDOR))
    assert records[2].puzzle.shape == (3, 5) and (records[2].puzzle[1] == maze.OPEN).all()
    assert maze.solve_exact(records[2].puzzle).info["path_length"] == 4


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("#####\n#S G#\n####", 4, "row 3 has 4 cells, the maze's first row has 5 (ragged rows)"),
        ("#####\n#S*G#\n#####", 3, "bad character '*' in column 3"),
        ("#####\n#S\tG#\n#####", 3, "bad character '\\t'"),
        ("#####\n#  G#\n#####", 2, "no start 'S' in the maze"),
        ("#####\n#SGG#\n#####", 2, "2 goal 'G's in the maze (row 2 col 3, row 2 col 4)"),
    ],
)
def test_bad_mazes_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.txt"
    path.write_text("; header\n" + body + "\n\n" + CORRIDOR + "\n")
    with pytest.raises(HrmkitError) as err:
        maze.read(path)
    assert str(err.value).startswith(f"{path}:{line}: ") and message in str(err.value)
    records = maze.read(path, skip_invalid=True)
    assert records[0].puzzle is None and records[0].error == str(err.value)
    assert records[1].error is None and np.array_equal(records[1].puzzle, grid(CORRIDOR))


def test_comment_inside_a_block_keeps_line_numbers(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("#####\n; a note\n#S G#\n#####\n#  x#\n")
    with pytest.raises(HrmkitError, match=f"^{path}:5: bad character 'x' in column 4"):
        maze.read(path)
    path.write_text("#####\n; a note\n#S G#\n#####\n")
    (record,) = maze.read(path)
    assert record.line == 1 and record.text == "#####\n#S G#\n#####" and record.puzzle.shape == (3, 5)


def test_hf_csv_layout(tmp_path):
    puzzles, solutions = maze.generate_batch(3, 9, 8, seed=0)
    rows = ["source,question,answer,rating"]
    rows += [f"gen,{maze.format_one_line(p)},{maze.format_one_line(s)},0" for p, s in zip(puzzles, solutions)]
    path = tmp_path / "train.csv"
    path.write_text("\n".join(rows) + "\n")
    assert maze.sniff(path.read_text()) and detect(path) is maze
    records = maze.read(path)
    assert [r.line for r in records] == [2, 3, 4]
    for r, p, s in zip(records, puzzles, solutions):
        assert np.array_equal(r.puzzle, p) and np.array_equal(r.solution, s) and maze.verify(r.puzzle, r.solution)
    bad = tmp_path / "bad.csv"
    bad.write_text(rows[0] + "\n" + rows[1] + "\ngen,#S  G,,0\n")
    with pytest.raises(HrmkitError, match=f"^{bad}:3: a one-line maze needs a square number of characters, got 5"):
        maze.read(bad)


def test_sniff(shared_data):
    assert maze.sniff(EXAMPLE.read_text()) and maze.sniff("; c\n" + CORRIDOR)
    sudoku_text = (shared_data / "sudoku" / "magictour_top1465.txt").read_text()
    assert not maze.sniff(sudoku_text)
    assert not maze.sniff("# Go solve these\n" + sudoku_text)  # a '#' comment made of maze characters
    assert not maze.sniff("source,question,answer,rating\nx,4.5..2.1......,,3\n")  # Sudoku CSV
    assert not maze.sniff('{"train": [], "test": []}') and not maze.sniff("")
    # walls only, or a maze missing its S or G: still a maze file, so that reading it names what is missing
    assert maze.sniff("#####\n#   #") and maze.sniff("#####\n#S  #\n#####")


def test_a_maze_without_a_goal_is_detected_and_named(tmp_path):
    from hrmkit.puzzles import detect

    path = tmp_path / "m.txt"
    path.write_text("#####\n#S  #\n#####\n")
    assert detect(path) is maze
    with pytest.raises(HrmkitError, match=r"m.txt:1: no goal 'G'"):
        maze.read(path)


# ----------------------------------------------------------------------------- tokens


def test_tokens_ids_padding_and_batches():
    g = grid(CORRIDOR)
    tokens = maze.to_tokens(g)
    assert tokens.dtype == np.uint8 and tokens.shape == (18,)
    assert tokens[:7].tolist() == [1, 1, 1, 1, 1, 1, 1] and tokens[7:11].tolist() == [3, 2, 2, 4]
    assert np.array_equal(maze.from_tokens(tokens, g.shape), g)
    padded = maze.to_tokens(g, size=6)
    assert padded.shape == (36,) and (padded.reshape(6, 6)[3:] == maze.PAD_ID).all()
    assert np.array_equal(maze.from_tokens(padded, g.shape), g)
    solution = maze.solve_exact(g).solution
    assert maze.to_tokens(solution)[8:10].tolist() == [6 - 1, 6 - 1]  # 'o' is id 5
    batch = np.stack([g, solution])
    assert np.array_equal(maze.from_tokens(maze.to_tokens(batch, size=6), g.shape), batch)
    with pytest.raises(HrmkitError, match="not a maze cell"):
        maze.from_tokens(padded)  # pad inside the requested crop
    garbage = maze.to_tokens(solution, size=6)
    garbage[8] = 0
    decoded = maze.from_tokens(garbage, g.shape, strict=False)
    assert decoded[1, 2] == maze.WALL and not maze.verify(g, decoded)
    with pytest.raises(HrmkitError, match="does not fit"):
        maze.to_tokens(g, size=5)


# ----------------------------------------------------------------------------- BFS against brute force


def brute_force(puzzle: np.ndarray):
    """(shortest length, number of shortest paths) over every simple S-G path, or (None, 0)."""
    h, w = puzzle.shape
    (s,), (g,) = np.argwhere(puzzle == maze.START), np.argwhere(puzzle == maze.GOAL)
    best, count = None, 0
    seen = {tuple(s)}

    def walk(cell, length):
        nonlocal best, count
        if cell == tuple(g):
            if best is None or length < best:
                best, count = length, 1
            elif length == best:
                count += 1
            return
        r, c = cell
        for nxt in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nxt[0] < h and 0 <= nxt[1] < w and puzzle[nxt] != maze.WALL and nxt not in seen:
                seen.add(nxt)
                walk(nxt, length + 1)
                seen.remove(nxt)

    walk(tuple(s), 0)
    return best, count


@st.composite
def small_mazes(draw, max_side=4):
    h, w = draw(st.integers(1, max_side)), draw(st.integers(2, max_side))
    cells = draw(st.lists(st.sampled_from([maze.WALL, maze.OPEN, maze.OPEN]), min_size=h * w, max_size=h * w))
    g = np.array(cells, dtype=np.uint8).reshape(h, w)
    s, t = draw(st.lists(st.integers(0, h * w - 1), min_size=2, max_size=2, unique=True))
    g.flat[s], g.flat[t] = maze.START, maze.GOAL
    return g


@settings(max_examples=300, deadline=None)
@given(small_mazes())
def test_bfs_matches_brute_force(puzzle):
    best, count = brute_force(puzzle)
    result = maze.solve_exact(puzzle)
    if best is None:
        assert result.status == "unsolvable" and result.solution is None
        return
    assert result.info == {"path_length": best, "shortest_paths": count}
    assert result.status == ("solved" if count == 1 else "multiple")
    assert maze.verify(puzzle, result.solution)
    assert len(maze.shortest_path(puzzle)) == best + 1


def test_unsolvable_and_multiple():
    walled = grid("#####\n#S#G#\n#####")
    assert maze.solve_exact(walled).status == "unsolvable" and maze.shortest_path(walled) is None
    assert not maze.verify(walled, walled)
    result = maze.solve_exact(grid(SMALL))
    assert result.status == "multiple" and result.info == {"path_length": 4, "shortest_paths": 2}


# ----------------------------------------------------------------------------- the verifier


def test_verifier_accepts_every_shortest_path_and_rejects_bad_ones():
    p = grid(SMALL)
    right = mark(p, [(1, 2), (1, 3), (2, 3)])  # along the top then down
    down = mark(p, [(2, 1), (3, 1), (3, 2)])  # down then along the bottom
    assert maze.verify(p, right) and maze.verify(p, down)
    assert maze.verify(right, down)  # a puzzle given with its path: the 'o' cells are ignored
    bad = {
        "diagonal step": mark(p, [(1, 2), (2, 3)]),
        "through a wall": mark(p, [(1, 2), (2, 2), (3, 2)]),
        "too long": mark(p, [(1, 2), (1, 3), (2, 3), (2, 1), (3, 1), (3, 2)]),
        "too short": mark(p, [(1, 2), (1, 3)]),
        "stray cell": mark(p, [(1, 2), (1, 3), (3, 1)]),
        "no path": p,
    }
    for name, solution in bad.items():
        assert not maze.verify(p, solution), name
    missing_s = right.copy()
    missing_s[1, 1] = maze.PATH
    moved_g = right.copy()
    moved_g[3, 3], moved_g[3, 2] = maze.OPEN, maze.GOAL
    wall_removed = right.copy()
    wall_removed[0, 2] = maze.OPEN
    for name, solution in {"missing S": missing_s, "moved G": moved_g, "wall removed": wall_removed}.items():
        assert not maze.verify(p, solution), name
    assert not maze.verify(p, right[:, :4]) and not maze.verify(p, right.astype(float))
    with pytest.raises(HrmkitError, match="exactly one 'S'"):
        maze.verify(missing_s, right)


# ----------------------------------------------------------------------------- generator


@pytest.mark.parametrize("n, min_length", [(10, 12), (21, 60), (30, 110)])
def test_generator_meets_min_length_with_unique_paths(n, min_length):
    puzzles, solutions = maze.generate_batch(20, n, min_length, seed=1)
    assert puzzles.shape == solutions.shape == (20, n, n) and puzzles.dtype == np.uint8
    for p, s in zip(puzzles, solutions):
        result = maze.solve_exact(p)
        assert result.status == "solved" and result.info["path_length"] >= min_length
        assert np.array_equal(result.solution, s) and maze.verify(p, s)
        assert (p[0] == maze.WALL).all() and (p[:, -1] == maze.WALL).all()  # the border
    assert len({p.tobytes() for p in puzzles}) == 20


def test_generator_is_seeded():
    a, b, c = (maze.generate_batch(5, 15, 20, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert np.array_equal(maze.generate_batch(2, 15, 20, seed=3)[0], a[0][:2])  # a longer batch extends a shorter
    loopy = maze.generate_batch(5, 15, 0, seed=3, loops=0.5, unique=False, border=False)[0]
    assert not np.array_equal(loopy, a[0])


def test_generator_impossible_request_is_a_clear_error():
    with pytest.raises(HrmkitError, match="could not generate a 6x6 maze with a shortest path of at least 40"):
        maze.generate(6, 40, rng=np.random.default_rng(0), max_tries=5)
    with pytest.raises(HrmkitError, match="maze size must be at least 4"):
        maze.generate(3, rng=np.random.default_rng(0))


@pytest.mark.slow
def test_generator_throughput():
    """The brief: thousands of 10x10..30x30 mazes per minute (measured ~20,000/min at 30x30, L >= 110)."""
    start = time.perf_counter()
    total = 0
    for n, min_length in ((10, 10), (20, 40), (30, 110)):
        total += len(maze.generate_batch(300, n, min_length, seed=0)[0])
    assert total / (time.perf_counter() - start) * 60 > 3000


# ----------------------------------------------------------------------------- symmetries


def test_dihedral_matches_numpy_definitions():
    a = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    reference = [
        lambda x: x,
        lambda x: np.rot90(x, 1, axes=(-2, -1)),
        lambda x: np.rot90(x, 2, axes=(-2, -1)),
        lambda x: np.rot90(x, 3, axes=(-2, -1)),
        lambda x: np.flip(x, -1),
        lambda x: np.flip(x, -2),
        lambda x: np.swapaxes(x, -1, -2),
        lambda x: np.flip(np.rot90(x, 1, axes=(-2, -1)), -1),
    ]
    images = set()
    for tid, ref in enumerate(reference):
        assert np.array_equal(maze.dihedral(a, tid), ref(a)), tid
        assert np.array_equal(maze.dihedral(a[0], tid), ref(a[0])), tid  # single grid = batch item
        images.add(maze.dihedral(a[0], tid).tobytes() + bytes(maze.dihedral(a[0], tid).shape))
    assert len(images) == 8
    with pytest.raises(HrmkitError, match="0..7"):
        maze.dihedral(a, 8)


@settings(max_examples=100, deadline=None)
@given(small_mazes(max_side=6), st.integers(0, 7), st.integers(1, 3))
def test_augment_then_invert_is_identity(puzzle, tid, batch):
    assert np.array_equal(maze.invert(maze.augment(puzzle, tid), tid), puzzle)
    stack = np.stack([puzzle] * batch)
    assert np.array_equal(maze.invert(maze.augment(stack, tid), tid), stack)
    assert np.array_equal(maze.augment(stack, tid)[0], maze.augment(puzzle, tid))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 7))
def test_augmentation_preserves_path_optimality(seed, tid):
    puzzle, solution = maze.generate(12, 10, rng=np.random.default_rng(seed), loops=0.3, unique=False)
    p, s = maze.augment(puzzle, tid), maze.augment(solution, tid)
    assert maze.verify(p, s)
    before, after = maze.solve_exact(puzzle), maze.solve_exact(p)
    assert after.info == before.info and after.status == before.status
    assert maze.verify(puzzle, maze.invert(after.solution, tid))
