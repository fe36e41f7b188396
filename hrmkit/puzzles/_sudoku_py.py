"""Pure-Python kernels for Sudoku: the exact solver and the canonical form (branch and bound).

These are the reference implementations; ``_sudoku_fast.c`` implements the same two functions with the same
results (a test checks they agree on every magictour puzzle) and is used when it is built.

Cells are 0..80 row-major; candidates are 9-bit masks (bit d-1 set = digit d possible).
"""

from __future__ import annotations

import numpy as np

ALL = 0x1FF
ROWS = [tuple(9 * r + c for c in range(9)) for r in range(9)]
COLS = [tuple(9 * r + c for r in range(9)) for c in range(9)]
BOXES = [tuple(9 * (3 * (b // 3) + i) + 3 * (b % 3) + j for i in range(3) for j in range(3)) for b in range(9)]
UNITS = ROWS + COLS + BOXES  # 27 units of 9 cells
PEERS = [tuple(sorted({p for u in UNITS if i in u for p in u} - {i})) for i in range(81)]  # 20 peers each
POP = [bin(m).count("1") for m in range(512)]
BITS = [[d for d in range(9) if m >> d & 1] for m in range(512)]  # the digits (0-based) in a mask


def _propagate(c: list[int], queue: list[int]) -> bool:
    """Naked singles (queue of decided cells to eliminate from their peers) then hidden singles, to a fixpoint.

    Returns False on a contradiction. The fixpoint does not depend on the order of the eliminations, which is
    why the C version (same rules) gives the same states, the same branching and the same guess counts.
    """
    while True:
        while queue:
            i = queue.pop()
            m = c[i]
            for p in PEERS[i]:
                pm = c[p]
                if pm & m:
                    pm &= ~m
                    if not pm:
                        return False
                    c[p] = pm
                    if not pm & (pm - 1):
                        queue.append(p)
        for unit in UNITS:  # hidden singles: a digit with one place left in a unit
            once = twice = 0
            for i in unit:
                m = c[i]
                twice |= once & m
                once |= m
            if once != ALL:
                return False
            hidden = once & ~twice
            if hidden:
                for i in unit:
                    m = c[i]
                    h = m & hidden
                    if h and m & (m - 1):  # an undecided cell holding a hidden single
                        if h & (h - 1):
                            return False  # two digits both need this cell
                        c[i] = h
                        queue.append(i)
        if not queue:
            return True


def solve(grid: bytes, limit: int = 2) -> tuple[int, bytes | None, int]:
    """Count solutions of an 81-byte grid (0 blank) up to ``limit``: (count, first solution, guesses).

    Guesses = digits tried at branch points (the most constrained cell, lowest index on ties, digits
    ascending) until the search ends: the difficulty rating. Givens that conflict give count 0.
    """
    c = [ALL] * 81
    queue = []
    for i, v in enumerate(grid):
        if v:  # givens that conflict empty a cell during the first propagation: count 0
            c[i] = 1 << (v - 1)
            queue.append(i)
    found: list = [0, None, 0]  # count, first solution, guesses

    def search(c: list[int], queue: list[int]) -> None:
        if not _propagate(c, queue):
            return
        best, best_n = -1, 10
        for i in range(81):
            n = POP[c[i]]
            if 1 < n < best_n:
                best, best_n = i, n
                if n == 2:
                    break
        if best < 0:
            found[0] += 1
            if found[1] is None:
                found[1] = bytes(BITS[m][0] + 1 for m in c)
            return
        for d in BITS[c[best]]:
            found[2] += 1
            child = c.copy()
            child[best] = 1 << d
            search(child, [best])
            if found[0] >= limit:
                return

    search(c, queue)
    return found[0], found[1], found[2]


# ---- canonical form -------------------------------------------------------------------------------------
# Position symmetries: transpose (2) x row orders keeping bands (6^4 = 1296) x column orders keeping stacks
# (1296); digits are relabelled in order of first appearance (blanks stay 0). The canonical form is the
# lexicographically smallest 81-digit string over all of them, found row by row keeping only the states
# (transpose, rows so far, column order, relabelling) whose prefix ties for the minimum.


def _orders() -> np.ndarray:
    """The 1296 line orders that keep bands (or stacks) together: [1296, 9]."""
    import itertools

    perms3 = list(itertools.permutations(range(3)))
    out = []
    for bands in perms3:
        for p0 in perms3:
            for p1 in perms3:
                for p2 in perms3:
                    inner = (p0, p1, p2)
                    out.append([3 * bands[b] + inner[b][k] for b in range(3) for k in range(3)])
    return np.array(out, dtype=np.int64)


ORDERS = _orders()


def canonical(grid: np.ndarray) -> np.ndarray:
    """Canonical form of one grid (int8[81], 0 blank) under the whole symmetry group; see module notes."""
    g = np.asarray(grid, dtype=np.int64).reshape(9, 9)
    views = np.stack([g, g.T])  # [2, 9, 9]
    n_orders = len(ORDERS)
    # Row 0 candidates: every (transpose, first row, column order).
    t = np.repeat(np.arange(2), 9 * n_orders)
    first = np.tile(np.repeat(np.arange(9), n_orders), 2)
    cp = np.tile(np.arange(n_orders), 18)
    rows = first[:, None]  # [S, k] rows chosen so far (in the transposed view)
    labels = np.zeros((len(t), 10), dtype=np.int64)  # digit -> new label (0 = not yet seen)
    nxt = np.ones(len(t), dtype=np.int64)
    out = []
    for k in range(9):
        if k:  # expand each state by every allowed next row
            used = np.zeros((len(t), 9), dtype=bool)
            np.put_along_axis(used, rows, True, axis=1)
            band_start = rows[:, k - k % 3] // 3 if k % 3 else None
            cand_s, cand_r = [], []
            for r in range(9):
                ok = ~used[:, r]
                if k % 3:
                    ok &= band_start == r // 3
                else:  # the first row of a new band: its band must be unused
                    ok &= ~used[:, 3 * (r // 3)] & ~used[:, 3 * (r // 3) + 1] & ~used[:, 3 * (r // 3) + 2]
                s = np.nonzero(ok)[0]
                cand_s.append(s)
                cand_r.append(np.full(len(s), r))
            s = np.concatenate(cand_s)
            r = np.concatenate(cand_r)
            t, cp, labels, nxt = t[s], cp[s], labels[s], nxt[s]
            rows = np.concatenate([rows[s], r[:, None]], axis=1)
        vals = views[t, rows[:, -1]][np.arange(len(t))[:, None], ORDERS[cp]]  # [S, 9]
        labels = labels.copy()
        row_out = np.zeros_like(vals)
        idx = np.arange(len(t))
        for j in range(9):
            v = vals[:, j]
            lab = labels[idx, v]
            new = (lab == 0) & (v != 0)
            lab[new] = nxt[new]
            labels[idx[new], v[new]] = nxt[new]
            nxt = nxt + new
            row_out[:, j] = lab
        key = row_out @ (10 ** np.arange(8, -1, -1))
        keep = key == key.min()
        t, cp, rows, labels, nxt = t[keep], cp[keep], rows[keep], labels[keep], nxt[keep]
        out.append(row_out[keep][0])
    return np.concatenate(out).astype(np.int8)
