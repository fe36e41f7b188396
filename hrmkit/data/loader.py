"""Serve a built data set to training and evaluation: a seeded, rank-aware, resumable batch sampler.

Training (``train=True``) follows the authors' recipe: each epoch visits every *group* once in a seeded
random order and takes one random puzzle of it (so a base puzzle and its 1,000 augmented copies weigh as much
as an un-augmented one), adding all of that puzzle's examples to the batch; the puzzle that overflows a batch
contributes a random subset and the next batch starts with the next group. Unlike the authors' sampler every
draw comes from ``numpy.random.default_rng([seed, epoch, ...])``, so the stream is a pure function of
(seed, epoch, position): the same on every rank, and resumable from ``state_dict()`` exactly. Batches run
across epoch boundaries (nothing is dropped); ``epoch_progress`` tells the trainer where it is.

Evaluation (``train=False``) walks every example once in order; the last batch is padded (index -1: pad
inputs, ignored labels, blank puzzle identifier) so every rank gets full batches.

DDP: every rank builds the same global batch and keeps rows ``[rank * B/W, (rank + 1) * B/W)``.

``AuthorsSampler`` draws the batches the HRM authors' PuzzleDataset draws (sapientinc/HRM puzzle_dataset.py), for
runs that must follow theirs step for step; see its docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from hrmkit.data.format import Split, open_dataset
from hrmkit.errors import HrmkitError


class PuzzleDataset:
    """One split of a data set: memory-mapped arrays, metadata, and batch assembly from example indices."""

    def __init__(self, path: str | Path | Split, split: str = "train"):
        self.split = path if isinstance(path, Split) else open_dataset(path).split(split)
        self.meta = self.split.meta
        a = self.split.arrays
        self.inputs, self.labels = a.inputs, a.labels  # (N, L) memory-mapped
        self.puzzle_identifiers = np.asarray(a.puzzle_identifiers)  # (P,)
        self.puzzle_indices = np.asarray(a.puzzle_indices, dtype=np.int64)  # (P + 1,)
        self.group_indices = np.asarray(a.group_indices, dtype=np.int64)  # (G + 1,)
        sizes = np.diff(self.puzzle_indices)
        if (sizes < 1).any() or self.puzzle_indices[-1] != len(self.inputs):
            raise HrmkitError(f"{self.meta.split}: puzzle_indices do not cover the examples; run `hrmkit data validate`")
        # example -> puzzle, for evaluation batches (which walk examples, not groups)
        self.example_puzzle = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)  # (N,)

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def num_groups(self) -> int:
        return len(self.group_indices) - 1

    def batch(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """Rows ``index`` (B,) as int32 arrays; -1 entries are padding (pad inputs, ignored labels, blank id)."""
        index = np.asarray(index, dtype=np.int64)
        real = index >= 0
        take = np.where(real, index, 0)
        inputs = np.asarray(self.inputs[take], dtype=np.int32)  # (B, L)
        labels = np.asarray(self.labels[take], dtype=np.int32)
        ids = self.puzzle_identifiers[self.example_puzzle[take]].astype(np.int32)  # (B,)
        if not real.all():
            inputs[~real] = self.meta.pad_id
            labels[~real] = self.meta.ignore_label_id
            ids[~real] = self.meta.blank_identifier_id
        return {"inputs": inputs, "labels": labels, "puzzle_identifiers": ids, "index": index}


@dataclass
class _Epoch:
    """One epoch's draws: group order, chosen puzzle per position, and cumulative example counts."""

    number: int
    puzzles: np.ndarray  # (G,) the puzzle drawn for the group at each position
    cum: np.ndarray  # (G,) examples in positions [0, i]


