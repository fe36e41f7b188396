"""pull and resolve without a server: the errors a user meets offline or with a wrong name (CLI: one line, exit 1)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.errors import HrmkitError
from hrmkit.zoo import hub, resolve


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as conftest's HF_HUB_OFFLINE=1
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HRMKIT_HOME", str(tmp_path / "home"))


def error_of(args: list[str]) -> str:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1, res.output
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ") and "Traceback" not in res.output
    return res.stderr.strip()


def test_offline_with_empty_cache(tmp_path):
    msg = error_of(["pull", "sudoku-extreme"])
    assert "offline (HF_HUB_OFFLINE is set)" in msg
    assert "sapientinc/HRM-checkpoint-sudoku-extreme@main is not in" in msg and str(tmp_path / "hf-cache") in msg
    assert not (tmp_path / "home" / "models" / "sudoku-extreme").exists()


def test_unknown_name():
    msg = error_of(["pull", "sudoku-extremes"])
    assert msg.startswith("error: unknown model 'sudoku-extremes'") and "did you mean sudoku-extreme" in msg


def test_bad_task():
    assert "--task must be one of sudoku, maze, arc" in error_of(["pull", "org/repo", "--task", "chess"])


def test_pull_will_not_overwrite_a_foreign_folder(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    msg = error_of(["pull", "org/repo", "--out", str(out)])
    assert "is not a folder made by `hrmkit pull`" in msg
    assert (out / "thesis.tex").read_text() == "precious"


def test_resolve(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative names below must not meet a real runs/ of the checkout (after `make demo`)
    assert resolve(str(tmp_path)) == tmp_path  # an existing folder is used as it is
    with pytest.raises(HrmkitError, match="no such model directory"):
        resolve("./runs/missing")
    with pytest.raises(HrmkitError, match="not a model folder here, and pulling it from the Hub failed: offline"):
        resolve("runs/demo")  # looks like ORG/NAME too: both readings are reported


def test_resolve_uses_an_earlier_pull_without_network(tmp_path):
    out = hub.default_out("org/model")
    out.mkdir(parents=True)
    (out / hub.SOURCE_FILE).write_text('{"repo": "org/model", "revision": "main"}')
    assert resolve("org/model") == out
    assert Path(out).parent == tmp_path / "home" / "models"
