"""The maze family's data set checks (``maze.DATA_CHECKS``, run by ``hrmkit data validate``), numpy only.

``maze.<split>.examples``: token range, walls/S/G identical between input and label, each copy equals its base
under the stored dihedral transform, the label's path is a shortest S-G path (BFS on bases and test mazes; copies
through their base).
"""

from __future__ import annotations

import numpy as np

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import Checks
from hrmkit.puzzles import maze


def data_checks(ds, split) -> list[Checks]:
    a, m = split.arrays, split.meta
    side = m.grid[0]
    inp, lab = np.asarray(a.inputs, np.int64), np.asarray(a.labels, np.int64)
    n = len(inp)
    ex = Checks(f"{maze.NAME}.{split.name}.examples", "example", np.arange(n))
    ex.add("input_tokens_in_range", ((inp >= 0) & (inp <= 4)).all(1), "input tokens are pad, '#', ' ', 'S', 'G'")
    ex.add("label_tokens_in_range", ((lab >= 0) & (lab <= 5)).all(1), "label tokens are pad or a maze cell")
    path = lab == maze.PATH + 1
    same_layout = ((inp == lab) | (path & (inp == maze.OPEN + 1))).all(1)
    ex.add("walls_identical_in_label", same_layout, "walls, S, G and pads identical in input and label; "
           "the label only marks open cells as path")
    gi, t = np.asarray(a.group_indices, np.int64), np.asarray(a.augmentations, np.int64).reshape(-1)
    base_of = np.repeat(gi[:-1], np.diff(gi))
    grids_in, grids_lab = inp.reshape(n, side, side), lab.reshape(n, side, side)
    same = np.zeros(n, bool)
    for tid in range(8):
        rows = np.flatnonzero(t == tid)
        if len(rows):
            b = base_of[rows]
            same[rows] = (maze.dihedral(grids_in[b], tid) == grids_in[rows]).all((1, 2)) & (
                maze.dihedral(grids_lab[b], tid) == grids_lab[rows]).all((1, 2))
    ex.add("copy_equals_base_under_augmentation", same & (t >= 0) & (t < 8),
           "each maze is its group's base under its stored dihedral transform")
    shortest = np.zeros(n, bool)
    for g in range(len(gi) - 1):
        b = gi[g]
        ok = verified(inp[b], lab[b], side)
        shortest[gi[g] : gi[g + 1]] = ok & same[gi[g] : gi[g + 1]]
    ex.add("label_path_is_shortest", shortest, "the labelled path is a shortest S-G path (BFS; copies via their base)")
    return [ex]


def verified(inp: np.ndarray, lab: np.ndarray, side: int) -> bool:
    """Whether a row's label is one shortest S-G path of its input (tokens on a side x side canvas)."""
    cells = inp.reshape(side, side) > 0
    h, w = int(cells.any(1).sum()), int(cells.any(0).sum())
    try:
        puzzle = maze.from_tokens(inp, (h, w))
        solution = maze.from_tokens(lab, (h, w))
        return bool(maze.verify(puzzle, solution))
    except HrmkitError:
        return False
