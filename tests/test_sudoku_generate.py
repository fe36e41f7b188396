"""Generated Sudoku that need search: the guesses band, minimal puzzles, `hrmkit data build sudoku` options
(--min-guesses, --max-guesses, --rating, --minimal and their --test-* forms, also through DVC's params), and
training puzzles equivalent to a test puzzle (dropped, said, replaced from the generator's stream)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.data.format import open_dataset
from hrmkit.errors import HrmkitError
from hrmkit.puzzles import _sudoku_py as reference
from hrmkit.puzzles import sudoku as S

REPO = Path(__file__).resolve().parents[1]


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def ref_solve(grid) -> tuple[int, int]:
    """(solutions up to 2, guesses) from the pure-Python reference solver, not the C kernel the generator uses."""
    count, _, guesses = reference.solve(np.asarray(grid, np.int8).tobytes(), 2)
    return count, guesses


def grids(split) -> np.ndarray:
    """(n, 81) digit grids (0 blank) of a built split's inputs."""
    return np.asarray(split.arrays.inputs, np.int64).astype(np.int8) - 1


# ---- the generator ------------------------------------------------------------------------------------------


def test_guesses_band_holds_by_an_independent_count():
    for band in [(1, None), (4, 12)]:
        puzzles = S.generate(12, rating=band, seed=5)
        for p in puzzles:
            count, guesses = ref_solve(p.grid)
            assert count == 1 and S.verify(p.grid, p.answer)
            assert guesses == p.rating and guesses >= band[0] and (band[1] is None or guesses <= band[1])
    # the band is a real filter: the unfiltered stream of the same seed has puzzles outside both bands
    free = [ref_solve(p.grid)[1] for p in S.generate(12, seed=5)]
    assert 0 in free and any(g > 12 or g < 4 for g in free)
    # any search costs at least 2 guesses (every digit of a branch is tried to prove uniqueness)
    assert all(g == 0 or g >= 2 for g in free)


def test_minimal_puzzles_need_every_given():
    puzzles = S.generate(6, minimal=True, seed=2)
    assert all((a.grid == b.grid).all() for a, b in zip(puzzles, S.generate(6, seed=2)))  # the default shape
    for p in puzzles:
        assert S.count_solutions(p.grid)[0] == 1
        for cell in np.flatnonzero(p.grid):  # every given: without it, two solutions or more
            g = p.grid.copy()
            g[cell] = 0
            assert S.count_solutions(g)[0] == 2, (S.format_one_line(p.grid), cell)
    p = puzzles[0]  # once more with the reference solver
    for cell in np.flatnonzero(p.grid):
        g = p.grid.copy()
        g[cell] = 0
        assert ref_solve(g)[0] == 2
    # the check can fail: a puzzle carved only down to 40 givens still has givens it does not need
    loose = S.generate(1, givens=40, seed=2)[0]
    assert any(S.count_solutions(np.where(np.arange(81) == c, 0, loose.grid).astype(np.int8))[0] == 1
               for c in np.flatnonzero(loose.grid))


def test_stream_prefix_seeding_and_argument_errors():
    longer = S.generate(5, rating=(1, None), seed=9)
    shorter = S.generate(3, rating=(1, None), seed=9)
    assert all((a.grid == b.grid).all() for a, b in zip(shorter, longer))
    stream = S.generate_iter(rating=(1, None), seed=9)
    assert all((next(stream).grid == p.grid).all() for p in longer)
    with pytest.raises(HrmkitError, match="givens=30 and minimal"):
        S.generate(1, givens=30, minimal=True)
    with pytest.raises(HrmkitError, match="guesses band"):
        S.generate(1, rating=(5, 2))
    with pytest.raises(HrmkitError, match=r"could not generate a Sudoku \(75-75 givens, 50-60 guesses\) in 3 tries"):
        S.generate(1, givens=75, rating=(50, 60), max_tries=3)


# ---- hrmkit data build --------------------------------------------------------------------------------------


