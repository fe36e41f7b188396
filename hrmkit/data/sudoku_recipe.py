"""Sudoku data sets: the authors' recipe (base puzzles + K random symmetry copies each), vectorised.

A copy is one element of the Sudoku symmetry group (``hrmkit.puzzles.sudoku.Transform``: digit relabelling,
optional transpose, band / row-in-band / stack / column-in-stack orders). Building 1,000 x 1,000 copies one
``Transform`` object at a time costs ~40 s of Python; here the transforms are drawn as arrays (one row of the
``sudoku-v1`` layout per copy, see ``hrmkit.data.format``) and applied with one gather per base puzzle.
``as_transform(row)`` turns a stored row back into the family's ``Transform`` (to invert a model's answer);
tests check both paths give the same grids.

Leakage: a training puzzle whose canonical form (``sudoku.canonical``) equals a test puzzle's is dropped (the
build says how many on stderr and records ``build.dropped_equivalent_to_test`` in provenance.json); generated
training puzzles dropped so are replaced by the next ones of their seeded stream, so that ``--count`` holds.
The canonical form costs ~1 ms, so it is computed only where a cheap invariant (numbers of givens per digit,
box, row and column, as sorted multisets) already collides with a test puzzle's.
"""

from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from hrmkit.data import sources as src
from hrmkit.data.build import (BuildParams, Item, Log, RecipeResult, generate_count, groups_of, guesses_band,
                               parse_range, source_pools, subsample_order)
from hrmkit.data.format import Family, SplitArrays
from hrmkit.errors import HrmkitError, where
from hrmkit.puzzles import sudoku as _sudoku

LAYOUT = _sudoku.AUGMENTATION_LAYOUT
IDENTITY = np.concatenate([[0], np.arange(9), np.arange(9), np.arange(1, 10)]).astype(np.int16)  # (28,)


def cli_options(v: dict) -> dict:
    """``BuildParams.family_options`` from the values of the ``data build`` options (by parameter name)."""
    return {"givens": parse_range(v["givens"], "givens"), "minimal": v["minimal"],
            "rating": guesses_band(v["rating"], v["min_guesses"], v["max_guesses"], ""),
            "test_givens": parse_range(v["test_givens"], "test-givens"), "test_minimal": v["test_minimal"],
            "test_rating": guesses_band(None, v["test_min_guesses"], v["test_max_guesses"], "test-")}


def family() -> Family:
    return Family(_sudoku.NAME, seq_len=_sudoku.SEQ_LEN, vocab_size=_sudoku.VOCAB_SIZE, grid=_sudoku.GRID,
                  augmentation_layout=LAYOUT)


# ------------------------------------------------------------------------------------ transforms as arrays


def sample_transforms(rng: np.random.Generator, m: int) -> np.ndarray:
    """``m`` uniformly random group elements as ``sudoku-v1`` rows (m, 28)."""
    transpose = rng.integers(0, 2, (m, 1))
    bands = np.argsort(rng.random((m, 3)), axis=1)
    rows = np.argsort(rng.random((m, 3, 3)), axis=2)
    stacks = np.argsort(rng.random((m, 3)), axis=1)
    cols = np.argsort(rng.random((m, 3, 3)), axis=2)
    row_order = (3 * bands[:, :, None] + rows).reshape(m, 9)  # output row 3b+k <- input row 3*bands[b]+rows[b,k]
    col_order = (3 * stacks[:, :, None] + cols).reshape(m, 9)
    digits = np.argsort(rng.random((m, 9)), axis=1) + 1  # digits[d-1] = new digit of d
    return np.concatenate([transpose, row_order, col_order, digits], axis=1).astype(np.int16)


def positions(t: np.ndarray) -> np.ndarray:
    """(m, 81) source cell of each output cell, as ``Transform.positions`` (transpose first, then reorder)."""
    t = np.asarray(t, dtype=np.intp)
    r, c = t[:, 1:10, None], t[:, None, 10:19]  # (m, 9, 1), (m, 1, 9)
    flip = t[:, :1, None]  # 1: transposed
    return (9 * (r + flip * (c - r)) + (c + flip * (r - c))).reshape(len(t), 81)


def token_maps(t: np.ndarray) -> np.ndarray:
    """(m, 11) token -> token: pad and blank fixed, digit token d+1 -> digits[d-1]+1."""
    t = np.asarray(t, dtype=np.intp)
    return np.concatenate([np.zeros((len(t), 1), np.intp), np.ones((len(t), 1), np.intp), t[:, 19:28] + 1], axis=1)


