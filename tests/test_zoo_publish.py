"""publish: the Hub layout, the model card (metadata + body) and `--to DIR` as a git repository on main."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.errors import HrmkitError
from hrmkit.models import ModelConfig, build
from hrmkit.zoo import card, hub


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_publish_to_local_git_repo(run_dir, data_dir, tmp_path):
    target = tmp_path / "mirror" / "models" / "me" / "tiny"
    res = CliRunner().invoke(app, ["publish", str(run_dir), "--repo", "me/tiny", "--to", str(target),
                                   "--data", str(data_dir)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(target)
    assert git(target, "symbolic-ref", "--short", "HEAD") == "main"
    assert sorted(git(target, "ls-files").split()) == ["README.md", "config.json", "model.safetensors"]
    assert git(target, "status", "--porcelain") == ""
    assert (target / "model.safetensors").read_bytes() == (run_dir / "model.safetensors").read_bytes()

    readme = (target / "README.md").read_text()
    meta = ModelCard(readme).data
    assert meta.library_name == "hrmkit"
    assert "sudoku" in meta.tags and "hrmkit" in meta.tags
    assert meta.datasets == ["sapientinc/sudoku-extreme"]
    results = {r.metric_type: r.metric_value for r in meta.eval_results}
    assert results == {"exact_accuracy": 0.25, "token_accuracy": 0.8}  # accuracy-like keys only
    n_params = sum(p.numel() for p in build(ModelConfig.from_name("tiny")).parameters())
    assert f"{n_params:,}" in readme
    assert card.sha256_file(run_dir / "model.safetensors") in readme
    assert "c" * 64 in readme and "f" * 40 in readme  # the data source's hash and revision
    assert "hrmkit.load(\"me/tiny\")" in readme and "## Limits" in readme
    assert re.search(r"\$[a-z_]+", readme) is None  # every template placeholder filled

    # publishing again adds one commit on main; unchanged content adds none
    first = git(target, "rev-parse", "HEAD")
    (run_dir / "metrics.json").write_text(json.dumps({"exact_accuracy": 0.5}))
    second = hub.publish(run_dir, "me/tiny", to=target)
    assert second != first and git(target, "rev-list", "--count", "HEAD") == "2"
    assert hub.publish(run_dir, "me/tiny", to=target) == second


def test_card_without_report_says_so(run_dir):
    (run_dir / "metrics.json").unlink()
    text = card.render(card.facts_from_dir(run_dir, "me/tiny"))
    assert ModelCard(text).data.eval_results is None
    assert "No evaluation report was given" in text and "Not recorded: publish with `--data" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--repo", "no-org"], "is not a Hub repo id"),
        (["--repo", "me/x", "--report", "missing.json"], "evaluation report not found"),
    ],
)
def test_publish_errors(run_dir, tmp_path, args, message):
    res = CliRunner().invoke(app, ["publish", str(run_dir), *args, "--to", str(tmp_path / "out")])
    assert res.exit_code == 1 and message in res.stderr and res.stderr.count("\n") == 1


def test_publish_refuses_a_non_model_folder_and_a_foreign_target(run_dir, tmp_path):
    with pytest.raises(HrmkitError, match="not a training run or model directory"):
        hub.publish(tmp_path, "me/x", to=tmp_path / "out")
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(HrmkitError, match="not empty and not a git repository"):
        hub.publish(run_dir, "me/x", to=occupied)


@pytest.mark.parametrize(
    "files, expected",
    [
        (["all_config.yaml", "step_100", "step_2000", "README.md"], "step_2000"),
        (["checkpoint", "all_config.yaml", "losses.py", ".gitattributes"], "checkpoint"),
        (["model.pt", "all_config.yaml"], "model.pt"),
    ],
)
def test_find_weights(files, expected):
    assert hub.find_weights(files, "a/b") == expected


def test_find_weights_errors():
    with pytest.raises(HrmkitError, match="a/b has no weights"):
        hub.find_weights(["README.md", "all_config.yaml"], "a/b")
    with pytest.raises(HrmkitError, match="several files could be the weights"):
        hub.find_weights(["a.pt", "b.pt"], "a/b")


def test_publish_to_the_hub_uses_create_repo_and_upload_folder(run_dir, monkeypatch):
    """The HfApi path (no server here can take uploads): one repo creation, one upload of the staged folder."""
    import huggingface_hub

    calls = []

    class RecordingApi:
        def __init__(self, endpoint=None, token=None):
            calls.append(("init", endpoint, token))

        def create_repo(self, repo_id, private, exist_ok, repo_type):
            calls.append(("create_repo", repo_id, private, exist_ok, repo_type))
            return f"https://hub.example/{repo_id}"

        def upload_folder(self, repo_id, folder_path, commit_message, repo_type):
            calls.append(("upload_folder", repo_id, sorted(p.name for p in Path(folder_path).iterdir()), repo_type))

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example")
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    res = CliRunner().invoke(app, ["publish", str(run_dir), "--repo", "me/tiny", "--private"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "https://hub.example/me/tiny"
    assert calls == [("init", "https://hub.example", "hf_test"), ("create_repo", "me/tiny", True, True, "model"),
                     ("upload_folder", "me/tiny", ["README.md", "config.json", "model.safetensors"], "model")]


def test_card_of_a_training_run_reads_its_train_config_and_data(run_dir, data_dir):
    """A run from `hrmkit train` records its settings and data folder: the card picks both up unasked."""
    (run_dir / "train_config.json").write_text(json.dumps(
        {"preset": "tiny", "model_overrides": {}, "train": {"lr": 7e-5, "global_batch_size": 64, "seed": 3},
         "data": str(data_dir), "world_size": 1}))
    (run_dir / "checkpoint").mkdir()
    (run_dir / "checkpoint" / "state.json").write_text(json.dumps({"step": 1234, "epoch": 2}))
    facts = card.facts_from_dir(run_dir, "me/tiny")
    assert facts.training["lr"] == 7e-5 and facts.training["steps_done"] == 1234 and facts.training["preset"] == "tiny"
    assert facts.datasets == ["sapientinc/sudoku-extreme"] and facts.task == "sudoku"
    text = card.render(facts)
    assert "global_batch_size: 64" in text and "steps_done: 1234" in text and "c" * 64 in text
