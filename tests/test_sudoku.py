"""Sudoku family: parsing (every input style and its errors), tokens, solver, generator, symmetries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import _sudoku_py, detect
from hrmkit.puzzles import sudoku as S

# An easy puzzle (singles only) and its solution, checked by hand against a newspaper source.
EASY = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
EASY_SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


def grid(text: str) -> np.ndarray:
    return S.parse_line(text).grid


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def magictour(shared_data) -> list[str]:
    lines = (shared_data / "sudoku" / "magictour_top1465.txt").read_text().split()
    assert len(lines) == 1465
    return lines


# ---- parsing ------------------------------------------------------------------------------------------------


def test_read_lines_grids_and_csv_styles(tmp_path):
    zeros = EASY.replace(".", "0")
    lines = write(tmp_path, "a.txt", f"# comment\n\n{EASY}\n  {zeros}  \n")
    recs = S.read(lines)
    assert [r.line for r in recs] == [3, 4]
    assert all((r.puzzle.grid == grid(EASY)).all() for r in recs)
    assert recs[0].text == EASY and recs[0].index == 0 and recs[1].index == 1

    pretty = S.format_pretty(grid(EASY))
    plain = "\n".join(EASY[9 * r : 9 * r + 9] for r in range(9))
    grids = write(tmp_path, "g.txt", f"# two grids\n{pretty}\n\n{plain}\n")
    recs = S.read(grids)
    assert [r.line for r in recs] == [2, 14] and all(r.text == EASY for r in recs)
    assert all((r.puzzle.grid == grid(EASY)).all() for r in recs)

    csv_path = write(tmp_path, "c.csv", f"source,question,answer,rating\n# c\nnews,{zeros},{EASY_SOLUTION},3\nx,{EASY},,\n")
    first, second = S.read(csv_path)
    assert first.line == 3 and first.puzzle.source == "news" and first.puzzle.rating == 3.0
    assert S.format_one_line(first.puzzle.answer) == EASY_SOLUTION
    assert second.puzzle.answer is None and second.puzzle.rating is None
    for path in (lines, grids, csv_path):
        assert detect(path) is S


@pytest.mark.parametrize(
    "text, line, message",
    [
        (f"# c\n{EASY}\n{EASY[:-1]}\n", 3, "80 cells, expected 81"),
        (f"{EASY[:10]}x{EASY[11:]}\n", 1, "bad character 'x' at column 11"),
        (f"\n55{EASY[2:]}\n", 2, "digit 5 twice in row 1"),
        ("\n".join(EASY[9 * r : 9 * r + 9] for r in range(8)) + "\n", 1, "grid has 8 rows"),
        ("# g\n" + "\n".join(EASY[9 * r : 9 * r + 9] for r in range(4)) + "\n12.4\n" + "\n" * 4, 2, "line 6 has 4 cells"),
        ("\n".join(("53.57" + EASY[5:])[9 * r : 9 * r + 9] for r in range(9)), 1, "digit 5 twice in row 1"),
        (f"source,question,answer,rating\nx,{EASY},{EASY_SOLUTION[::-1]},1\n", 2, "contradicts its question"),
        (f"source,question,answer,rating\nx,{EASY},{EASY_SOLUTION},hard\n", 2, "not a number"),
        (f"source,question,answer,rating\nx,{EASY[:-2]},,\n", 2, "79 cells"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(HrmkitError, match=rf"^{path}:{line}: .*{message}"):
        S.read(path)
    recs = S.read(path, skip_invalid=True)
    bad = [r for r in recs if r.error]
    assert len(bad) == 1 and bad[0].puzzle is None and bad[0].error.startswith(f"{path}:{line}: ")


def test_skip_invalid_keeps_the_rest(tmp_path):
    path = write(tmp_path, "mixed.txt", f"{EASY}\n{EASY[:40]}\n{EASY}\n")
    recs = S.read(path, skip_invalid=True)
    assert [r.error is None for r in recs] == [True, False, True] and [r.index for r in recs] == [0, 1, 2]


def test_format_and_tokens_round_trip():
    g = grid(EASY)
    assert S.format_one_line(g) == EASY
    assert (S.parse_text(S.format_pretty(g)).grid == g).all()
    tokens = S.to_tokens(g)
    assert tokens.min() == 1 and tokens.max() == 10 and tokens[2] == 1 and tokens[0] == 6
    batch = np.stack([g, grid(EASY_SOLUTION)])
    assert (S.from_tokens(S.to_tokens(batch)) == batch).all()
    assert (S.from_tokens(np.zeros(81, dtype=np.int64)) == 0).all()  # pad decodes to blank
    with pytest.raises(ValueError):
        S.from_tokens(np.full(81, 11))


# ---- solver and verifier ------------------------------------------------------------------------------------


def test_solver_statuses_and_guesses():
    easy = S.solve_exact(grid(EASY))
    assert easy.status == "solved" and S.format_one_line(easy.solution) == EASY_SOLUTION
    assert easy.info["guesses"] == 0  # singles alone solve it
    assert S.solve_exact(np.zeros(81, dtype=np.int8)).status == "multiple"
    two = grid(EASY).copy()
    two[np.nonzero(two)[0][:12]] = 0
    assert S.solve_exact(two).status == "multiple"
    # no digit conflicts among the givens, but cell 2 (row 1) has no candidate left: 1..9 all excluded
    dead = np.zeros(81, dtype=np.int8)
    dead[[0, 1, 3, 4, 5, 6, 7]] = [1, 2, 3, 4, 5, 6, 7]
    dead[[9 * 1 + 2, 9 * 2 + 2]] = [8, 9]
    assert S.solve_exact(dead).status == "unsolvable" and S.solve_exact(dead).solution is None
    conflict = grid(EASY).copy()
    conflict[1] = 5  # two 5s in row 1
    assert S.solve_exact(conflict).status == "unsolvable"


def test_solver_on_every_magictour_puzzle(magictour):
    # The whole file with the C kernels (~0.2 s); a stride of it with the pure-Python fallback (~100/s).
    puzzles = magictour if S.BACKEND == "c" else magictour[::10]
    guesses = []
    for line in puzzles:
        result = S.solve_exact(grid(line))
        assert result.status == "solved" and S.verify(grid(line), result.solution), line
        guesses.append(result.info["guesses"])
    assert max(guesses) > 100 and min(guesses) >= 1  # the hardest ones need real search


def test_python_and_c_kernels_agree_on_a_stride_of_magictour(magictour):
    fast = pytest.importorskip("hrmkit.puzzles._sudoku_fast", reason="C kernels not built (pip install -e .)")
    for line in magictour[::15]:
        g = grid(line).tobytes()
        assert _sudoku_py.solve(g) == fast.solve(g), line
    for line in magictour[:4]:
        solution = fast.solve(grid(line).tobytes())[1]
        for g in (grid(line), np.frombuffer(solution, dtype=np.int8)):
            assert _sudoku_py.canonical(g).tobytes() == fast.canonical(g.tobytes())


@pytest.mark.slow
def test_python_and_c_kernels_agree_on_every_magictour_puzzle(magictour):
    fast = pytest.importorskip("hrmkit.puzzles._sudoku_fast", reason="C kernels not built (pip install -e .)")
    for line in magictour:  # ~15 s: the Python solver does ~100 puzzles/s on these
        g = grid(line).tobytes()
        assert _sudoku_py.solve(g) == fast.solve(g), line


def test_verify():
    g, s = grid(EASY), grid(EASY_SOLUTION)
    assert S.verify(g, s) and S.verify(S.Sudoku(g), s)
    wrong_given = s.copy()
    wrong_given[[0, 1]] = wrong_given[[1, 0]]  # swaps a given: row still valid, givens not kept
    assert not S.verify(g, wrong_given)
    incomplete = s.copy()
    incomplete[80] = 0
    assert not S.verify(g, incomplete)
    invalid = s.copy()
    invalid[2], invalid[3] = invalid[3], invalid[2]  # cells 2,3 are blanks of EASY; boxes now break
    assert not S.verify(g, invalid)
    assert not S.verify(g, s[:80])


def test_one_pass_baseline_fills_only_single_candidates():
    s = grid(EASY_SOLUTION)
    g = s.copy()
    g[[0, 40]] = 0  # lone blanks: one candidate each
    g2 = s.copy()
    g2[9 * 8 :] = 0  # a whole empty row: every cell there still has one candidate (its column)
    out = S.one_pass_baseline(g)
    assert (out == s).all() and (S.one_pass_baseline(g2) == s).all()
    hard = grid(EASY)  # many blanks with several candidates: one pass fills some, not all
    once = S.one_pass_baseline(hard)
    assert (once[hard > 0] == hard[hard > 0]).all() and (hard > 0).sum() < (once > 0).sum() < 81
    assert (once[once > 0] == s[once > 0]).all()  # what it fills is right
    assert (S.one_pass_baseline(np.stack([g, hard])) == np.stack([out, once])).all()


# ---- generator ----------------------------------------------------------------------------------------------


def test_generator_unique_with_requested_givens_and_seeded():
    puzzles = S.generate(40, givens=(40, 55), seed=7)
    counts = [(p.grid > 0).sum() for p in puzzles]
    assert all(40 <= c <= 55 for c in counts) and len(set(counts)) > 5
    for p in puzzles:
        assert S.count_solutions(p.grid)[0] == 1 and S.verify(p.grid, p.answer)
    again = S.generate(3, givens=(40, 55), seed=7)
    assert all((a.grid == b.grid).all() for a, b in zip(puzzles, again))
    assert not (S.generate(1, givens=(40, 55), seed=8)[0].grid == puzzles[0].grid).all()
    exact = S.generate(5, givens=30, seed=1)
    assert all((p.grid > 0).sum() == 30 and S.count_solutions(p.grid)[0] == 1 for p in exact)


def test_generator_rating_band_and_minimal_puzzles():
    puzzles = S.generate(5, rating=(8, 10_000), seed=3)
    for p in puzzles:
        assert p.rating >= 8 and S.solve_exact(p.grid).info["guesses"] == p.rating
        assert S.count_solutions(p.grid)[0] == 1
        for cell in np.nonzero(p.grid)[0][:5]:  # minimal: removing any given breaks uniqueness
            g = p.grid.copy()
            g[cell] = 0
            assert S.count_solutions(g)[0] == 2
    with pytest.raises(HrmkitError, match="could not generate"):
        S.generate(1, givens=75, rating=(50, 60), seed=0, max_tries=3)
    with pytest.raises(HrmkitError, match="givens must be"):
        S.generate(1, givens=10)


# ---- symmetries (property tests) ----------------------------------------------------------------------------

SOLVED = [(p.grid, p.answer) for p in S.generate(6, givens=(24, 40), seed=11)]
cases = st.tuples(st.integers(0, len(SOLVED) - 1), st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(cases)
def test_augment_then_invert_is_identity(case):
    k, seed = case
    t = S.random_transform(np.random.default_rng(seed))
    puzzle, solution = SOLVED[k]
    assert (S.invert(t, S.apply(t, puzzle)) == puzzle).all()
    batch = np.stack([puzzle, solution])
    assert (S.invert(t, S.apply(t, batch)) == batch).all()
    assert (S.apply(t, batch)[1] == S.apply(t, solution)).all()


@settings(max_examples=60, deadline=None)
@given(cases)
def test_every_augmentation_of_a_solved_grid_is_solved(case):
    k, seed = case
    t = S.random_transform(np.random.default_rng(seed))
    puzzle, solution = SOLVED[k]
    assert S.verify(S.apply(t, puzzle), S.apply(t, solution))
    assert (S.solve_exact(S.apply(t, puzzle)).solution == S.apply(t, solution)).all()


def _relabel(g: np.ndarray) -> np.ndarray:
    """Digits renamed in order of first appearance: the representative the canonical form minimises over."""
    mapping, out = {}, []
    for v in g.tolist():
        out.append(0 if v == 0 else mapping.setdefault(v, len(mapping) + 1))
    return np.array(out, dtype=np.int8)


@settings(max_examples=40, deadline=None)
@given(cases)
def test_canonical_form_is_the_same_for_every_symmetry_image(case):
    k, seed = case
    t = S.random_transform(np.random.default_rng(seed))
    for g in SOLVED[k]:
        c = S.canonical(g)
        image = S.apply(t, g)
        assert (S.canonical(image) == c).all()
        assert tuple(c) <= tuple(_relabel(image))  # the minimum over the group
        counts = np.bincount(c, minlength=10)  # same blanks, same digit frequencies up to relabelling
        assert counts[0] == (g == 0).sum() and sorted(counts[1:]) == sorted(np.bincount(g, minlength=10)[1:])


def test_canonical_separates_different_grids():
    a, b = SOLVED[0][1], SOLVED[1][1]
    assert not (S.canonical(a) == S.canonical(b)).all()
    assert (S.canonical(S.canonical(a)) == S.canonical(a)).all()
    swapped = a.reshape(9, 9)[[1, 0, 2, 3, 4, 5, 6, 7, 8]].reshape(81)  # a symmetry...
    assert (S.canonical(swapped) == S.canonical(a)).all()
    puzzle = SOLVED[0][0]
    fewer = puzzle.copy()
    fewer[np.nonzero(fewer)[0][0]] = 0
    assert not (S.canonical(fewer) == S.canonical(puzzle)).all()


def _hub_csv(shared_data, n: int) -> list[str]:
    """Rows in the Hub data sets' layout (source,question,answer,rating) from real hard puzzles."""
    lines = [ln.strip() for ln in (shared_data / "sudoku" / "magictour_top1465.txt").read_text().splitlines()
             if ln.strip()][:n]
    rows = []
    for i, line in enumerate(lines):
        answer = "".join(map(str, S.solve_exact(S.parse_line(line).grid).solution.reshape(-1)))
        rows.append(f"src{i % 3},{line.replace('.', '0') if i % 2 else line},{answer},{i % 17}")
    return rows