def apply_tokens(t: np.ndarray, *grids: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
    """Apply transform rows (m, 28) to token grids (m, 81) or to one grid (81,) for all m; several grids
    (inputs and labels) share one computation of the positions and digit maps."""
    pos, maps = positions(t), token_maps(t)
    out = []
    for tokens in grids:
        tokens = np.asarray(tokens)
        moved = tokens[pos] if tokens.ndim == 1 else np.take_along_axis(tokens, pos, axis=1)  # (m, 81)
        out.append(np.take_along_axis(maps, moved.astype(np.intp), axis=1).astype(np.uint8))
    return out[0] if len(out) == 1 else tuple(out)


def valid_transforms(t: np.ndarray) -> np.ndarray:
    """(m,) bool: the row is a group element (transpose flag 0/1, band/row and stack/column orders that keep
    bands and stacks together, a permutation of the 9 digits)."""
    t = np.asarray(t, dtype=np.int64)
    ok = (t[:, 0] == 0) | (t[:, 0] == 1)
    for order in (t[:, 1:10], t[:, 10:19]):
        blocks = order.reshape(-1, 3, 3)
        band = blocks // 3
        ok &= (band == band[:, :, :1]).all(axis=(1, 2))
        ok &= (np.sort(band[:, :, 0], axis=1) == np.arange(3)).all(axis=1)
        ok &= (np.sort(blocks % 3, axis=2) == np.arange(3)).all(axis=(1, 2))
        ok &= ((order >= 0) & (order < 9)).all(axis=1)
    ok &= (np.sort(t[:, 19:28], axis=1) == np.arange(1, 10)).all(axis=1)
    return ok


def as_transform(row: np.ndarray):
    """A stored ``sudoku-v1`` row as the family's ``Transform`` (for ``sudoku.apply`` / ``sudoku.invert``)."""
    from hrmkit.puzzles.sudoku import Transform

    row = [int(x) for x in row]
    ro, co = row[1:10], row[10:19]
    return Transform(
        digits=tuple(row[19:28]),
        transpose=bool(row[0]),
        bands=tuple(ro[3 * b] // 3 for b in range(3)),
        rows=tuple(tuple(ro[3 * b + k] % 3 for k in range(3)) for b in range(3)),
        stacks=tuple(co[3 * s] // 3 for s in range(3)),
        cols=tuple(tuple(co[3 * s + k] % 3 for k in range(3)) for s in range(3)),
    )


# ---------------------------------------------------------------------------------------------- leakage


def invariants(grids: np.ndarray) -> np.ndarray:
    """(n, 37) symmetry invariants of digit grids (n, 81) (0 blank): givens, sorted counts per digit and per
    box, and the sorted row counts and column counts as an unordered pair (a transpose swaps them)."""
    g = np.asarray(grids).reshape(-1, 9, 9)
    given = g > 0
    digit = np.sort(np.stack([(g == d).sum(axis=(1, 2)) for d in range(1, 10)], axis=1), axis=1)
    box = np.sort(given.reshape(-1, 3, 3, 3, 3).sum(axis=(2, 4)).reshape(-1, 9), axis=1)
    rows, cols = np.sort(given.sum(axis=2), axis=1), np.sort(given.sum(axis=1), axis=1)
    # lexicographic min/max of the two sorted 9-vectors, vectorised: compare at the first differing position
    diff = rows != cols
    first = np.where(diff.any(axis=1), diff.argmax(axis=1), 0)
    rows_first = rows[np.arange(len(g)), first] <= cols[np.arange(len(g)), first]
    lo = np.where(rows_first[:, None], rows, cols)
    hi = np.where(rows_first[:, None], cols, rows)
    return np.concatenate([given.sum(axis=(1, 2))[:, None], digit, box, lo, hi], axis=1).astype(np.int16)


def canonical_bytes(grid: np.ndarray) -> bytes:
    from hrmkit.puzzles.sudoku import canonical

    return canonical(np.asarray(grid, dtype=np.int8)).tobytes()


class LeakIndex:
    """Test puzzles up to symmetry: ``contains(grid)`` is canonical-form membership, pre-filtered by invariants."""

    def __init__(self, test_grids: np.ndarray):
        inv = invariants(test_grids)
        self._by_inv: dict[bytes, list[np.ndarray]] = {}
        for key, grid in zip(map(bytes, inv), np.asarray(test_grids)):
            self._by_inv.setdefault(key, []).append(grid)
        self._canon: dict[bytes, set[bytes]] = {}

    def leaks(self, grids: np.ndarray) -> np.ndarray:
        """(n,) bool: which of ``grids`` (n, 81) is equivalent to a test puzzle."""
        inv = invariants(grids)
        out = np.zeros(len(inv), dtype=bool)
        for i, key in enumerate(map(bytes, inv)):
            if key in self._by_inv:
                if key not in self._canon:
                    self._canon[key] = {canonical_bytes(g) for g in self._by_inv[key]}
                out[i] = canonical_bytes(grids[i]) in self._canon[key]
        return out


# ---------------------------------------------------------------------------------------------- reading


class _Generated(list):
    """Generated items, with ``more``: the rest of their seeded stream (to replace dropped training puzzles)."""

    more: Iterator[Item]


# the generator options of each split: the `family_options` keys (CLI spelling in the errors)
GENERATOR_OPTIONS = {
    "train": {"givens": "--givens", "rating": "--min-guesses/--max-guesses (--rating)", "minimal": "--minimal"},
    "test": {"test_givens": "--test-givens", "test_rating": "--test-min-guesses/--test-max-guesses",
             "test_minimal": "--test-minimal"},
}


def generator_options(opts: dict, role: str) -> dict:
    """The ``sudoku.generate`` arguments (givens, rating, minimal) of a split from the build's family options.

    The test split takes the training split's unless it has its own: ``test_givens`` / ``test_minimal``
    replace the shape (givens or minimal), ``test_rating`` the band of guesses. ``minimal`` False (the CLI's
    --no-minimal) needs ``givens``: without them the generator carves every puzzle to a minimal one."""
    givens, rating, minimal = opts.get("givens"), opts.get("rating"), opts.get("minimal")
    names = GENERATOR_OPTIONS["train"]
    if role == "test":
        if opts.get("test_givens") is not None or opts.get("test_minimal") is not None:
            givens, minimal = opts.get("test_givens"), opts.get("test_minimal")
            names = {**names, "givens": "--test-givens", "minimal": "--test-minimal"}
        if opts.get("test_rating") is not None:
            rating = opts["test_rating"]
    minimal_flag, no_minimal = names["minimal"], names["minimal"].replace("--", "--no-", 1)
    if givens is not None and minimal:
        raise HrmkitError(f"{names['givens']} and {minimal_flag} contradict each other: {names['givens']} carves "
                          f"down to that many givens, {minimal_flag} until every given is needed; give one")
    if givens is None and minimal is False:
        raise HrmkitError(f"{no_minimal} needs {names['givens']} N or MIN-MAX: without it every puzzle is "
                          f"carved until each given is needed (minimal)")
    return {"givens": None if givens is None else (givens if isinstance(givens, int) else tuple(givens)),
            "rating": None if rating is None else tuple(rating), "minimal": bool(minimal)}


def check_generator_options(params: BuildParams) -> None:
    """A generator option for a split that is not generated is refused (it would be ignored)."""
    opts = params.family_options
    train_generated, test_generated = params.source[0] == "generate", params.test_source == "generate"
    for role, applies in (("train", train_generated or test_generated), ("test", test_generated)):
        given = [flag for key, flag in GENERATOR_OPTIONS[role].items() if opts.get(key) is not None]
        if given and not applies:
            what = ("neither split is generated (--source generate, --test-source generate)" if role == "train"
                    else "the test split is not generated (--test-source generate)")
            raise HrmkitError(f"{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to generated puzzles "
                              f"only, but {what}")
    if train_generated:
        generator_options(opts, "train")
    if test_generated:
        generator_options(opts, "test")


def _items(source: src.Source, role: str, params: BuildParams, seed_offset: int) -> list[Item]:
    from hrmkit.puzzles import sudoku

    if source.kind == "generate":
        n = generate_count(params, role)
        stream = sudoku.generate_iter(**generator_options(params.family_options, role),
                                      seed=params.seed + seed_offset)
        items = (Item(f"generate#{i}", p.grid, p.answer, p.rating) for i, p in enumerate(stream))
        made = _Generated(itertools.islice(items, n))
        made.more = items
        return made
    path = source.files[role if source.kind == "hf" else "file"]
    records = sudoku.read(path)  # raises "FILE:LINE: ..." on the first bad entry
    if not records:
        raise HrmkitError(f"{path}: no Sudoku puzzles found")
    return [Item(where(path, r.line), r.puzzle.grid, r.puzzle.answer, r.puzzle.rating) for r in records]


def _solve(items: list[Item]) -> int:
    """Fill in answers (and ratings) with the exact solver; a puzzle without exactly one solution is an error."""
    from hrmkit.puzzles import sudoku

    solved = 0
    for item in items:
        if item.answer is not None and item.rating is not None:
            continue
        result = sudoku.solve_exact(item.puzzle)
        if result.status != "solved":
            what = "has no solution" if result.status == "unsolvable" else "has more than one solution"
            raise HrmkitError(f"{item.origin}: the puzzle {what}; a training label must be unique")
        if item.answer is None:
            item.answer, solved = result.solution, solved + 1
        if item.rating is None:
            item.rating = result.info["guesses"]
    return solved


# ---------------------------------------------------------------------------------------------- recipe


def build_sudoku(params: BuildParams, log: Log) -> RecipeResult:
    check_generator_options(params)
    rng = np.random.default_rng(params.seed)
    source, test_source, train_pool, test_pool = source_pools(params, _items, rng)
    log(f"sudoku: {len(train_pool)} training candidates, {len(test_pool)} test puzzles")

    # seeded subsample, skipping candidates equivalent to a test puzzle
    test_grids = np.stack([it.puzzle for it in test_pool])
    leak = LeakIndex(test_grids) if params.leak_check else None
    want = params.subsample or len(train_pool)
    order, chosen, dropped = subsample_order(params, len(train_pool), rng), [], 0

    def take(block: np.ndarray) -> None:
        nonlocal dropped
        grids = np.stack([train_pool[i].puzzle for i in block])
        bad = leak.leaks(grids) if leak is not None else np.zeros(len(block), bool)
        for i, b in zip(block, bad):
            if len(chosen) == want:
                break
            if b:
                dropped += 1
            else:
                chosen.append(int(i))

    for start in range(0, len(order), 4096):
        take(order[start : start + 4096])
        if len(chosen) == want:
            break
    # generated training puzzles: the dropped ones are replaced by the next puzzles of the same seeded stream,
    # so that --count (or --subsample) holds; the result is still a function of the parameters alone
    replaced = 0
    more = getattr(train_pool, "more", None)
    while len(chosen) < want and more is not None:
        if replaced >= 10 * want + 1000:
            raise HrmkitError(f"gave up replacing training puzzles equivalent to a test puzzle: {dropped} dropped, "
                              f"{replaced} generated in their place")
        block = list(itertools.islice(more, want - len(chosen)))
        first = len(train_pool)
        train_pool.extend(block)
        replaced += len(block)
        take(np.arange(first, len(train_pool)))
    if len(chosen) < want and params.subsample:
        raise HrmkitError(f"only {len(chosen)} training puzzles are not equivalent to a test puzzle; --subsample {want}")
    bases = [train_pool[i] for i in sorted(chosen)]
    solved = _solve(bases) + _solve(test_pool)

    train = _encode(bases, params.augment, rng)
    test = _encode(test_pool, 0, rng)
    stats = {"train_bases": len(bases), "test_puzzles": len(test_pool), "solved_by_hrmkit": solved,
             "dropped_equivalent_to_test": dropped, "generated_in_place_of_dropped": replaced,
             "leak_check": params.leak_check}
    sources = {"train": source.record(), "test": test_source.record()}
    return RecipeResult(family(), {"train": train, "test": test}, sources, stats=stats)


def _encode(items: list[Item], augment: int, rng: np.random.Generator) -> SplitArrays:
    """Bases (n) -> n groups of 1 + augment examples (base first); one puzzle per example."""
    n, k = len(items), augment + 1
    base_in = (np.stack([it.puzzle for it in items]).astype(np.int16) + 1).astype(np.uint8)  # (n, 81) tokens
    base_lab = (np.stack([it.answer for it in items]).astype(np.int16) + 1).astype(np.uint8)
    inputs = np.empty((n * k, 81), np.uint8)
    labels = np.empty((n * k, 81), np.uint8)
    aug = np.empty((n * k, 28), np.int16)
    for i in range(n):
        rows = slice(i * k, (i + 1) * k)
        t = np.concatenate([IDENTITY[None], sample_transforms(rng, augment)])  # (k, 28), the base first
        (inputs[rows], labels[rows]), aug[rows] = apply_tokens(t, base_in[i], base_lab[i]), t
    ratings = np.array([-1 if it.rating is None else round(it.rating) for it in items], np.int32)
    return SplitArrays(
        inputs=inputs,
        labels=labels,
        puzzle_identifiers=np.zeros(n * k, np.int32),
        puzzle_indices=np.arange(n * k + 1, dtype=np.int32),
        group_indices=groups_of(np.full(n, k)),
        augmentations=aug,
        ratings=ratings,
    )
