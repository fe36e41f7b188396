"""Seeded Sudoku generator: random full grids by randomised backtracking, givens removed at random,
uniqueness checked with a bitmask solver (count solutions up to 2). Grids are int8 [81], 0 = blank."""
import numpy as np

ROW = [i // 9 for i in range(81)]
COL = [i % 9 for i in range(81)]
BOX = [(i // 27) * 3 + (i % 9) // 3 for i in range(81)]
ALL = 0x3FE  # bits 1..9


def _solve(g, limit, rng=None):
    """Count solutions of grid g (list of 81 ints) up to `limit`; returns (count, first solution)."""
    rm = [0] * 9; cm = [0] * 9; bm = [0] * 9
    for i, v in enumerate(g):
        if v:
            b = 1 << v
            if (rm[ROW[i]] | cm[COL[i]] | bm[BOX[i]]) & b:
                return 0, None
            rm[ROW[i]] |= b; cm[COL[i]] |= b; bm[BOX[i]] |= b
    g = list(g)
    empties = [i for i in range(81) if not g[i]]
    out = [0, None]

    def rec(empties):
        best = None; bc = 10; bmask = 0
        for i in empties:
            m = ALL & ~(rm[ROW[i]] | cm[COL[i]] | bm[BOX[i]])
            c = bin(m).count("1")
            if c < bc:
                best, bc, bmask = i, c, m
                if c <= 1:
                    break
        if best is None:
            out[0] += 1
            if out[1] is None:
                out[1] = list(g)
            return out[0] >= limit
        if bc == 0:
            return False
        rest = [j for j in empties if j != best]
        digits = [d for d in range(1, 10) if bmask >> d & 1]
        if rng is not None:
            rng.shuffle(digits)
        r, c, bx = ROW[best], COL[best], BOX[best]
        for d in digits:
            b = 1 << d
            rm[r] |= b; cm[c] |= b; bm[bx] |= b; g[best] = d
            stop = rec(rest)
            rm[r] &= ~b; cm[c] &= ~b; bm[bx] &= ~b; g[best] = 0
            if stop:
                return True
        return False

    rec(empties)
    return out[0], out[1]


def full_grid(rng):
    _, sol = _solve([0] * 81, 1, rng)
    return np.array(sol, dtype=np.int8)


def make_puzzle(rng, givens_lo, givens_hi, sol=None, max_tries=20):
    """One puzzle with a unique solution and givens in [lo, hi]; returns (puzzle, solution)."""
    if sol is None:
        sol = full_grid(rng)
    for _ in range(max_tries):
        n = int(rng.integers(givens_lo, givens_hi + 1))
        keep = rng.permutation(81)[:n]
        p = np.zeros(81, np.int8); p[keep] = sol[keep]
        cnt, _ = _solve(p.tolist(), 2)
        if cnt == 1:
            return p, sol
    raise RuntimeError("no unique puzzle found")


def one_pass(p):
    """Fill every blank with exactly one candidate, once (candidates from the givens only)."""
    p = p.reshape(-1, 81).astype(np.int64)
    out = p.copy()
    for k in range(p.shape[0]):
        g = p[k]
        for i in range(81):
            if g[i]:
                continue
            used = set(g[[j for j in range(81) if ROW[j] == ROW[i] or COL[j] == COL[i] or BOX[j] == BOX[i]]])
            cand = [d for d in range(1, 10) if d not in used]
            if len(cand) == 1:
                out[k, i] = cand[0]
    return out


def singles_rounds(p):
    """Rounds of naked+hidden singles needed to solve (None if singles alone do not solve): a difficulty rating."""
    g = list(p)
    rounds = 0
    while 0 in g:
        new = list(g)
        for i in range(81):
            if g[i]:
                continue
            used = {g[j] for j in range(81) if (ROW[j] == ROW[i] or COL[j] == COL[i] or BOX[j] == BOX[i])}
            cand = [d for d in range(1, 10) if d not in used]
            if len(cand) == 1:
                new[i] = cand[0]
        # hidden singles
        for unit in [ROW, COL, BOX]:
            for u in range(9):
                cells = [i for i in range(81) if unit[i] == u]
                for d in range(1, 10):
                    if d in [g[i] for i in cells]:
                        continue
                    spots = [i for i in cells if not g[i] and d not in {g[j] for j in range(81) if ROW[j] == ROW[i] or COL[j] == COL[i] or BOX[j] == BOX[i]}]
                    if len(spots) == 1:
                        new[spots[0]] = d
        if new == g:
            return None
        g = new; rounds += 1
    return rounds


def augment(sol, rng):
    """Random validity-preserving symmetry of a full grid (digits, bands, rows, stacks, cols, transpose)."""
    g = sol.reshape(9, 9)
    digits = np.concatenate([[0], rng.permutation(9) + 1]).astype(np.int8)
    rows = np.concatenate([b * 3 + rng.permutation(3) for b in rng.permutation(3)])
    cols = np.concatenate([b * 3 + rng.permutation(3) for b in rng.permutation(3)])
    g = g[rows][:, cols]
    if rng.random() < 0.5:
        g = g.T
    return digits[g].reshape(81)


def dataset(n, givens_lo, givens_hi, seed, n_base=None):
    """n puzzles; with n_base, solutions are symmetry-augmented copies of n_base random grids."""
    rng = np.random.default_rng(seed)
    bases = [full_grid(rng) for _ in range(n_base)] if n_base else None
    P = np.zeros((n, 81), np.int8); S = np.zeros((n, 81), np.int8)
    for k in range(n):
        sol = augment(bases[k % n_base], rng) if bases else None
        P[k], S[k] = make_puzzle(rng, givens_lo, givens_hi, sol)
    return P, S


if __name__ == "__main__":
    import time
    t = time.time(); rng = np.random.default_rng(0)
    gs = [full_grid(rng) for _ in range(200)]; print("full grid ms", (time.time() - t) / 200 * 1e3)
    t = time.time(); P, S = dataset(1000, 50, 55, 1); print("puzzle (fresh grid) ms", (time.time() - t))
    t = time.time(); P, S = dataset(1000, 45, 50, 1, n_base=100); print("puzzle 45-50 (aug) ms", (time.time() - t))
    op = one_pass(P[:200]); print("one-pass solved", (op == S[:200]).all(1).mean())
