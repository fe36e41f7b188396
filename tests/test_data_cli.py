"""`hrmkit data build | validate | show` through the root Typer app."""

import json

import numpy as np
from typer.testing import CliRunner

from hrmkit.cli import app

runner = CliRunner()


def test_build_validate_show_round_trip(shared_data, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("\n".join((shared_data / "sudoku" / "magictour_top1465.txt").read_text().splitlines()[:20]) + "\n")
    out = tmp_path / "ds"
    r = runner.invoke(app, ["data", "build", "sudoku", "--out", str(out), "--source", str(src),
                            "--test-fraction", "0.25", "--subsample", "6", "--augment", "3", "--seed", "2"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "provenance.json").read_text())["parameters"]["subsample"] == 6

    r = runner.invoke(app, ["data", "validate", str(out), "--report", str(tmp_path / "report.json")])
    assert r.exit_code == 0, r.output
    assert "expectations met" in r.output and json.loads((tmp_path / "report.json").read_text())["success"]

    r = runner.invoke(app, ["data", "show", str(out), "--n", "2"])
    assert r.exit_code == 0 and r.output.count("example ") == 2 and "------+-------+------" in r.output

    r = runner.invoke(app, ["data", "build", "sudoku", "--out", str(out), "--source", str(src), "--test-fraction", "0.25"])
    assert r.exit_code == 1 and "already exists" in r.output

    labels = np.load(out / "train" / "all__labels.npy")
    labels[0, 0] = labels[0, 1]
    np.save(out / "train" / "all__labels.npy", labels)
    r = runner.invoke(app, ["data", "validate", str(out)])
    assert r.exit_code == 1
    assert "FAIL sudoku.train.examples: label_is_valid_grid" in r.output and "validation failed" in r.output


def test_missing_source_is_one_error_line_and_no_output(tmp_path):
    r = runner.invoke(app, ["data", "build", "maze", "--out", str(tmp_path / "o"), "--source", str(tmp_path / "none.txt"),
                            "--test-fraction", "0.5"])
    assert r.exit_code == 1 and "error: --source" in r.output and "no such file" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "o").exists()


def test_arc_show_writes_a_png(shared_data, tmp_path):
    import shutil

    root = tmp_path / "arc"
    for part in ("training", "evaluation"):
        (root / part).mkdir(parents=True)
        shutil.copy(sorted((shared_data / "arc" / "arc-agi-1" / part).glob("*.json"))[0], root / part)
    out = tmp_path / "a"
    r = runner.invoke(app, ["data", "build", "arc", "--out", str(out), "--source", str(root), "--augment", "1"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["data", "show", str(out), "--n", "2", "--split", "test", "--png", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
