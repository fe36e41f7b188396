"""Bad input and faults for every command, counted: no traceback, no partial output, no write outside the target.

Each case runs one command (in this process through the Typer app, which is what `hrmkit` runs; the network case
in a subprocess, since huggingface_hub reads HF_HUB_OFFLINE at import) in its own folder, beside a folder
`outside/` of sentinel files that some cases point symbolic links at. After each case the counters are updated:

- tracebacks: an exception that escaped the command (anything but its exit), or "Traceback" in its output;
- partial outputs: a temporary or probe file left anywhere in the case's folders or on the fault mounts
  (names with .tmp / .old- / .hrmkit-probe / .lock), a 0-byte file, or the command's product (metrics.json,
  provenance.json, model.safetensors, the card, the submission) present after a failure when it was not there
  before;
- writes outside the target: any change (name, size, mtime, bytes) under outside/.

Faults: a 64 KiB tmpfs (disk full part-way through), the same tmpfs filled to its last KiB (full before the
command starts: the writability probe must say so), and a read-only tmpfs, when this process may mount (root
in a container that allows it); otherwise fsync (which every atomic write and probe calls) is patched to raise
ENOSPC / EROFS (HRMKIT_TEST_NO_MOUNT=1 forces that). The failure cases must also end with exit code 1 and one
`error: ` line.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from _helpers import copy_model, maze_dataset, small, write_official
from hrmkit.cli import app

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
EASY = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
PARTIAL_MARKS = (".tmp", ".old-", ".hrmkit-probe", ".lock")


# ---------------------------------------------------------------------------------------------- fault mounts
def _mount(path: Path, opts: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None or os.environ.get("HRMKIT_TEST_NO_MOUNT"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@dataclass
class Faults:
    small: Path  # 64 KiB: fills part-way through a write
    full: Path  # no room left: the probe fails
    ro: Path  # read-only, holding an empty folder `ro/existing`
    mounted: bool
    fsync_error: int | None = None  # with no mounts: errno that fsync raises in the fault cases


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    base = tmp_path_factory.mktemp("faults")
    small, full, ro = base / "small", base / "full", base / "ro"
    mounted = []
    ok = _mount(small, "size=64k")
    if ok:
        mounted.append(small)
        ok = _mount(full, "size=64k")
    if ok:
        mounted.append(full)
        filler = full / "filler"
        try:
            with open(filler, "wb") as f:
                f.write(b"\0" * (64 << 10))
        except OSError as err:
            assert err.errno == errno.ENOSPC
        ok = _mount(ro, "size=64k")
    if ok:
        mounted.append(ro)
        (ro / "existing").mkdir()
        ok = subprocess.run(["mount", "-o", "remount,ro", str(ro)], capture_output=True).returncode == 0
    if not ok:
        for m in mounted:
            _umount(m)
        mounted = []
        for p in (small, full, ro):
            p.mkdir(exist_ok=True)
        (ro / "existing").mkdir(exist_ok=True)
    yield Faults(small, full, ro, bool(mounted) and ok)
    for m in mounted:
        _umount(m)


# ---------------------------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("inputs")
    model = copy_model(base / "model")
    arc_model = copy_model(base / "arc-model", vocab_size=12, seq_len=900)
    r = CliRunner().invoke(app, ["data", "build", "sudoku", "--source", "generate", "--count", "30", "--test-source",
                                 "generate", "--test-count", "6", "--givens", "50-55", "--out", str(base / "ds")])
    assert r.exit_code == 0, r.output
    src = base / "arcsrc"
    for part in ("training", "evaluation"):
        (src / part).mkdir(parents=True)
        shutil.copy(EXAMPLES / "arc-mirror.json", src / part / f"{part}.json")
    r = CliRunner().invoke(app, ["data", "build", "arc", "--source", str(src), "--out", str(base / "arcds")])
    assert r.exit_code == 0, r.output
    import numpy as np

    for name in ("ds", "arcds"):
        bad = base / f"{name}-oov"
        shutil.copytree(base / name, bad)
        a = np.load(bad / "train" / "all__inputs.npy")
        a[1, 2] = 99
        np.save(bad / "train" / "all__inputs.npy", a)
    trunc = base / "ds-trunc"
    shutil.copytree(base / "ds", trunc)
    with open(trunc / "train" / "all__inputs.npy", "r+b") as f:
        f.truncate(200)

    hostile = base / "hostile"
    shutil.copytree(model, hostile)
    cfg = json.loads((hostile / "config.json").read_text())
    cfg["hidden_size"] = 200000
    (hostile / "config.json").write_text(json.dumps(cfg))
    truncated = base / "truncated"
    shutil.copytree(model, truncated)
    with open(truncated / "model.safetensors", "r+b") as f:
        f.truncate(os.path.getsize(truncated / "model.safetensors") // 2)
    garbage = base / "garbage"
    shutil.copytree(model, garbage)
    (garbage / "model.safetensors").write_bytes(b"\xff" * 64)

    ckpt = write_official(base / "official", small())
    files = base / "files"
    files.mkdir()
    (files / "empty.txt").write_text("")
    (files / "comments.txt").write_text("# nothing\n")
    (files / "binary.txt").write_bytes(b"\x00\xff\xfe" * 100)
    maze = [line for line in (EXAMPLES / "maze-small.txt").read_text().splitlines() if not line.startswith(";")]
    (files / "mixed.txt").write_text(f"{EASY}\n\n" + "\n".join(maze) + "\n")
    (files / "bad.txt").write_text(f"{EASY}\n12345\n")
    (files / "bom.txt").write_bytes(b"\xef\xbb\xbf" + f"{EASY}\n".encode())
    (files / "notckpt").write_text("hello")
    (files / "nomaze.txt").write_text("#####\n#   #\n#####\n")
    (files / "bad.json").write_text('{"train": [}')

    # training: a second Sudoku set of the same shape, a maze set, and a run of 2 steps with its checkpoint
    r = CliRunner().invoke(app, ["data", "build", "sudoku", "--source", "generate", "--count", "30", "--test-source",
                                 "generate", "--test-count", "6", "--givens", "50-55", "--seed", "1", "--out",
                                 str(base / "ds2")])
    assert r.exit_code == 0, r.output
    maze_dataset(base / "mazeds")
    r = CliRunner().invoke(app, TRAIN + ["--no-live", "--data", str(base / "ds"), "--out", str(base / "run")])
    assert r.exit_code == 0, r.output
    extra = {"ds2": base / "ds2", "mazeds": base / "mazeds", "run": base / "run"}
    return {**extra, "model": model, "arc_model": arc_model, "ds": base / "ds", "arcds": base / "arcds",
            "ds_oov": base / "ds-oov", "arcds_oov": base / "arcds-oov", "ds_trunc": trunc, "hostile": hostile,
            "truncated": truncated, "garbage": garbage, "ckpt": ckpt, "files": files}


# ---------------------------------------------------------------------------------------------- cases
@dataclass
class Case:
    name: str
    args: Callable[[dict, Path, Faults], list]  # (inputs, the case's folder, faults) -> CLI arguments
    rc: int = 1
    products: tuple[str, ...] = ()  # paths (relative to the case folder, or absolute via the args) made on success
    setup: Callable[[dict, Path, Faults], None] | None = None
    fault: int | None = None  # with no mounts: fsync raises this errno (ENOSPC, EROFS)
    input: str | None = None
    subprocess_env: dict | None = None  # run as a subprocess with this environment


def _link_out(ws: Path, name: str, outside: Path) -> None:
    (ws / name).parent.mkdir(parents=True, exist_ok=True)
    (ws / name).symlink_to(outside / "precious.txt")


def _link_dir(ws: Path, name: str, outside: Path) -> None:
    (ws / name).symlink_to(outside, target_is_directory=True)


OUTSIDE = {"path": None}


def _outside() -> Path:
    return OUTSIDE["path"]


def _publish_then_link(i, ws, f):
    assert CliRunner().invoke(app, ["publish", str(i["model"]), "--repo", "me/m", "--to", str(ws / "pub")]).exit_code == 0
    (ws / "pub" / "README.md").unlink()
    _link_out(ws, "pub/README.md", _outside())


def _lock(i, ws, f):
    import fcntl

    lock = ws / ".ds.lock"
    fd = os.open(lock, os.O_CREAT | os.O_RDWR)
    # held by another open file description: flock excludes it even within this process
    fcntl.flock(fd, fcntl.LOCK_EX)
    CASE_STATE["lock_fd"] = fd


CASE_STATE: dict = {}

E = EXAMPLES
BUILD = ["data", "build", "sudoku", "--source", "generate", "--count", "400", "--test-source", "generate",
         "--test-count", "50", "--givens", "50-55"]

TRAIN = ["train", "--preset", "tiny", "--steps", "2", "--no-progress", "global_batch_size=8", "hidden_size=32",
         "num_heads=2", "halt_max_steps=2", "device=cpu"]


def _run_copy(i, ws, f, damage: str | None = None):
    shutil.copytree(i["run"], ws / "run")
    if damage is not None:
        with open(ws / "run" / "checkpoint" / damage, "r+b") as fh:
            fh.truncate(os.path.getsize(ws / "run" / "checkpoint" / damage) // 2)


CASES = [
    # ---- solve
    Case("solve/missing-file", lambda i, ws, f: ["solve", ws / "nope.txt"]),
    Case("solve/empty", lambda i, ws, f: ["solve", i["files"] / "empty.txt", "--format", "sudoku"]),
    Case("solve/only-comments", lambda i, ws, f: ["solve", i["files"] / "comments.txt"]),
    Case("solve/binary", lambda i, ws, f: ["solve", i["files"] / "binary.txt"]),
    Case("solve/mixed", lambda i, ws, f: ["solve", i["files"] / "mixed.txt"]),
    Case("solve/bad-line", lambda i, ws, f: ["solve", i["files"] / "bad.txt"]),
    Case("solve/bad-json", lambda i, ws, f: ["solve", i["files"] / "bad.json"]),
    Case("solve/maze-without-start", lambda i, ws, f: ["solve", i["files"] / "nomaze.txt", "--format", "maze"]),
    Case("solve/bom", lambda i, ws, f: ["solve", i["files"] / "bom.txt", "--json"], rc=0),
    Case("solve/stdin-empty", lambda i, ws, f: ["solve", "-"], input=""),
    Case("solve/stdin", lambda i, ws, f: ["solve", "-", "--json"], rc=0, input=EASY + "\n"),
    Case("solve/unknown-format", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--format", "chess"]),
    Case("solve/exact-with-model", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--solver", "exact",
                                                     "--model", i["model"]]),
    Case("solve/json-and-csv", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--json", "--csv"]),
    Case("solve/batch-size-0", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", i["model"],
                                                 "--batch-size", "0"]),
    Case("solve/device-cuda", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", i["model"],
                                                "--device", "cuda:9"]),
    Case("solve/device-unknown", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", i["model"],
                                                   "--device", "tpu"]),
    Case("solve/model-missing", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", ws / "no-model"]),
    Case("solve/model-is-file", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", E / "sudoku.csv"]),
    Case("solve/hostile-config", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", i["hostile"]]),
    Case("solve/truncated-weights", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", i["truncated"]]),
    Case("solve/garbage-weights", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", i["garbage"]]),
    Case("solve/wrong-task-model", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", i["arc_model"]]),
    Case("solve/submission-for-sudoku", lambda i, ws, f: ["solve", E / "sudoku-lines.txt", "--model", i["model"],
                                                          "--submission", ws / "sub.json"], products=("sub.json",)),
    Case("solve/submission-is-folder", lambda i, ws, f: ["solve", E / "arc-mirror.json", "--model", i["arc_model"],
                                                         "--submission", ws / "sub"],
         setup=lambda i, ws, f: (ws / "sub").mkdir()),
    Case("solve/submission-symlink", lambda i, ws, f: ["solve", E / "arc-mirror.json", "--model", i["arc_model"],
                                                       "--augmentations", "1", "--submission", ws / "sub.json"],
         setup=lambda i, ws, f: _link_out(ws, "sub.json", _outside())),
    Case("solve/submission-read-only", lambda i, ws, f: ["solve", E / "arc-mirror.json", "--model", i["arc_model"],
                                                         "--augmentations", "1", "--submission",
                                                         f.ro / "existing" / "sub.json"], fault=errno.EROFS),
    Case("solve/submission-disk-full", lambda i, ws, f: ["solve", E / "arc-mirror.json", "--model", i["arc_model"],
                                                         "--augmentations", "1", "--submission", f.full / "sub.json"],
         fault=errno.ENOSPC),
    Case("solve/submission", lambda i, ws, f: ["solve", E / "arc-mirror.json", "--model", i["arc_model"],
                                               "--augmentations", "1", "--submission", ws / "sub.json"], rc=0),
    # ---- data build
    Case("build/out-is-file", lambda i, ws, f: BUILD + ["--out", ws / "ds"],
         setup=lambda i, ws, f: (ws / "ds").write_text("mine")),
    Case("build/out-exists", lambda i, ws, f: BUILD + ["--out", i["ds"]]),
    Case("build/out-not-a-dataset", lambda i, ws, f: BUILD + ["--out", ws / "notes", "--overwrite"],
         setup=lambda i, ws, f: ((ws / "notes").mkdir(), (ws / "notes" / "a.txt").write_text("x"))),
    Case("build/out-symlink", lambda i, ws, f: BUILD + ["--out", ws / "ds", "--overwrite"],
         setup=lambda i, ws, f: _link_dir(ws, "ds", _outside())),
    Case("build/read-only", lambda i, ws, f: BUILD + ["--out", f.ro / "existing" / "ds"], fault=errno.EROFS),
    Case("build/disk-full-before", lambda i, ws, f: BUILD + ["--out", f.full / "ds"], fault=errno.ENOSPC),
    Case("build/disk-full-during", lambda i, ws, f: BUILD + ["--out", f.small / "ds"], fault=errno.ENOSPC),
    Case("build/locked", lambda i, ws, f: BUILD + ["--out", ws / "ds"], setup=_lock),
    Case("build/bad-givens", lambda i, ws, f: BUILD + ["--givens", "lots", "--out", ws / "ds"]),
    Case("build/unknown-task", lambda i, ws, f: ["data", "build", "chess", "--source", "generate", "--out",
                                                 ws / "ds"]),
    Case("build/source-missing", lambda i, ws, f: ["data", "build", "sudoku", "--source", ws / "none.csv",
                                                   "--test-fraction", "0.2", "--out", ws / "ds"]),
    Case("build/source-mixed", lambda i, ws, f: ["data", "build", "sudoku", "--source", i["files"] / "mixed.txt",
                                                 "--test-fraction", "0.5", "--out", ws / "ds"]),
    Case("build/ok", lambda i, ws, f: BUILD + ["--out", ws / "ds"], rc=0),
    # ---- data validate
    Case("validate/missing", lambda i, ws, f: ["data", "validate", ws / "nope"]),
    Case("validate/not-a-dataset", lambda i, ws, f: ["data", "validate", E]),
    Case("validate/sudoku-oov", lambda i, ws, f: ["data", "validate", i["ds_oov"], "--report", ws / "r.json"]),
    Case("validate/arc-oov", lambda i, ws, f: ["data", "validate", i["arcds_oov"], "--report", ws / "r.json"]),
    Case("validate/truncated-array", lambda i, ws, f: ["data", "validate", i["ds_trunc"]]),
    Case("validate/report-symlink", lambda i, ws, f: ["data", "validate", i["arcds"], "--report", ws / "r.json"],
         setup=lambda i, ws, f: _link_out(ws, "r.json", _outside())),
    Case("validate/report-read-only", lambda i, ws, f: ["data", "validate", i["arcds"], "--report",
                                                        f.ro / "existing" / "r.json"], fault=errno.EROFS),
    # ---- eval
    Case("eval/run-missing", lambda i, ws, f: ["eval", ws / "nope", "--data", i["ds"], "--out", ws / "rep"]),
    Case("eval/out-is-file", lambda i, ws, f: ["eval", i["model"], "--data", i["ds"], "--out", ws / "rep"],
         setup=lambda i, ws, f: (ws / "rep").write_text("")),
    Case("eval/metrics-symlink", lambda i, ws, f: ["eval", i["model"], "--data", i["ds"], "--out", ws / "rep"],
         setup=lambda i, ws, f: ((ws / "rep").mkdir(), _link_out(ws, "rep/metrics.json", _outside()))),
    Case("eval/read-only", lambda i, ws, f: ["eval", i["model"], "--data", i["ds"], "--out",
                                             f.ro / "existing" / "rep"], fault=errno.EROFS),
    Case("eval/disk-full-before", lambda i, ws, f: ["eval", i["model"], "--data", i["ds"], "--out",
                                                    f.full / "rep"], fault=errno.ENOSPC),
    Case("eval/disk-full-during", lambda i, ws, f: ["eval", i["model"], "--data", i["ds"], "--out",
                                                    f.small / "rep", "--no-baselines"], fault=errno.ENOSPC,
         products=("metrics.json",)),
    Case("eval/device-unknown", lambda i, ws, f: ["eval", i["model"], "--data", i["ds"], "--out", ws / "rep",
                                                  "--device", "tpu"]),
    Case("eval/truncated-weights", lambda i, ws, f: ["eval", i["truncated"], "--data", i["ds"], "--out",
                                                     ws / "rep"]),
    Case("eval/data-of-another-task", lambda i, ws, f: ["eval", i["model"], "--data", i["arcds"], "--out",
                                                        ws / "rep"]),
    Case("eval/ok", lambda i, ws, f: ["eval", i["model"], "--data", i["ds"], "--out", ws / "rep",
                                      "--no-baselines"], rc=0),
    # ---- convert
    Case("convert/missing", lambda i, ws, f: ["convert", "official", ws / "step_1", "--task", "sudoku", "--out",
                                              ws / "m"]),
    Case("convert/not-a-checkpoint", lambda i, ws, f: ["convert", "official", i["files"] / "notckpt", "--task",
                                                       "sudoku", "--out", ws / "m"]),
    Case("convert/out-exists", lambda i, ws, f: ["convert", "official", i["ckpt"], "--task", "sudoku", "--out",
                                                 ws / "m"],
         setup=lambda i, ws, f: shutil.copytree(i["model"], ws / "m")),
    Case("convert/out-symlink", lambda i, ws, f: ["convert", "official", i["ckpt"], "--task", "sudoku", "--out",
                                                  ws / "m", "--overwrite"],
         setup=lambda i, ws, f: _link_dir(ws, "m", _outside())),
    Case("convert/read-only", lambda i, ws, f: ["convert", "official", i["ckpt"], "--task", "sudoku", "--out",
                                                f.ro / "existing" / "m"], fault=errno.EROFS),
    Case("convert/disk-full-during", lambda i, ws, f: ["convert", "official", i["ckpt"], "--task", "sudoku",
                                                       "--out", f.small / "m"], fault=errno.ENOSPC),
    Case("convert/ok", lambda i, ws, f: ["convert", "official", i["ckpt"], "--task", "sudoku", "--out", ws / "m"],
         rc=0),
    # ---- publish --to
    Case("publish/truncated-weights", lambda i, ws, f: ["publish", i["truncated"], "--repo", "me/m", "--to",
                                                        ws / "pub"]),
    Case("publish/bad-repo-id", lambda i, ws, f: ["publish", i["model"], "--repo", "not a repo", "--to", ws / "pub"]),
    Case("publish/readme-symlink", lambda i, ws, f: ["publish", i["model"], "--repo", "me/m", "--to", ws / "pub"],
         setup=_publish_then_link),
    Case("publish/to-is-file", lambda i, ws, f: ["publish", i["model"], "--repo", "me/m", "--to", ws / "pub"],
         setup=lambda i, ws, f: (ws / "pub").write_text("")),
    Case("publish/to-not-git", lambda i, ws, f: ["publish", i["model"], "--repo", "me/m", "--to", ws / "pub"],
         setup=lambda i, ws, f: ((ws / "pub").mkdir(), (ws / "pub" / "x").write_text("x"))),
    Case("publish/read-only", lambda i, ws, f: ["publish", i["model"], "--repo", "me/m", "--to",
                                                f.ro / "existing"], fault=errno.EROFS),
    Case("publish/disk-full-during", lambda i, ws, f: ["publish", i["model"], "--repo", "me/m", "--to",
                                                       f.small / "pub"], fault=errno.ENOSPC),
    Case("publish/ok", lambda i, ws, f: ["publish", i["model"], "--repo", "me/m", "--to", ws / "pub"], rc=0),
    # ---- pull, zoo
    Case("pull/offline-not-cached", lambda i, ws, f: ["pull", "sudoku-extreme", "--out", ws / "m"]),
    Case("pull/unknown-name", lambda i, ws, f: ["pull", "no-such-model"]),
    Case("pull/no-network", lambda i, ws, f: ["pull", "sudoku-extreme", "--out", ws / "m"],
         subprocess_env={"HF_HUB_OFFLINE": None, "HF_ENDPOINT": "CLOSED_PORT"}),
    Case("zoo/show-unknown", lambda i, ws, f: ["zoo", "show", "no-such-model"]),
    Case("zoo/card-out-folder", lambda i, ws, f: ["zoo", "card", i["model"], "--out", ws]),
    Case("zoo/card-symlink", lambda i, ws, f: ["zoo", "card", i["model"], "--out", ws / "README.md"],
         setup=lambda i, ws, f: _link_out(ws, "README.md", _outside())),
    Case("zoo/card-read-only", lambda i, ws, f: ["zoo", "card", i["model"], "--out",
                                                 f.ro / "existing" / "README.md"], fault=errno.EROFS),
    Case("zoo/card-truncated", lambda i, ws, f: ["zoo", "card", i["truncated"], "--out", ws / "README.md"],
         products=("README.md",)),
    # ---- train: argument and config checks (no training loop)
    Case("train/lr-nan", lambda i, ws, f: ["train", "--preset", "tiny", "--data", i["ds"], "--out", ws / "run",
                                           "lr=nan"]),
    Case("train/lr-inf", lambda i, ws, f: ["train", "--preset", "tiny", "--data", i["ds"], "--out", ws / "run",
                                           "lr=inf"]),
    Case("train/unknown-preset", lambda i, ws, f: ["train", "--preset", "bogus", "--data", i["ds"], "--out",
                                                   ws / "run"]),
    Case("train/unknown-field", lambda i, ws, f: ["train", "--preset", "tiny", "--data", i["ds"], "--out",
                                                  ws / "run", "foo=1"]),
    Case("train/data-missing", lambda i, ws, f: ["train", "--preset", "tiny", "--data", ws / "nope", "--out",
                                                 ws / "run"]),
    # ---- train: data, --out and checkpoint checks before step 1; faults while training
    Case("train/resume-other-data", lambda i, ws, f: TRAIN + ["--data", i["ds2"], "--out", ws / "run", "--resume",
                                                              "--steps", "4"], setup=_run_copy),
    Case("train/resume-maze-data", lambda i, ws, f: TRAIN + ["--data", i["mazeds"], "--out", ws / "run", "--resume",
                                                             "--steps", "4"], setup=_run_copy),
    Case("train/resume-truncated-optimizer", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", ws / "run",
                                                                       "--resume", "--steps", "4"],
         setup=lambda i, ws, f: _run_copy(i, ws, f, "optimizer.safetensors")),
    Case("train/resume-truncated-model", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", ws / "run",
                                                                   "--resume", "--steps", "4"],
         setup=lambda i, ws, f: _run_copy(i, ws, f, "model.safetensors")),
    Case("train/oov-data", lambda i, ws, f: TRAIN + ["--data", i["ds_oov"], "--out", ws / "run"],
         products=("run/model.safetensors", "run/train_config.json")),
    Case("train/demo-on-maze", lambda i, ws, f: ["train", "--preset", "demo", "--data", i["mazeds"], "--out",
                                                 ws / "run", "--steps", "1", "--no-progress"],
         products=("run/train_config.json",)),
    Case("train/paper-sudoku-on-maze", lambda i, ws, f: ["train", "--preset", "paper-sudoku", "--data", i["mazeds"],
                                                         "--out", ws / "run", "--steps", "1", "--no-progress"],
         products=("run/train_config.json",)),
    Case("train/out-is-a-model", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", ws / "m"],
         setup=lambda i, ws, f: shutil.copytree(i["model"], ws / "m"), products=("m/train_config.json",)),
    Case("train/out-is-file", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", ws / "run"],
         setup=lambda i, ws, f: (ws / "run").write_text("mine")),
    Case("train/read-only", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", f.ro / "existing" / "run"],
         fault=errno.EROFS),
    Case("train/disk-full-before", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", f.full / "run"],
         fault=errno.ENOSPC),
    Case("train/disk-full-during", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", f.small / "run"],
         fault=errno.ENOSPC),
    Case("train/ok", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", ws / "run"], rc=0),
    Case("train/resume-ok", lambda i, ws, f: TRAIN + ["--data", i["ds"], "--out", ws / "run", "--resume",
                                                      "--steps", "4"], rc=0, setup=_run_copy),
]


# ---------------------------------------------------------------------------------------------- the run
def _snapshot(folder: Path) -> dict:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            out[str(p)] = (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        else:
            out[str(p)] = "dir" if p.is_dir() else "other"
    return out


def _partials(folders: list[Path]) -> list[str]:
    bad = []
    for folder in folders:
        if not folder.exists():
            continue
        for p in folder.rglob("*"):
            if p.is_symlink() or p.name == "filler":
                continue
            if any(mark in p.name for mark in PARTIAL_MARKS) or (p.is_file() and p.stat().st_size == 0
                                                                 and p.name not in ("empty.txt",)):
                bad.append(str(p))
    return bad


def _clear(folder: Path) -> None:
    for p in list(folder.iterdir()):
        if p.name == "filler":
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _fsync_fault(code: int):
    real = os.fsync

    def fsync(fd):
        raise OSError(code, os.strerror(code))

    return real, fsync


def test_every_command_under_bad_input_and_faults(inputs, faults, tmp_path, monkeypatch, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("precious")
    (outside / "keep").mkdir()
    (outside / "keep" / "a.txt").write_text("a")
    OUTSIDE["path"] = outside
    monkeypatch.setenv("HRMKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    counts = {"tracebacks": 0, "partial": 0, "outside": 0}
    problems = []
    for case in CASES:
        ws = tmp_path / "cases" / case.name.replace("/", "__")
        ws.mkdir(parents=True)
        if case.setup is not None:
            case.setup(inputs, ws, faults)
        args = [str(a) for a in case.args(inputs, ws, faults)]
        before = _snapshot(outside)
        present = {str(p) for p in ws.rglob("*")}  # made by the setup: not the command's output
        existed = {p: (ws / p).exists() for p in case.products}
        fault_dirs = [faults.small, faults.full]
        if case.subprocess_env is not None:
            env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_ETAG_TIMEOUT="3",
                       HF_HUB_DOWNLOAD_TIMEOUT="3")
            for k, v in case.subprocess_env.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = _closed_port() if v == "CLOSED_PORT" else v
            p = subprocess.run([sys.executable, "-m", "hrmkit", *args], capture_output=True, text=True, env=env,
                               timeout=300)
            rc, stdout, stderr, escaped = p.returncode, p.stdout, p.stderr, None
        else:
            with monkeypatch.context() as m:
                if case.fault is not None and not faults.mounted:
                    m.setattr(os, "fsync", _fsync_fault(case.fault)[1])
                r = CliRunner().invoke(app, args, input=case.input)
            rc, stdout, stderr = r.exit_code, r.stdout, r.stderr
            escaped = r.exception if r.exception is not None and not isinstance(r.exception, SystemExit) else None
        if "lock_fd" in CASE_STATE:
            os.close(CASE_STATE.pop("lock_fd"))
            (ws / ".ds.lock").unlink(missing_ok=True)
        if escaped is not None or "Traceback" in stdout + stderr:
            counts["tracebacks"] += 1
            problems.append(f"{case.name}: traceback ({escaped!r})")
        partial = [p for p in _partials([ws] + fault_dirs) if p not in present]
        if rc != 0:
            partial += [f"{ws / p} (product after a failure)" for p, e in existed.items() if not e and (ws / p).exists()]
            for d in fault_dirs:  # nothing of a failed command may stay on the fault mounts
                partial += [str(x) for x in d.iterdir() if x.name != "filler" and any(x.rglob("*.json"))]
        if partial:
            counts["partial"] += 1
            problems.append(f"{case.name}: partial outputs {partial}")
        if _snapshot(outside) != before:
            counts["outside"] += 1
            problems.append(f"{case.name}: wrote outside its target")
        if rc != case.rc:
            problems.append(f"{case.name}: exit code {rc}, expected {case.rc}: {stderr.strip()[:300]}")
        elif rc == 1:
            lines = stderr.strip().splitlines()  # progress lines may come first; one error line, last
            if not lines or not lines[-1].startswith("error: ") or sum(x.startswith("error") for x in lines) != 1:
                problems.append(f"{case.name}: not one `error:` line: {stderr.strip()[:300]}")
        for d in fault_dirs:
            _clear(d)
    summary = (f"{len(CASES)} cases: {counts['tracebacks']} tracebacks, {counts['partial']} partial outputs, "
               f"{counts['outside']} writes outside the target")
    with capsys.disabled():
        print(f"\nreliability ({'tmpfs mounts' if faults.mounted else 'fsync patched'}): {summary}")
    assert not problems, "\n".join(problems)
    assert counts == {"tracebacks": 0, "partial": 0, "outside": 0}, summary
