"""Maze data sets: bases (+ up to 7 distinct dihedral copies each with ``--augment K``), on a square canvas.

Sources: ``hf:sapientinc/maze-30x30-hard-1k`` (train.csv / test.csv, the authors' data), maze files
(``hrmkit.puzzles.maze.read``), or ``generate`` (``--size``, ``--min-length``, ``--style lattice|obstacles``, ``--loops`` for lattices, ``--density``
for obstacle grids). Mazes without a
path are solved by BFS; the label is one shortest path (the authors' data has unique ones).
"""

from __future__ import annotations

import numpy as np

from hrmkit.data import sources as src
from hrmkit.data.build import (BuildParams, Item, Log, RecipeResult, generate_count, groups_of, source_pools,
                               subsample_order)
from hrmkit.data.format import Family, SplitArrays
from hrmkit.errors import HrmkitError, where
from hrmkit.puzzles import maze as _maze

LAYOUT = _maze.AUGMENTATION_LAYOUT


def cli_options(v: dict) -> dict:
    """``BuildParams.family_options`` from the values of the ``data build`` options (by parameter name)."""
    return {k: v[k] for k in ("size", "min_length", "loops", "style", "density", "test_size", "test_min_length")}


def _items(source: src.Source, role: str, params: BuildParams, seed_offset: int) -> list[Item]:
    from hrmkit.puzzles import maze

    if source.kind == "generate":
        n = generate_count(params, role)
        opts = params.family_options
        size, min_length = int(opts.get("size", 30)), int(opts.get("min_length", 0))
        if role == "test":  # --test-size / --test-min-length: held-out mazes of another size (default: the same)
            size = int(opts.get("test_size") or size)
            min_length = int(opts["test_min_length"] if opts.get("test_min_length") is not None else min_length)
        puzzles, solutions = maze.generate_batch(
            n, size, min_length, seed=params.seed + seed_offset,
            loops=float(opts.get("loops", 0.1)), style=str(opts.get("style", "lattice")),
            density=float(opts.get("density", 0.3)))
        return [Item(f"generate#{i}", p, s) for i, (p, s) in enumerate(zip(puzzles, solutions))]
    path = source.files[role if source.kind == "hf" else "file"]
    records = maze.read(path)
    if not records:
        raise HrmkitError(f"{path}: no mazes found")
    return [Item(where(path, r.line), r.puzzle, r.solution) for r in records]


def _solve(items: list[Item]) -> int:
    from hrmkit.puzzles import maze

    solved = 0
    for item in items:
        if item.answer is None:
            result = maze.solve_exact(item.puzzle)
            if result.status == "unsolvable":
                raise HrmkitError(f"{item.origin}: the goal G cannot be reached from S")
            item.answer, solved = result.solution, solved + 1
        item.rating = float((item.answer == 4).sum() + 1)  # path length in moves
    return solved


def build_maze(params: BuildParams, log: Log) -> RecipeResult:
    if params.augment > 7:
        raise HrmkitError(f"--augment {params.augment}: a maze has 7 distinct dihedral images besides itself")
    rng = np.random.default_rng(params.seed)
    source, test_source, train_pool, test_pool = source_pools(params, _items, rng)
    order = subsample_order(params, len(train_pool), rng)
    bases = [train_pool[i] for i in sorted(order[: params.subsample or len(train_pool)])]
    solved = _solve(bases) + _solve(test_pool)
    if any(it.puzzle.shape[0] != it.puzzle.shape[1] for it in bases) and params.augment:
        raise HrmkitError("dihedral augmentation needs square mazes")
    # one canvas for both splits, unless the test mazes were asked for at another size (--test-size): then each
    # split has its own, for models that run on any grid size (attn_mask: grid)
    train_side = max(max(it.puzzle.shape) for it in bases)
    test_side = max(max(it.puzzle.shape) for it in test_pool)
    if not params.family_options.get("test_size"):
        train_side = test_side = max(train_side, test_side)
    log(f"maze: {len(bases)} training mazes x {params.augment + 1} (canvas {train_side}x{train_side}), "
        f"{len(test_pool)} test mazes (canvas {test_side}x{test_side})")
    fam = {split: Family(_maze.NAME, seq_len=side * side, vocab_size=_maze.VOCAB_SIZE, grid=(side, side),
                         augmentation_layout=LAYOUT)
           for split, side in (("train", train_side), ("test", test_side))}
    train, test = _encode(bases, params.augment, train_side, rng), _encode(test_pool, 0, test_side, rng)
    stats = {"train_bases": len(bases), "test_puzzles": len(test_pool), "solved_by_hrmkit": solved}
    return RecipeResult(fam, {"train": train, "test": test},
                        {"train": source.record(), "test": test_source.record()}, stats=stats)


def _encode(items: list[Item], augment: int, side: int, rng: np.random.Generator) -> SplitArrays:
    from hrmkit.puzzles import maze

    k = augment + 1
    ids = np.concatenate([[0] + sorted(rng.permutation(7)[:augment] + 1) for _ in items]).astype(np.int16)
    each = [it for it in items for _ in range(k)]
    inputs = np.stack([maze.to_tokens(maze.dihedral(it.puzzle, t), side) for it, t in zip(each, ids)])
    labels = np.stack([maze.to_tokens(maze.dihedral(it.answer, t), side) for it, t in zip(each, ids)])
    n = len(inputs)
    return SplitArrays(
        inputs=inputs,
        labels=labels,
        puzzle_identifiers=np.zeros(n, np.int32),
        puzzle_indices=np.arange(n + 1, dtype=np.int32),
        group_indices=groups_of(np.full(len(items), k)),
        augmentations=ids[:, None],
    )