def test_cli_guesses_and_minimal_options_reach_both_splits(tmp_path):
    out = tmp_path / "ds"
    r = cli("data", "build", "sudoku", "--source", "generate", "--count", 12, "--test-source", "generate",
            "--test-count", 5, "--minimal", "--min-guesses", 2, "--max-guesses", 30, "--test-min-guesses", 20,
            "--seed", 4, "--out", out)
    assert r.exit_code == 0, r.output
    ds = open_dataset(out)
    train, test = grids(ds.split("train")), grids(ds.split("test"))
    assert (len(train), len(test)) == (12, 5)
    for g, rating in zip(train, ds.split("train").arrays.ratings):
        count, guesses = ref_solve(g)
        assert count == 1 and 2 <= guesses <= 30 and guesses == rating
    for g in test:  # its own band, no upper bound (the training maximum is not inherited)
        assert ref_solve(g)[1] >= 20
    for g in np.concatenate([train, test])[::4]:  # minimal in both splits
        assert all(S.count_solutions(np.where(np.arange(81) == c, 0, g).astype(np.int8))[0] == 2
                   for c in np.flatnonzero(g))
    opts = json.loads((out / "provenance.json").read_text())["parameters"]["family_options"]
    assert opts == {"givens": None, "minimal": True, "rating": [2, 30], "test_givens": None, "test_minimal": None,
                    "test_rating": [20, None]}

    # --rating MIN-MAX is the same band: the same puzzles
    r = cli("data", "build", "sudoku", "--source", "generate", "--count", 12, "--test-source", "generate",
            "--test-count", 5, "--rating", "2-30", "--test-min-guesses", 20, "--seed", 4, "--out", tmp_path / "alias")
    assert r.exit_code == 0, r.output
    assert np.array_equal(grids(open_dataset(tmp_path / "alias").split("train")), train)

    # --test-givens: the test split's own shape, the training split keeps its own
    r = cli("data", "build", "sudoku", "--source", "generate", "--count", 4, "--test-source", "generate",
            "--test-count", 3, "--test-givens", "45-50", "--seed", 1, "--out", tmp_path / "shapes")
    assert r.exit_code == 0, r.output
    shapes = open_dataset(tmp_path / "shapes")
    assert all(45 <= n <= 50 for n in (grids(shapes.split("test")) > 0).sum(1))
    assert all(n < 36 for n in (grids(shapes.split("train")) > 0).sum(1))  # minimal ones: far fewer givens


@pytest.mark.parametrize("args, message", [
    (["--rating", "2-9", "--min-guesses", "2"], "give one of the two spellings"),
    (["--min-guesses", "9", "--max-guesses", "3"], "--min-guesses 9 is above --max-guesses 3"),
    (["--test-min-guesses", "9", "--test-max-guesses", "3"], "--test-min-guesses 9 is above --test-max-guesses 3"),
    (["--min-guesses", "-1"], "--min-guesses must be >= 0"),
    (["--givens", "30", "--minimal"], "--givens and --minimal contradict each other"),
    (["--test-givens", "30", "--test-minimal"], "--test-givens and --test-minimal contradict each other"),
    (["--no-minimal"], "--no-minimal needs --givens"),
])
def test_cli_refuses_contradictory_options_with_one_error(tmp_path, args, message):
    out = tmp_path / "ds"
    r = cli("data", "build", "sudoku", "--source", "generate", "--count", 4, "--test-source", "generate",
            "--test-count", 2, *args, "--out", out)
    assert r.exit_code == 1 and message in r.output, r.output
    assert r.output.strip().count("\n") == 0 and r.output.startswith("error: ") and not out.exists()


