"""Validate a built data set with great-expectations suites; a JSON report names every expectation.

Each suite runs on a pandas frame whose rows are the things checked (files, examples, puzzles, groups) and
whose boolean columns are per-row verdicts computed with numpy (vectorised: a million Sudoku rows take
seconds). Every column becomes one ``expect_column_values_to_be_in_set([True])`` expectation, so the report
says, per check, how many rows failed and which (``sample_rows``). Suites:

- ``structure`` (files): every file listed in the provenance is readable and has its recorded sha256;
- ``<split>.metadata`` (one row): array shapes, index arrays, counts and group sizes agree with dataset.json;
- ``sudoku.<split>.examples`` / ``.puzzles`` / ``.groups``: token range, labels are valid full grids, givens
  agree with labels; each augmented copy's stored transform is a symmetry and maps its base to it; no
  training base is equivalent (canonical form) to a test puzzle; test puzzles are not augmented;
- ``maze.<split>.examples``: token range, walls/S/G identical between input and label, the label's path is a
  shortest S-G path (BFS on bases and test mazes; copies must equal their base under the stored transform);
- ``arc.<split>.examples`` / ``.puzzles``: colours in range, grids within 30x30 with markers in place, every
  augmented puzzle is its base under the stored augmentation, ``augmentations.json`` inverts it, no test
  input appears among the training inputs.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hrmkit.data.format import (
    AUGMENTATION_WIDTH,
    DTYPES,
    REQUIRED,
    Dataset,
    Split,
    is_authors,
    load_split,
    read_json,
    sha256_file,
)
from hrmkit import puzzles
from hrmkit.errors import HrmkitError
from hrmkit.puzzles import arc as _arc, maze as _maze, sudoku as _sudoku

SAMPLE = 10  # offending rows listed per failed expectation


@dataclass
class Frame:
    """One suite's input: what a row is, the row labels, and one boolean verdict column per check."""

    suite: str
    row: str  # "file" | "example" | "puzzle" | "group" | "split"
    index: np.ndarray | list  # (R,) row labels (example numbers, file names, ...)
    checks: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (R,) bool
    descriptions: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, verdict, description: str) -> None:
        verdict = np.asarray(verdict, dtype=bool).reshape(-1)
        if len(verdict) == 1 and len(self.index) != 1:
            verdict = np.repeat(verdict, len(self.index))
        self.checks[name], self.descriptions[name] = verdict, description


# ----------------------------------------------------------------------------------------- great-expectations


class _Gx:
    """An ephemeral great-expectations context (nothing written to disk, no analytics, no progress bars)."""

    def __init__(self):
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.gx = gx
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self.ctx = gx.get_context(mode="ephemeral", project_config=config)
        self.source = self.ctx.data_sources.add_pandas(name="hrmkit")

    def run(self, frame: Frame) -> dict:
        import pandas as pd

        gx = self.gx
        row_col = f"{frame.row}"
        df = pd.DataFrame({row_col: np.asarray(frame.index), **frame.checks})
        asset = self.source.add_dataframe_asset(name=f"{frame.suite}-{uuid.uuid4().hex[:6]}")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df})
        suite = gx.ExpectationSuite(name=f"hrmkit.{frame.suite}")
        for name, text in frame.descriptions.items():
            suite.add_expectation(gx.expectations.ExpectColumnValuesToBeInSet(
                column=name, value_set=[True], meta={"check": name, "description": text}))
        result = batch.validate(suite, result_format={
            "result_format": "SUMMARY", "partial_unexpected_count": SAMPLE,
            "unexpected_index_column_names": [row_col]})
        expectations = []
        for r in result.results:
            cfg, res = r.expectation_config, r.result
            sample = [_plain(d.get(row_col)) for d in res.get("partial_unexpected_index_list") or []][:SAMPLE]
            expectations.append({
                "expectation": cfg.type,
                "check": cfg.kwargs["column"],
                "description": cfg.meta.get("description", ""),
                "success": bool(r.success),
                "rows": frame.row,
                "element_count": int(res.get("element_count", len(df))),
                "unexpected_count": int(res.get("unexpected_count", 0)),
                "sample_rows": sample,
            })
        return {"suite": frame.suite, "success": bool(result.success), "expectations": expectations}


