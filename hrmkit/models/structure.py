"""The structural prior a model takes from a puzzle family (no torch here: the config validates with it).

A family module (hrmkit/puzzles/<name>.py, section "structure") describes the layout of its tokens in plain tuples:

    coordinates(seq_len)            -> (axis names, axis sizes, the coordinates of each position)
    relation_graph(seq_len, radius) -> (relations, neighbours): neighbours[i] holds (j, relation index) pairs

The model config names the prior generically and the family that supplies it (`structure`):

    pos_encodings: family-coords   one learned table per coordinate axis, summed into the token embedding
    attn_mask: family-graph        every attention sees only the graph's neighbours of a position

How attention uses a graph depends on its relations (`graph_kernel`):
- one relation (Sudoku: "peer"): a fixed boolean mask on ordinary attention;
- relations that are (row, column) offsets on a row-major square canvas (mazes: the cells within a Manhattan
  radius): `GridAttention`, with learned key/value embeddings per offset; its weights do not depend on the grid
  size, so the model runs on canvases of any size (`ModelConfig.any_size`).

The first spellings (`LEGACY_PRIORS`) stay accepted: each is a generic prior with its family.
"""

from __future__ import annotations

import functools

from hrmkit.errors import HrmkitError

FAMILY_GRAPH = "family-graph"
FAMILY_COORDS = "family-coords"
NO_STRUCTURE = "none"
# (field, value) of the first, family-named spellings -> the structure they mean
LEGACY_PRIORS: dict[tuple[str, str], str] = {
    ("attn_mask", "sudoku_peers"): "sudoku",  # == attn_mask: family-graph, structure: sudoku
    ("pos_encodings", "sudoku_rcb"): "sudoku",  # == pos_encodings: family-coords, structure: sudoku
    ("attn_mask", "grid"): "maze",  # == attn_mask: family-graph, structure: maze
}
GRID_FAMILY = LEGACY_PRIORS[("attn_mask", "grid")]  # the family of GridAttention's first signature (no name given)
GRAPH_MASKS = (FAMILY_GRAPH, "sudoku_peers", "grid")  # the attn_mask values that use the family's graph
COORD_ENCODINGS = (FAMILY_COORDS, "sudoku_rcb")  # the pos_encodings values that use its coordinates


def implied_structures(fields) -> dict[str, tuple[str, str]]:
    """{structure: (field, value)} of the first spellings among `fields` (a config or a mapping of its fields):
    {"sudoku": ("attn_mask", "sudoku_peers")} for the demo's; empty for the generic names."""
    get = fields.get if hasattr(fields, "get") else (lambda name: getattr(fields, name, None))
    return {LEGACY_PRIORS[(name, get(name))]: (name, get(name)) for name in ("attn_mask", "pos_encodings")
            if (name, get(name)) in LEGACY_PRIORS}


def _has_structure(module) -> bool:
    return callable(getattr(module, "coordinates", None)) and callable(getattr(module, "relation_graph", None))


def structures() -> tuple[str, ...]:
    """The families that supply a structure (those whose module has `coordinates` and `relation_graph`)."""
    from hrmkit.puzzles import FAMILIES, family

    return tuple(name for name in FAMILIES if _has_structure(family(name)))


def family_module(name: str):
    """The module of the family `name`, which must supply a structure."""
    from hrmkit.puzzles import FAMILIES, family

    module = family(name) if name in FAMILIES else None
    if module is None or not _has_structure(module):
        raise HrmkitError(f"structure must be one of {', '.join((NO_STRUCTURE,) + structures())}, got {name!r}")
    return module


@functools.lru_cache(maxsize=64)
def coordinates(structure: str, seq_len: int) -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """The family's (axis names, axis sizes, coordinates per position) for `seq_len` positions, checked."""
    axes, sizes, coords = family_module(structure).coordinates(seq_len)
    axes, sizes, coords = tuple(axes), tuple(int(s) for s in sizes), tuple(tuple(int(v) for v in c) for c in coords)
    if not axes or len(axes) != len(sizes) or not all(a.isidentifier() for a in axes) or len(set(axes)) < len(axes):
        raise HrmkitError(f"the {structure} structure's coordinate axes {axes} (sizes {sizes}) are not distinct names")
    if len(coords) != seq_len or any(len(c) != len(axes) or not all(0 <= v < s for v, s in zip(c, sizes))
                                     for c in coords):
        raise HrmkitError(f"the {structure} structure's coordinates do not give each of {seq_len} positions one value "
                          f"per axis within {sizes}")
    return axes, sizes, coords


@functools.lru_cache(maxsize=64)
def relation_graph(structure: str, seq_len: int, radius: int) -> tuple[tuple, tuple[tuple[tuple[int, int], ...], ...]]:
    """The family's (relations, neighbours) for `seq_len` positions, checked: every neighbour a position, every
    relation index valid, every position with at least one neighbour (a row of a mask needs one key)."""
    relations, neighbours = family_module(structure).relation_graph(seq_len, radius)
    relations = tuple(tuple(r) if isinstance(r, list) else r for r in relations)
    neighbours = tuple(tuple((int(j), int(o)) for j, o in n) for n in neighbours)
    if not relations or len(neighbours) != seq_len:
        raise HrmkitError(f"the {structure} structure's relation graph does not cover {seq_len} positions")
    for i, edges in enumerate(neighbours):
        if not edges or not all(0 <= j < seq_len and 0 <= o < len(relations) for j, o in edges):
            raise HrmkitError(f"the {structure} structure's relation graph: position {i} has no neighbour or one "
                              "outside the sequence or its relations")
    return relations, neighbours


def is_offset(relation) -> bool:
    return isinstance(relation, tuple) and len(relation) == 2 and all(type(v) is int for v in relation)


def graph_kernel(relations: tuple) -> str:
    """How attention runs a graph with these relations: "lattice" (every relation a (row, column) offset:
    GridAttention) or "mask" (a single relation: masked attention)."""
    if all(is_offset(r) for r in relations):
        return "lattice"
    if len(relations) == 1:
        return "mask"
    raise HrmkitError(f"no attention runs a relation graph of {len(relations)} relations that are not "
                      f"(row, column) offsets: {relations[:4]}...")


@functools.lru_cache(maxsize=64)
def lattice_valid(structure: str, seq_len: int, radius: int) -> tuple[tuple, tuple[tuple[bool, ...], ...]]:
    """(offsets, valid[i][o]) of a lattice graph on a row-major S x S canvas (seq_len = S * S): valid when cell i
    has its offset-o neighbour; checked against the layout GridAttention computes on (the neighbour of cell
    (r, c) by offset (dy, dx) is cell (r + dy, c + dx))."""
    offsets, neighbours = relation_graph(structure, seq_len, radius)
    if graph_kernel(offsets) != "lattice":
        raise HrmkitError(f"the {structure} structure's relations are not grid offsets")
    side = int(round(seq_len ** 0.5))
    if side * side != seq_len:
        raise HrmkitError(f"grid attention needs a square grid, got a sequence of {seq_len}")
    valid = []
    for i, edges in enumerate(neighbours):
        row, col = divmod(i, side)
        has = [False] * len(offsets)
        for j, o in edges:
            dy, dx = offsets[o]
            if j != (row + dy) * side + col + dx or not (0 <= row + dy < side and 0 <= col + dx < side) or has[o]:
                raise HrmkitError(f"the {structure} structure's relation graph is not a grid: position {i}'s "
                                  f"neighbour {j} is not at offset {offsets[o]} on a {side}x{side} canvas")
            has[o] = True
        valid.append(tuple(has))
    return offsets, tuple(valid)
