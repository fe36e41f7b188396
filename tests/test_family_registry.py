"""The family registry (hrmkit.puzzles.FAMILIES): every family exports the contract, and the family lists and
per-family tables elsewhere are derived from it (a family added to the registry appears in them)."""

import sys
import types

import numpy as np
import pytest

from hrmkit import puzzles
from hrmkit.errors import HrmkitError


@pytest.mark.parametrize("name", list(puzzles.FAMILIES))
def test_every_family_exports_the_contract(name):
    module = puzzles.family(name)
    missing = [attr for attr in puzzles.CONTRACT if not hasattr(module, attr)]
    assert not missing, f"{name} lacks {missing}"
    assert module.NAME == name
    assert module.SEQ_LEN == module.GRID[0] * module.GRID[1]
    assert set(module.AUGMENTED_SPLITS) <= {"train", "test"} and "train" in module.AUGMENTED_SPLITS
    assert module.SHOW in ("text", "png")
    assert callable(puzzles.recipe(name))
    assert callable(puzzles.recipe_module(name).cli_options)
    assert callable(puzzles.data_checks(name))  # `data validate`'s suites (every family here has them)


def test_facts_are_the_authors_shapes():
    assert puzzles.seq_lens() == {"sudoku": 81, "maze": 900, "arc": 900}
    assert puzzles.family_of_shape(81, 11).NAME == "sudoku"
    assert puzzles.family_of_shape(900, 6).NAME == "maze"
    assert puzzles.family_of_shape(900, 12).NAME == "arc"
    assert puzzles.family_of_shape(900, 11) is None


def test_recipes_use_the_family_facts():
    from hrmkit.data import arc_recipe, sudoku_recipe

    for recipe, module in ((sudoku_recipe, puzzles.family("sudoku")), (arc_recipe, puzzles.family("arc"))):
        fam = recipe.family()
        assert (fam.name, fam.seq_len, fam.vocab_size, tuple(fam.grid), fam.augmentation_layout) == (
            module.NAME, module.SEQ_LEN, module.VOCAB_SIZE, tuple(module.GRID), module.AUGMENTATION_LAYOUT)


def test_tables_elsewhere_are_the_registry():
    from hrmkit.cli.convert import Task
    from hrmkit.data import build, format as fmt, validate
    from hrmkit.train import guard
    from hrmkit.zoo import official, pulling, registry

    names = puzzles.names()
    assert build.TASKS == names == registry.TASKS == guard._FAMILIES
    assert tuple(t.value for t in Task) == names
    assert official.TASK_SEQ_LEN == pulling._SEQ_LEN == puzzles.seq_lens()
    assert fmt.AUTHORS_FAMILIES == {(81, 11): ("sudoku", [9, 9], "sudoku-v1"), (900, 6): ("maze", [30, 30], "dihedral-v1"),
                                    (900, 12): ("arc", [30, 30], "arc-v1")}
    assert set(validate.FAMILY_FRAMES) == set(names)


@pytest.fixture
def fake_family(monkeypatch):
    """A fourth family, 'toy' (4 cells, vocabulary 3), registered as a module object, with a recipe module."""
    recipe = types.ModuleType("toy_recipe_for_test")
    calls = []

    def build_toy(params, log):
        calls.append(params)
        raise HrmkitError("toy: recipe reached")

    recipe.build_toy = build_toy
    recipe.cli_options = lambda values: {"size": values["size"]}
    monkeypatch.setitem(sys.modules, "toy_recipe_for_test", recipe)
    toy = types.ModuleType("toy")
    toy.__dict__.update(NAME="toy", VOCAB_SIZE=3, SEQ_LEN=4, GRID=(2, 2), AUGMENTATION_LAYOUT="none",
                        AUGMENTED_SPLITS=("train",), DISTINCT_AUGMENTATIONS=False, MULTIPLE_SOURCES=True,
                        SHOW="text", RECIPE="toy_recipe_for_test:build_toy")
    monkeypatch.setitem(puzzles.FAMILIES, "toy", toy)
    return toy, calls


def test_a_registered_family_appears_everywhere(fake_family, tmp_path):
    toy, calls = fake_family
    from hrmkit.data import build, format as fmt
    from hrmkit.train import guard
    from hrmkit.zoo import official, pulling, registry

    assert puzzles.family("toy") is toy
    assert build.TASKS[-1] == registry.TASKS[-1] == guard._FAMILIES[-1] == "toy"
    assert official.TASK_SEQ_LEN["toy"] == pulling._SEQ_LEN["toy"] == 4
    assert fmt.AUTHORS_FAMILIES[(4, 3)] == ("toy", [2, 2], "none")
    assert puzzles.family_of_shape(4, 3) is toy and puzzles.infer_family(4, 99) is toy
    assert guard.preset_family("tiny-toy", {}) == "toy"
    # data build: the task is known, takes several --source (MULTIPLE_SOURCES), and dispatches to its recipe
    params = build.BuildParams(source=["a", "b"])
    params.check("toy")
    with pytest.raises(HrmkitError, match="toy: recipe reached"):
        build.build("toy", tmp_path / "out", params)
    assert calls == [params]
    with pytest.raises(HrmkitError, match=r"choose one of: sudoku, maze, arc, toy"):
        build.BuildParams(source=["a"]).check("nope")


