"""Training faults: `hrmkit train` checks its data, its --out and its checkpoint before step 1, and a
failed write (disk full, read-only) leaves no half-written checkpoint. Each test runs real training (a tiny HRM,
a few steps) through hrmkit.train.loop.train or the CLI."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from _helpers import TINY, authors_copy, copy_model, make_dataset, maze_dataset, tiny_config
from hrmkit.cli import app
from hrmkit.errors import HrmkitError
from hrmkit.train import guard
from hrmkit.train.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")


def _train(run, data, cfg=None, **kw):
    over = kw.pop("model", TINY)
    return train(run, data, preset=kw.pop("preset", "tiny"), config=cfg or tiny_config(steps=2),
                 model_overrides=over, live_dir=None, progress=False, **kw)


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


CLI_TRAIN = ["--preset", "tiny", "--steps", "2", "--no-progress", "--no-live", "global_batch_size=8",
             "hidden_size=32", "num_heads=2", "halt_max_steps=2", "device=cpu"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("a") / "sudoku")


@pytest.fixture(scope="module")
def other(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("b") / "sudoku-other", seed=1)  # same shape, other puzzles


@pytest.fixture(scope="module")
def maze(tmp_path_factory) -> Path:
    return maze_dataset(tmp_path_factory.mktemp("c") / "maze")


@pytest.fixture(scope="module")
def run(tmp_path_factory, data) -> Path:
    """A run of 2 steps with its checkpoint (copy it before changing it)."""
    out = tmp_path_factory.mktemp("r") / "run"
    r = cli("train", "--data", data, "--out", out, *CLI_TRAIN)
    assert r.exit_code == 0, r.output
    return out


# ---------------------------------------------------------------------------------------------- the data set
def test_resume_refuses_another_data_set_of_the_same_shape(run, data, other, tmp_path):
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["data_identity"]["from"] == "provenance outputs" and len(saved["data_identity"]["sha256"]) == 64
    shutil.copytree(run, tmp_path / "run")
    line = one_error_line(cli("train", "--data", other, "--out", tmp_path / "run", "--resume", *CLI_TRAIN,
                              "--steps", "4"))
    assert f"--data {other} is not the data set" in line and str(data.resolve()) in line, line
    assert json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())["step"] == 2  # untouched
    # the original data resumes (rc 0) and continues to step 4
    r = cli("train", "--data", data, "--out", tmp_path / "run", "--resume", *CLI_TRAIN, "--steps", "4")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())["step"] == 4


def test_resume_refuses_a_maze_set_on_a_sudoku_run(run, maze, tmp_path):
    shutil.copytree(run, tmp_path / "run")
    line = one_error_line(cli("train", "--data", maze, "--out", tmp_path / "run", "--resume", *CLI_TRAIN,
                              "--steps", "4"))
    assert f"--data {maze} is not the data set" in line and "a maze set; the run trains on sudoku" in line, line


def test_authors_folders_are_told_apart_by_their_arrays(data, other, tmp_path):
    a, b = authors_copy(data, tmp_path / "a"), authors_copy(other, tmp_path / "b")
    assert not (a / "provenance.json").exists()
    assert (a / "train" / "dataset.json").read_bytes() == (b / "train" / "dataset.json").read_bytes()  # same shape
    ia, ib = guard.data_identity(a), guard.data_identity(b)
    assert ia["from"] == "authors' files" and ia["sha256"] != ib["sha256"]
    shutil.copytree(a, tmp_path / "a2")
    assert guard.data_identity(tmp_path / "a2") == ia  # a copy is the same set
    _train(tmp_path / "run", a)
    with pytest.raises(HrmkitError, match=r"is not the data set"):
        _train(tmp_path / "run", b, tiny_config(steps=4), resume=True)


def test_an_out_of_vocabulary_token_is_refused_before_step_1(data, tmp_path):
    bad = tmp_path / "oov"
    shutil.copytree(data, bad)
    a = np.load(bad / "train" / "all__inputs.npy")
    a[3, 7] = 42
    np.save(bad / "train" / "all__inputs.npy", a)
    line = one_error_line(cli("train", "--data", bad, "--out", tmp_path / "run", *CLI_TRAIN))
    assert f"{bad}: train inputs row 3 holds token 42 at position 7" in line and "[0, 11)" in line, line
    assert not (tmp_path / "run").exists()  # the folder it created is gone: nothing looks like a run


def test_labels_may_hold_the_ignore_id_but_not_other_tokens(data, tmp_path):
    bad = tmp_path / "oov"
    shutil.copytree(data, bad)
    a = np.load(bad / "test" / "all__labels.npy")
    a[2, 0] = 0  # ignore_label_id: fine
    np.save(bad / "test" / "all__labels.npy", a)
    guard.check_tokens(bad, 11)
    a[5, 1] = 11
    np.save(bad / "test" / "all__labels.npy", a)
    with pytest.raises(HrmkitError, match=r"test labels row 5 holds token 11 at position 1"):
        guard.check_tokens(bad, 11)


@pytest.mark.parametrize("preset", ["paper-sudoku", "demo", "trm-sudoku-mlp"])
def test_a_sudoku_preset_on_a_maze_set_is_refused(maze, tmp_path, preset):
    r = cli("train", "--preset", preset, "--data", maze, "--out", tmp_path / "run", "--steps", "1", "--no-live",
            "--no-progress")
    line = one_error_line(r)
    assert f"preset '{preset}' is made for sudoku, but --data {maze} is a maze data set" in line, line
    assert not (tmp_path / "run").exists()


def test_preset_families():
    assert guard.preset_family("tiny", {}) is None  # generic: any data
    assert guard.preset_family("paper-maze", {}) == "maze" and guard.preset_family("trm-arc", {}) == "arc"
    assert guard.preset_family("demo", {}) == "sudoku"  # by its Sudoku priors
    assert guard.preset_family("tiny", {"attn_mask": "sudoku_peers"}) == "sudoku"
    guard.check_family("tiny", {}, "maze", "d")
    with pytest.raises(HrmkitError, match="made for maze"):
        guard.check_family("trm-maze", {}, "sudoku", "d")


# ---------------------------------------------------------------------------------------------- --out
def test_out_that_holds_a_model_which_is_no_run_needs_overwrite(data, tmp_path):
    model = copy_model(tmp_path / "model")
    (model / "README.md").write_text("my card")
    (model / "notes").mkdir()
    (model / "notes" / "a.txt").write_text("mine")
    before = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    line = one_error_line(cli("train", "--data", data, "--out", model, *CLI_TRAIN))
    assert f"{model}: holds a model (model.safetensors, config.json) that is not a training run" in line, line
    assert "--overwrite" in line
    assert hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest() == before
    assert sorted(p.name for p in model.iterdir()) == ["README.md", "config.json", "model.safetensors", "notes"]
    r = cli("train", "--data", data, "--out", model, *CLI_TRAIN, "--overwrite")
    assert r.exit_code == 0, r.output
    assert hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest() != before
    assert (model / "README.md").read_text() == "my card" and (model / "notes" / "a.txt").read_text() == "mine"
    assert (model / "checkpoint" / "state.json").is_file()


def test_out_is_checked_before_the_data_is_read(tmp_path):
    (tmp_path / "file").write_text("x")
    line = one_error_line(cli("train", "--data", tmp_path / "no-data", "--out", tmp_path / "file" / "run",
                              *CLI_TRAIN))
    assert f"{tmp_path / 'file'}: is a file" in line, line


def _mount_tmpfs(path: Path, opts: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_read_only_out_is_refused_before_training(data, tmp_path):
    ro = tmp_path / "ro"
    if not _mount_tmpfs(ro, "size=64k,ro"):
        pytest.skip("needs root and tmpfs mounts (a read-only file system)")
    try:
        line = one_error_line(cli("train", "--data", data, "--out", ro / "run", *CLI_TRAIN))
        assert f"{ro / 'run'}" in line and "read-only file system" in line, line
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)


def test_disk_full_on_a_real_small_disk_leaves_no_partial_checkpoint(data, tmp_path):
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "size=64k"):
        pytest.skip("needs root and tmpfs mounts (a 64 KiB file system)")
    try:
        line = one_error_line(cli("train", "--data", data, "--out", small / "run", *CLI_TRAIN))
        assert "no space left on the device" in line, line
        assert list(small.iterdir()) == []  # no .checkpoint.tmp, no run folder that looks like a run
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


def test_disk_full_at_a_later_checkpoint_keeps_the_last_one(data, tmp_path, monkeypatch):
    from hrmkit.train import checkpoint

    real = checkpoint.save_file
    calls = {"n": 0}

    def filling(tensors, filename, metadata=None):
        if Path(filename).name.startswith(".optimizer.safetensors") and calls["n"] >= 1:
            with open(filename, "wb") as f:  # the disk fills part-way through the file
                f.write(b"\0" * 100)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)
        if Path(filename).name.startswith(".optimizer.safetensors"):
            calls["n"] += 1
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", filling)
    with pytest.raises(OSError) as err:
        _train(tmp_path / "run", data, tiny_config(steps=4, checkpoint_every=2))
    assert err.value.errno == errno.ENOSPC
    names = sorted(p.name for p in (tmp_path / "run").rglob("*"))
    assert not [n for n in names if ".tmp" in n or ".old" in n], names
    assert json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())["step"] == 2
    monkeypatch.setattr(checkpoint, "save_file", real)
    _train(tmp_path / "run", data, tiny_config(steps=4, checkpoint_every=2), resume=True)  # resumes from step 2
    assert json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())["step"] == 4


# ---------------------------------------------------------------------------------------------- --resume
@pytest.mark.parametrize("name", ["optimizer.safetensors", "model.safetensors", "rank-0.safetensors", "state.json"])
def test_a_truncated_checkpoint_file_on_resume_is_one_line_naming_it(run, data, tmp_path, name):
    shutil.copytree(run, tmp_path / "run")
    f = tmp_path / "run" / "checkpoint" / name
    with open(f, "r+b") as fh:
        fh.truncate(os.path.getsize(f) // 2)
    line = one_error_line(cli("train", "--data", data, "--out", tmp_path / "run", "--resume", *CLI_TRAIN,
                              "--steps", "4"))
    assert line.startswith(f"error: {f}: not a readable") and "damaged" in line, line
    assert not list((tmp_path / "run").glob(".checkpoint.tmp"))


# ---------------------------------------------------------------------------------------------- save_pretrained
def test_save_pretrained_writes_the_same_bytes_through_the_atomic_helper(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    import hrmkit
    from hrmkit.models import ModelConfig, build

    model = build(ModelConfig.from_name("tiny"))
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    model.save_pretrained(tmp_path / "m")
    assert len(synced) >= 2  # both files fsync'ed before their rename
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp_path / "direct.safetensors"), metadata={"format": "pt"})
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == (tmp_path / "direct.safetensors").read_bytes()
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    assert oct((tmp_path / "m" / "model.safetensors").stat().st_mode & 0o777) == "0o644"
    hrmkit.load(str(tmp_path / "m"))


def test_a_lost_peer_under_torchrun_is_one_line():
    from hrmkit.errors import describe_failure

    gloo = RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error [10.123.0.2]:36267: "
                        "Connection reset by peer. This is typically caused by a remote worker hanging")
    message = describe_failure(gloo)
    assert message.startswith("distributed training lost another process (") and "--resume" in message
    assert describe_failure(RuntimeError("a bug")) is None  # other runtime errors stay tracebacks
