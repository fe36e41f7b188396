"""`hrmkit.data.validate`: real builds pass; each kind of corruption fails, naming its expectation and rows."""

import json
import shutil

import numpy as np
import pytest

from hrmkit.data.build import BuildParams, build
from hrmkit.data.validate import validate
from hrmkit.puzzles import sudoku


@pytest.fixture(scope="module")
def sudoku_set(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("sudoku")
    lines = [ln for ln in (shared_data / "sudoku" / "magictour_top1465.txt").read_text().splitlines() if ln][:40]
    (root / "src.txt").write_text("\n".join(lines) + "\n")
    return build("sudoku", root / "ds", BuildParams(source=[str(root / "src.txt")], test_fraction=0.25,
                                                     subsample=12, augment=5, seed=0), log=lambda m: None)


def _copy(ds, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(ds, out)
    return out


def _edit(path, fn):
    """Load an array file, change it, save it back (a corruption after the build)."""
    a = np.load(path)
    fn(a)
    np.save(path, a)


def _failed(report):
    return set(report["failed"])


def _expectation(report, suite, check):
    return next(e for s in report["suites"] if s["suite"] == suite for e in s["expectations"] if e["check"] == check)


def test_real_build_passes_and_report_is_written(sudoku_set, tmp_path):
    report = validate(sudoku_set, tmp_path / "r" / "report.json")
    assert report["success"] and not report["failed"]
    on_disk = json.loads((tmp_path / "r" / "report.json").read_text())
    checks = {e["check"] for s in on_disk["suites"] for e in s["expectations"]}
    assert {"label_is_valid_grid", "givens_agree_with_label", "copy_equals_base_under_augmentation",
            "base_not_equivalent_to_test_puzzle", "group_sizes_match_augment", "file_sha256_matches_provenance"} <= checks
    assert all(e["expectation"] == "expect_column_values_to_be_in_set" for s in on_disk["suites"] for e in s["expectations"])


def test_wrong_label(sudoku_set, tmp_path):
    ds = _copy(sudoku_set, tmp_path)

    def corrupt(a):
        a[7, 40] = 2 + (a[7, 40] - 1) % 9  # another digit in one cell

    _edit(ds / "train" / "all__labels.npy", corrupt)
    report = validate(ds)
    assert not report["success"]
    assert {"sudoku.train.examples:label_is_valid_grid", "structure:file_sha256_matches_provenance"} <= _failed(report)
    e = _expectation(report, "sudoku.train.examples", "label_is_valid_grid")
    assert e["unexpected_count"] == 1 and e["sample_rows"] == [7]


def test_invalid_augmentation(sudoku_set, tmp_path):
    ds = _copy(sudoku_set, tmp_path)
    # copy 3 of group 0 replaced by the base of group 1: a valid puzzle, but not an image of its own base
    for name in ("inputs", "labels"):
        _edit(ds / "train" / f"all__{name}.npy", lambda a: a.__setitem__(3, a[6].copy()))
    report = validate(ds)
    assert "sudoku.train.puzzles:copy_equals_base_under_augmentation" in _failed(report)
    assert "sudoku.train.examples:label_is_valid_grid" not in _failed(report)
    assert _expectation(report, "sudoku.train.puzzles", "copy_equals_base_under_augmentation")["sample_rows"] == [3]


def test_leaked_test_puzzle(sudoku_set, tmp_path):
    ds = _copy(sudoku_set, tmp_path)
    train_in, train_lab = np.load(ds / "train" / "all__inputs.npy"), np.load(ds / "train" / "all__labels.npy")
    t = sudoku.random_transform(np.random.default_rng(9))
    disguised_in = sudoku.apply(t, train_in[12].astype(np.int8) - 1) + 1  # base of group 2, under a symmetry
    disguised_lab = sudoku.apply(t, train_lab[12].astype(np.int8) - 1) + 1
    _edit(ds / "test" / "all__inputs.npy", lambda a: a.__setitem__(4, disguised_in))
    _edit(ds / "test" / "all__labels.npy", lambda a: a.__setitem__(4, disguised_lab))
    report = validate(ds)
    assert "sudoku.train.groups:base_not_equivalent_to_test_puzzle" in _failed(report)
    assert _expectation(report, "sudoku.train.groups", "base_not_equivalent_to_test_puzzle")["sample_rows"] == [2]
    assert not any(f.startswith("sudoku.test.examples") for f in _failed(report))  # it is a valid puzzle


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("token, suite, check", [(0, "examples", "input_tokens_in_range"),  # pad: in the vocabulary
                                                 (11, "vocabulary", "inputs_in_vocabulary")])
def test_an_input_token_out_of_range_fails_its_expectation_and_nothing_crashes(sudoku_set, tmp_path, split, token,
                                                                             suite, check):
    ds = _copy(sudoku_set, tmp_path)
    _edit(ds / split / "all__inputs.npy", lambda a: a.__setitem__((0, 5), token))
    report = validate(ds)
    assert f"sudoku.{split}.{suite}:{check}" in _failed(report)
    assert _expectation(report, f"sudoku.{split}.{suite}", check)["sample_rows"] == [0]


def test_truncated_array_file(sudoku_set, tmp_path):
    ds = _copy(sudoku_set, tmp_path)
    f = ds / "train" / "all__inputs.npy"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    report = validate(ds)
    assert {"structure:file_readable", "train.metadata:split_loads"} <= _failed(report)
    assert _expectation(report, "structure", "file_readable")["sample_rows"] == ["train/all__inputs.npy"]
    assert "test.metadata:num_examples_matches_metadata" not in _failed(report)  # the test split still checked


def test_maze_label_that_is_not_shortest_fails(tmp_path):
    from hrmkit.puzzles import maze

    ds = build("maze", tmp_path / "mz", BuildParams(source=["generate"], count=6, test_fraction=0.34, augment=2,
                                                    family_options={"size": 9, "min_length": 6}), log=lambda m: None)
    assert validate(ds)["success"]

    def detour(a):  # drop one path cell of test maze 0: no longer a connected S-G path
        row = a[0]
        cells = np.flatnonzero(row == maze.PATH + 1)
        row[cells[len(cells) // 2]] = maze.OPEN + 1

    _edit(ds / "test" / "all__labels.npy", detour)
    report = validate(ds)
    assert "maze.test.examples:label_path_is_shortest" in _failed(report)
    assert _expectation(report, "maze.test.examples", "label_path_is_shortest")["sample_rows"] == [0]


def test_arc_build_passes_and_a_test_input_copied_into_train_fails(shared_data, tmp_path):
    root = tmp_path / "arc"
    for part, n in (("training", 2), ("evaluation", 2)):
        (root / part).mkdir(parents=True)
        for f in sorted((shared_data / "arc" / "arc-agi-1" / part).glob("*.json"))[:n]:
            shutil.copy(f, root / part / f.name)
    ds = build("arc", tmp_path / "a", BuildParams(source=[str(root)], augment=2, seed=0), log=lambda m: None)
    assert validate(ds)["success"]
    test_inputs = np.load(ds / "test" / "all__inputs.npy")
    _edit(ds / "train" / "all__inputs.npy", lambda a: a.__setitem__(0, test_inputs[1]))
    report = validate(ds)
    assert "arc.test.examples:test_input_not_in_train" in _failed(report)
    assert 1 in _expectation(report, "arc.test.examples", "test_input_not_in_train")["sample_rows"]