def test_cli_refuses_generator_options_for_a_split_that_is_not_generated(tmp_path):
    lines = REPO / "examples" / "sudoku-lines.txt"
    r = cli("data", "build", "sudoku", "--source", lines, "--test-fraction", 0.3, "--min-guesses", 2,
            "--out", tmp_path / "a")
    assert r.exit_code == 1, r.output
    assert "--min-guesses/--max-guesses (--rating) applies to generated puzzles only, but neither split" in r.output
    r = cli("data", "build", "sudoku", "--source", "generate", "--count", 4, "--test-source", lines,
            "--test-minimal", "--out", tmp_path / "b")
    assert r.exit_code == 1 and "--test-minimal applies to generated puzzles only" in r.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_generated_training_puzzles_equivalent_to_test_are_dropped_said_and_replaced(tmp_path):
    stream = S.generate(8, rating=(1, None), seed=3)  # what the build generates for training at --seed 3
    rng = np.random.default_rng(0)
    test = tmp_path / "test.txt"  # training puzzles 1 and 4, disguised by random symmetries, and a stranger
    disguised = [S.apply(S.random_transform(rng), stream[i].grid) for i in (1, 4)]
    test.write_text("\n".join([S.format_one_line(g) for g in disguised]
                              + [S.format_one_line(S.generate(1, seed=99)[0].grid)]) + "\n")
    out = tmp_path / "ds"
    r = cli("data", "build", "sudoku", "--source", "generate", "--count", 6, "--min-guesses", 1,
            "--test-source", test, "--seed", 3, "--out", out)
    assert r.exit_code == 0, r.output
    assert ("note: dropped 2 training puzzles equivalent to a test puzzle (same up to the Sudoku symmetries"
            in r.stderr)
    assert "generated 2 more of the same seeded stream in their place" in r.stderr
    ds = open_dataset(out)
    build = ds.provenance["build"]
    assert build["dropped_equivalent_to_test"] == 2 and build["generated_in_place_of_dropped"] == 2
    train = grids(ds.split("train"))
    # --count holds: the six kept of the first six, then the next two of the stream, in stream order
    assert np.array_equal(train, np.stack([stream[i].grid for i in (0, 2, 3, 5, 6, 7)]))
    # and none is equivalent to a test puzzle, by canonical forms computed here
    test_forms = {S.canonical(g).tobytes() for g in grids(ds.split("test"))}
    assert len(test_forms) == 3 and not test_forms & {S.canonical(g).tobytes() for g in train}
    assert {S.canonical(g).tobytes() for g in disguised} <= test_forms

    # --no-leak-check keeps them (and says nothing)
    r = cli("data", "build", "sudoku", "--source", "generate", "--count", 6, "--min-guesses", 1,
            "--test-source", test, "--seed", 3, "--no-leak-check", "--out", tmp_path / "kept")
    assert r.exit_code == 0 and "note: dropped" not in r.stderr
    assert np.array_equal(grids(open_dataset(tmp_path / "kept").split("train")), np.stack([p.grid for p in stream[:6]]))


def test_options_reach_the_build_through_dvc_params(tmp_path):
    """DVC renders `options:` dicts into `--key value` (the project's .dvc/config: booleans as --flag/--no-flag);
    the command it renders is accepted by `hrmkit data build` and builds what the params say."""
    pytest.importorskip("dvc.repo")
    import yaml
    from dvc.repo import Repo

    repo = tmp_path / "repo"
    repo.mkdir()
    Repo.init(str(repo), no_scm=True).close()
    config = (REPO / ".dvc" / "config").read_text()  # the project's parsing rules, here without git
    assert "[core]\n" in config and "[parsing]" in config
    (repo / ".dvc" / "config").write_text(config.replace("[core]\n", "[core]\n    no_scm = true\n", 1))
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"build": {
        "cmd": "hrmkit data build sudoku --out data/ds ${build.options}", "params": ["build"],
        "outs": ["data/ds"]}}}))
    (repo / "params.yaml").write_text(yaml.safe_dump({"build": {"options": {
        "source": "generate", "count": 5, "test-source": "generate", "test-count": 2, "minimal": True,
        "min-guesses": 2, "max-guesses": 40, "test-min-guesses": 10, "seed": 0}}}))
    with Repo(str(repo)) as r:
        (stage,) = r.index.stages
        cmd = stage.cmd
    assert "--minimal" in cmd and "--min-guesses 2" in cmd and "--test-min-guesses 10" in cmd
    argv = shlex.split(cmd)
    assert argv[:3] == ["hrmkit", "data", "build"]
    out = tmp_path / "ds"
    argv[argv.index("--out") + 1] = str(out)
    result = cli(*argv[1:])
    assert result.exit_code == 0, result.output
    opts = json.loads((out / "provenance.json").read_text())["parameters"]["family_options"]
    assert opts["minimal"] is True and opts["rating"] == [2, 40] and opts["test_rating"] == [10, None]
    assert all(ref_solve(g)[1] >= 10 for g in grids(open_dataset(out).split("test")))
