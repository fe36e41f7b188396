"""The error boundary of the commands: one `error:` line and exit 1, writes that never go outside their folder,
and the faults a user meets (network errors, refused headers, truncated weights, concurrent builds, BOM, stdin,
Ctrl-C).

Each test states one behaviour of a real command (CliRunner on the Typer app, or a subprocess where the process
matters: a network error, memory, tracebacks)."""

from __future__ import annotations

import errno
import http.server
import json
import os
import resource
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _helpers import copy_model, small, write_official
from hrmkit.cli import app
from hrmkit.errors import HrmkitError, describe_failure

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
EASY = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"


def cli(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def proc(*args, env=None, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "hrmkit", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300, **kw)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return copy_model(tmp_path_factory.mktemp("m") / "model")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("d") / "ds"
    r = cli("data", "build", "sudoku", "--source", "generate", "--count", "30", "--test-source", "generate",
            "--test-count", "6", "--givens", "50-55", "--out", out)
    assert r.exit_code == 0, r.output
    return out


# ---------------------------------------------------------------------------------------------- the boundary
def test_os_errors_are_one_line_naming_the_file():
    assert describe_failure(OSError(errno.ENOSPC, "No space left on device", "/x/m.png")) == \
        "/x/m.png: no space left on the device"
    assert describe_failure(OSError(errno.EROFS, "Read-only file system", "/ro/a")) == "/ro/a: read-only file system"
    assert describe_failure(ZeroDivisionError("bug")) is None  # a bug is no user error: its traceback shows


def test_a_network_error_of_the_hub_client_names_the_host():
    import httpx2

    try:
        raise socket.gaierror(-2, "Name or service not known")
    except socket.gaierror as cause:
        err = httpx2.ConnectError("[Errno -2] Name or service not known")
        err.__cause__ = cause
    message = describe_failure(err)
    assert message.startswith("cannot reach huggingface.co (") and "HF_HUB_OFFLINE=1" in message


def test_pull_without_network_is_one_line_naming_the_host(tmp_path):
    with socket.socket() as s:  # a port nobody listens on: connection refused, as without network
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HRMKIT_HOME": str(tmp_path / "home"),
           "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_ETAG_TIMEOUT": "3", "HF_HUB_DOWNLOAD_TIMEOUT": "3"}
    env_run = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env_run.update(env, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "hrmkit", "pull", "sudoku-extreme"], capture_output=True, text=True,
                       env=env_run, timeout=300)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach ") and f"127.0.0.1:{port}" in lines[0]
    assert "Traceback" not in r.stderr and not (tmp_path / "home" / "models" / "sudoku-extreme").exists()


def test_hrmkit_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "x.txt"
    r = proc("solve", bad, env={"HRMKIT_DEBUG": "1"})
    assert r.returncode == 1 and "Traceback" in r.stderr and "HrmkitError" in r.stderr
    r = proc("solve", bad)
    assert r.returncode == 1 and r.stderr.strip() == f"error: {bad}: no such file"


@pytest.mark.parametrize("device, words", [("cuda", "CPU-only build"), ("tpu", "unknown device"),
                                           ("cuda:7", "cuda")])
def test_a_bad_device_is_one_line(model, dataset, tmp_path, device, words):
    import torch

    if torch.cuda.is_available() and device == "cuda":
        pytest.skip("this machine has CUDA")
    r = cli("solve", EXAMPLES / "sudoku-lines.txt", "--model", model, "--device", device)
    assert r.exit_code == 1 and r.exception is None or isinstance(r.exception, SystemExit)
    assert words in r.stderr and r.stderr.startswith("error: --device")
    r = cli("eval", model, "--data", dataset, "--out", tmp_path / "rep", "--device", device)
    assert r.exit_code == 1 and words in r.stderr and not (tmp_path / "rep" / "metrics.json").exists()


