"""ARC's data set checks (``arc.DATA_CHECKS``, run by ``hrmkit data validate``), numpy only.

``arc.<split>.examples``: colours in range, grids within 30x30 with markers in place, every augmented puzzle is
its base under the stored augmentation, no test input appears among the training inputs; ``arc.<split>.puzzles``:
``augmentations.json`` records each puzzle's augmentation and an inverse that undoes it.
"""

from __future__ import annotations

import numpy as np

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import Checks
from hrmkit.puzzles import arc
from hrmkit.puzzles.maze import dihedral

CHUNK = 8192  # rows per vectorised step (bounds memory on full-size sets)


def _normalise(tokens: np.ndarray) -> np.ndarray:
    """(n, 900) tokens -> (n, 30, 30) colour tokens only (markers dropped), shifted to the top-left corner:
    the same grid gives the same array wherever it sits on the canvas."""
    c = np.asarray(tokens, np.uint8).reshape(-1, 30, 30)
    c = np.where(c >= 2, c, 0).astype(np.uint8)
    rows_any, cols_any = c.any(2), c.any(1)
    r0, c0 = rows_any.argmax(1), cols_any.argmax(1)  # 0 for an empty canvas
    rows = np.arange(30)[None, :] + r0[:, None]  # (n, 30)
    cols = np.arange(30)[None, :] + c0[:, None]
    valid = (rows < 30)[:, :, None] & (cols < 30)[:, None, :]
    out = c[np.arange(len(c))[:, None, None], np.minimum(rows, 29)[:, :, None], np.minimum(cols, 29)[:, None, :]]
    return np.where(valid, out, 0).astype(np.uint8)


def _well_formed(tokens: np.ndarray) -> np.ndarray:
    """(n,) bool: a non-empty colour rectangle, end-of-grid markers right of it and below it (where the canvas
    has room), pad everywhere else: exactly the encoding of one grid of at most 30x30."""
    c = np.asarray(tokens, np.int64).reshape(-1, 30, 30)
    colour = (c >= 2) & (c <= 11)
    rows_any, cols_any = colour.any(2), colour.any(1)
    r0, c0 = rows_any.argmax(1), cols_any.argmax(1)
    h, w = rows_any.sum(1), cols_any.sum(1)
    ar = np.arange(30)
    in_r = (ar >= r0[:, None]) & (ar < (r0 + h)[:, None])  # (n, 30)
    in_c = (ar >= c0[:, None]) & (ar < (c0 + w)[:, None])
    rect = in_r[:, :, None] & in_c[:, None, :]
    marker = ((ar == (r0 + h)[:, None])[:, :, None] & in_c[:, None, :]) | (
        in_r[:, :, None] & (ar == (c0 + w)[:, None])[:, None, :])
    ok = np.where(rect, colour, c == np.where(marker, 1, 0)).all((1, 2))
    return ok & (h > 0)


def _augmented(norm_base: np.ndarray, aug: np.ndarray) -> np.ndarray:
    """Normalised base grids (m, 30, 30) under augmentation rows (m, 11) -> normalised augmented grids."""
    out = np.empty_like(norm_base)
    for tid in np.unique(aug[:, 0]):
        sel = np.flatnonzero(aug[:, 0] == tid)
        table = np.concatenate([np.zeros((len(sel), 2), np.int64), aug[sel, 1:] + 2], axis=1)  # token -> token
        moved = dihedral(norm_base[sel], int(tid)).reshape(len(sel), -1)
        out[sel] = np.take_along_axis(table, moved.astype(np.int64), 1).reshape(-1, 30, 30)
    return _normalise(out)


