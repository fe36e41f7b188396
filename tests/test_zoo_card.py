"""`hrmkit zoo card`: the model card publish writes (same bytes, no git), its default repo and errors, the
difficulty and baselines section beside the model's results, and the Hub data set named from a build's sources."""

import json
import re

import pytest
from huggingface_hub import ModelCard
from typer.testing import CliRunner

from hrmkit.cli import app

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_zoo_card_is_the_readme_publish_writes(run_dir, data_dir, tmp_path):
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


def test_zoo_card_default_repo_and_errors(run_dir, tmp_path):
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


def test_card_shows_difficulty_and_baselines_beside_the_model(run_dir, tmp_path):
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


def test_card_names_the_hub_data_set_from_a_builds_sources(run_dir, tmp_path):
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
