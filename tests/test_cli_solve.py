"""`hrmkit solve` through the real Typer app: JSON lines, pretty output, --skip-invalid, errors, formats."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.puzzles import sudoku as S

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EASY = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
EASY_SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
KEYS = ["index", "puzzle", "solution", "status", "verified"]


def run(*args: str):
    return CliRunner().invoke(app, ["solve", *map(str, args)])


def rows(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("name", ["sudoku-lines.txt", "sudoku-grids.txt", "sudoku.csv"])
def test_json_lines_for_every_example_style(name):
    result = run(EXAMPLES / name, "--solver", "exact", "--json")
    assert result.exit_code == 0, result.output
    out = rows(result)
    assert len(out) == 10 and [r["index"] for r in out] == list(range(10))
    for r in out:
        assert list(r) == KEYS and r["status"] == "solved" and r["verified"] is True
        assert S.verify(S.parse_line(r["puzzle"]).grid, S.parse_line(r["solution"]).grid)


def test_statuses_and_pretty_output(tmp_path):
    multiple = "." * 81
    dead = "12.34567." + "..8......" + "..9......" + "." * 54  # cell 3 of row 1 has no candidate left
    path = tmp_path / "p.txt"
    path.write_text(f"{EASY}\n{multiple}\n{dead}\n")
    out = rows(run(path, "--json"))
    assert [r["status"] for r in out] == ["solved", "multiple", "unsolvable"]
    assert out[0]["solution"] == EASY_SOLUTION and out[0]["puzzle"] == EASY
    assert out[1]["verified"] is True and out[2]["solution"] is None and out[2]["verified"] is False

    pretty = run(path)
    assert pretty.exit_code == 0
    assert "# puzzle 0 (line 1): solved, verified" in pretty.stdout
    assert S.format_pretty(S.parse_line(EASY_SOLUTION).grid) in pretty.stdout
    assert "# puzzle 2 (line 3): unsolvable, not verified" in pretty.stdout


def test_malformed_line_stops_with_file_and_line_unless_skip_invalid(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(f"# three\n{EASY}\n{EASY[:-3]}\n{EASY}\n")
    result = run(path, "--json")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}:3: ") and "78 cells" in result.stderr
    assert result.stdout == ""  # nothing printed before the error: the file is read first

    result = run(path, "--json", "--skip-invalid")
    assert result.exit_code == 0, result.output
    out = rows(result)
    assert [r["status"] for r in out] == ["solved", "invalid", "solved"]
    assert out[1] == {"index": 1, "puzzle": EASY[:-3], "solution": None, "status": "invalid", "verified": False,
                      "line": 3, "error": f"{path}:3: the puzzle has 78 cells, expected 81"}
    pretty = run(path, "--skip-invalid")
    assert "# puzzle 1 (line 3): invalid, not verified" in pretty.stdout and f"{path}:3:" in pretty.stdout


def test_errors_for_files_formats_and_solvers(tmp_path):
    missing = run(tmp_path / "none.txt")
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    unknown = tmp_path / "x.txt"
    unknown.write_text("hello world\n")
    result = run(unknown)
    assert result.exit_code == 1 and "cannot tell the puzzle format" in result.stderr
    result = run(EXAMPLES / "sudoku-lines.txt", "--format", "nonsense")
    assert result.exit_code == 1 and "unknown puzzle format" in result.stderr
    forced = run(EXAMPLES / "sudoku-lines.txt", "--format", "sudoku", "--json")
    assert forced.exit_code == 0 and len(rows(forced)) == 10
    result = run(EXAMPLES / "sudoku-lines.txt", "--solver", "magic")
    assert result.exit_code == 1 and "--solver must be exact or model" in result.stderr
    result = run(EXAMPLES / "sudoku-lines.txt", "--solver", "model")
    assert result.exit_code == 1 and "needs --model" in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("hrmkit.solve") is not None, reason="model solving is built")
def test_model_solver_not_available_says_so():
    result = run(EXAMPLES / "sudoku-lines.txt", "--model", "sudoku-extreme")
    assert result.exit_code == 1 and "not available in this version" in result.stderr


def test_mazes_through_the_same_command(tmp_path):
    maze = pytest.importorskip("hrmkit.puzzles.maze")
    path = tmp_path / "m.txt"
    path.write_text("; mazes\n#######\n#S  # #\n# # #G#\n#######\n\n#####\n#S G#\n#####\n")
    out = rows(run(path, "--json"))
    assert [r["status"] for r in out] == ["unsolvable", "solved"]
    assert out[1]["verified"] is True and list(out[1]) == KEYS
    assert maze.verify(maze.parse("#####\n#S G#\n#####"), maze.parse("#####\n#SoG#\n#####"))
    pretty = run(path)
    assert "#SoG#" in pretty.stdout


def test_arc_has_no_exact_solver(shared_data):
    pytest.importorskip("hrmkit.puzzles.arc")
    task = next((shared_data / "arc").rglob("*.json"))
    result = run(task, "--solver", "exact")
    assert result.exit_code == 1 and "arc puzzles have no exact solver" in result.stderr
