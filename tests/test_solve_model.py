"""`hrmkit solve --model`: continuous batching with per-puzzle halting, outputs, verification, ARC voting.

Tiny random models are saved to tmp folders; their Q heads get random weights so that puzzles halt at
different segments (a fresh model's Q head says "never halt").
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from _helpers import copy_model, tiny_model
from hrmkit.cli import app
from hrmkit.errors import HrmkitError
from hrmkit.models import ModelConfig, build
from hrmkit.puzzles import arc, maze, sudoku
from hrmkit.solve import Run, auto_batch_size, run_batched, solve_with_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SOLVED = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def sudoku_model(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("m") / "sudoku")


def _puzzles() -> np.ndarray:
    records = sudoku.read(EXAMPLES / "sudoku-lines.txt")
    return np.stack([sudoku.to_tokens(r.puzzle.grid) for r in records])


def cli(*args):
    return CliRunner().invoke(app, ["solve", *map(str, args)])


def test_continuous_batching_equals_each_puzzle_alone(sudoku_model):
    from hrmkit.models import from_pretrained

    model = from_pretrained(sudoku_model)
    inputs = _puzzles()  # 10 puzzles through 3 slots: refills, and slots dropped at the tail
    runs = run_batched(model, inputs, batch_size=3)
    segments = [r.segments for r in runs]
    assert len(set(segments)) > 1, "the test needs puzzles that halt at different segments"
    H = model.config.halt_max_steps
    for i, r in enumerate(runs):
        alone = model.trace(torch.as_tensor(inputs[i : i + 1]), steps=H)
        stop = (alone["q_halt_logits"][:, 0] > alone["q_continue_logits"][:, 0]).tolist()  # HRM's rule
        expected = next((k + 1 for k, s in enumerate(stop) if s), H)  # first segment whose Q head says halt
        assert r.segments == expected
        assert np.array_equal(r.tokens, alone["logits"][expected - 1, 0].argmax(-1).numpy())
        assert r.q_halt == pytest.approx(float(alone["q_halt_logits"][expected - 1, 0]), abs=1e-4)
        probs = torch.softmax(alone["logits"][expected - 1, 0], -1).amax(-1).mean()
        assert r.token_prob == pytest.approx(float(probs), abs=1e-5)
    # --max-steps caps every puzzle; halting decisions before the cap are unchanged
    capped = run_batched(model, inputs, batch_size=4, max_steps=2)
    assert [c.segments for c in capped] == [min(s, 2) for s in segments]


def test_fixed_steps_equals_the_last_step_of_trace(sudoku_model):
    from hrmkit.models import from_pretrained

    model = from_pretrained(sudoku_model)
    inputs = _puzzles()
    runs = run_batched(model, inputs, batch_size=4, fixed_steps=True, trace=True)
    out = model.trace(torch.as_tensor(inputs))
    answers = out["logits"].argmax(-1).numpy()  # (S, N, L)
    for i, r in enumerate(runs):
        assert r.segments == model.config.halt_max_steps
        assert np.array_equal(r.tokens, answers[-1, i])
        assert len(r.trace) == r.segments and all(np.array_equal(t, answers[k, i]) for k, t in enumerate(r.trace))


def test_json_and_csv_columns_and_trace(sudoku_model):
    result = cli(EXAMPLES / "sudoku-lines.txt", "--model", sudoku_model, "--json", "--trace", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 10
    for row in rows:
        assert list(row) == ["index", "puzzle", "solution", "status", "verified", "segments", "confidence",
                             "token_prob", "trace"]
        assert row["status"] == "wrong" and row["verified"] is False  # a random model
        assert 0 <= row["confidence"] <= 1 and 0 < row["token_prob"] <= 1
        assert len(row["trace"]) == row["segments"] and row["trace"][-1] == row["solution"]
    assert "10 answers, 0 verified" in result.stderr and "batch 4 on cpu" in result.stderr

    fixed = cli(EXAMPLES / "sudoku-lines.txt", "--model", sudoku_model, "--csv", "--fixed-steps")
    table = list(csv.DictReader(io.StringIO(fixed.stdout)))
    assert list(table[0]) == ["index", "puzzle", "solution", "status", "verified", "segments", "confidence",
                              "token_prob"]
    assert [int(r["segments"]) for r in table] == [4] * 10  # tiny: halt_max_steps 4

    pretty = cli(EXAMPLES / "sudoku-lines.txt", "--model", sudoku_model, "--trace", "--max-steps", "2")
    assert pretty.exit_code == 0 and "## after segment 2" in pretty.stdout and "## after segment 3" not in pretty.stdout


def test_a_right_answer_is_verified(tmp_path):
    copier = copy_model(tmp_path / "copy")
    path = tmp_path / "p.txt"
    path.write_text(f"{SOLVED}\n{SOLVED[:-1]}.\n")
    rows = [json.loads(x) for x in cli(path, "--model", copier, "--json").stdout.splitlines()]
    assert [r["status"] for r in rows] == ["verified", "wrong"]  # the copy of a full grid; a copy with a blank
    assert rows[0]["solution"] == SOLVED and rows[0]["segments"] == 1 and rows[0]["confidence"] > 0.99

    mazes = tmp_path / "m.txt"
    mazes.write_text("####\n#SG#\n####\n\n#####\n#S G#\n#####\n")  # the copy is a shortest path only for the first
    m = copy_model(tmp_path / "copy-maze", vocab_size=6, seq_len=25)
    rows = [json.loads(x) for x in cli(mazes, "--model", m, "--json").stdout.splitlines()]
    assert [r["status"] for r in rows] == ["verified", "wrong"]


def test_halt_threshold_moves_per_puzzle_halting(tmp_path):
    """sigmoid(q_halt) > halt_threshold decides halting: 0.5 is q_halt > 0 (halting=fixed, TRM) and leaves HRM's
    q_halt > q_continue; another value, from the config or --halt-threshold, overrides either rule."""
    from hrmkit.models import from_pretrained
    from hrmkit.models.trm import TRM

    q_halt, q_continue = torch.tensor([0.0, 1.0, 3.0]), torch.tensor([2.0, 2.0, 2.0])  # sigmoid: .5, .73, .95
    fixed = build(ModelConfig.from_name("tiny", halting="fixed"))
    assert fixed.halts(q_halt, q_continue).tolist() == [False, True, True]  # q_halt > 0
    assert fixed.halts(q_halt, q_continue, 0.9).tolist() == [False, False, True]
    act = build(ModelConfig.from_name("tiny"))  # the authors' HRM rule at the default 0.5
    assert act.halts(q_halt, q_continue).tolist() == [False, False, True]
    assert act.halts(q_halt, q_continue, 0.6).tolist() == [False, True, True]
    assert build(ModelConfig.from_name("tiny", halt_threshold=0.6)).halts(q_halt, q_continue).tolist() == \
        [False, True, True]
    trm = TRM(ModelConfig.from_name("trm-sudoku-mlp", hidden_size=32, num_heads=2, halt_threshold=0.9))
    assert trm.halts(q_halt, q_continue).tolist() == [False, False, True]
    with pytest.raises(HrmkitError, match="halt_threshold"):
        ModelConfig.from_name("tiny", halt_threshold=1.0)

    copier = copy_model(tmp_path / "copy")  # q_halt 5 (sigmoid 0.9933), q_continue -5: halts after one segment
    assert {r.segments for r in run_batched(from_pretrained(copier), _puzzles())} == {1}
    assert {r.segments for r in run_batched(from_pretrained(copier), _puzzles(), halt_threshold=0.995)} == {4}
    path = tmp_path / "p.txt"
    path.write_text(f"{SOLVED}\n")
    for flags, segments in (((), 1), (("--halt-threshold", "0.99"), 1), (("--halt-threshold", "0.995"), 4)):
        rows = [json.loads(x) for x in cli(path, "--model", copier, "--json", *flags).stdout.splitlines()]
        assert rows[0]["segments"] == segments and rows[0]["status"] == "verified"
    cautious = copy_model(tmp_path / "cautious", halt_threshold=0.995)  # the config's value, overridable
    assert json.loads(cli(path, "--model", cautious, "--json").stdout)["segments"] == 4
    assert json.loads(cli(path, "--model", cautious, "--json", "--halt-threshold", "0.5").stdout)["segments"] == 1
    result = cli(path, "--model", copier, "--halt-threshold", "1.5")
    assert result.exit_code == 1 and "--halt-threshold must be a probability" in result.stderr


def test_task_mismatch_says_so(sudoku_model, tmp_path):
    result = cli(EXAMPLES / "maze-small.txt", "--model", sudoku_model)
    assert result.exit_code == 1
    assert "solves sudoku puzzles" in result.stderr and "holds maze puzzles" in result.stderr
    # a model card that names another task wins over the shape
    carded = tiny_model(tmp_path / "carded")
    (carded / "README.md").write_text("---\ntags: [hrmkit, maze]\n---\n# a model\n")
    result = cli(EXAMPLES / "sudoku-lines.txt", "--model", carded)
    assert result.exit_code == 1 and "solves maze puzzles" in result.stderr and "README.md" in result.stderr
    # the right task but a vocabulary that cannot hold the puzzles
    odd = tiny_model(tmp_path / "odd", vocab_size=13)
    result = cli(EXAMPLES / "sudoku-lines.txt", "--model", odd)
    assert result.exit_code == 1 and "vocab_size 13" in result.stderr


def test_skip_invalid_with_a_model(sudoku_model, tmp_path):
    good = EXAMPLES.joinpath("sudoku-lines.txt").read_text().splitlines()[1]
    path = tmp_path / "bad.txt"
    path.write_text(f"{good}\n{good[:-2]}\n{good}\n")
    result = cli(path, "--model", sudoku_model, "--json")
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {path}:2: ")
    result = cli(path, "--model", sudoku_model, "--json", "--skip-invalid")
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["wrong", "invalid", "wrong"]
    assert rows[1]["segments"] is None and rows[1]["solution"] is None
    assert rows[0]["solution"] == rows[2]["solution"]  # same puzzle, same answer, whatever its slot


def test_arc_vote_attempts_and_submission(tmp_path, monkeypatch):
    """Hand-made votes: the network is replaced by scripted answers per augmented copy (in the original frame)."""
    model = tiny_model(tmp_path / "arc", vocab_size=12, seq_len=900)
    task_file = tmp_path / "mirror.json"
    task_file.write_text(json.dumps({"train": [{"input": [[1, 2]], "output": [[2, 1]]}],
                                     "test": [{"input": [[3, 4, 0]], "output": [[0, 4, 3]]}]}))
    task = arc.load_task(task_file)
    augs = arc.augmentations(task, 5, rng=np.random.default_rng(0))  # what solve draws with --seed 0
    A, B, C = np.array([[0, 4, 3]]), np.array([[4, 3, 0]]), np.array([[1]])
    script = [(A, 0.0), (B, 2.0), (A, 0.5), (B, 1.0), (C, 9.0), (None, 0.0)]  # A 2 votes, B 2 (higher q), C 1
    assert len(augs) == len(script)

    def fake(net, inputs, ids=None, **kw):
        assert len(inputs) == len(augs) and np.array_equal(inputs[0], arc.to_tokens(task.test[0].input))
        out = []
        for aug, (grid, q) in zip(augs, script):
            tokens = np.zeros(arc.SEQ_LEN, np.uint8) if grid is None else aug.encode(grid)
            out.append(Run(tokens, 3, q, 0.0, 0.5))
        return out

    monkeypatch.setattr("hrmkit.solve.run_batched", fake)
    [res] = solve_with_model(arc.read(task_file), family=arc, model=model, augmentations=6)
    assert [g.tolist() for g in res.attempts] == [B.tolist(), A.tolist()] and res.votes == [2, 2]
    assert res.status == "verified" and res.verified  # attempt 2 is the given output
    assert res.confidence == pytest.approx(1 / (1 + np.exp(-1.5)))  # mean q_halt of B's voters

    sub = tmp_path / "out" / "submission.json"
    result = cli(task_file, "--model", model, "--augmentations", "6", "--submission", sub, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(sub.read_text()) == {"mirror": [{"attempt_1": B.tolist(), "attempt_2": A.tolist()}]}
    [row] = [json.loads(x) for x in result.stdout.splitlines()]
    assert row["solution"] == "430" and row["attempt_2"] == "043" and row["votes"] == [2, 2]
    assert row["status"] == "verified" and row["test_index"] == 0


def test_arc_end_to_end_folder_and_submission(tmp_path):
    model = tiny_model(tmp_path / "arc", vocab_size=12, seq_len=900)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "b.json").write_text(json.dumps({"train": [{"input": [[1]], "output": [[2]]}],
                                              "test": [{"input": [[1, 1]]}, {"input": [[3]], "output": [[4]]}]}))
    (tasks / "a.json").write_text((EXAMPLES / "arc-mirror.json").read_text())
    sub = tmp_path / "sub.json"
    result = cli(tasks, "--model", model, "--augmentations", "2", "--submission", sub, "--csv")
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["puzzle"], r["test_index"]) for r in table] == [("a", "0"), ("b", "0"), ("b", "1")]
    assert table[1]["status"] in ("unverified", "no-answer") and table[2]["status"] in ("wrong", "verified", "no-answer")
    data = json.loads(sub.read_text())
    assert list(data) == ["a", "b"] and len(data["b"]) == 2
    for entry in data["a"] + data["b"]:
        assert set(entry) == {"attempt_1", "attempt_2"}
        assert all(isinstance(row, list) and all(0 <= c <= 9 for c in row) for row in entry["attempt_1"])
    assert cli(EXAMPLES / "sudoku-lines.txt", "--model", model, "--submission", sub).exit_code == 1


def test_batch_size_rule(sudoku_model):
    from hrmkit.models import from_pretrained

    model = from_pretrained(sudoku_model)
    assert auto_batch_size(model, torch.device("cpu")) == 32768 // 81
    big = build(ModelConfig.from_name("tiny", vocab_size=12, seq_len=900))
    assert auto_batch_size(big, torch.device("cpu")) == 36


def test_halt_on_verified_stops_at_the_first_checked_answer(sudoku_model, tmp_path):
    from hrmkit.models import from_pretrained

    net = from_pretrained(sudoku_model)
    x = _puzzles()
    runs = run_batched(net, x, accept=lambda row, tokens: row % 2 == 0, use_q=False, batch_size=2, max_steps=3)
    assert [r.segments for r in runs] == [1 if i % 2 == 0 else 3 for i in range(len(x))]
    alone = run_batched(net, x[:1], fixed_steps=True, max_steps=1)[0]
    # rel 1e-5: a batch of 1 and a batch of 2 may take different matmul kernels (AVX-512 MKL: 1.2e-7 apart)
    assert np.array_equal(runs[0].tokens, alone.tokens) and runs[0].q_halt == pytest.approx(alone.q_halt, rel=1e-5)

    # a copying model that never halts on its own: the Q head says continue (q_halt -5 < q_continue 5)
    stubborn = copy_model(tmp_path / "stubborn")
    state = from_pretrained(stubborn)
    with torch.no_grad():
        state.inner.q_head.bias.copy_(torch.tensor([-5.0, 5.0]))
    state.save_pretrained(stubborn)
    path = tmp_path / "p.txt"
    path.write_text(f"{SOLVED}\n{SOLVED[:-1]}.\n")  # the copy of the first is a solution, of the second never
    for flags, segments in ((("--halt-on", "q"), [4, 4]), (("--halt-on", "verified"), [1, 4]),
                            (("--halt-on", "either"), [1, 4]), (("--fixed-steps", "--halt-on", "verified"), [4, 4])):
        rows = [json.loads(r) for r in cli(path, "--model", stubborn, "--json", *flags).stdout.splitlines()]
        assert [r["segments"] for r in rows] == segments, flags
        assert [r["status"] for r in rows] == ["verified", "wrong"], flags
    copier = copy_model(tmp_path / "copy")  # halts on its Q head after one segment, right or wrong
    rows = [json.loads(r) for r in cli(path, "--model", copier, "--json", "--halt-on", "verified",
                                       "--max-steps", "3").stdout.splitlines()]
    assert [r["segments"] for r in rows] == [1, 3]  # verified alone ignores the Q head's "halt"

    bad = cli(path, "--model", copier, "--halt-on", "sometimes")
    assert bad.exit_code == 1 and "--halt-on must be one of q, verified, either" in bad.stderr
    exact = cli(path, "--halt-on", "verified")
    assert exact.exit_code == 1 and "--halt-on is for --model solving" in exact.stderr
    with pytest.raises(HrmkitError, match="ARC answers cannot be checked"):
        solve_with_model([], family=arc, model=copier, halt_on="verified")
