"""Validate a built data set with great-expectations suites; a JSON report names every expectation.

Each suite runs on a pandas frame (made from a ``Frame``, ``hrmkit.puzzles.Checks``) whose rows are the things
checked (files, examples, puzzles, groups) and whose boolean columns are per-row verdicts computed with numpy
(vectorised: a million Sudoku rows take seconds). Every column becomes one ``expect_column_values_to_be_in_set([True])`` expectation, so the report
says, per check, how many rows failed and which (``sample_rows``). Suites:

- ``structure`` (files): every file listed in the provenance is readable and has its recorded sha256;
- ``<split>.metadata`` (one row): array shapes, index arrays, counts and group sizes agree with dataset.json;
- ``<family>.<split>.*``: the family's own suites (``DATA_CHECKS``, ``hrmkit.puzzles.<family>_checks``: e.g. labels
  are solutions, augmented copies are their base under the stored transform, no test puzzle among the training
  ones), run on a split once its arrays agree with their metadata and every token is in the vocabulary.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
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

SAMPLE = 10  # offending rows listed per failed expectation


Frame = puzzles.Checks  # one suite's rows and verdict columns (the families build theirs the same way)


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


def __getattr__(name: str):
    if name == "FAMILY_FRAMES":  # family NAME -> its checks, f(ds, split) -> [Frame] (hrmkit.puzzles.data_checks)
        return {m.NAME: puzzles.data_checks(m) for m in puzzles.with_capability("DATA_CHECKS")}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    if family not in puzzles.names():
        raise HrmkitError(f"{path / 'provenance.json'}: unknown family {family!r}")
    family_checks = puzzles.data_checks(family)
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
            suites.append(_skipped(family, split, "the split's arrays disagree with their metadata, so its content "
                                                  "checks did not run"))
            continue
        vocab = _vocabulary_suite(family, split)
        if vocab is not None:  # a token outside the vocabulary would crash the family checks (and training)
            suites.append(vocab)
            continue
        if family_checks is None:
            suites.append(_skipped(family, split, f"the {family} family has no data set checks (no DATA_CHECKS in "
                                                  "its module), so only the file and metadata suites ran"))
            continue
        for frame in family_checks(ds, split):
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


def _skipped(family: str, split, why: str) -> dict:
    """A failed suite saying that the family's checks did not run on this split, and why."""
    return {"suite": f"{family}.{split.name}", "success": False, "expectations": [{
        "expectation": "skipped", "check": "family_checks_ran", "success": False, "rows": "split",
        "description": why, "element_count": 1, "unexpected_count": 1, "sample_rows": [split.name]}]}


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