def test_a_registered_family_in_the_zoo_and_authors_format(fake_family):
    from hrmkit.data.format import authors_metadata, SplitArrays

    data = {"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": 3, "seq_len": 4,
            "num_puzzle_identifiers": 1, "total_groups": 1, "mean_puzzle_examples": 1.0, "sets": ["all"]}
    arrays = SplitArrays(inputs=np.ones((1, 4), np.int32), labels=np.ones((1, 4), np.int32),
                         puzzle_identifiers=np.zeros(1, np.int32), puzzle_indices=np.array([0, 1], np.int32),
                         group_indices=np.array([0, 1], np.int32))
    meta = authors_metadata(data, "train", arrays, "x/train/dataset.json")
    assert (meta.family, meta.grid, meta.augmentation_layout) == ("toy", [2, 2], "none")
    with pytest.raises(HrmkitError, match=r"none of the families hrmkit reads: .*arc \(seq_len 900, vocab 12\), "
                                          r"toy \(seq_len 4, vocab 3\)"):
        authors_metadata(dict(data, seq_len=5), "train", arrays, "x/train/dataset.json")


def _toy_dataset(path):
    from hrmkit.data.format import Family, SplitArrays, write_dataset

    arrays = SplitArrays(inputs=np.array([[1, 2, 1, 2], [2, 2, 1, 1]], np.uint8), labels=np.full((2, 4), 2, np.uint8),
                         puzzle_identifiers=np.zeros(2, np.int32), puzzle_indices=np.arange(3, dtype=np.int32),
                         group_indices=np.arange(3, dtype=np.int32), augmentations=np.zeros((2, 1), np.int16))
    fam = Family("toy", seq_len=4, vocab_size=3, grid=(2, 2), augmentation_layout="dihedral-v1")
    return write_dataset(path, fam, {"train": arrays, "test": arrays}, ["<blank>"], {"family": "toy", "source": "t"})


def test_data_validate_runs_the_checks_the_family_has(fake_family, tmp_path, monkeypatch):
    """`data validate` asks the registry for a family's checks (DATA_CHECKS): a family without them gets the file
    and metadata suites and a failed family_checks_ran saying so; with them, its suites run."""
    from hrmkit.data import validate

    toy, _ = fake_family
    ds = _toy_dataset(tmp_path / "toy")
    report = validate.validate(ds)
    assert report["failed"] == ["toy.train:family_checks_ran", "toy.test:family_checks_ran"]
    skipped = next(s for s in report["suites"] if s["suite"] == "toy.train")["expectations"][0]
    assert skipped["description"] == ("the toy family has no data set checks (no DATA_CHECKS in its module), so only "
                                      "the file and metadata suites ran")
    assert "toy" not in validate.FAMILY_FRAMES
    checks = types.ModuleType("toy_checks_for_test")

    def data_checks(ds, split):
        c = puzzles.Checks(f"toy.{split.name}.examples", "example", np.arange(len(split.arrays.inputs)))
        c.add("labels_are_twos", (np.asarray(split.arrays.labels) == 2).all(1), "every label cell is 2")
        c.add("no_pad_in_input", (np.asarray(split.arrays.inputs) != 0).all(1), "inputs hold no pad")
        return [c]

    checks.data_checks = data_checks
    monkeypatch.setitem(sys.modules, "toy_checks_for_test", checks)
    toy.DATA_CHECKS = "toy_checks_for_test:data_checks"
    assert validate.FAMILY_FRAMES["toy"] is data_checks
    report = validate.validate(ds)
    assert report["success"], report["failed"]
    suite = next(s for s in report["suites"] if s["suite"] == "toy.test.examples")
    assert [(e["check"], e["element_count"]) for e in suite["expectations"]] == [("labels_are_twos", 2),
                                                                                ("no_pad_in_input", 2)]


def test_unknown_task_messages_unchanged():
    from hrmkit.data.build import BuildParams
    from hrmkit.zoo import official

    with pytest.raises(HrmkitError, match=r"^unknown task 'nope'; choose one of: sudoku, maze, arc$"):
        BuildParams(source=["x"]).check("nope")
    with pytest.raises(HrmkitError, match=r"^maze: give one --source \(got 2\)$"):
        BuildParams(source=["x", "y"]).check("maze")
    BuildParams(source=["x", "y"]).check("arc")
    assert "sudoku|maze|arc" == "|".join(official.TASK_SEQ_LEN)


