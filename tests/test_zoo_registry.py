"""The zoo registry: shipped entries, schema errors with file:line, extra registries, `hrmkit zoo list|show`.

Where the shipped registry is read from and what `zoo pin` writes; the build that puts `zoo/` into the package
is tested in test_zoo_packaging.py.
"""

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.errors import HrmkitError
from hrmkit.zoo import card, hub, hubclient, pinning, publishing, pulling, registry

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
    entries = registry.load_registry([registry.shipped_dir()])
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


def test_a_checkout_reads_its_zoo_folder():
    """In the source tree (an editable install, or PYTHONPATH) the registry and the card template are zoo/'s."""
    assert registry.checkout_zoo() == registry.shipped_dir() == REPO / "zoo"
    assert registry.registry_dirs()[0] == REPO / "zoo"
    assert {e.path.parent for e in registry.load_registry().values()} == {REPO / "zoo"}
    assert card.TEMPLATE == REPO / "zoo" / "MODEL_CARD.md"


def test_the_registry_has_one_copy_in_git():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "zoo", "hrmkit/zoo/registry"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert "zoo/MODEL_CARD.md" in tracked and "zoo/sudoku-extreme.yaml" in tracked
    assert not [f for f in tracked if f.startswith("hrmkit/")], "the packaged copy is written by the build, not kept"


def test_a_source_tree_is_known_by_its_pyproject(tmp_path, monkeypatch):
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "MODEL_CARD.md").write_text("---\n---\n")
    monkeypatch.setattr(registry, "_ROOT", tmp_path)
    assert registry.checkout_zoo() is None  # no pyproject.toml (site-packages with a zoo/ of another package)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "zoo"\n')
    assert registry.checkout_zoo() is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "hrmkit"\nversion = "1"\n')
    assert registry.checkout_zoo() == tmp_path / "zoo"
    (tmp_path / "zoo" / "MODEL_CARD.md").unlink()
    assert registry.checkout_zoo() is None


def test_an_installation_without_its_registry_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "checkout_zoo", lambda: None)
    monkeypatch.setattr(registry, "PACKAGED", tmp_path / "absent")
    assert registry.shipped_dir() == tmp_path / "absent"
    with pytest.raises(HrmkitError, match="registry is missing from this installation"):
        registry.load_registry()
    monkeypatch.setenv("HRMKIT_ZOO_PATH", str(tmp_path / "nope"))
    with pytest.raises(HrmkitError, match="HRMKIT_ZOO_PATH: .*nope is not a folder"):
        registry.load_registry([tmp_path / "nope"])


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
    from hrmkit.zoo.pinning import rewrite_pins

    src = registry.shipped_dir() / f"{name}.yaml"
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
    from hrmkit.zoo.pinning import rewrite_pins

    text = "name: x\nsha256:\n  old: " + "11" * 32 + "\n  other: " + "22" * 32 + "  # gone\n\nrevision: v1\nlicense: mit\n"
    out = rewrite_pins(text, Path("x.yaml"), "f" * 40, {"new": "33" * 32})
    assert out == "name: x\nsha256:\n  new: " + "33" * 32 + "\n\nrevision: " + "f" * 40 + "\nlicense: mit\n"
    out = rewrite_pins("name: x\nrevision: main", Path("x.yaml"), "e" * 40, {})
    assert out == "name: x\nrevision: " + "e" * 40 + "\nsha256: {}\n"
    with pytest.raises(HrmkitError, match="no top-level 'revision'"):
        rewrite_pins("name: x\n", Path("x.yaml"), "e" * 40, {})


def test_pin_writes_zoo_in_the_checkout_and_an_added_entry_in_its_own_folder(tmp_path, monkeypatch):
    shipped = registry.get("sudoku-extreme")
    assert pinning.entry_file(shipped) == REPO / "zoo" / "sudoku-extreme.yaml"
    write_entry(tmp_path, "sudoku-extreme", text=(REPO / "zoo" / "sudoku-extreme.yaml").read_text())
    monkeypatch.setenv("HRMKIT_ZOO_PATH", str(tmp_path))  # a private copy, byte-identical to the shipped one
    own = registry.get("sudoku-extreme")
    assert pinning.entry_file(own) == tmp_path / "sudoku-extreme.yaml"  # that file alone


def test_pin_refuses_the_copy_inside_an_installed_package(tmp_path, monkeypatch):
    """An installed wheel reads hrmkit/zoo/registry/ (written by the build); pinning that copy would be lost."""
    monkeypatch.setattr(registry, "PACKAGED", tmp_path / "registry")
    packaged = dataclasses.replace(registry.get("arc-2"), path=tmp_path / "registry" / "arc-2.yaml")
    with pytest.raises(HrmkitError) as err:
        pinning.entry_file(packaged)
    message = str(err.value)
    assert message.startswith("hrmkit zoo pin arc-2: ") and "inside the installed package" in message
    assert "zoo/arc-2.yaml" in message and "HRMKIT_ZOO_PATH" in message
    # and pin() says so before it looks at the network (here: offline, which would be the other error)
    monkeypatch.setattr(registry, "get", lambda name: packaged)
    with pytest.raises(HrmkitError, match="inside the installed package"):
        pinning.pin("arc-2")


def test_hub_keeps_its_names():
    """hub.py was split by concern (pull, pin, publish, the Hub connection); its public names stay."""
    modules = (hubclient, pinning, publishing, pulling)
    for name in hub.__all__:
        obj = getattr(hub, name)
        assert any(getattr(m, name, None) is obj for m in modules), name
    for name in ("pull", "publish", "pin", "resolve", "read_source", "default_out", "SOURCE_FILE", "find_weights",
                 "rewrite_pins", "verify_download", "check_sha256", "models_home"):
        assert name in hub.__all__, name