# ---------------------------------------------------------------------------------------------- models
def test_a_hostile_config_is_refused_from_the_header_before_any_allocation(model, tmp_path):
    import shutil

    hostile = tmp_path / "hostile"
    shutil.copytree(model, hostile)
    cfg = json.loads((hostile / "config.json").read_text())
    cfg["hidden_size"] = 200000  # ~480 GB of weights if built
    (hostile / "config.json").write_text(json.dumps(cfg))

    def limit():  # 3 GB of address space: building the model would fail with MemoryError, not our message
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    r = subprocess.run([sys.executable, "-c", "import sys, hrmkit; hrmkit.load(sys.argv[1])", str(hostile)],
                       capture_output=True, text=True, preexec_fn=limit, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1"))
    assert r.returncode == 1 and "has shape [64] in the file, the config needs [200000]" in r.stderr, r.stderr
    assert "MemoryError" not in r.stderr


def test_a_truncated_weights_file_is_named(model, tmp_path):
    import shutil

    bad = tmp_path / "trunc"
    shutil.copytree(model, bad)
    with open(bad / "model.safetensors", "r+b") as f:
        f.truncate(os.path.getsize(bad / "model.safetensors") - 100)
    r = cli("solve", EXAMPLES / "sudoku-lines.txt", "--model", bad)
    assert r.exit_code == 1 and "model.safetensors: truncated" in r.stderr
    r = cli("publish", bad, "--repo", "me/m", "--to", tmp_path / "pub")
    assert r.exit_code == 1 and "truncated" in r.stderr and not (tmp_path / "pub").exists()


# ---------------------------------------------------------------------------------------------- writes
def test_publish_to_refuses_a_symlink_out_of_the_repo(model, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    repo = tmp_path / "pub"
    assert cli("publish", model, "--repo", "me/m", "--to", repo).exit_code == 0
    (repo / "README.md").unlink()
    (repo / "README.md").symlink_to(outside)
    r = cli("publish", model, "--repo", "me/m", "--to", repo)
    assert r.exit_code == 1 and "symbolic link" in r.stderr and outside.read_text() == "precious"
    assert not [p for p in repo.iterdir() if ".tmp-" in p.name]


def test_convert_refuses_an_existing_output_without_overwrite(tmp_path):
    ckpt = write_official(tmp_path / "ck", small())
    out = tmp_path / "out"
    assert cli("convert", "official", ckpt, "--task", "sudoku", "--out", out).exit_code == 0
    before = (out / "model.safetensors").read_bytes()
    r = cli("convert", "official", ckpt, "--task", "sudoku", "--out", out)
    assert r.exit_code == 1 and "already exists (pass --overwrite" in r.stderr
    assert cli("convert", "official", ckpt, "--task", "sudoku", "--out", out, "--overwrite").exit_code == 0
    assert (out / "model.safetensors").read_bytes() == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("x")
    r = cli("convert", "official", ckpt, "--task", "sudoku", "--out", other, "--overwrite")
    assert r.exit_code == 1 and "not a model folder" in r.stderr and (other / "mine.txt").exists()


def test_eval_checks_its_output_before_evaluating(model, dataset, tmp_path, monkeypatch):
    import hrmkit.evaluate as ev

    called = []
    monkeypatch.setattr(ev, "predict", lambda *a, **k: called.append(1))
    as_file = tmp_path / "rep"
    as_file.write_text("")
    r = cli("eval", model, "--data", dataset, "--out", as_file)
    assert r.exit_code == 1 and "is a file, expected a folder" in r.stderr and not called


def test_two_builds_into_one_out_cannot_both_succeed(tmp_path):
    from hrmkit.atomic import dir_lock

    out = tmp_path / "ds"
    with dir_lock(out):  # another build holds it
        r = cli("data", "build", "sudoku", "--source", "generate", "--count", "5", "--test-source", "generate",
                "--test-count", "2", "--givens", "50-55", "--out", out)
    assert r.exit_code == 1 and "another hrmkit process is writing it" in r.stderr and not out.exists()


def test_two_concurrent_build_processes_one_fails_clearly(tmp_path):
    out = tmp_path / "ds"
    args = ["data", "build", "sudoku", "--source", "generate", "--count", "40", "--test-source", "generate",
            "--test-count", "5", "--givens", "50-55", "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-m", "hrmkit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 1], results
    loser = next(err for rc, err in results if rc == 1)
    assert loser.strip().splitlines()[-1].startswith(f"error: {out}: ") and "Traceback" not in loser
    assert ("another hrmkit process is writing it" in loser or "already exists" in loser), loser
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temp folder, no lock file left


def test_data_build_says_how_many_leaked_training_puzzles_it_dropped(tmp_path):
    from hrmkit.puzzles import sudoku

    lines = [l for l in (EXAMPLES / "sudoku-lines.txt").read_text().splitlines() if not l.startswith("#")]
    (tmp_path / "test.txt").write_text("\n".join(lines[:2]) + "\n")
    # training: all ten, two of them equivalent to the test puzzles (one as is, one relabelled 1<->2)
    relabelled = lines[1].translate(str.maketrans("12", "21"))
    (tmp_path / "train.txt").write_text("\n".join([lines[0], relabelled] + lines[2:]) + "\n")
    assert sudoku.read(tmp_path / "train.txt")
    r = cli("data", "build", "sudoku", "--source", tmp_path / "train.txt", "--test-source", tmp_path / "test.txt",
            "--out", tmp_path / "ds")
    assert r.exit_code == 0, r.output
    assert "note: dropped 2 training puzzles equivalent to a test puzzle" in r.stderr
    prov = json.loads((tmp_path / "ds" / "provenance.json").read_text())
    assert prov["build"]["dropped_equivalent_to_test"] == 2 and prov["build"]["train_bases"] == 8


@pytest.mark.parametrize("family", ["sudoku", "arc"])
def test_validate_names_an_out_of_vocabulary_row(dataset, tmp_path, family):
    import shutil

    import numpy as np

    if family == "arc":
        src = tmp_path / "arcsrc"
        for part in ("training", "evaluation"):
            (src / part).mkdir(parents=True)
            shutil.copy(EXAMPLES / "arc-mirror.json", src / part / f"{part}.json")
        ds = tmp_path / "arc"
        assert cli("data", "build", "arc", "--source", src, "--out", ds).exit_code == 0
    else:
        ds = tmp_path / "sud"
        shutil.copytree(dataset, ds)
    f = ds / "train" / "all__inputs.npy"
    a = np.load(f)
    a[1, 3] = 99
    np.save(f, a)
    report = tmp_path / "report.json"
    r = cli("data", "validate", ds, "--report", report)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert "inputs_in_vocabulary  (1/" in r.stdout and "e.g. [1])" in r.stdout
    failed = json.loads(report.read_text())["failed"]
    assert f"{family}.train.vocabulary:inputs_in_vocabulary" in failed


def test_nan_and_inf_are_refused_in_config_fields():
    from hrmkit.train.config import TrainConfig

    for bad in ("nan", "inf", float("nan"), "-inf"):
        with pytest.raises(HrmkitError, match="lr must be a finite number"):
            TrainConfig(lr=bad)


# ---------------------------------------------------------------------------------------------- solve
def test_solve_an_empty_file_says_no_puzzles(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for extra in ([], ["--format", "sudoku"], ["--format", "maze"]):
        r = cli("solve", empty, *extra)
        assert r.exit_code == 1 and "no puzzles" in r.stderr, (extra, r.output)
    only_comments = tmp_path / "c.txt"
    only_comments.write_text("# nothing here\n")
    r = cli("solve", only_comments, "--format", "sudoku")
    assert r.exit_code == 1 and "no puzzles" in r.stderr


@pytest.mark.parametrize("name", ["sudoku-lines.txt", "sudoku-grids.txt", "sudoku.csv", "maze-small.txt"])
def test_a_byte_order_mark_is_accepted_in_every_format(tmp_path, name):
    plain = EXAMPLES / name
    bom = tmp_path / name
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    a, b = cli("solve", plain, "--json", "--solver", "exact"), cli("solve", bom, "--json", "--solver", "exact")
    assert b.exit_code == 0 and a.stdout == b.stdout


def test_arc_task_with_a_byte_order_mark_reads(tmp_path):
    from hrmkit.puzzles import arc, detect

    bom = tmp_path / "t.json"
    bom.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "arc-mirror.json").read_bytes())
    assert detect(bom) is arc and len(arc.read(bom)) == len(arc.read(EXAMPLES / "arc-mirror.json")) == 1


def test_a_maze_inside_a_sudoku_file_is_an_error_naming_its_line(tmp_path):
    maze = [l for l in (EXAMPLES / "maze-small.txt").read_text().splitlines() if not l.startswith(";")]
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(f"{EASY}\n\n" + "\n".join(maze) + "\n")
    r = cli("solve", mixed, "--solver", "exact")
    line = next(n for n, l in enumerate(mixed.read_text().splitlines(), 1) if l.startswith("#") and ("S" in l or "G" in l))
    assert r.exit_code == 1 and f"{mixed}:{line}: a maze row among Sudoku puzzles" in r.stderr
    r = cli("solve", mixed, "--solver", "exact", "--skip-invalid")
    assert r.exit_code == 1  # a mixed file is not one bad entry: refused either way


def test_skip_invalid_rows_carry_line_and_reason_in_json_and_csv(tmp_path):
    import csv
    import io

    path = tmp_path / "p.txt"
    path.write_text(f"{EASY}\n12345\n")
    rows = [json.loads(x) for x in cli("solve", path, "--json", "--skip-invalid").stdout.splitlines()]
    assert rows[1]["line"] == 2 and rows[1]["error"] == f"{path}:2: the puzzle has 5 cells, expected 81"
    table = list(csv.DictReader(io.StringIO(cli("solve", path, "--csv", "--skip-invalid").stdout)))
    assert table[1]["status"] == "invalid" and table[1]["line"] == "2" and "5 cells" in table[1]["error"]
    assert table[0]["error"] == ""


def test_solve_reads_standard_input():
    text = (EXAMPLES / "sudoku-lines.txt").read_text()
    a = cli("solve", EXAMPLES / "sudoku-lines.txt", "--json")
    b = cli("solve", "-", "--json", input=text)
    assert b.exit_code == 0 and a.stdout == b.stdout and len(b.stdout.splitlines()) == 10
    r = cli("solve", "-", input="")
    assert r.exit_code == 1 and "no puzzles" in r.stderr
    r = cli("solve", "-", "--skip-invalid", "--json", input=f"{EASY}\n123\n")
    assert json.loads(r.stdout.splitlines()[1])["error"].startswith("<stdin>:2:")


def test_exact_solver_with_a_model_is_refused(model):
    r = cli("solve", EXAMPLES / "sudoku-lines.txt", "--solver", "exact", "--model", model)
    assert r.exit_code == 1 and "--solver exact uses no model" in r.stderr


def test_solve_streams_and_ctrl_c_keeps_what_was_printed(model, monkeypatch):
    """Results are printed per finished piece; an interrupt after the first piece keeps its lines (exit 130)."""
    import hrmkit.solve as hs

    real = hs.iter_solve_with_model

    def first_then_interrupt(records, **kw):
        gen = real(records, **{**kw, "chunk": 3})
        yield next(gen)
        raise KeyboardInterrupt

    monkeypatch.setattr(hs, "iter_solve_with_model", first_then_interrupt)
    r = cli("solve", EXAMPLES / "sudoku-lines.txt", "--model", model, "--json", "--batch-size", "2")
    assert r.exit_code == 130 and "interrupted" in r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["index"] for x in rows] == [0, 1, 2]


def test_streamed_pieces_equal_one_call(model):
    from hrmkit.puzzles import sudoku
    from hrmkit.solve import iter_solve_with_model, solve_with_model

    records = sudoku.read(EXAMPLES / "sudoku-lines.txt")
    whole = solve_with_model(records, family=sudoku, model=model, batch_size=4)
    pieces = list(iter_solve_with_model(records, family=sudoku, model=model, batch_size=4, chunk=3))
    assert [len(p) for p in pieces] == [3, 3, 3, 1]
    flat = [s for p in pieces for s in p]
    assert [(s.record, s.status, s.segments) for s in flat] == [(s.record, s.status, s.segments) for s in whole]


def test_submission_path_is_checked_before_solving(model, tmp_path):
    arc_model = copy_model(tmp_path / "arc-model", vocab_size=12, seq_len=900)
    sub = tmp_path / "sub.json"
    sub.mkdir()  # a folder where the file should go
    r = cli("solve", EXAMPLES / "arc-mirror.json", "--model", arc_model, "--submission", sub)
    assert r.exit_code == 1 and "is a folder" in r.stderr and "answers" not in r.stderr
