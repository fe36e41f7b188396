"""Evaluation: metrics on a hand-made case, ARC voting on a hand-made case, and `hrmkit eval` end to end."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from _helpers import make_dataset
from hrmkit.cli import app
from hrmkit.evaluate import PLOT_FILES, PLOTS_DIR, Predictions, arc_vote, calibration, metrics, vote
from hrmkit.puzzles import arc


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_metrics_on_a_hand_made_case(tmp_path):
    from hrmkit.data.loader import PuzzleDataset

    ds = PuzzleDataset(make_dataset(tmp_path / "d", n_train=4, n_test=4), "test")
    # 4 puzzles, 3 segments: puzzle 0 right from segment 1, puzzle 1 from segment 3, puzzles 2-3 never
    correct = np.array([[1, 1, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0]], bool)
    token_acc = np.array([[1, 1, 1], [0.5, 0.9, 1], [0.2, 0.2, 0.4], [0, 0, 0]], np.float32)
    q_halt = np.array([[3.0, 3, 3], [-3, -3, 3], [-3, -3, -3], [3, 3, 3]])  # puzzle 3: confidently wrong
    inputs = np.asarray(ds.inputs[:4]).copy()
    inputs[:2] = 2  # puzzles 0-1: 81 givens; 2-3: 30 givens
    inputs[2:] = 1
    inputs[2:, :30] = 5
    pred = Predictions(index=np.arange(4), inputs=inputs, labels=np.asarray(ds.labels[:4]),
                       puzzle_ids=np.zeros(4, int), pred=np.zeros((4, 81), np.uint8), correct=correct,
                       token_acc=token_acc, q_halt=q_halt, q_continue=np.zeros((4, 3)),
                       halt_step=np.array([1, 3, 3, 1]))
    m = metrics(pred, ds)
    assert m["exact_accuracy"] == 0.5 and m["token_accuracy"] == pytest.approx(0.6, abs=1e-6)
    assert [m[f"exact_accuracy_step_{k}"] for k in (1, 2, 3)] == [0.25, 0.25, 0.5]
    assert m["act_steps"] == 2.0
    assert m["exact_accuracy_at_halt"] == 0.5  # puzzle 0 at 1 (right), 1 at 3 (right), 3 at 1 (wrong)
    # q_halt >= 0 agrees with correctness in 9 of 12 (puzzle 3: 3 disagreements)
    assert m["q_halt_accuracy"] == pytest.approx(9 / 12)
    assert m["exact_accuracy_givens_50-81"] == 1.0 and m["count_givens_50-81"] == 2
    assert m["exact_accuracy_givens_30-34"] == 0.0 and m["count_givens_30-34"] == 2


def test_calibration_error_by_hand():
    ece, table = calibration(np.array([0.9, 0.9, 0.1, 0.1]), np.array([1, 0, 0, 0]))
    # bin 9: confidence 0.9, accuracy 0.5; bin 1: confidence 0.1, accuracy 0 -> 0.5*0.4 + 0.5*0.1
    assert ece == pytest.approx(0.25)
    assert [t["count"] for t in table] == [2, 2]


def test_vote_ranks_by_count_then_mean_q():
    a, b, c = np.zeros((2, 2)), np.ones((2, 2)), np.ones((1, 2))
    ranked = vote([(a, 0.1), (b, 5.0), (a, 0.2), (c, 9.0), (b, -1.0)])
    # a: 2 votes mean 0.15; b: 2 votes mean 2.0 -> b first; c: 1 vote (shape differs from b: distinct)
    assert [r[1] for r in ranked] == [2, 2, 1]
    assert np.array_equal(ranked[0][0], b) and np.array_equal(ranked[1][0], a)


def test_arc_voting_undoes_augmentations_and_scores_tasks():
    g1 = np.array([[1, 2], [3, 0]], np.uint8)  # task A, one test output
    g2 = np.array([[5, 5, 6]], np.uint8)  # task B, output 0
    g3 = np.array([[7]], np.uint8)  # task B, output 1
    wrong = np.array([[4, 4], [4, 4]], np.uint8)
    aug1 = arc.Augmentation(3, (0, 2, 3, 1, 4, 5, 6, 7, 8, 9))
    augs = [None]
    for task, aug in (("A", arc.Augmentation()), ("A", aug1), ("A", aug1), ("B", arc.Augmentation())):
        inv = aug.inverse()
        augs.append({"task": task, "dihedral": aug.dihedral, "colors": list(aug.colors),
                     "inverse_dihedral": inv.dihedral, "inverse_colors": list(inv.colors)})
    # examples: puzzle 1 (A id), 2 and 3 (A augmented), 4 (B: two test outputs)
    pids = np.array([1, 2, 3, 4, 4])
    preds = [g1, aug1.apply(g1), wrong, g2, wrong]
    labels = [g1, aug1.apply(g1), aug1.apply(g1), g2, g3]
    q = np.array([[0.0], [0.0], [9.0], [0.0], [0.0]])
    pred = Predictions(index=np.arange(5), inputs=np.zeros((5, 900), np.uint8),
                       labels=np.stack([arc.to_tokens(x) for x in labels]), puzzle_ids=pids,
                       pred=np.stack([arc.to_tokens(x) for x in preds]), correct=np.zeros((5, 1), bool),
                       token_acc=np.zeros((5, 1)), q_halt=q, q_continue=q, halt_step=np.ones(5, int))
    ds = SimpleNamespace(example_puzzle=np.array([0, 1, 2, 3, 3]), puzzle_indices=np.array([0, 1, 2, 3, 5]))
    m, sub = arc_vote(pred, ds, augs)
    # task A: g1 gets 2 votes (identity + augmented copy mapped back), `wrong` 1 vote with a high q: g1 wins.
    # task B: output 1 is wrong -> the task fails although half of its outputs are right.
    assert m["arc_tasks"] == 2 and m["arc_test_outputs"] == 3
    assert m["arc_pass@1"] == 0.5 and m["arc_pass@2"] == 0.5
    assert m["arc_pass@2_per_output"] == pytest.approx((1 + 0.5) / 2)
    assert sub["A"][0]["attempt_1"] == g1.tolist()
    assert sub["A"][0]["attempt_2"] == aug1.inverse().apply(wrong).tolist()
    assert len(sub["B"]) == 2 and sub["B"][0]["attempt_1"] == g2.tolist()


def test_cli_train_then_eval(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the repository: dvclive then has no git/DVC repo to inspect
    data = make_dataset(tmp_path / "data", blank_frac=0.0)
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  preset: tiny\n  global_batch_size: 8\n  lr: 0.01\n  warmup_steps: 1\n"
                      "  log_every: 2\n  device: cpu\n  model:\n    hidden_size: 32\n    num_heads: 2\n")
    runner = CliRunner()
    r = runner.invoke(app, ["train", "--config", f"{params}:train", "--data", str(data), "--out",
                            str(tmp_path / "run"), "--steps", "6", "--no-progress", "halt_max_steps=2"])
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["hidden_size"] == 32 and cfg["halt_max_steps"] == 2
    live = tmp_path / "run" / "live"
    assert (live / "metrics.json").is_file()
    logged = json.loads((live / "metrics.json").read_text())
    assert {"loss", "exact_accuracy", "act_steps", "lr", "samples_per_s"} <= set(logged["train"])
    assert (live / "plots" / "metrics" / "train" / "loss.tsv").is_file()

    r = runner.invoke(app, ["eval", str(tmp_path / "run"), "--data", str(data), "--out", str(tmp_path / "report"),
                            "--tta", "2", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert 0 <= m["exact_accuracy"] <= 1 and m["segments"] == 2 and m["num_examples"] == 16
    assert "tta_exact_accuracy" in m and "exact_accuracy_step_2" in m
    assert sorted(p.name for p in (tmp_path / "report" / PLOTS_DIR).iterdir()) == sorted(PLOT_FILES)
    for png in PLOT_FILES:
        assert (tmp_path / "report" / PLOTS_DIR / png).read_bytes()[:4] == b"\x89PNG"


def test_cli_errors_are_one_line(tmp_path):
    data = make_dataset(tmp_path / "data")
    runner = CliRunner()
    r = runner.invoke(app, ["train", "--preset", "tiny", "--data", str(data), "--out", str(tmp_path / "run"),
                            "nonsense=3"])
    assert r.exit_code == 1 and "unknown setting 'nonsense'" in r.output
    r = runner.invoke(app, ["train", "--preset", "tiny", "--data", str(data), "--out", str(tmp_path / "run"),
                            "vocab_size=12", "--no-live"])
    assert r.exit_code == 1 and "disagrees with the data set" in r.output
    r = runner.invoke(app, ["eval", str(tmp_path / "nothing"), "--data", str(data), "--out", str(tmp_path / "r")])
    assert r.exit_code == 1 and "error:" in r.output