def _plain(x):
    return x.item() if hasattr(x, "item") else x


# ---------------------------------------------------------------------------------------------- checks


def structure_frame(path: Path, provenance: dict) -> Frame:
    """Every recorded output file: present, readable (arrays), sha256 as recorded at build time."""
    outputs = provenance.get("outputs", {})
    names = sorted(outputs)
    f = Frame("structure", "file", names)
    present, readable, intact = [], [], []
    for name in names:
        p = path / name
        present.append(p.is_file())
        ok = p.is_file()
        if ok and name.endswith(".npy"):
            try:
                np.load(p, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError, EOFError):
                ok = False
        readable.append(ok)
        intact.append(p.is_file() and sha256_file(p) == outputs[name])
    f.add("file_present", present, "every file the build wrote is present")
    f.add("file_readable", readable, "every array file is a readable .npy (not truncated)")
    f.add("file_sha256_matches_provenance", intact, "every file has the sha256 recorded in provenance.json")
    return f


def metadata_frame(ds_path: Path, split: Split, provenance: dict, n_identifiers: int, family: str) -> Frame:
    m, a = split.meta, split.arrays
    f = Frame(f"{split.name}.metadata", "split", [split.name])
    n, p = len(a.inputs), len(a.puzzle_identifiers)
    pi, gi = np.asarray(a.puzzle_indices, np.int64), np.asarray(a.group_indices, np.int64)
    f.add("inputs_shape", a.inputs.ndim == 2 and a.inputs.shape[1] == m.seq_len, f"inputs are [N, seq_len={m.seq_len}]")
    f.add("labels_shape_matches_inputs", a.labels.shape == a.inputs.shape, "labels have the shape of inputs")
    f.add("dtypes", all(getattr(a, k).dtype == DTYPES[k] for k in REQUIRED), "array dtypes as documented")
    f.add("num_examples_matches_metadata", n == m.num_examples, f"N = {n}, metadata num_examples = {m.num_examples}")
    f.add("num_puzzles_matches_metadata", p == m.num_puzzles, f"P = {p}, metadata num_puzzles = {m.num_puzzles}")
    f.add("puzzle_indices_cover_examples",
          len(pi) == p + 1 and pi[0] == 0 and pi[-1] == n and (np.diff(pi) > 0).all(),
          "puzzle_indices rise strictly from 0 to N (every puzzle has examples)")
    f.add("group_indices_cover_puzzles",
          len(gi) >= 2 and gi[0] == 0 and gi[-1] == p and (np.diff(gi) > 0).all(),
          "group_indices rise strictly from 0 to P (no empty group)")
    f.add("total_groups_matches_metadata", len(gi) - 1 == m.total_groups,
          f"G = {len(gi) - 1}, metadata total_groups = {m.total_groups}")
    f.add("mean_puzzle_examples_matches_metadata", p > 0 and np.isclose(n / p, m.mean_puzzle_examples),
          "mean_puzzle_examples = N / P")
    ids = np.asarray(a.puzzle_identifiers)
    f.add("puzzle_identifiers_in_range",
          m.num_puzzle_identifiers == n_identifiers and (len(ids) == 0 or (ids.min() >= 0 and ids.max() < n_identifiers)),
          f"identifiers < num_puzzle_identifiers = len(identifiers.json) = {n_identifiers}")
    width = AUGMENTATION_WIDTH.get(m.augmentation_layout)
    aug = a.augmentations
    f.add("augmentations_shape", aug is not None and aug.shape == (p, width),
          f"augmentations are [P, {width}] ({m.augmentation_layout})")
    sizes = np.diff(gi)
    k = int(provenance.get("parameters", {}).get("augment", 0)) + 1
    facts = puzzles.family(family)  # which splits a build augments; whether it drops duplicate copies
    augmented = m.augmented and split.name in facts.AUGMENTED_SPLITS
    expect = f"every group holds {k} puzzles (base + --augment {k - 1})" if augmented else "every group holds 1 puzzle"
    ok = (sizes <= k).all() if facts.DISTINCT_AUGMENTATIONS else (sizes == (k if augmented else 1)).all()
    f.add("group_sizes_match_augment", len(sizes) > 0 and ok, expect)
    return f


# -- Sudoku