def test_the_fast_csv_reader_gives_the_line_by_line_records(tmp_path, shared_data, monkeypatch):
    rows = _hub_csv(shared_data, 300)
    path = write(tmp_path, "hub.csv", "source,question,answer,rating\n" + "\n".join(rows) + "\n")
    fast = S.read(path)
    monkeypatch.setattr(S, "_read_csv_fast", lambda *args: None)  # force the line-by-line reader
    slow = S.read(path)
    assert len(fast) == len(slow) == 300
    for a, b in zip(fast, slow):
        assert (a.index, a.line, a.text, a.error) == (b.index, b.line, b.text, b.error)
        assert np.array_equal(a.puzzle.grid, b.puzzle.grid) and a.puzzle.grid.dtype == b.puzzle.grid.dtype
        assert np.array_equal(a.puzzle.answer, b.puzzle.answer)
        assert (a.puzzle.rating, a.puzzle.source) == (b.puzzle.rating, b.puzzle.source)


@pytest.mark.parametrize("damage, message", [
    (lambda q, a: (q[:40] + "x" + q[41:], a), "bad character 'x' at column 41 of the puzzle"),
    (lambda q, a: (q, a[:80] + ("1" if a[80] != "1" else "2")), "the answer contradicts its question"),
    (lambda q, a: (q[:80], a), "the puzzle has 80 cells"),
    (lambda q, a: (a[:1] + a[:1] + q[2:], a), "givens conflict"),
])
def test_a_bad_row_in_a_large_csv_is_named_by_its_line(tmp_path, shared_data, damage, message):
    rows = _hub_csv(shared_data, 200)
    src, q, a, rating = rows[150].split(",")
    q, a = damage(q, a)
    rows[150] = ",".join([src, q, a, rating])
    path = write(tmp_path, "hub.csv", "source,question,answer,rating\n" + "\n".join(rows) + "\n")
    with pytest.raises(HrmkitError, match=f"hub.csv:152: .*{message}"):
        S.read(path)


def test_a_line_of_the_wrong_length_is_detected_as_sudoku_and_named(tmp_path):
    path = write(tmp_path, "short.txt", EASY[:80] + "\n")
    assert detect(path) is S
    with pytest.raises(HrmkitError, match="short.txt:1: the puzzle has 80 cells, expected 81"):
        S.read(path)
