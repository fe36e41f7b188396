/* Fast Sudoku kernels: the exact solver and the canonical form.
 *
 * The same algorithms as hrmkit/puzzles/_sudoku_py.py (the reference; read it first), in C because the
 * benchmark target (>= 1,000 magictour puzzles/s with the uniqueness check) and canonicalising tens of
 * thousands of grids are out of reach of pure Python. Both functions return exactly what the Python ones
 * return; a test checks it on every magictour puzzle.
 *
 *   solve(grid: bytes[81], limit: int = 2) -> (count, solution: bytes[81] | None, guesses)
 *   canonical(grid: bytes[81]) -> bytes[81]
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALL 0x1FF

static uint8_t PEERS[81][20];
static uint8_t UNITS[27][9];
static uint8_t POP[512];
static uint8_t ORDERS[1296][9];

static void init_tables(void) {
    for (int r = 0; r < 9; r++)
        for (int c = 0; c < 9; c++) {
            UNITS[r][c] = 9 * r + c;
            UNITS[9 + c][r] = 9 * r + c;
        }
    for (int b = 0; b < 9; b++)
        for (int k = 0; k < 9; k++) UNITS[18 + b][k] = 9 * (3 * (b / 3) + k / 3) + 3 * (b % 3) + k % 3;
    for (int i = 0; i < 81; i++) {
        int n = 0;
        for (int p = 0; p < 81; p++) { /* ascending, like the sorted Python tuple */
            if (p == i) continue;
            int rp = p / 9, cp = p % 9, ri = i / 9, ci = i % 9;
            if (rp == ri || cp == ci || (rp / 3 == ri / 3 && cp / 3 == ci / 3)) PEERS[i][n++] = p;
        }
    }
    for (int m = 0; m < 512; m++) POP[m] = (uint8_t)__builtin_popcount(m);
    static const int P3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int o = 0; /* same order as itertools.permutations in _orders() */
    for (int b = 0; b < 6; b++)
        for (int p0 = 0; p0 < 6; p0++)
            for (int p1 = 0; p1 < 6; p1++)
                for (int p2 = 0; p2 < 6; p2++, o++) {
                    const int *inner[3] = {P3[p0], P3[p1], P3[p2]};
                    for (int bb = 0; bb < 3; bb++)
                        for (int k = 0; k < 3; k++) ORDERS[o][3 * bb + k] = 3 * P3[b][bb] + inner[bb][k];
                }
}

/* ---- solver ------------------------------------------------------------------------------------------ */

static int propagate(uint16_t *c, uint8_t *queue, int qn) {
    for (;;) {
        while (qn) {
            int i = queue[--qn];
            uint16_t m = c[i];
            for (int k = 0; k < 20; k++) {
                int p = PEERS[i][k];
                uint16_t pm = c[p];
                if (pm & m) {
                    pm &= ~m;
                    if (!pm) return 0;
                    c[p] = pm;
                    if (!(pm & (pm - 1))) queue[qn++] = p;
                }
            }
        }
        for (int u = 0; u < 27; u++) {
            uint16_t once = 0, twice = 0;
            for (int k = 0; k < 9; k++) {
                uint16_t m = c[UNITS[u][k]];
                twice |= once & m;
                once |= m;
            }
            if (once != ALL) return 0;
            uint16_t hidden = once & ~twice;
            if (hidden)
                for (int k = 0; k < 9; k++) {
                    int i = UNITS[u][k];
                    uint16_t m = c[i], h = m & hidden;
                    if (h && (m & (m - 1))) {
                        if (h & (h - 1)) return 0;
                        c[i] = h;
                        queue[qn++] = i;
                    }
                }
        }
        if (!qn) return 1;
    }
}

typedef struct {
    int count, limit, have;
    long guesses;
    uint8_t sol[81];
} Search;

static void search(uint16_t *c, uint8_t *queue, int qn, Search *s) {
    if (!propagate(c, queue, qn)) return;
    int best = -1, best_n = 10;
    for (int i = 0; i < 81; i++) {
        int n = POP[c[i]];
        if (n > 1 && n < best_n) {
            best = i;
            best_n = n;
            if (n == 2) break;
        }
    }
    if (best < 0) {
        s->count++;
        if (!s->have) {
            for (int i = 0; i < 81; i++) s->sol[i] = (uint8_t)(__builtin_ctz(c[i]) + 1);
            s->have = 1;
        }
        return;
    }
    uint16_t m = c[best];
    for (int d = 0; d < 9; d++) {
        if (!(m >> d & 1)) continue;
        s->guesses++;
        uint16_t child[81];
        uint8_t q[96];
        memcpy(child, c, sizeof child);
        child[best] = (uint16_t)(1 << d);
        q[0] = (uint8_t)best;
        search(child, q, 1, s);
        if (s->count >= s->limit) return;
    }
}

static int read_grid(PyObject *obj, uint8_t *g) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) return -1;
    if (view.len != 81) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "a Sudoku grid is 81 bytes");
        return -1;
    }
    memcpy(g, view.buf, 81);
    PyBuffer_Release(&view);
    for (int i = 0; i < 81; i++)
        if (g[i] > 9) {
            PyErr_SetString(PyExc_ValueError, "grid values must be 0..9");
            return -1;
        }
    return 0;
}