def _sudoku_frames(ds: Dataset, split: Split) -> list[Frame]:
    from hrmkit.data import sudoku_recipe as sr

    a, m = split.arrays, split.meta
    n = len(a.inputs)
    ex = Frame(f"sudoku.{split.name}.examples", "example", np.arange(n))
    in_range, label_range, valid, agree = (np.empty(n, bool) for _ in range(4))
    units = _sudoku_units()
    for lo in range(0, n, 65536):
        inp = np.asarray(a.inputs[lo : lo + 65536], np.int64)
        lab = np.asarray(a.labels[lo : lo + 65536], np.int64)
        sl = slice(lo, lo + len(inp))
        in_range[sl] = ((inp >= 1) & (inp <= 10)).all(1)
        label_range[sl] = ((lab >= 2) & (lab <= 10)).all(1)
        digits = np.clip(lab - 1, 0, 9)
        masks = (1 << digits) & 0x3FE  # bit d for digit d; blank/pad give 0
        valid[sl] = (np.bitwise_or.reduce(masks[:, units], axis=2) == 0x3FE).all(1) & label_range[sl]
        agree[sl] = ((inp == 1) | (inp == lab)).all(1)
    ex.add("input_tokens_in_range", in_range, "input tokens are blank (1) or digits (2..10)")
    ex.add("label_tokens_in_range", label_range, "label tokens are digits (2..10), no blanks")
    ex.add("label_is_valid_grid", valid, "every label is a full grid with each digit once per row, column, box")
    ex.add("givens_agree_with_label", agree, "every given of the input equals the label there")

    # augmented copies: the stored transform is a symmetry and maps the group's base to the copy
    gi = np.asarray(a.group_indices, np.int64)
    p = len(a.puzzle_identifiers)
    pz = Frame(f"sudoku.{split.name}.puzzles", "puzzle", np.arange(p))
    t = np.asarray(a.augmentations)
    base_of = np.repeat(gi[:-1], np.diff(gi))  # (P,) the base puzzle of each puzzle's group
    is_base = np.arange(p) == base_of
    sym = sr.valid_transforms(t) & np.where(is_base, (t == sr.IDENTITY).all(1), True)
    same = np.empty(p, bool)
    for lo in range(0, p, 65536):
        sl = slice(lo, min(p, lo + 65536))
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
        bases = np.asarray(a.inputs[gi[:-1]], np.int64) - 1  # (G, 81) digits, 0 blank
        leak = sr.LeakIndex(np.asarray(test.inputs, np.int64) - 1).leaks(bases)
        gr = Frame(f"sudoku.{split.name}.groups", "group", np.arange(len(bases)))
        gr.add("base_not_equivalent_to_test_puzzle", ~leak,
               "no training base has the canonical form (up to symmetry) of a test puzzle")
        frames.append(gr)
    return frames


def _sudoku_units() -> np.ndarray:
    cells = np.arange(81).reshape(9, 9)
    boxes = cells.reshape(3, 3, 3, 3).swapaxes(1, 2).reshape(9, 9)
    return np.concatenate([cells, cells.T, boxes])  # (27, 9)


# -- Maze


def _maze_frames(ds: Dataset, split: Split) -> list[Frame]:
    from hrmkit.puzzles import maze

    a, m = split.arrays, split.meta
    side = m.grid[0]
    inp, lab = np.asarray(a.inputs, np.int64), np.asarray(a.labels, np.int64)
    n = len(inp)
    ex = Frame(f"maze.{split.name}.examples", "example", np.arange(n))
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
        ok = _maze_verified(inp[b], lab[b], side)
        shortest[gi[g] : gi[g + 1]] = ok & same[gi[g] : gi[g + 1]]
    ex.add("label_path_is_shortest", shortest, "the labelled path is a shortest S-G path (BFS; copies via their base)")
    return [ex]


def _maze_verified(inp: np.ndarray, lab: np.ndarray, side: int) -> bool:
    from hrmkit.puzzles import maze

    cells = inp.reshape(side, side) > 0
    h, w = int(cells.any(1).sum()), int(cells.any(0).sum())
    try:
        puzzle = maze.from_tokens(inp, (h, w))
        solution = maze.from_tokens(lab, (h, w))
        return bool(maze.verify(puzzle, solution))
    except HrmkitError:
        return False


