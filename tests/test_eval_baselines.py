"""The baselines and difficulty summary of `hrmkit eval`: one pass of single candidates (Sudoku) and the copy
baseline (maze) by hand, givens and path lengths, and the untrained baseline as a seeded fresh model."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from _helpers import make_dataset
from hrmkit.cli import app
from hrmkit.evaluate import Predictions, difficulty_summary, one_pass_answers, one_pass_baseline
from hrmkit.models import ModelConfig, build
from hrmkit.puzzles import sudoku

# a solved grid (the canonical pattern: rows shifted by 3, 6, 1, ...), valid by construction
SOLVED = np.array([[(3 * (r % 3) + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)], np.int8).ravel()


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_one_pass_sudoku_fills_single_candidates_once():
    tokens = sudoku.to_tokens(SOLVED.copy())[None]
    one_blank = tokens.copy()
    one_blank[0, [0, 40]] = 1  # two blanks in different rows/cols/boxes: each has one candidate
    out = one_pass_answers(one_blank, "sudoku")
    assert np.array_equal(out, tokens)
    empty = np.ones_like(tokens)  # all blank: every cell has 9 candidates, nothing filled
    assert np.array_equal(one_pass_answers(empty, "sudoku"), empty)
    maze = np.array([[1, 2, 3, 4]])
    assert np.array_equal(one_pass_answers(maze, "maze"), maze)
    assert one_pass_answers(maze, "arc") is None


def _pred(inputs, labels):
    n = len(inputs)
    z = np.zeros((n, 1))
    return Predictions(index=np.arange(n), inputs=inputs, labels=labels, puzzle_ids=np.zeros(n, int),
                       pred=labels, correct=np.zeros((n, 1), bool), token_acc=z, q_halt=z, q_continue=z,
                       halt_step=np.ones(n, int))


def test_one_pass_and_difficulty_by_hand(tmp_path):
    from hrmkit.data.loader import PuzzleDataset

    ds = PuzzleDataset(make_dataset(tmp_path / "d", n_train=2, n_test=2), "test")
    solved = sudoku.to_tokens(SOLVED)
    easy = solved.copy()
    easy[[0, 40]] = 1  # 79 givens, solved in one pass
    hard = np.ones(81, np.int64)
    hard[:30] = solved[:30]  # 30 givens (rows 1-3 and three cells): one pass does not solve it
    pred = _pred(np.stack([easy, hard]), np.stack([solved, solved]))
    m = one_pass_baseline(pred, ds)
    expect = one_pass_answers(pred.inputs, "sudoku")
    assert m["baseline_one_pass_exact_accuracy"] == 0.5
    assert m["baseline_one_pass_token_accuracy"] == pytest.approx((1 + (expect[1] == solved).mean()) / 2)
    d = difficulty_summary(pred, ds)
    assert (d["givens_min"], d["givens_max"], d["givens_mean"]) == (30, 79, 54.5)
    assert "rating_mean" not in d  # the fixture data set has no ratings


def test_maze_copy_baseline_and_path_length(tmp_path):
    from types import SimpleNamespace

    # tokens: 1 wall, 2 open, 3 S, 4 G, 5 path; 0 ignored (padding)
    inputs = np.array([[3, 2, 2, 4, 1, 0], [3, 2, 4, 1, 1, 0]])
    labels = np.array([[3, 5, 5, 4, 1, 0], [3, 5, 4, 1, 1, 0]])
    ds = SimpleNamespace(meta=SimpleNamespace(family="maze", ignore_label_id=0, grid=[2, 3]))
    m = one_pass_baseline(_pred(inputs, labels), ds)
    assert m["baseline_one_pass_exact_accuracy"] == 0.0
    assert m["baseline_one_pass_token_accuracy"] == pytest.approx((3 / 5 + 4 / 5) / 2)  # 5 labelled cells each
    d = difficulty_summary(_pred(inputs, labels), ds)
    assert d == {"path_length_mean": 2.5, "path_length_min": 2, "path_length_max": 3, "grid_side": 2}


def test_eval_writes_baselines_and_the_untrained_one_is_a_seeded_fresh_model(tmp_path):
    data = make_dataset(tmp_path / "data", n_train=4, n_test=8)
    cfg = ModelConfig.from_name("tiny", hidden_size=32, num_heads=2, halt_max_steps=2, vocab_size=11, seq_len=81,
                                num_puzzle_identifiers=1)
    torch.manual_seed(123)
    build(cfg).save_pretrained(tmp_path / "model")
    torch.manual_seed(7)
    build(cfg).save_pretrained(tmp_path / "fresh7")  # what the untrained baseline with --seed 7 must be
    runner = CliRunner()
    base = ["--data", str(data), "--device", "cpu", "--batch-size", "8"]
    r = runner.invoke(app, ["eval", str(tmp_path / "model"), *base, "--out", str(tmp_path / "r1"), "--seed", "7"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "r1" / "metrics.json").read_text())
    r = runner.invoke(app, ["eval", str(tmp_path / "fresh7"), *base, "--out", str(tmp_path / "r2"),
                            "--no-baselines"])
    assert r.exit_code == 0, r.output
    fresh = json.loads((tmp_path / "r2" / "metrics.json").read_text())
    assert m["baseline_untrained_token_accuracy"] == fresh["token_accuracy"]
    assert m["baseline_untrained_exact_accuracy"] == fresh["exact_accuracy"]
    assert m["token_accuracy"] != fresh["token_accuracy"]  # the model's own weights differ (seed 123)
    assert not any(k.startswith("baseline_untrained") for k in fresh)
    assert {"baseline_one_pass_exact_accuracy", "givens_mean", "givens_min", "givens_max"} <= set(fresh)
    assert 0 <= m["baseline_one_pass_token_accuracy"] <= 1