static PyObject *py_solve(PyObject *self, PyObject *args) {
    PyObject *obj;
    int limit = 2;
    uint8_t g[81];
    if (!PyArg_ParseTuple(args, "O|i", &obj, &limit)) return NULL;
    if (read_grid(obj, g) < 0) return NULL;
    uint16_t c[81];
    uint8_t q[96];
    int qn = 0;
    for (int i = 0; i < 81; i++) {
        c[i] = ALL;
        if (g[i]) {
            c[i] = (uint16_t)(1 << (g[i] - 1));
            q[qn++] = (uint8_t)i;
        }
    }
    Search s = {0, limit < 1 ? 1 : limit, 0, 0, {0}};
    Py_BEGIN_ALLOW_THREADS
    search(c, q, qn, &s);
    Py_END_ALLOW_THREADS
    if (!s.have) return Py_BuildValue("iOl", s.count, Py_None, s.guesses);
    return Py_BuildValue("iy#l", s.count, (const char *)s.sol, (Py_ssize_t)81, s.guesses);
}

/* ---- canonical form ---------------------------------------------------------------------------------- */

typedef struct {
    uint8_t t, k; /* transposed view; rows chosen so far */
    uint8_t rows[9];
    uint8_t labels[10];
    uint8_t nxt;
    uint16_t cp;
} State;

/* The relabelled output row of state s extended by row r, as a 9-digit number, or UINT32_MAX as soon as its
 * prefix exceeds that of `bound` (most candidates lose within two or three cells); updates lab and nxt if
 * given. */
static const uint32_t POW10[9] = {100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};

static uint32_t row_key(const uint8_t views[2][9][9], const State *s, int r, uint32_t bound, uint8_t *lab,
                        uint8_t *nxt) {
    uint8_t l[10], n = s->nxt;
    memcpy(l, s->labels, 10);
    const uint8_t *row = views[s->t][r], *order = ORDERS[s->cp];
    uint32_t key = 0;
    int below = bound == UINT32_MAX; /* already known to be smaller than the bound */
    for (int j = 0; j < 9; j++) {
        uint8_t v = row[order[j]];
        if (v && !l[v]) l[v] = n++;
        key += (uint32_t)(v ? l[v] : 0) * POW10[j];
        if (!below) {
            uint32_t prefix = bound - bound % POW10[j];
            if (key > prefix) return UINT32_MAX;
            if (key < prefix) below = 1;
        }
    }
    if (lab) {
        memcpy(lab, l, 10);
        *nxt = n;
    }
    return key;
}

static int allowed(const State *s, int r) {
    int k = s->k;
    for (int i = 0; i < k; i++)
        if (s->rows[i] == r) return 0;
    if (k % 3) return s->rows[k - k % 3] / 3 == r / 3;
    for (int i = 0; i < k; i++)
        if (s->rows[i] / 3 == r / 3) return 0;
    return 1;
}

static PyObject *py_canonical(PyObject *self, PyObject *args) {
    PyObject *obj;
    uint8_t g[81], result[81];
    if (!PyArg_ParseTuple(args, "O", &obj)) return NULL;
    if (read_grid(obj, g) < 0) return NULL;
    uint8_t views[2][9][9];
    for (int r = 0; r < 9; r++)
        for (int c = 0; c < 9; c++) views[0][r][c] = views[1][c][r] = g[9 * r + c];

    /* the empty-row state: every (transpose, column order) before any row is chosen */
    size_t n = 2 * 1296;
    State *cur = calloc(n, sizeof(State));
    if (!cur) return PyErr_NoMemory();
    for (size_t i = 0; i < n; i++) {
        cur[i].t = (uint8_t)(i / 1296);
        cur[i].cp = (uint16_t)(i % 1296);
        cur[i].nxt = 1;
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (int k = 0; k < 9 && !failed; k++) {
        uint32_t best = UINT32_MAX;
        size_t ties = 0;
        for (size_t i = 0; i < n; i++) /* pass 1: the minimum next row and how many tie */
            for (int r = 0; r < 9; r++) {
                if (!allowed(&cur[i], r)) continue;
                uint32_t key = row_key(views, &cur[i], r, best, NULL, NULL);
                if (key < best) best = key, ties = 1;
                else if (key == best) ties++;
            }
        State *next = malloc(ties * sizeof(State));
        if (!next) {
            failed = 1;
            break;
        }
        size_t m = 0;
        for (size_t i = 0; i < n; i++) /* pass 2: keep the ties */
            for (int r = 0; r < 9; r++) {
                if (!allowed(&cur[i], r)) continue;
                State s = cur[i];
                if (row_key(views, &cur[i], r, best, s.labels, &s.nxt) != best) continue;
                s.rows[s.k++] = (uint8_t)r;
                next[m++] = s;
            }
        /* every tie writes the same row: the digits of the key */
        for (int j = 8; j >= 0; j--, best /= 10) result[9 * k + j] = (uint8_t)(best % 10);
        free(cur);
        cur = next;
        n = m;
    }
    Py_END_ALLOW_THREADS
    free(cur);
    if (failed) return PyErr_NoMemory();
    return PyBytes_FromStringAndSize((const char *)result, 81);
}

static PyMethodDef methods[] = {
    {"solve", py_solve, METH_VARARGS, "solve(grid81, limit=2) -> (count, solution|None, guesses)"},
    {"canonical", py_canonical, METH_VARARGS, "canonical(grid81) -> canonical grid bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sudoku_fast", "Fast Sudoku kernels.", -1, methods};

PyMODINIT_FUNC PyInit__sudoku_fast(void) {
    init_tables();
    return PyModule_Create(&module);
}