# -- ARC


CHUNK = 8192  # rows per vectorised step (bounds memory on full-size sets)


def _arc_normalise(tokens: np.ndarray) -> np.ndarray:
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


def _arc_well_formed(tokens: np.ndarray) -> np.ndarray:
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


def _arc_augmented(norm_base: np.ndarray, aug: np.ndarray) -> np.ndarray:
    """Normalised base grids (m, 30, 30) under augmentation rows (m, 11) -> normalised augmented grids."""
    from hrmkit.puzzles.maze import dihedral

    out = np.empty_like(norm_base)
    for tid in np.unique(aug[:, 0]):
        sel = np.flatnonzero(aug[:, 0] == tid)
        table = np.concatenate([np.zeros((len(sel), 2), np.int64), aug[sel, 1:] + 2], axis=1)  # token -> token
        moved = dihedral(norm_base[sel], int(tid)).reshape(len(sel), -1)
        out[sel] = np.take_along_axis(table, moved.astype(np.int64), 1).reshape(-1, 30, 30)
    return _arc_normalise(out)


def _arc_frames(ds: Dataset, split: Split) -> list[Frame]:
    from hrmkit.puzzles import arc

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
        in_ok[sl] = _arc_well_formed(inp)
        lab_ok[sl] = _arc_well_formed(lab) | ((lab == 0).all(1) & (split.name == "test"))
        rows = np.arange(sl.start, sl.stop)
        augs = np.where(aug_ok[puzzle_of[rows], None], t[puzzle_of[rows]], [0, *range(10)])
        b = base_row[rows]
        same[sl] = ((_arc_augmented(_arc_normalise(a.inputs[b]), augs) == _arc_normalise(inp)).all((1, 2))
                    & (_arc_augmented(_arc_normalise(a.labels[b]), augs) == _arc_normalise(lab)).all((1, 2)))
    ex = Frame(f"arc.{split.name}.examples", "example", np.arange(n))
    ex.add("tokens_in_range", in_range, "tokens are pad, marker or colours 0-9 (ids < 12)")
    ex.add("input_grid_well_formed", in_ok, "each input is one grid within 30x30, end-of-grid markers in place")
    ex.add("label_grid_well_formed", lab_ok,
           "each label is one grid within 30x30, markers in place (test pairs may lack an answer: all pad)")
    ex.add("copy_equals_base_under_augmentation", same & fits & aug_ok[puzzle_of],
           "each example is the same example of its group's base under the puzzle's stored augmentation")
    if split.name == "test" and "train" in ds.splits:
        leak = _arc_in_train(a.inputs, ds.splits["train"].arrays.inputs)
        ex.add("test_input_not_in_train", ~leak, "no test input grid appears among the training inputs")

    pz = Frame(f"arc.{split.name}.puzzles", "puzzle", np.arange(p))
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


def _arc_in_train(test_inputs: np.ndarray, train_inputs: np.ndarray) -> np.ndarray:
    """(n,) bool: which test inputs equal (as grids, wherever placed) some training input."""
    w = np.random.default_rng(0).integers(1, 2**62, size=(900, 2), dtype=np.uint64)

    def hashes(tokens):  # (m, 2) uint64 linear hashes of normalised grids (wrapping arithmetic)
        return _arc_normalise(tokens).reshape(len(tokens), 900).astype(np.uint64) @ w

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
                _arc_normalise(chunk[j : j + 1]), _arc_normalise(train_inputs[k : k + 1]))
    return out


# the checks written above for each family, by the family's NAME (a registered family without checks here is
# reported as an unknown family by `validate`)
FAMILY_FRAMES = {_sudoku.NAME: _sudoku_frames, _maze.NAME: _maze_frames, _arc.NAME: _arc_frames}


# ---------------------------------------------------------------------------------------------- driver


