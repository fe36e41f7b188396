"""The zoo registry: shipped entries, schema errors with file:line, extra registries, `hrmkit zoo list|show`."""

import filecmp
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.errors import HrmkitError
from hrmkit.zoo import registry

REPO = Path(__file__).resolve().parents[1]
GOOD = """\
name: {name}
description: a test model
repo: test-org/test-model
revision: 0123456789abcdef0123456789abcdef01234567
format: hrmkit
task: sudoku
seq_len: 81
arch: tiny
license: apache-2.0
citation: none
metrics:
  - name: exact_accuracy
    value: 0.5
    dataset: test-org/data
    split: test
    source: a test
sha256:
  model.safetensors: {sha}
"""


def write_entry(folder: Path, name: str = "test-model", text: str | None = None, **replace) -> Path:
    text = text if text is not None else GOOD.format(name=name, sha="a" * 64)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_shipped_entries_are_the_authors_checkpoints():
    entries = registry.load_registry([registry.PACKAGED])
    assert set(entries) == {"sudoku-extreme", "maze-30x30-hard", "arc-2"}
    sudoku = entries["sudoku-extreme"]
    assert sudoku.repo == "sapientinc/HRM-checkpoint-sudoku-extreme"
    assert (sudoku.format, sudoku.task, sudoku.seq_len, sudoku.arch) == ("official", "sudoku", 81, "paper-sudoku")
    assert entries["maze-30x30-hard"].seq_len == entries["arc-2"].seq_len == 900
    for entry in entries.values():
        assert entry.metrics and all("arXiv:2506.21734" in m.source for m in entry.metrics)
        assert "2506.21734" in entry.citation and entry.license
    with pytest.raises(Exception):  # frozen
        sudoku.repo = "x/y"


def test_packaged_copy_matches_the_repository_zoo_folder():
    """zoo/ is the source of truth; hrmkit/zoo/registry/ is its copy shipped as package data."""
    src = sorted(p.name for p in (REPO / "zoo").iterdir() if p.is_file())
    assert src, "zoo/ is empty"
    match, mismatch, errors = filecmp.cmpfiles(REPO / "zoo", registry.PACKAGED, src, shallow=False)
    assert not mismatch and not errors, (
        f"hrmkit/zoo/registry differs from zoo/ for {mismatch + errors}: "
        "run `cp zoo/*.yaml zoo/MODEL_CARD.md hrmkit/zoo/registry/`")
    extra = {p.name for p in registry.PACKAGED.iterdir()} - set(src)
    assert not extra, f"hrmkit/zoo/registry has files that zoo/ lacks: {sorted(extra)}"


def test_good_entry_parses(tmp_path):
    entry = registry.parse_entry(write_entry(tmp_path))
    assert entry.pinned and entry.sha256 == {"model.safetensors": "a" * 64}
    assert entry.metrics[0].value == 0.5 and entry.metrics[0].verified is False


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format: hrmkit": "format: onnx"}, "test-model.yaml:5: format 'onnx' must be one of hrmkit, official"),
        ({"task: sudoku": "task: chess"}, "test-model.yaml:6: task 'chess'"),
        ({"seq_len: 81": "seq_len: eighty"}, "test-model.yaml:7: 'seq_len' must be an integer"),
        ({"repo: test-org/test-model": "repo: just-a-name"}, "test-model.yaml:3: repo 'just-a-name' is not"),
        ({"license: apache-2.0\n": "licence: apache-2.0\n"}, "test-model.yaml:9: unknown entry key 'licence'"),
        ({"arch: tiny\n": ""}, "test-model.yaml:1: entry is missing the required key 'arch'"),
        ({"value: 0.5": "value: 55.0"}, "test-model.yaml:12: metric value must be a fraction in [0, 1]"),
        ({"a" * 64: "abc"}, "test-model.yaml:18: sha256 of 'model.safetensors' must be 64"),
        ({"name: test-model": "name: other"}, "test-model.yaml:1: name 'other' must match the file name"),
        ({"seq_len: 81": "seq_len: [81"}, "test-model.yaml:"),
    ],
)
def test_schema_errors_name_file_and_line(tmp_path, change, message):
    path = write_entry(tmp_path, **change)
    with pytest.raises(HrmkitError) as err:
        registry.parse_entry(path)
    assert message in str(err.value)