def test_format_tokens_is_the_pretty_text():
    from hrmkit.puzzles import maze, sudoku

    g = sudoku.parse_line("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79").grid
    assert sudoku.format_tokens(sudoku.to_tokens(g)) == sudoku.format_pretty(g)
    m = maze.parse("#####\n#S G#\n#####")
    tokens = maze.to_tokens(m, 7)
    assert maze.format_tokens(tokens, (7, 7)) == maze.format_pretty(m)


def test_solve_and_eval_ask_the_family_for_capabilities_not_its_name(fake_family):
    """The toy family gains views, a codec, eval's difficulty, blank-cell accuracy, baselines and --tta: solve,
    eval and the CLI find them in the registry (no name of a family is compared anywhere)."""
    from types import SimpleNamespace

    from hrmkit import evaluate, solve
    from hrmkit.cli import solve as cli_solve
    from hrmkit.evaluate import Predictions

    toy, _ = fake_family
    assert solve.view_families() == ("sudoku", "maze") and cli_solve._votes(toy) is False
    with pytest.raises(HrmkitError, match=r"^--views is for Sudoku and mazes, not toy$"):
        solve.puzzle_views("toy", 2)
    with pytest.raises(HrmkitError, match=r"^--tta: test-time augmentation is for sudoku and maze data, not toy$"):
        evaluate._tta_transforms("toy", 2, 0, 4)
    # views: the cyclic shifts of the 4 cells, 3 of them besides the identity
    toy.__dict__.update(
        MAX_VIEWS=4, TOO_MANY_VIEWS="--views {k}: a toy has {n} views", BLANK_TOKEN=1, DEFAULT_BASELINES=True,
        random_views=lambda rng, n: [int(x) for x in rng.permutation([1, 2, 3])[:n]],
        view_apply=lambda t, p: np.roll(np.asarray(p), t), view_invert=lambda t, a: np.roll(np.asarray(a), -t),
        model_codec=lambda seq_len, any_size: ((lambda p: np.asarray(p) + 1), (lambda p, t: np.asarray(t) - 1)),
        one_pass_answers=lambda inputs: np.full_like(inputs, 2),
        difficulty=lambda inputs, labels, ratings: {"blanks": ((inputs == 1).sum(1), [0, 2, 5])},
        difficulty_summary=lambda inputs, labels, ratings, grid: {"blanks_mean": float((inputs == 1).sum(1).mean())},
        tta_transforms=lambda rng, n, seq_len: [(lambda t: t[..., ::-1], lambda t: t[..., ::-1])] * n)
    assert solve.view_families() == ("sudoku", "maze", "toy") and solve.VIEW_FAMILIES[-1] == "toy"
    views = solve.puzzle_views("toy", 4, 0, 7)
    assert views[0].transform is None and sorted(v.transform for v in views[1:]) == [1, 2, 3]
    puzzle = np.array([0, 1, 2, 1])
    assert all(np.array_equal(v.invert(v.apply(puzzle)), puzzle) for v in views)
    assert np.array_equal(views[1].apply(puzzle), np.roll(puzzle, views[1].transform))
    with pytest.raises(HrmkitError, match=r"^--views 5: a toy has 4 views$"):
        solve.puzzle_views("toy", 5)
    encode, decode = solve._grid_codec(toy, SimpleNamespace(seq_len=4, any_size=False))
    assert np.array_equal(decode(puzzle, encode(puzzle)), puzzle)
    evaluate.check_views("toy", 4, 0, "either")
    with pytest.raises(HrmkitError, match=r"test-time scaling is for sudoku, maze and toy data, not arc \(ARC's "):
        evaluate.check_views("arc", 2, 0, None)
    assert len(evaluate._tta_transforms("toy", 3, 0, 4)) == 3
    # eval: difficulty buckets, blank-cell accuracy and the one-pass baseline come from the family
    inputs = np.array([[1, 1, 2, 2], [2, 2, 2, 1], [1, 1, 1, 2]])
    labels = np.full((3, 4), 2)
    n = len(inputs)
    pred = Predictions(index=np.arange(n), inputs=inputs, labels=labels, puzzle_ids=np.zeros(n, int), pred=labels,
                       correct=np.array([[True], [True], [False]]), token_acc=np.ones((n, 1)),
                       q_halt=np.zeros((n, 1)), q_continue=np.zeros((n, 1)), halt_step=np.ones(n, int))
    ds = SimpleNamespace(meta=SimpleNamespace(family="toy", grid=[2, 2], ignore_label_id=0))
    m = evaluate.metrics(pred, ds)
    assert m["token_accuracy_blanks"] == 1.0
    assert (m["count_blanks_0-1"], m["count_blanks_2-4"]) == (1, 2) and m["exact_accuracy_blanks_2-4"] == 0.5
    assert evaluate.difficulty_summary(pred, ds) == {"blanks_mean": 2.0}
    assert evaluate.one_pass_baseline(pred, ds)["baseline_one_pass_exact_accuracy"] == 1.0
    assert cli_solve._votes(puzzles.family("arc")) and not cli_solve._votes(toy)
    toy.VOTES_OVER_AUGMENTATIONS = True
    assert cli_solve._votes(toy)