def data_checks(ds, split) -> list[Checks]:
    a = split.arrays
    n, p = len(a.inputs), len(a.puzzle_identifiers)
    pi, gi = np.asarray(a.puzzle_indices, np.int64), np.asarray(a.group_indices, np.int64)
    t = np.asarray(a.augmentations, np.int64)
    base_of = np.repeat(gi[:-1], np.diff(gi))  # (P,) base puzzle of each puzzle's group
    sizes = np.diff(pi)
    puzzle_of = np.repeat(np.arange(p), sizes)  # (N,)
    fits = (sizes == sizes[base_of])[puzzle_of]  # a copy has as many examples as its base
    base_row = np.where(fits, pi[base_of[puzzle_of]] + np.arange(n) - pi[puzzle_of], np.arange(n))
    aug_ok = ((np.sort(t[:, 1:], axis=1) == np.arange(10)).all(1) & (t[:, 1] == 0) & (t[:, 0] >= 0) & (t[:, 0] < 8)
              & np.where(np.arange(p) == base_of, (t == [0, *range(10)]).all(1), True))

    in_range, in_ok, lab_ok, same = (np.zeros(n, bool) for _ in range(4))
    for lo in range(0, n, CHUNK):
        sl = slice(lo, min(n, lo + CHUNK))
        inp, lab = np.asarray(a.inputs[sl]), np.asarray(a.labels[sl])
        in_range[sl] = (inp <= 11).all(1) & (lab <= 11).all(1)
        in_ok[sl] = _well_formed(inp)
        lab_ok[sl] = _well_formed(lab) | ((lab == 0).all(1) & (split.name == "test"))
        rows = np.arange(sl.start, sl.stop)
        augs = np.where(aug_ok[puzzle_of[rows], None], t[puzzle_of[rows]], [0, *range(10)])
        b = base_row[rows]
        same[sl] = ((_augmented(_normalise(a.inputs[b]), augs) == _normalise(inp)).all((1, 2))
                    & (_augmented(_normalise(a.labels[b]), augs) == _normalise(lab)).all((1, 2)))
    ex = Checks(f"{arc.NAME}.{split.name}.examples", "example", np.arange(n))
    ex.add("tokens_in_range", in_range, "tokens are pad, marker or colours 0-9 (ids < 12)")
    ex.add("input_grid_well_formed", in_ok, "each input is one grid within 30x30, end-of-grid markers in place")
    ex.add("label_grid_well_formed", lab_ok,
           "each label is one grid within 30x30, markers in place (test pairs may lack an answer: all pad)")
    ex.add("copy_equals_base_under_augmentation", same & fits & aug_ok[puzzle_of],
           "each example is the same example of its group's base under the puzzle's stored augmentation")
    if split.name == "test" and "train" in ds.splits:
        leak = _in_train(a.inputs, ds.splits["train"].arrays.inputs)
        ex.add("test_input_not_in_train", ~leak, "no test input grid appears among the training inputs")

    pz = Checks(f"{arc.NAME}.{split.name}.puzzles", "puzzle", np.arange(p))
    table = ds.extra.get("augmentations") or []
    ids = np.asarray(a.puzzle_identifiers)
    probe = (np.arange(30, dtype=np.uint8).reshape(5, 6) * 7) % 10
    inverse_ok = np.zeros(p, bool)
    for i in range(p):
        entry = table[ids[i]] if 0 < ids[i] < len(table) else None
        if not entry or [entry["dihedral"], *entry["colors"]] != t[i].tolist():
            continue
        try:
            fwd = arc.Augmentation(entry["dihedral"], tuple(entry["colors"]))
            inv = arc.Augmentation(entry["inverse_dihedral"], tuple(entry["inverse_colors"]))
        except (HrmkitError, KeyError, TypeError):
            continue
        inverse_ok[i] = np.array_equal(inv.apply(fwd.apply(probe)), probe)
    pz.add("inverse_mapping_undoes_augmentation", inverse_ok,
           "augmentations.json records each puzzle's augmentation and an inverse that undoes it")
    return [ex, pz]


def _in_train(test_inputs: np.ndarray, train_inputs: np.ndarray) -> np.ndarray:
    """(n,) bool: which test inputs equal (as grids, wherever placed) some training input."""
    w = np.random.default_rng(0).integers(1, 2**62, size=(900, 2), dtype=np.uint64)

    def hashes(tokens):  # (m, 2) uint64 linear hashes of normalised grids (wrapping arithmetic)
        return _normalise(tokens).reshape(len(tokens), 900).astype(np.uint64) @ w

    seen: dict[tuple, int] = {}
    for lo in range(0, len(train_inputs), CHUNK):
        for j, v in enumerate(hashes(np.asarray(train_inputs[lo : lo + CHUNK])).tolist()):
            seen.setdefault(tuple(v), lo + j)
    out = np.zeros(len(test_inputs), bool)
    for lo in range(0, len(test_inputs), CHUNK):
        chunk = np.asarray(test_inputs[lo : lo + CHUNK])
        for j, v in enumerate(hashes(chunk).tolist()):
            k = seen.get(tuple(v))
            out[lo + j] = k is not None and np.array_equal(
                _normalise(chunk[j : j + 1]), _normalise(train_inputs[k : k + 1]))
    return out
