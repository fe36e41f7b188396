"""Data folders built by the HRM authors' scripts are read as they are: the same arrays, a dataset.json with only
their nine fields, no provenance.json (hrmkit/data/format.py). Written here the way their Sudoku builder writes
them (tokens = digit + 1, blank 1, one puzzle per group when not augmented, puzzle identifier 0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _helpers import authors_copy
from hrmkit.data.format import open_dataset
from hrmkit.data.loader import BatchSampler, PuzzleDataset, batches
from hrmkit.errors import HrmkitError
from hrmkit.puzzles import sudoku

REPO = Path(__file__).resolve().parents[1]


def write_authors_sudoku(out: Path, puzzles: list[str], split: str) -> None:
    """One split as the authors' build_sudoku_dataset.py lays it out (no augmentation: groups of one)."""
    inputs, labels = [], []
    for line in puzzles:
        grid = np.frombuffer(line.replace(".", "0").encode(), dtype=np.uint8) - ord("0")
        answer = sudoku.solve_exact(grid.reshape(9, 9)).solution.reshape(-1).astype(np.uint8)
        inputs.append(grid + 1)
        labels.append(answer + 1)
    n = len(puzzles)
    folder = out / split
    folder.mkdir(parents=True)
    np.save(folder / "all__inputs.npy", np.stack(inputs))
    np.save(folder / "all__labels.npy", np.stack(labels))
    np.save(folder / "all__puzzle_identifiers.npy", np.zeros(n, dtype=np.int32))
    np.save(folder / "all__puzzle_indices.npy", np.arange(n + 1, dtype=np.int32))
    np.save(folder / "all__group_indices.npy", np.arange(n + 1, dtype=np.int32))
    meta = dict(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=11, seq_len=81,
                num_puzzle_identifiers=1, total_groups=n, mean_puzzle_examples=1.0, sets=["all"])
    (folder / "dataset.json").write_text(json.dumps(meta))
    (out / "identifiers.json").write_text(json.dumps(["<blank>"]))


@pytest.fixture
def authors_dir(tmp_path, shared_data):
    lines = [ln.strip() for ln in (shared_data / "sudoku" / "magictour_top1465.txt").read_text().splitlines()
             if ln.strip()]
    out = tmp_path / "sudoku-extreme-authors"
    write_authors_sudoku(out, lines[:40], "train")
    write_authors_sudoku(out, lines[40:50], "test")
    return out


def test_authors_folder_opens_with_derived_metadata(authors_dir):
    ds = open_dataset(authors_dir)
    assert ds.family == "sudoku" and ds.provenance["format"] == "authors"
    train = ds.split("train")
    assert train.meta.family == "sudoku" and train.meta.grid == [9, 9] and train.meta.split == "train"
    assert train.meta.num_examples == 40 and train.meta.num_puzzles == 40 and not train.meta.augmented
    assert train.arrays.augmentations is None
    batch = next(batches(PuzzleDataset(train), BatchSampler(PuzzleDataset(train), 8, seed=0)))
    assert batch["inputs"].shape == (8, 81) and set(np.unique(batch["labels"])) <= set(range(2, 11))


def test_an_hrmkit_folder_and_its_authors_copy_give_the_same_batches(tmp_path):
    built = tmp_path / "built"
    cmd = [sys.executable, "-m", "hrmkit", "data", "build", "sudoku", "--source", "generate", "--count", "30",
           "--test-source", "generate", "--test-count", "6", "--givens", "50-55", "--augment", "3", "--seed", "1",
           "--out", str(built)]
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    copy = authors_copy(built, tmp_path / "copy")  # what the authors' scripts would have written

    a, b = open_dataset(built).split("train"), open_dataset(copy).split("train")
    assert b.meta.augmented and a.meta.augmented
    for field in ("family", "grid", "num_examples", "num_puzzles", "total_groups", "seq_len", "vocab_size"):
        assert getattr(a.meta, field) == getattr(b.meta, field), field
    da, db = PuzzleDataset(a), PuzzleDataset(b)
    got_a = [x for _, x in zip(range(5), batches(da, BatchSampler(da, 16, seed=3)))]
    got_b = [x for _, x in zip(range(5), batches(db, BatchSampler(db, 16, seed=3)))]
    for x, y in zip(got_a, got_b):
        assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


def test_train_and_eval_run_on_an_authors_folder_and_validate_explains(authors_dir, tmp_path):
    from typer.testing import CliRunner

    from hrmkit.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["train", "--preset", "tiny", "--data", str(authors_dir), "--out", str(tmp_path / "run"),
                              "--steps", "2", "--seed", "0"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["eval", str(tmp_path / "run"), "--data", str(authors_dir), "--out",
                              str(tmp_path / "report")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert 0.0 <= metrics["exact_accuracy"] <= 1.0 and metrics["num_examples"] == 10
    res = runner.invoke(app, ["data", "validate", str(authors_dir)])
    assert res.exit_code == 1 and "built by the HRM authors' scripts" in res.stderr


def test_an_unknown_authors_family_or_missing_provenance_is_one_clear_error(authors_dir):
    meta_path = authors_dir / "train" / "dataset.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "seq_len": 100, "vocab_size": 7}))
    with pytest.raises(HrmkitError, match="seq_len 100 and vocab_size 7 is none of the families"):
        open_dataset(authors_dir)
    meta_path.write_text(json.dumps({**meta, "family": "sudoku"}))  # an hrmkit dataset.json without provenance
    with pytest.raises(HrmkitError, match="missing field"):
        open_dataset(authors_dir)
