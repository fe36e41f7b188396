"""Sudoku's data set checks (``sudoku.DATA_CHECKS``, run by ``hrmkit data validate``), numpy only.

``sudoku.<split>.examples``: token range, labels are valid full grids, givens agree with labels;
``sudoku.<split>.puzzles``: each augmented copy's stored transform is a symmetry and maps its base to it (bases:
the identity; test puzzles are not augmented); ``sudoku.train.groups``: no training base is equivalent (canonical
form) to a test puzzle.
"""

from __future__ import annotations

import numpy as np

from hrmkit.puzzles import Checks
from hrmkit.puzzles import sudoku

CHUNK = 65536  # rows per vectorised step


def data_checks(ds, split) -> list[Checks]:
    from hrmkit.data import sudoku_recipe as sr  # the transforms as arrays, the leak index

    a = split.arrays
    n = len(a.inputs)
    ex = Checks(f"{sudoku.NAME}.{split.name}.examples", "example", np.arange(n))
    in_range, label_range, valid, agree = (np.empty(n, bool) for _ in range(4))
    for lo in range(0, n, CHUNK):
        inp = np.asarray(a.inputs[lo : lo + CHUNK], np.int64)
        lab = np.asarray(a.labels[lo : lo + CHUNK], np.int64)
        sl = slice(lo, lo + len(inp))
        in_range[sl] = ((inp >= 1) & (inp <= 10)).all(1)
        label_range[sl] = ((lab >= 2) & (lab <= 10)).all(1)
        valid[sl] = sudoku._units_ok(np.clip(lab - 1, 0, 9), full=True) & label_range[sl]  # blank/pad: 0
        agree[sl] = ((inp == 1) | (inp == lab)).all(1)
    ex.add("input_tokens_in_range", in_range, "input tokens are blank (1) or digits (2..10)")
    ex.add("label_tokens_in_range", label_range, "label tokens are digits (2..10), no blanks")
    ex.add("label_is_valid_grid", valid, "every label is a full grid with each digit once per row, column, box")
    ex.add("givens_agree_with_label", agree, "every given of the input equals the label there")

    # augmented copies: the stored transform is a symmetry and maps the group's base to the copy
    gi = np.asarray(a.group_indices, np.int64)
    p = len(a.puzzle_identifiers)
    pz = Checks(f"{sudoku.NAME}.{split.name}.puzzles", "puzzle", np.arange(p))
    t = np.asarray(a.augmentations)
    base_of = np.repeat(gi[:-1], np.diff(gi))  # (P,) the base puzzle of each puzzle's group
    is_base = np.arange(p) == base_of
    sym = sr.valid_transforms(t) & np.where(is_base, (t == sr.IDENTITY).all(1), True)
    same = np.empty(p, bool)
    for lo in range(0, p, CHUNK):
        sl = slice(lo, min(p, lo + CHUNK))
        b = base_of[sl]
        ts = np.where(sym[sl, None], t[sl], sr.IDENTITY)  # invalid rows: compare under identity, flagged above
        moved_in, moved_lab = sr.apply_tokens(ts, np.asarray(a.inputs[b]), np.asarray(a.labels[b]))
        same[sl] = (moved_in == a.inputs[sl]).all(1) & (moved_lab == a.labels[sl]).all(1)
    pz.add("augmentation_is_symmetry", sym, "each stored transform is a Sudoku symmetry (identity for bases)")
    pz.add("copy_equals_base_under_augmentation", same & sym,
           "each puzzle (inputs and labels) is its group's base under its stored transform")
    frames = [ex, pz]
    if split.name == "train" and "test" in ds.splits:
        test = ds.splits["test"].arrays
        # (G, 81) digits, 0 blank; a token out of range (pad, beyond the vocabulary) read as blank or 9 here: its
        # row already fails input_tokens_in_range or the vocabulary suite
        bases = np.clip(np.asarray(a.inputs[gi[:-1]], np.int64) - 1, 0, 9)
        leak = sr.LeakIndex(np.clip(np.asarray(test.inputs, np.int64) - 1, 0, 9)).leaks(bases)
        gr = Checks(f"{sudoku.NAME}.{split.name}.groups", "group", np.arange(len(bases)))
        gr.add("base_not_equivalent_to_test_puzzle", ~leak,
               "no training base has the canonical form (up to symmetry) of a test puzzle")
        frames.append(gr)
    return frames