class BatchSampler:
    """Yields this rank's example indices (B/W,) per step; see the module docstring for the order."""

    def __init__(
        self,
        dataset: PuzzleDataset,
        global_batch_size: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        train: bool = True,
    ):
        if global_batch_size < 1 or global_batch_size % world_size:
            raise HrmkitError(
                f"global_batch_size {global_batch_size} must be a positive multiple of world_size {world_size}"
            )
        if not 0 <= rank < world_size:
            raise HrmkitError(f"rank {rank} outside world_size {world_size}")
        if dataset.num_groups < 1:
            raise HrmkitError("the data set split has no puzzles")
        self.ds, self.global_batch_size, self.rank, self.world_size = dataset, global_batch_size, rank, world_size
        self.local_batch_size = global_batch_size // world_size
        self.seed, self.train = int(seed), train
        self.epoch, self.position = 0, 0  # train: next group position in epoch; eval: next batch number
        self._cache: _Epoch | None = None

    # -- state -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position, "train": self.train,
                "global_batch_size": self.global_batch_size}

    def load_state_dict(self, state: dict) -> None:
        for key in ("seed", "train", "global_batch_size"):
            if state[key] != getattr(self, key):
                raise HrmkitError(f"sampler state has {key}={state[key]!r}, this sampler {getattr(self, key)!r}")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    @property
    def epoch_progress(self) -> float:
        """Epochs done so far (train: groups visited / groups; eval: batches / batches)."""
        if self.train:
            return self.epoch + self.position / self.ds.num_groups
        return self.position / max(1, len(self))

    def __len__(self) -> int:
        """Eval: batches in one pass. Train: expected batches per epoch (rounded up)."""
        if not self.train:
            return math.ceil(len(self.ds) / self.global_batch_size)
        return math.ceil(self.ds.num_groups * self.ds.meta.mean_puzzle_examples / self.global_batch_size)

    # -- drawing -----------------------------------------------------------------------------------------------
    def _epoch(self, number: int) -> _Epoch:
        if self._cache is None or self._cache.number != number:
            gi, pi = self.ds.group_indices, self.ds.puzzle_indices
            rng = np.random.default_rng([self.seed, number])
            order = rng.permutation(self.ds.num_groups)  # (G,)
            puzzles = rng.integers(gi[order], gi[order + 1])  # (G,) one puzzle of each group
            self._cache = _Epoch(number, puzzles, np.cumsum(pi[puzzles + 1] - pi[puzzles]))
        return self._cache

    def _next_global(self) -> np.ndarray:
        """The next global batch (B,) of example indices; advances (epoch, position)."""
        pi = self.ds.puzzle_indices
        parts, need = [], self.global_batch_size
        while need:
            ep = self._epoch(self.epoch)
            base = ep.cum[self.position - 1] if self.position else 0
            end = int(np.searchsorted(ep.cum, base + need, side="right"))  # positions [position, end) fit whole
            whole = ep.puzzles[self.position:end]
            parts.append(_ranges(pi[whole], pi[whole + 1] - pi[whole]))
            need -= int(ep.cum[end - 1] - base) if end > self.position else 0
            self.position = end
            if need and end < len(ep.puzzles):  # this puzzle overflows: a seeded random part of it
                p = ep.puzzles[end]
                pick = np.random.default_rng([self.seed, self.epoch, end]).choice(pi[p + 1] - pi[p], need, replace=False)
                parts.append(pi[p] + np.sort(pick))
                need, self.position = 0, end + 1
            if self.position >= len(ep.puzzles):
                self.epoch, self.position = self.epoch + 1, 0
        return np.concatenate(parts)

    def __iter__(self) -> Iterator[np.ndarray]:
        lo, hi = self.rank * self.local_batch_size, (self.rank + 1) * self.local_batch_size
        if self.train:
            while True:
                yield self._next_global()[lo:hi]
        n = len(self.ds)
        while self.position < len(self):
            start = self.position * self.global_batch_size
            index = np.arange(start, start + self.global_batch_size)
            index[index >= n] = -1
            self.position += 1
            yield index[lo:hi]


