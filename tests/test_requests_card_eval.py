"""Issue 7 requests: `hrmkit zoo card` (the card publish writes, no git) and baselines/difficulty in `hrmkit eval`."""

import json
import re

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.evaluate import Predictions, difficulty_summary, one_pass_answers, one_pass_baseline
from hrmkit.models import ModelConfig, build
from hrmkit.puzzles import sudoku
from test_train_loop import make_dataset
from test_zoo_publish import data_dir, run_dir  # noqa: F401  (fixtures)

# a solved grid (the canonical pattern: rows shifted by 3, 6, 1, ...), valid by construction
SOLVED = np.array([[(3 * (r % 3) + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)], np.int8).ravel()


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


# ------------------------------------------------------------------------------------------------ zoo card
def test_zoo_card_is_the_readme_publish_writes(run_dir, data_dir, tmp_path):  # noqa: F811
    target = tmp_path / "published"
    args = ["--repo", "me/tiny", "--data", str(data_dir), "--report", str(run_dir / "metrics.json")]
    res = CliRunner().invoke(app, ["publish", str(run_dir), "--to", str(target), *args])
    assert res.exit_code == 0, res.output
    out = tmp_path / "reports" / "model" / "README.md"
    res = CliRunner().invoke(app, ["zoo", "card", str(run_dir), "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out)
    assert out.read_text() == (target / "README.md").read_text()
    assert sorted(p.name for p in out.parent.iterdir()) == ["README.md"]  # no temp file, no .git


def test_zoo_card_default_repo_and_errors(run_dir, tmp_path):  # noqa: F811
    out = tmp_path / "card.md"
    res = CliRunner().invoke(app, ["zoo", "card", str(run_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert ModelCard(out.read_text()).data.model_name == "hrmkit/run"
    for args, message in [(["--repo", "no-org"], "is not a Hub repo id"),
                          (["--report", str(tmp_path / "missing.json")], "evaluation report not found"),
                          (["--out", str(tmp_path)], "is a folder")]:
        cmd = ["zoo", "card", str(run_dir), *(["--out", str(tmp_path / "x.md")] if "--out" not in args else []), *args]
        res = CliRunner().invoke(app, cmd)
        assert res.exit_code == 1 and message in res.stderr, (args, res.output)
    assert not (tmp_path / "x.md").exists()
    res = CliRunner().invoke(app, ["zoo", "card", str(tmp_path), "--out", str(tmp_path / "x.md")])
    assert res.exit_code == 1 and "not a training run or model directory" in res.stderr


def test_card_shows_difficulty_and_baselines_beside_the_model(run_dir, tmp_path):  # noqa: F811
    report = {"exact_accuracy": 0.25, "token_accuracy": 0.8, "baseline_one_pass_exact_accuracy": 0.0,
              "baseline_one_pass_token_accuracy": 0.7531, "baseline_untrained_exact_accuracy": 0.0,
              "baseline_untrained_token_accuracy": 0.1, "givens_mean": 42.3, "givens_min": 40, "givens_max": 45,
              "rating_mean": 3.5}
    (run_dir / "metrics.json").write_text(json.dumps(report))
    out = tmp_path / "README.md"
    res = CliRunner().invoke(app, ["zoo", "card", str(run_dir), "--out", str(out), "--repo", "me/tiny"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    section = text.split("### Difficulty and baselines")[1].split("## How it was trained")[0]
    assert "| this model | 0.25 | 0.8 |" in section
    assert "| one pass of single candidates" in section and "| 0 | 0.7531 |" in section
    assert "| the same config untrained (fresh seeded weights) | 0 | 0.1 |" in section
    assert "40-45 givens (mean 42.3)" in section
    assert "3.5 guesses" in section
    # baselines are not the model's results: they stay out of the model-index
    assert {r.metric_type for r in ModelCard(text).data.eval_results} == {"exact_accuracy", "token_accuracy"}
    assert re.search(r"\$[a-z_]+", text) is None

    (run_dir / "metrics.json").write_text(json.dumps({"exact_accuracy": 0.5}))
    CliRunner().invoke(app, ["zoo", "card", str(run_dir), "--out", str(out)])
    assert "No baselines or difficulty summary were given" in out.read_text()


# ------------------------------------------------------------------------------------------------ baselines
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


def test_card_names_the_hub_data_set_from_a_builds_sources(run_dir, tmp_path):  # noqa: F811
    """`hrmkit data build` records `sources` (role -> record): an hf: source is a Hub data set, gh: is not."""
    from hrmkit.zoo import card

    data = tmp_path / "built"
    data.mkdir()
    hf = {"spec": "hf:sapientinc/sudoku-extreme", "kind": "hf", "repo": "sapientinc/sudoku-extreme"}
    (data / "provenance.json").write_text(json.dumps({"family": "sudoku", "sources": {"train": hf, "test": hf}}))
    assert card.facts_from_dir(run_dir, "me/tiny", data=data).datasets == ["sapientinc/sudoku-extreme"]
    gh = {"spec": "gh:fchollet/ARC-AGI@3990304:data", "kind": "gh", "repo": "fchollet/ARC-AGI"}
    (data / "provenance.json").write_text(json.dumps({"family": "arc", "sources": {"source0": gh}}))
    facts = card.facts_from_dir(run_dir, "me/tiny", data=data)
    assert facts.datasets == [] and facts.task == "arc"