def test_extra_registry_adds_and_overrides(tmp_path, monkeypatch):
    write_entry(tmp_path, "test-model")
    write_entry(tmp_path, "sudoku-extreme", text=GOOD.format(name="sudoku-extreme", sha="b" * 64))
    monkeypatch.setenv("HRMKIT_ZOO_PATH", str(tmp_path))
    entries = registry.load_registry()
    assert entries["test-model"].repo == "test-org/test-model"
    assert entries["sudoku-extreme"].repo == "test-org/test-model"  # replaced by the later folder
    assert "arc-2" in entries


def test_unknown_name_suggests_close_ones():
    with pytest.raises(HrmkitError, match="did you mean sudoku-extreme"):
        registry.get("sudoku-extrem")


def test_cli_zoo_list_and_show():
    runner = CliRunner()
    res = runner.invoke(app, ["zoo", "list"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TASK", "FORMAT", "REPO@REVISION", "REPORTED"]
    assert any(line.startswith("sudoku-extreme") and "exact_accuracy 55.0%" in line for line in lines)
    res = runner.invoke(app, ["zoo", "show", "maze-30x30-hard"])
    assert res.exit_code == 0, res.output
    assert "sapientinc/HRM-checkpoint-maze-30x30-hard" in res.stdout and "seq_len:     900" in res.stdout
    res = runner.invoke(app, ["zoo", "show", "nope"])
    assert res.exit_code == 1 and res.stderr.startswith("error: unknown model 'nope'")


@pytest.mark.parametrize("name", ["sudoku-extreme", "maze-30x30-hard", "arc-2"])
def test_pinning_a_shipped_entry_changes_only_its_two_lines(tmp_path, name):
    from hrmkit.zoo.hub import rewrite_pins

    src = registry.PACKAGED / f"{name}.yaml"
    text = src.read_text()
    commit, digest = "0123456789abcdef" * 2 + "01234567", "ab" * 32
    pinned = rewrite_pins(text, src, commit, {"checkpoint": digest, "all_config.yaml": "cd" * 32}, note="main")
    (tmp_path / src.name).write_text(pinned)
    entry = registry.parse_entry(tmp_path / src.name)
    assert entry.pinned and entry.revision == commit
    assert entry.sha256 == {"checkpoint": digest, "all_config.yaml": "cd" * 32}
    before, after = registry.parse_entry(src), entry
    for field in ("name", "repo", "format", "task", "seq_len", "arch", "license", "citation", "metrics", "weights"):
        assert getattr(before, field) == getattr(after, field), field
    assert "not pinned" not in pinned and f"revision: {commit}  # main\n" in pinned
    kept = [line for line in text.splitlines() if not line.startswith(("revision:", "sha256:"))]
    assert [line for line in pinned.splitlines() if not line.startswith(("revision:", "sha256:", "  "))] == [
        line for line in kept if not line.startswith("  ")]


def test_pinning_again_replaces_a_block_mapping_and_adds_a_missing_key(tmp_path):
    from hrmkit.zoo.hub import rewrite_pins

    text = "name: x\nsha256:\n  old: " + "11" * 32 + "\n  other: " + "22" * 32 + "  # gone\n\nrevision: v1\nlicense: mit\n"
    out = rewrite_pins(text, Path("x.yaml"), "f" * 40, {"new": "33" * 32})
    assert out == "name: x\nsha256:\n  new: " + "33" * 32 + "\n\nrevision: " + "f" * 40 + "\nlicense: mit\n"
    out = rewrite_pins("name: x\nrevision: main", Path("x.yaml"), "e" * 40, {})
    assert out == "name: x\nrevision: " + "e" * 40 + "\nsha256: {}\n"
    with pytest.raises(HrmkitError, match="no top-level 'revision'"):
        rewrite_pins("name: x\n", Path("x.yaml"), "e" * 40, {})


def test_pinning_writes_the_shipped_twin_only_for_a_shipped_entry(tmp_path):
    from hrmkit.zoo.hub import _twins

    shipped = registry.PACKAGED / "sudoku-extreme.yaml"
    text = shipped.read_text()
    repo_copy = registry.PACKAGED.parents[2] / "zoo" / "sudoku-extreme.yaml"
    assert _twins(shipped, text) == ([repo_copy] if repo_copy.is_file() else [])
    own = tmp_path / "sudoku-extreme.yaml"  # a private copy on HRMKIT_ZOO_PATH, byte-identical to the shipped one
    own.write_text(text)
    assert _twins(own, text) == []