def validate(path: str | Path, report: str | Path | None = None) -> dict:
    """Run every suite on the data set at ``path``; returns the report (and writes it as JSON if asked)."""
    path = Path(path)
    if not path.is_dir():
        raise HrmkitError(f"{path}: no such data set folder")
    if not (path / "provenance.json").is_file() and any(
            (path / s / "dataset.json").is_file() and is_authors(read_json(path / s / "dataset.json"))
            for s in ("train", "test")):
        raise HrmkitError(f"{path}: built by the HRM authors' scripts (no provenance.json, no augmentation records), "
                          "which these suites need; `hrmkit train` and `hrmkit eval` read it as it is, and "
                          "`hrmkit data build` makes a checkable copy from the original puzzles")
    if not any((path / name).exists() for name in ("provenance.json", "identifiers.json", "train", "test")):
        raise HrmkitError(f"{path}: not a data set folder (no provenance.json, identifiers.json, train/ or test/); "
                          "`hrmkit data build` makes one")
    provenance = read_json(path / "provenance.json")
    identifiers = read_json(path / "identifiers.json")
    family = provenance.get("family")
    if family not in FAMILY_FRAMES:
        raise HrmkitError(f"{path / 'provenance.json'}: unknown family {family!r}")
    gx = _Gx()
    suites = [gx.run(structure_frame(path, provenance))]
    ds = Dataset(path, provenance, identifiers)
    if (path / "augmentations.json").is_file():
        ds.extra["augmentations"] = read_json(path / "augmentations.json")
    unreadable = {}
    for name in ("train", "test"):
        try:
            ds.splits[name] = load_split(path, name)
        except HrmkitError as err:
            unreadable[name] = str(err)
    for name, err in unreadable.items():
        suites.append({"suite": f"{name}.metadata", "success": False, "expectations": [{
            "expectation": "split_loads", "check": "split_loads", "success": False, "description": err,
            "rows": "split", "element_count": 1, "unexpected_count": 1, "sample_rows": [name]}]})
    for split in ds.splits.values():
        meta_frame = metadata_frame(path, split, provenance, len(identifiers), family)
        suites.append(gx.run(meta_frame))
        if not all(v.all() for v in meta_frame.checks.values()):
            suites.append({"suite": f"{family}.{split.name}", "success": False, "expectations": [{
                "expectation": "skipped", "check": "family_checks_ran", "success": False, "rows": "split",
                "description": "the split's arrays disagree with their metadata, so its content checks did not run",
                "element_count": 1, "unexpected_count": 1, "sample_rows": [split.name]}]})
            continue
        vocab = _vocabulary_suite(family, split)
        if vocab is not None:  # a token outside the vocabulary would crash the family checks (and training)
            suites.append(vocab)
            continue
        for frame in FAMILY_FRAMES[family](ds, split):
            suites.append(gx.run(frame))
    out = {
        "dataset": str(path),
        "family": family,
        "success": all(s["success"] for s in suites),
        "failed": [f"{s['suite']}:{e['check']}" for s in suites for e in s["expectations"] if not e["success"]],
        "suites": suites,
    }
    if report is not None:
        from hrmkit.atomic import write_text

        write_text(Path(report), json.dumps(out, indent=1) + "\n", replace=True)
    return out


def _vocabulary_suite(family: str, split) -> dict | None:
    """A failed suite naming the rows whose inputs or labels hold a token outside [0, vocab_size) (labels may
    also hold ignore_label_id), or None when every token is in the vocabulary."""
    meta, arrays = split.meta, split.arrays
    expectations, ok = [], True
    for name in ("inputs", "labels"):
        a = np.asarray(getattr(arrays, name))
        if a.size == 0:
            continue
        bad = (a < 0) | (a >= meta.vocab_size)
        if name == "labels" and meta.ignore_label_id is not None:
            bad &= a != meta.ignore_label_id
        rows = np.flatnonzero(bad.reshape(len(a), -1).any(axis=1))
        if len(rows):
            ok = False
            first = int(rows[0])
            col = int(np.flatnonzero(bad.reshape(len(a), -1)[first])[0])
            expectations.append({
                "expectation": "tokens_in_vocabulary", "check": f"{name}_in_vocabulary", "success": False,
                "description": f"{name} row {first} holds token {int(a.reshape(len(a), -1)[first, col])} at "
                               f"position {col}, outside the vocabulary [0, {meta.vocab_size}) of "
                               f"{split.name}/dataset.json",
                "rows": "example", "element_count": int(len(a)), "unexpected_count": int(len(rows)),
                "sample_rows": [int(r) for r in rows[:20]]})
    if ok:
        return None
    return {"suite": f"{family}.{split.name}.vocabulary", "success": False, "expectations": expectations}