class AuthorsSampler:
    """The authors' training batch order (their PuzzleDataset._iter_train), draw for draw.

    Iteration i (1, 2, ...; `iterations` of them, None: without end) takes a Philox generator seeded seed + i,
    draws `epochs_per_iter` permutations of the groups (concatenated), then for each group in that order one
    random puzzle of it (`Generator.integers`) and `min(puzzle size, room left)` of its examples without
    replacement; a batch is full at global_batch_size examples, and the iteration's last, partial batch is
    dropped. The examples inside a puzzle come from a legacy `RandomState` (the authors call the global
    `np.random.choice`; their DataLoader worker seeds it from torch's generator, see `worker_numpy_seed`);
    with one example per puzzle (Sudoku, mazes) it is never drawn from. Resumable exactly from `state_dict()`.
    """

    def __init__(
        self,
        dataset: PuzzleDataset,
        global_batch_size: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        epochs_per_iter: int = 1,
        iterations: int | None = None,
        example_state: list[int] | None = None,
    ):
        if global_batch_size < 1 or global_batch_size % world_size:
            raise HrmkitError(
                f"global_batch_size {global_batch_size} must be a positive multiple of world_size {world_size}"
            )
        if dataset.num_groups < 1:
            raise HrmkitError("the data set split has no puzzles")
        if epochs_per_iter < 1 or seed < 0:
            raise HrmkitError(f"authors' sampler: epochs_per_iter must be >= 1 and seed >= 0, got "
                              f"{epochs_per_iter} and {seed}")
        self.ds, self.global_batch_size, self.rank, self.world_size = dataset, global_batch_size, rank, world_size
        self.local_batch_size = global_batch_size // world_size
        self.seed, self.epochs_per_iter, self.iterations = int(seed), int(epochs_per_iter), iterations
        self.train = True
        self.multi_example = bool((np.diff(dataset.puzzle_indices) > 1).any())
        self._examples = np.random.RandomState(example_state if example_state is not None else 0)
        self.iteration, self.batch = 0, 0  # the iteration under way (0: none yet) and batches taken from it
        self._start_state = self._examples.get_state()  # the example generator when that iteration began
        self._current: Iterator[np.ndarray] | None = None

    # -- state -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        name, keys, pos, has_gauss, gauss = self._start_state
        return {"kind": "authors", "seed": self.seed, "epochs_per_iter": self.epochs_per_iter,
                "global_batch_size": self.global_batch_size, "iteration": self.iteration, "batch": self.batch,
                "example_state": [name, [int(k) for k in keys], int(pos), int(has_gauss), float(gauss)]}

    def load_state_dict(self, state: dict) -> None:
        for key in ("seed", "epochs_per_iter", "global_batch_size"):
            if state.get(key) != getattr(self, key):
                raise HrmkitError(f"sampler state has {key}={state.get(key)!r}, this sampler {getattr(self, key)!r}")
        name, keys, pos, has_gauss, gauss = state["example_state"]
        self._examples.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
        self.iteration, self._current = int(state["iteration"]), None
        skip, self.batch = int(state["batch"]), 0
        if self.iteration:  # redraw the iteration under way up to where the run stopped
            self._start_state = self._examples.get_state()
            self._current = self._iterate(self.iteration)
            for _ in range(skip):
                next(self._current)
                self.batch += 1

    @property
    def epoch_progress(self) -> float:
        """Epochs done so far (approximately inside an iteration: batches x batch / examples per epoch)."""
        per_epoch = max(1e-9, self.ds.num_groups * self.ds.meta.mean_puzzle_examples)
        done = max(0, self.iteration - 1) * self.epochs_per_iter
        return done + self.batch * self.global_batch_size / per_epoch

    # -- drawing -----------------------------------------------------------------------------------------------
    def _iterate(self, number: int) -> Iterator[np.ndarray]:
        """Global batches (B,) of example indices of iteration `number`, as the authors' loop yields them."""
        gi, pi, B = self.ds.group_indices, self.ds.puzzle_indices, self.global_batch_size
        rng = np.random.Generator(np.random.Philox(seed=self.seed + number))
        order = np.concatenate([rng.permutation(self.ds.num_groups) for _ in range(self.epochs_per_iter)])
        puzzles = rng.integers(gi[order], gi[order + 1])  # (G * E,) one puzzle per group, as G * E scalar draws
        starts, sizes = pi[puzzles], pi[puzzles + 1] - pi[puzzles]
        if not self.multi_example:  # one example per puzzle: batches are consecutive runs of the order
            for lo in range(0, len(puzzles) - B + 1, B):
                yield starts[lo:lo + B]
            return
        parts, size = [], 0
        for start, n in zip(starts.tolist(), sizes.tolist()):
            take = min(n, B - size)
            parts.append(start + self._examples.choice(n, take, replace=False))
            size += take
            if size == B:
                yield np.concatenate(parts)
                parts, size = [], 0
        # the partial batch left is dropped (its example draws were made, as in the authors' loop)

    def __iter__(self) -> Iterator[np.ndarray]:
        lo, hi = self.rank * self.local_batch_size, (self.rank + 1) * self.local_batch_size
        while True:
            if self._current is None:
                if self.iterations is not None and self.iteration >= self.iterations:
                    return
                self.iteration, self.batch = self.iteration + 1, 0
                self._start_state = self._examples.get_state()
                self._current = self._iterate(self.iteration)
            for batch in self._current:
                self.batch += 1
                yield batch[lo:hi]
            self._current = None


def worker_numpy_seed(base_seed: int, worker_id: int = 0) -> list[int]:
    """The seed torch's DataLoader worker gives numpy's global generator (torch's `_generate_state`: the
    SeedSequence algorithm on [worker_id, base_seed low 32 bits, high 32 bits, 0], four words)."""
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return [int(w) for w in np.random.SeedSequence(words).generate_state(4)]


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each (s, n), without a Python loop."""
    ends = np.cumsum(sizes)
    return np.repeat(starts - ends + sizes, sizes) + np.arange(ends[-1] if len(ends) else 0)


def batches(dataset: PuzzleDataset, sampler: BatchSampler) -> Iterator[dict[str, np.ndarray]]:
    """Assembled batches (int32 numpy arrays; ``torch.from_numpy`` them) in the sampler's order."""
    for index in sampler:
        yield dataset.batch(index)
