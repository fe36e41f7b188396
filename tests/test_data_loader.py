"""The on-disk format (write, read, atomic output) and the seeded, rank-aware, resumable batch sampler."""

import itertools
import json

import numpy as np
import pytest

from hrmkit.data.format import Family, SplitArrays, open_dataset, write_dataset
from hrmkit.data.loader import BatchSampler, PuzzleDataset, batches
from hrmkit.errors import HrmkitError

FAM = Family("sudoku", seq_len=4, vocab_size=11, grid=(2, 2), augmentation_layout="sudoku-v1")


def _split(group_sizes, puzzle_sizes, seq_len=4, seed=0):
    """A synthetic split: groups of puzzles of given example counts; input row i is filled with i % 200."""
    puzzle_sizes = list(puzzle_sizes)
    n = sum(puzzle_sizes)
    rows = (np.arange(n) % 200).astype(np.uint8)
    return SplitArrays(
        inputs=np.repeat(rows[:, None], seq_len, 1),
        labels=np.repeat(rows[:, None], seq_len, 1),
        puzzle_identifiers=np.arange(len(puzzle_sizes), dtype=np.int32) % 7,
        puzzle_indices=np.concatenate([[0], np.cumsum(puzzle_sizes)]).astype(np.int32),
        group_indices=np.concatenate([[0], np.cumsum(group_sizes)]).astype(np.int32),
        augmentations=np.zeros((len(puzzle_sizes), 28), np.int16),
    )


@pytest.fixture
def ragged(tmp_path):
    """30 groups of 1-4 puzzles, each puzzle 1-5 examples (ARC-like)."""
    rng = np.random.default_rng(1)
    groups = rng.integers(1, 5, 30)
    sizes = rng.integers(1, 6, int(groups.sum()))
    out = write_dataset(tmp_path / "ds", FAM, {"train": _split(groups, sizes), "test": _split([1] * 5, [1] * 5)},
                        ["<blank>"] + [f"p{i}" for i in range(6)], {"family": "sudoku"})
    return out


def test_write_read_round_trip(ragged):
    ds = open_dataset(ragged)
    assert set(ds.splits) == {"train", "test"}
    tr = ds.split("train")
    assert isinstance(tr.arrays.inputs, np.memmap) and tr.arrays.inputs.dtype == np.uint8
    assert tr.meta.num_examples == tr.arrays.puzzle_indices[-1] == len(tr.arrays.inputs)
    assert tr.meta.total_groups == 30 and tr.meta.num_puzzle_identifiers == 7 and tr.meta.sets == ["all"]
    authors = json.loads((ragged / "train" / "dataset.json").read_text())
    for key in ("seq_len", "vocab_size", "pad_id", "ignore_label_id", "blank_identifier_id",
                "num_puzzle_identifiers", "total_groups", "mean_puzzle_examples", "sets"):
        assert key in authors
    prov = json.loads((ragged / "provenance.json").read_text())
    assert "train/all__inputs.npy" in prov["outputs"] and len(prov["outputs"]["train/all__inputs.npy"]) == 64


def test_existing_output_and_failed_write_leave_nothing_half_written(ragged, tmp_path):
    with pytest.raises(HrmkitError, match="already exists"):
        write_dataset(ragged, FAM, {"train": _split([1], [1])}, ["<blank>"], {})
    bad = _split([1], [1])
    bad.augmentations = np.full((1, 28), "x", dtype=object)  # cannot be cast: the write fails midway
    with pytest.raises(ValueError):
        write_dataset(tmp_path / "new", FAM, {"train": bad}, ["<blank>"], {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no new dir, no temp dir
    write_dataset(ragged, FAM, {"train": _split([2], [1, 1])}, ["<blank>"], {}, overwrite=True)
    assert open_dataset(ragged).split("train").meta.num_examples == 2


def test_train_sampler_visits_every_group_once_per_epoch():
    sizes = [1] * 50
    ds = PuzzleDataset.__new__(PuzzleDataset)  # built from arrays in memory, not from disk
    _init_from(ds, _split([5] * 10, sizes))
    s = BatchSampler(ds, 10, seed=3)
    it = iter(s)
    seen = np.concatenate([next(it) for _ in range(5)])  # 10 groups per epoch -> 5 epochs
    groups = np.searchsorted(ds.group_indices, ds.example_puzzle[seen], side="right") - 1
    assert np.array_equal(np.bincount(groups, minlength=10), np.full(10, 5))
    assert s.epoch == 5 and s.position == 0


def _init_from(ds, arrays):
    from hrmkit.data.format import Metadata, Split, _metadata

    meta: Metadata = _metadata(FAM, "train", arrays, 7, True)
    PuzzleDataset.__init__(ds, Split("train", meta, arrays))


def test_same_seed_same_stream_and_ranks_partition_the_global_batch(ragged):
    ds = PuzzleDataset(ragged, "train")
    one = [b for b in itertools.islice(BatchSampler(ds, 12, seed=7), 20)]
    again = [b for b in itertools.islice(BatchSampler(ds, 12, seed=7), 20)]
    other = [b for b in itertools.islice(BatchSampler(ds, 12, seed=8), 20)]
    assert all(np.array_equal(a, b) for a, b in zip(one, again))
    assert not all(np.array_equal(a, b) for a, b in zip(one, other))
    ranks = [list(itertools.islice(BatchSampler(ds, 12, seed=7, rank=r, world_size=3), 20)) for r in range(3)]
    for step in range(20):
        assert all(len(r[step]) == 4 for r in ranks)
        assert np.array_equal(np.concatenate([r[step] for r in ranks]), one[step])
    for b in one:  # a batch never repeats an example
        assert len(np.unique(b)) == len(b)


def test_resume_from_state_dict_continues_the_same_stream(ragged):
    ds = PuzzleDataset(ragged, "train")
    full = list(itertools.islice(BatchSampler(ds, 8, seed=1), 30))
    s = BatchSampler(ds, 8, seed=1)
    it = iter(s)
    for _ in range(13):
        next(it)
    state = json.loads(json.dumps(s.state_dict()))  # survives a JSON checkpoint
    resumed = BatchSampler(ds, 8, seed=1)
    resumed.load_state_dict(state)
    rest = list(itertools.islice(iter(resumed), 17))
    assert all(np.array_equal(a, b) for a, b in zip(full[13:], rest))
    with pytest.raises(HrmkitError, match="seed"):
        BatchSampler(ds, 8, seed=2).load_state_dict(state)


def test_eval_sampler_covers_every_example_once_with_padding(ragged):
    ds = PuzzleDataset(ragged, "train")
    n = len(ds)
    got = [np.concatenate(list(BatchSampler(ds, 16, rank=r, world_size=2, train=False))) for r in range(2)]
    per_rank = [list(BatchSampler(ds, 16, rank=r, world_size=2, train=False)) for r in range(2)]
    assert all(len(b) == 8 for r in per_rank for b in r)
    allidx = np.concatenate(got)
    real = np.sort(allidx[allidx >= 0])
    assert np.array_equal(real, np.arange(n))
    batch = ds.batch(np.array([0, -1]))
    assert batch["inputs"].dtype == np.int32 and (batch["inputs"][1] == 0).all()
    assert (batch["labels"][1] == ds.meta.ignore_label_id).all() and batch["puzzle_identifiers"][1] == 0
    first = next(batches(ds, BatchSampler(ds, 4, train=False)))
    assert np.array_equal(first["inputs"][:, 0], np.arange(4))
