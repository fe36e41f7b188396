"""Test-time scaling (`--views K`) and the default halting of `hrmkit solve` / `hrmkit eval`.

The symmetries are checked as properties over many seeds; view selection and the early stop of a puzzle's views
run on a scripted network (`Scripted`: it answers by looking its input up in a table, so the test decides which
view gets the right answer, with what confidence, from which segment) plugged into `run_batched`'s interface; the
default halting runs on real tiny models saved to tmp folders.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import hrmkit.api  # noqa: F401  (before `plug` patches hrmkit.models.from_pretrained: api binds the real one)
from _helpers import copy_model
from hrmkit.cli import app
from hrmkit.errors import HrmkitError
from hrmkit.models import ModelConfig
from hrmkit.puzzles import Record, arc, maze, sudoku
from hrmkit.solve import View, choose_view, default_halting, puzzle_views, solve_with_model

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

SOLVED = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


def cli(*args):
    return CliRunner().invoke(app, ["solve", *map(str, args)])


def _json_rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


# ------------------------------------------------------------------------------------------ symmetries
def _random_maze(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """A random H x W obstacle maze (often not square) with one S and one G, and one shortest path, or None."""
    h, w = (int(x) for x in rng.integers(2, 10, size=2))
    grid = np.where(rng.random((h, w)) < 0.3, maze.WALL, maze.OPEN).astype(np.uint8)
    cells = rng.choice(h * w, size=2, replace=False)
    grid.flat[cells[0]], grid.flat[cells[1]] = maze.START, maze.GOAL
    result = maze.solve_exact(grid)
    return None if result.solution is None else (grid, result.solution)


def test_sudoku_views_invert_exactly_and_keep_solutions_valid():
    puzzles = sudoku.generate(6, givens=(30, 60), seed=3)
    rng = np.random.default_rng(0)
    for seed in range(40):
        for key, p in enumerate(puzzles):
            views = puzzle_views("sudoku", 6, seed, key)
            assert views[0].transform is None and all(v.transform is not None for v in views[1:])
            for view in views:
                shown, solution = view.apply(p), view.apply(p.answer)
                assert isinstance(shown, sudoku.Sudoku)
                assert np.array_equal(view.invert(shown.grid), p.grid)  # puzzles
                assert np.array_equal(view.invert(solution), p.answer)  # answers
                assert sudoku.verify(shown, solution)  # a valid solution of the view's puzzle
                assert sudoku.count_solutions(shown.grid)[0] == 1  # still one solution
                garbage = rng.integers(0, 10, size=81).astype(np.int8)  # any answer a model may give
                assert np.array_equal(view.invert(view.apply(garbage)), garbage)
                assert np.array_equal(view.apply(view.invert(garbage)), garbage)
            moved = [not np.array_equal(v.apply(p).grid, p.grid) for v in views[1:]]
            assert all(moved)  # the random views are not the identity
    # seeded: the same (seed, key) gives the same views, another key or seed others
    assert puzzle_views("sudoku", 4, 0, 5) == puzzle_views("sudoku", 4, 0, 5)
    assert puzzle_views("sudoku", 4, 0, 5) != puzzle_views("sudoku", 4, 0, 6)
    assert puzzle_views("sudoku", 4, 1, 5) != puzzle_views("sudoku", 4, 0, 5)


def test_maze_dihedral_views_invert_exactly_and_keep_shortest_paths():
    rng = np.random.default_rng(1)
    mazes = [m for m in (_random_maze(rng) for _ in range(400)) if m is not None][:80]
    assert len(mazes) == 80 and sum(p.shape[0] != p.shape[1] for p, _ in mazes) > 40
    for puzzle, solution in mazes:
        length = maze.solve_exact(puzzle).info["path_length"]
        wrong = solution.copy()  # one path cell removed (or, S next to G, one open cell marked): not a path
        cells = np.argwhere(wrong == maze.PATH) if (wrong == maze.PATH).any() else np.argwhere(wrong == maze.OPEN)
        if len(cells):
            wrong[tuple(cells[0])] = maze.OPEN if wrong[tuple(cells[0])] == maze.PATH else maze.PATH
        for tid in range(8):
            view = View("maze", tid or None)
            shown, path = view.apply(puzzle), view.apply(solution)
            h, w = puzzle.shape
            assert shown.shape == ((w, h) if tid in (1, 3, 6, 7) else (h, w))
            assert np.array_equal(view.invert(shown), puzzle) and np.array_equal(view.invert(path), solution)
            assert maze.verify(shown, path)  # a shortest path of the view's maze
            assert maze.solve_exact(shown).info["path_length"] == length
            assert maze.verify(shown, view.apply(wrong)) == maze.verify(puzzle, wrong) == (not len(cells))
    # the views of a maze: the identity first, then distinct dihedral transforms; all 8 with K = 8
    for seed in range(20):
        views = puzzle_views("maze", 8, seed, 0)
        assert views[0].transform is None and sorted(v.transform for v in views[1:]) == list(range(1, 8))
    assert [v.transform for v in puzzle_views("maze", 3, 0, 0)] == [v.transform for v in puzzle_views("maze", 3, 0, 0)]
    with pytest.raises(HrmkitError, match="at most 8 for mazes"):
        puzzle_views("maze", 9)
    with pytest.raises(HrmkitError, match="--augmentations"):
        puzzle_views("arc", 2)


def test_choose_view_by_hand():
    good = np.array([int(c) for c in SOLVED], np.int8)
    bad_a, bad_b, bad_c = good.copy(), good.copy(), good.copy()
    bad_a[[0, 1]] = bad_a[[1, 0]]
    bad_b[[2, 3]] = bad_b[[3, 2]]
    bad_c[5] = 0
    puzzle = sudoku.Sudoku(np.where(np.arange(81) % 3 == 0, good, 0).astype(np.int8))
    # the first verified view in view order, whatever the confidences
    assert choose_view(sudoku, puzzle, [bad_a, good, good], [9.0, -9.0, 0.0]) == (1, True)
    # none verifies: summed sigmoid(q_halt) per distinct answer, not the count of votes
    # bad_a: 0.5 + 0.047 = 0.547 (two views), bad_b: 0.953, bad_c: 0.731
    assert choose_view(sudoku, puzzle, [bad_a, bad_b, bad_a, bad_c], [0.0, 3.0, -3.0, 1.0]) == (1, False)
    # bad_a: 0.269 + 0.731 = 1.0 beats bad_b's 0.731
    assert choose_view(sudoku, puzzle, [bad_a, bad_b, bad_a], [-1.0, 1.0, 1.0]) == (0, False)
    # a tie goes to the lowest view; views that did not run (None) do not vote
    assert choose_view(sudoku, puzzle, [None, bad_b, bad_a], [None, 0.0, 0.0]) == (1, False)
    assert choose_view(sudoku, puzzle, [bad_a, bad_b], [0.0, 0.0]) == (0, False)


# ------------------------------------------------------------------------------------------ a scripted network
@dataclasses.dataclass
class _Carry:
    inputs: torch.Tensor
    steps: torch.Tensor
    halted: torch.Tensor


class Scripted:
    """What `run_batched` uses of a model: an input row found in `table` (token bytes -> (answer tokens, q_halt,
    first segment giving that answer)) gets that answer from that segment on, and copies its input before; any
    other row copies its input with q_halt 0. It never halts on its own (`halts` is always False), and records
    each row it starts (`started`) and every row-segment it computes (`computed`)."""

    def __init__(self, config, table: dict[bytes, tuple[np.ndarray, float, int]]):
        self.config, self.table = config, table
        self.device = torch.device("cpu")
        self.inner = SimpleNamespace(prefix_len=0)
        self.started: list[bytes] = []
        self.computed = 0

    def eval(self):
        return self

    def seq_len_of(self, inputs) -> int:
        return int(inputs.shape[-1])

    def halts(self, q_halt, q_continue, threshold=None):
        return torch.zeros(q_halt.shape, dtype=torch.bool)

    def initial_carry(self, batch):
        B, L = batch["inputs"].shape
        return _Carry(torch.zeros(B, L, dtype=torch.int64), torch.zeros(B, dtype=torch.int32),
                      torch.ones(B, dtype=torch.bool))

    def __call__(self, carry, batch):
        reset = carry.halted
        inputs = torch.where(reset[:, None], batch["inputs"], carry.inputs)
        steps = torch.where(reset, 0, carry.steps) + 1
        logits, qs = [], []
        for b in range(inputs.shape[0]):
            x = inputs[b].numpy().astype(np.int64)
            key = x.tobytes()
            if reset[b]:
                self.started.append(key)
            answer, q, first = self.table.get(key, (x, 0.0, 1))
            if int(steps[b]) < first:
                answer = x
            logits.append(10.0 * torch.nn.functional.one_hot(torch.as_tensor(np.asarray(answer, np.int64)),
                                                             self.config.vocab_size).float())
            qs.append(q)
        self.computed += inputs.shape[0]
        out = {"logits": torch.stack(logits), "q_halt_logits": torch.tensor(qs),
               "q_continue_logits": torch.zeros(len(qs))}
        return _Carry(inputs, steps, torch.zeros_like(reset)), out


@pytest.fixture
def plug(tmp_path, monkeypatch):
    """plug(config, table) -> a model folder whose loading gives a Scripted network (check_task still runs)."""

    def make(config, table):
        net = Scripted(config, table)
        monkeypatch.setattr("hrmkit.models.from_pretrained", lambda directory, device=None: net)
        folder = tmp_path / "scripted"
        folder.mkdir(exist_ok=True)
        return folder, net

    return make


def _sudoku_case(tmp_path: Path):
    """A puzzle (one blank per row) in a file, its solution, and the Sudoku views solve draws for it."""
    solution = np.array([int(c) for c in SOLVED], np.int8)
    grid = solution.copy()
    grid[np.arange(9) * 10] = 0  # the diagonal blank
    path = tmp_path / "p.txt"
    path.write_text(sudoku.format_one_line(grid) + "\n")
    return path, sudoku.Sudoku(grid), solution


def _key(tokens) -> bytes:
    return np.asarray(tokens, np.int64).tobytes()


def test_views_take_the_one_view_that_verifies(tmp_path, plug):
    path, puzzle, solution = _sudoku_case(tmp_path)
    views = puzzle_views("sudoku", 4, 0, 0)  # --seed 0, the file's puzzle 0
    target = views[2]
    shown = sudoku.to_tokens(target.apply(puzzle).grid)
    # the right answer, in the view's own frame, only for view 2's input; every other input is copied (blanks)
    folder, net = plug(ModelConfig.from_name("tiny"), {_key(shown): (sudoku.to_tokens(target.apply(solution)), 2.0, 1)})

    [one] = solve_with_model(sudoku.read(path), family=sudoku, model=folder)
    assert one.status == "wrong" and not one.verified and one.views == 1 and one.view == 0
    assert np.array_equal(one.solution, puzzle.grid)  # the copy of the puzzle
    [four] = solve_with_model(sudoku.read(path), family=sudoku, model=folder, views=4)
    assert four.status == "verified" and four.verified and four.view == 2 and four.views == 4
    assert np.array_equal(four.solution, solution)  # mapped back to the file's frame
    assert four.segments == 4 * 4  # Q halting that never halts: 4 views x halt_max_steps
    assert four.confidence == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert four.info["view_segments"] == [4, 4, 4, 4]

    rows = _json_rows(cli(path, "--model", folder, "--json", "--views", "4"))
    assert rows[0]["status"] == "verified" and rows[0]["solution"] == SOLVED
    assert rows[0]["views"] == 4 and rows[0]["view"] == 2 and rows[0]["segments"] == 16
    plain = _json_rows(cli(path, "--model", folder, "--json"))
    assert plain[0]["status"] == "wrong" and "views" not in plain[0]  # --views 1: the output of before
    table = cli(path, "--model", folder, "--csv", "--views", "4").stdout.splitlines()
    assert table[0].endswith(",segments,confidence,token_prob,views,view") and table[1].endswith(",4,2")
    text = cli(path, "--model", folder, "--views", "4")
    assert "verified, 16 segments over 4 views (answer of view 2)" in text.stdout
    assert "(4.00 of 4 views)" in text.stderr
    # another seed draws other views: the scripted input is never shown, nothing verifies
    assert _json_rows(cli(path, "--model", folder, "--json", "--views", "4", "--seed", "1"))[0]["status"] == "wrong"


def test_views_vote_weighs_answers_by_summed_confidence(tmp_path, plug):
    path, puzzle, solution = _sudoku_case(tmp_path)
    views = puzzle_views("sudoku", 4, 0, 0)
    a, b = solution.copy(), solution.copy()  # two wrong full grids (two cells swapped)
    a[[1, 2]] = a[[2, 1]]
    b[[3, 4]] = b[[4, 3]]
    # in the original frame: view 0 -> a (q 0: 0.5), view 1 -> b (q 3: 0.953), view 2 -> a (q -3: 0.047),
    # view 3 -> b (q -4: 0.018): a has 0.547, b 0.971; two votes each, b wins on confidence
    script = [(a, 0.0), (b, 3.0), (a, -3.0), (b, -4.0)]
    table = {_key(sudoku.to_tokens(v.apply(puzzle).grid)): (sudoku.to_tokens(v.apply(g)), q, 1)
             for v, (g, q) in zip(views, script)}
    folder, _ = plug(ModelConfig.from_name("tiny"), table)
    [res] = solve_with_model(sudoku.read(path), family=sudoku, model=folder, views=4)
    assert res.status == "wrong" and res.view == 1 and np.array_equal(res.solution, b)
    sig = lambda q: 1 / (1 + np.exp(-q))  # noqa: E731
    assert res.confidence == pytest.approx((sig(3.0) + sig(-4.0)) / 2)  # mean over b's views
    # the view answers agree with the frame mapping: with view 1's q lowered, a wins (view 0, the lowest of a's)
    table[_key(sudoku.to_tokens(views[1].apply(puzzle).grid))] = (sudoku.to_tokens(views[1].apply(b)), -3.0, 1)
    [res] = solve_with_model(sudoku.read(path), family=sudoku, model=folder, views=4)
    assert res.view == 0 and np.array_equal(res.solution, a)


def test_halt_on_verified_stops_every_view_of_the_puzzle(tmp_path, plug):
    path, puzzle, solution = _sudoku_case(tmp_path)
    views = puzzle_views("sudoku", 4, 0, 0)
    inputs = [_key(sudoku.to_tokens(v.apply(puzzle).grid)) for v in views]
    # view 1 finds the solution at its second segment; the others never do
    folder, net = plug(ModelConfig.from_name("tiny"),
                       {inputs[1]: (sudoku.to_tokens(views[1].apply(solution)), 0.0, 2)})
    records = sudoku.read(path)
    [res] = solve_with_model(records, family=sudoku, model=folder, views=4, halt_on="verified")
    # all four views in one batch: all stop after segment 2, well under 4 views x 4 segments
    assert res.verified and res.view == 1 and res.segments == 4 * 2 < 4 * 4 and res.views == 4
    assert net.computed == 8
    # one slot: view 0 runs its 4 segments, view 1 verifies at 2, views 2 and 3 never start
    net.started.clear()
    [res] = solve_with_model(records, family=sudoku, model=folder, views=4, halt_on="verified", batch_size=1)
    assert res.verified and res.segments == 4 + 2 and res.views == 2 and res.info["view_segments"] == [4, 2, 0, 0]
    assert net.started == inputs[:2]
    # without the checker in the loop every view runs to the end
    [res] = solve_with_model(records, family=sudoku, model=folder, views=4, halt_on="q", batch_size=1)
    assert res.verified and res.segments == 16 and res.views == 4
    rows = _json_rows(cli(path, "--model", folder, "--json", "--views", "4", "--halt-on", "verified"))
    assert rows[0]["segments"] == 8 and rows[0]["views"] == 4 and rows[0]["status"] == "verified"


def test_views_of_a_non_square_maze_on_a_square_canvas(tmp_path, plug):
    """A 3x6 maze on a 6x6 canvas: a transposing view shows the model a 6x3 maze; the answer maps back."""
    puzzle = maze.parse("######\n#S  G#\n######")
    solution = maze.solve_exact(puzzle).solution
    path = tmp_path / "m.txt"
    path.write_text(maze.format_pretty(puzzle) + "\n")
    views = puzzle_views("maze", 8, 0, 0)
    target = next(v for v in views if v.transform in (1, 3, 6, 7))
    assert target.apply(puzzle).shape == (6, 3)
    shown = maze.to_tokens(target.apply(puzzle), 6)
    folder, _ = plug(ModelConfig.from_name("tiny", vocab_size=6, seq_len=36),
                     {_key(shown): (maze.to_tokens(target.apply(solution), 6), 1.0, 1)})
    [res] = solve_with_model(maze.read(path), family=maze, model=folder, views=8)
    assert res.verified and res.view == views.index(target) and np.array_equal(res.solution, solution)
    [res] = solve_with_model(maze.read(path), family=maze, model=folder)
    assert not res.verified
    bad = cli(path, "--model", folder, "--views", "9")
    assert bad.exit_code == 1 and "at most 8 for mazes" in bad.stderr


def test_views_errors(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text(SOLVED + "\n")
    copier = copy_model(tmp_path / "copy")
    assert "--views is for --model solving" in cli(path, "--views", "2").stderr
    assert "--views must be >= 1" in cli(path, "--model", copier, "--views", "0").stderr
    arc_model = copy_model(tmp_path / "arc", vocab_size=12, seq_len=900)
    task = tmp_path / "t.json"
    task.write_text(json.dumps({"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]]}]}))
    result = cli(task, "--model", arc_model, "--views", "2")
    assert result.exit_code == 1 and "--views is for Sudoku and mazes, not arc" in result.stderr
    assert "--augmentations" in result.stderr
    with pytest.raises(HrmkitError, match="not arc"):
        solve_with_model(arc.read(task), family=arc, model=arc_model, views=2)


# ------------------------------------------------------------------------------------------ default halting
def test_a_fixed_halting_model_solves_with_its_evaluated_segments(tmp_path):
    """The copy model's Q head says halt after one segment (sigmoid 0.993); trained with halting=fixed it was
    evaluated on halt_max_steps (4) fixed segments, and that is what solve runs unless told otherwise."""
    fixed = copy_model(tmp_path / "fixed", halting="fixed")
    act = copy_model(tmp_path / "act")
    path = tmp_path / "p.txt"
    path.write_text(f"{SOLVED}\n{SOLVED[:-1]}.\n")
    [res, _] = solve_with_model(sudoku.read(path), family=sudoku, model=fixed)
    assert res.segments == 4 and res.verified and res.info["halting"].startswith("fixed 4 segments")
    records = sudoku.read(path)
    for options, segments in (({}, [4, 4]), ({"halt_on": "q"}, [1, 1]), ({"halt_threshold": 0.9}, [1, 1]),
                              ({"max_steps": 2}, [2, 2]), ({"halt_on": "verified"}, [1, 4]),
                              ({"fixed_steps": True}, [4, 4]), ({"views": 3}, [12, 12])):
        results = solve_with_model(records, family=sudoku, model=fixed, **options)
        assert [r.segments for r in results] == segments, options
        assert [r.status for r in results] == ["verified", "wrong"], options
    for flags, segments in (((), [4, 4]), (("--halt-on", "q"), [1, 1]), (("--max-steps", "2"), [2, 2])):
        result = cli(path, "--model", fixed, "--json", *flags)
        assert [r["segments"] for r in _json_rows(result)] == segments, flags
    assert "halting: fixed 2 segments (default for a halting=fixed model" in result.stderr  # --max-steps: segments
    assert "halting: fixed 4 segments (default for a halting=fixed model" in cli(path, "--model", fixed).stderr
    # a model trained with ACT halting keeps its Q head
    assert [r["segments"] for r in _json_rows(cli(path, "--model", act, "--json"))] == [1, 1]
    assert default_halting(ModelConfig.from_name("tiny"), act) == (False, None, "default for a halting=act model")
    # an eval report kept in the model folder gives the segments it was evaluated with
    (fixed / "metrics.json").write_text(json.dumps({"segments": 3, "exact_accuracy": 1.0}))
    assert [r["segments"] for r in _json_rows(cli(path, "--model", fixed, "--json"))] == [3, 3]
    assert str(fixed / "metrics.json") in cli(path, "--model", fixed).stderr
    (fixed / "metrics.json").write_text(json.dumps({"segments": "three"}))  # not a report: ignored
    assert [r["segments"] for r in _json_rows(cli(path, "--model", fixed, "--json"))] == [4, 4]


# ------------------------------------------------------------------------------------------ eval
def _sudoku_data(out: Path, full: int, blank: int) -> Path:
    """A test split of valid Sudoku: `full` examples given complete (a copy is right) and `blank` with blanks."""
    from hrmkit.data.format import Family, SplitArrays, write_dataset

    puzzles = sudoku.generate(full + blank, givens=(40, 60), seed=0)
    labels = np.stack([sudoku.to_tokens(p.answer) for p in puzzles]).astype(np.uint8)
    inputs = np.stack([sudoku.to_tokens(p.answer if i < full else p.grid) for i, p in enumerate(puzzles)])
    n = len(puzzles)
    index = np.arange(n + 1, dtype=np.int32)  # each example its own puzzle and group
    arrays = SplitArrays(inputs=inputs.astype(np.uint8), labels=labels, puzzle_identifiers=np.zeros(n, np.int32),
                         puzzle_indices=index, group_indices=index)
    fam = Family(name="sudoku", seq_len=81, vocab_size=11, grid=(9, 9), augmentation_layout="sudoku-v1")
    return write_dataset(out, fam, {"train": arrays, "test": arrays}, ["<blank>"],
                         {"family": "sudoku", "source": "test fixture"})


def test_eval_views_metrics(tmp_path):
    data = _sudoku_data(tmp_path / "data", full=3, blank=1)
    model = copy_model(tmp_path / "copy")  # halt_max_steps 4
    runner = CliRunner()

    def evaluate(*flags):
        r = runner.invoke(app, ["eval", str(model), "--data", str(data), "--out", str(tmp_path / "r"),
                                "--no-baselines", "--device", "cpu", *flags])
        assert r.exit_code == 0, r.output
        return json.loads((tmp_path / "r" / "metrics.json").read_text())

    m = evaluate()
    assert "views" not in m and "segments_per_puzzle" not in m  # --views 1: the metrics of before
    assert m["exact_accuracy"] == 0.75 and m["segments"] == 4
    m = evaluate("--views", "3")
    assert m["views"] == 3 and m["views_per_puzzle"] == 3 and m["segments_per_puzzle"] == 3 * 4  # eval's fixed rule
    assert m["views_exact_accuracy"] == 0.75 and m["views_verified"] == 0.75
    m = evaluate("--views", "3", "--halt-on", "verified")
    # the 3 complete grids: their 3 views verify at segment 1; the one with blanks: 3 views x 4 segments
    assert m["segments_per_puzzle"] == pytest.approx((3 * 3 + 12) / 4) and m["views_exact_accuracy"] == 0.75
    bad = runner.invoke(app, ["eval", str(model), "--data", str(data), "--out", str(tmp_path / "r2"),
                              "--views", "2", "--halt-on", "sometimes"])
    assert bad.exit_code == 1 and "--halt-on must be one of" in bad.output


def test_eval_views_refuses_arc_data(tmp_path):
    from hrmkit.evaluate import check_views

    with pytest.raises(HrmkitError, match="not arc .*arc_pass"):
        check_views("arc", 2, 0, None)
    check_views("maze", 8, 0, "either")
    with pytest.raises(HrmkitError, match="at most 8"):
        check_views("maze", 9, 0, None)


def test_records_of_eval_examples_are_the_puzzles(tmp_path):
    """The eval pass hands solve the same puzzles the data set holds (Sudoku tokens -> grids)."""
    from hrmkit.evaluate import _view_records

    puzzles = sudoku.generate(2, givens=(40, 60), seed=1)
    pred = SimpleNamespace(index=np.array([7, 9]), inputs=np.stack([sudoku.to_tokens(p.grid) for p in puzzles]))
    records = _view_records(pred, SimpleNamespace(meta=SimpleNamespace(family="sudoku", grid=[9, 9])))
    assert [r.index for r in records] == [7, 9] and all(isinstance(r, Record) for r in records)
    assert all(np.array_equal(r.puzzle.grid, p.grid) for r, p in zip(records, puzzles))


def test_eval_segments_in_config_json_set_the_default_segments_of_solve_and_eval(tmp_path):
    """A model trained with few segments and run with more (the sudoku-search recipe: 4 and 32) records the run's
    count as eval_segments in config.json: solve's default and eval's default run it; 0 (the default) is left out
    of config.json, so the files of models that do not use it stay as they were."""
    plain = copy_model(tmp_path / "plain", halting="fixed")
    assert "eval_segments" not in json.loads((plain / "config.json").read_text())
    model = copy_model(tmp_path / "six", halting="fixed", eval_segments=6)
    assert json.loads((model / "config.json").read_text())["eval_segments"] == 6
    path = tmp_path / "p.txt"
    path.write_text(f"{SOLVED[:-1]}.\n")
    result = cli(path, "--model", model, "--json")
    assert [r["segments"] for r in _json_rows(result)] == [6]
    assert "halting: fixed 6 segments (default for a halting=fixed model" in cli(path, "--model", model).stderr
    assert [r["segments"] for r in _json_rows(cli(path, "--model", model, "--json", "--max-steps", "2"))] == [2]
    data = _sudoku_data(tmp_path / "data", full=1, blank=1)
    r = CliRunner().invoke(app, ["eval", str(model), "--data", str(data), "--out", str(tmp_path / "r"),
                                 "--no-baselines", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["segments"] == 6
    with pytest.raises(HrmkitError, match="eval_segments must be >= 0"):
        ModelConfig.from_name("tiny", eval_segments=-1)
