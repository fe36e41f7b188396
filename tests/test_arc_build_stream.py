"""The ARC build streams its examples into the output files: the arrays equal a straightforward in-memory
encoding of the same seeded augmentations, a failure part-way leaves nothing behind, and memory stays bounded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.data import arc_recipe
from hrmkit.data.build import BuildParams, build
from hrmkit.data.format import Family, SplitPlan, _json_dump, write_dataset
from hrmkit.puzzles import arc

REPO = Path(__file__).resolve().parents[1]
SEED, K = 5, 8


def copy_tasks(shared_data: Path, root: Path, n: int, *, skip: int = 0) -> Path:
    """n ARC-AGI-1 training and n evaluation task files (after the first ``skip`` of each) in root/{part}/."""
    for part in ("training", "evaluation"):
        (root / part).mkdir(parents=True)
        for f in sorted((shared_data / "arc" / "arc-agi-1" / part).glob("*.json"))[skip : skip + n]:
            shutil.copy(f, root / part / f.name)
    return root


@pytest.fixture
def twenty(shared_data, tmp_path):
    return copy_tasks(shared_data, tmp_path / "arc", 10)


def reference(root: Path, seed: int, k: int) -> dict:
    """The data set the authors' recipe makes, one example at a time in memory, straight from hrmkit.puzzles.arc:
    per task (subfolders in name order, tasks in id order) its augmentations, then for each augmented copy the
    random offset of each training example; test examples at the corner."""
    rng = np.random.default_rng(seed)
    names, records = ["<blank>"], [None]
    split = {s: {"inputs": [], "labels": [], "ids": [], "indices": [0], "groups": [0], "augs": []}
             for s in ("train", "test")}
    for part in sorted(p.name for p in root.iterdir()):
        for f in sorted((root / part).glob("*.json")):
            task, is_eval = arc.load_task(f), part == "evaluation"
            demos = task.train if is_eval else task.train + [p for p in task.test if p.output is not None]
            for aug in arc.augmentations(task, k, rng=rng):
                ident = len(names)
                names.append(task.id if aug == arc.Augmentation() else f"{task.id}|||t{aug.dihedral}_c"
                             + "".join(map(str, aug.colors)))
                inv = aug.inverse()
                records.append({"task": task.id, "dihedral": aug.dihedral, "colors": list(aug.colors),
                                "inverse_dihedral": inv.dihedral, "inverse_colors": list(inv.colors)})
                for name, pairs, move in [("train", demos, True)] + ([("test", task.test, False)] if is_eval else []):
                    s = split[name]
                    for pair in pairs:
                        inp, out = aug.apply(pair.input), aug.apply(pair.output)
                        offset = arc.random_offset([inp, out], rng) if move else (0, 0)
                        s["inputs"].append(arc.to_tokens(inp, offset))
                        s["labels"].append(arc.to_tokens(out, offset))
                    s["ids"].append(ident)
                    s["augs"].append([aug.dihedral, *aug.colors])
                    s["indices"].append(len(s["inputs"]))
            for name in ("train", "test") if is_eval else ("train",):
                split[name]["groups"].append(len(split[name]["ids"]))
    arrays = {s: {"inputs": np.stack(v["inputs"]), "labels": np.stack(v["labels"]),
                  "puzzle_identifiers": np.array(v["ids"], np.int32),
                  "puzzle_indices": np.array(v["indices"], np.int32),
                  "group_indices": np.array(v["groups"], np.int32),
                  "augmentations": np.array(v["augs"], np.int16)} for s, v in split.items()}
    return {"arrays": arrays, "identifiers": names, "augmentations": records}


def test_streamed_build_equals_the_in_memory_encoding_and_validates(twenty, tmp_path, monkeypatch):
    monkeypatch.setattr(arc_recipe, "BLOCK", 3)  # several blocks per task: the chunking is exercised
    out = build("arc", tmp_path / "ds", BuildParams(source=[str(twenty)], augment=K, seed=SEED), log=lambda m: None)
    ref = reference(twenty, SEED, K)
    for split, arrays in ref["arrays"].items():
        for name, expected in arrays.items():
            got = np.load(out / split / f"all__{name}.npy")
            assert got.dtype == expected.dtype and np.array_equal(got, expected), (split, name)
    assert (out / "identifiers.json").read_text() == json.dumps(ref["identifiers"], indent=1) + "\n"
    assert (out / "augmentations.json").read_text() == json.dumps(ref["augmentations"], indent=1) + "\n"
    assert len(ref["arrays"]["train"]["puzzle_identifiers"]) > 20 * K  # augmentations were drawn
    r = CliRunner().invoke(app, ["data", "validate", str(out)])
    assert r.exit_code == 0 and "expectations met" in r.output, r.output


def test_vectorised_encoding_matches_to_tokens_at_every_offset():
    rng = np.random.default_rng(0)
    grids = [rng.integers(0, 10, size=s).astype(np.uint8) for s in ((1, 1), (3, 7), (30, 30), (29, 1), (5, 30))]
    pairs = [arc.Pair(g, g[::-1].copy()) for g in grids] + [arc.Pair(grids[1])]  # the last one has no output
    augs = [arc.Augmentation.random(rng) for _ in range(40)]
    rows = np.array([[a.dihedral, *a.colors] for a in augs], np.int16)
    offsets = np.zeros((len(augs), len(pairs), 2), np.uint8)
    for i, a in enumerate(augs):
        for j, p in enumerate(pairs):
            offsets[i, j] = arc.random_offset([a.apply(g) for g in (p.input, p.output) if g is not None], rng)
    inputs, labels = arc_recipe.encode(pairs, rows, offsets)
    for i, a in enumerate(augs):
        for j, p in enumerate(pairs):
            at = tuple(offsets[i, j])
            assert np.array_equal(inputs[i * len(pairs) + j], arc.to_tokens(a.apply(p.input), at))
            label = np.zeros(arc.SEQ_LEN) if p.output is None else arc.to_tokens(a.apply(p.output), at)
            assert np.array_equal(labels[i * len(pairs) + j], label)


@pytest.mark.parametrize("obj", [[], [None], [1, "a", None, 2.5], ["<blank>", "é\n\"x\""], [[]], [{}],
                                  [None, {"task": "x", "colors": [0, 1], "e": [], "d": {"a": [[1, 2], []]}}]])
def test_json_arrays_are_written_item_by_item_as_json_dumps_writes_them(tmp_path, obj):
    _json_dump(tmp_path / "a.json", obj)
    _json_dump(tmp_path / "b.json", iter(obj))
    expected = json.dumps(obj, indent=1) + "\n"
    assert (tmp_path / "a.json").read_text() == expected == (tmp_path / "b.json").read_text()


def test_a_failure_while_encoding_leaves_no_output_and_no_temporary_folder(twenty, tmp_path, monkeypatch):
    params = BuildParams(source=[str(twenty)], augment=K, seed=SEED)
    encode, calls = arc_recipe.encode, []

    def failing(*args):
        calls.append(1)
        if len(calls) > 12:  # part-way through pass 2: files open, rows written
            raise RuntimeError("disk on fire")
        return encode(*args)

    monkeypatch.setattr(arc_recipe, "encode", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build("arc", tmp_path / "out" / "ds", params, log=lambda m: None)
    assert len(calls) == 13 and os.listdir(tmp_path / "out") == []

    # with --overwrite, the previous complete data set stays as it was
    monkeypatch.setattr(arc_recipe, "encode", encode)
    first = build("arc", tmp_path / "out" / "ds", params, log=lambda m: None)
    before = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    calls.clear()
    monkeypatch.setattr(arc_recipe, "encode", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build("arc", first, BuildParams(source=[str(twenty)], augment=K, seed=SEED + 1), overwrite=True,
              log=lambda m: None)
    assert os.listdir(tmp_path / "out") == ["ds"]
    assert {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()} == before


def test_a_fill_that_writes_too_few_or_too_many_rows_fails_without_output(tmp_path):
    fam = Family("arc", seq_len=4, vocab_size=12, grid=(2, 2), augmentation_layout="arc-v1")
    plan = SplitPlan(num_examples=3, seq_len=4, puzzle_identifiers=np.array([1]), puzzle_indices=np.array([0, 3]),
                     group_indices=np.array([0, 1]))
    rows = np.ones((2, 4), np.uint8)
    for n_calls, message in ((1, "2 examples written, 3 planned"), (2, "more than the 3 examples planned")):
        def fill(writers, n_calls=n_calls):
            for _ in range(n_calls):
                writers["train"].append(rows, rows)

        with pytest.raises(RuntimeError, match=message):
            write_dataset(tmp_path / "ds", fam, {"train": plan}, ["<blank>", "p"], {}, fill=fill)
        assert os.listdir(tmp_path) == []
    write_dataset(tmp_path / "ds", fam, {"train": plan}, ["<blank>", "p"], {},
                  fill=lambda w: [w["train"].append(rows[:1] * k, rows[:1] * k) for k in (1, 2, 3)])
    assert np.array_equal(np.load(tmp_path / "ds" / "train" / "all__inputs.npy"), np.repeat([1, 2, 3], 4).reshape(3, 4))


# The child reports its peak RSS (VmHWM, in KiB: the high-water mark of its own memory; ru_maxrss would start at
# the forking pytest's size) after reading the tasks and importing everything (the floor), then after the build.
CHILD = """
import re, sys
from hrmkit.data.build import BuildParams, build
from hrmkit.puzzles import arc
def hwm():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
arc.read_dir(sys.argv[1])
import hrmkit.data.arc_recipe, hrmkit.data.format
floor = hwm()
build("arc", sys.argv[2], BuildParams(source=[sys.argv[1]], augment=int(sys.argv[3]), seed=0), log=lambda m: None)
print(floor, hwm())
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads VmHWM from /proc (Linux)")
def test_memory_of_a_moderate_build_stays_far_below_its_size(shared_data, tmp_path):
    """40 tasks x 400 augmentations: ~67,000 examples, ~120 MB of token arrays; the in-memory builder grew by
    ~300 MB on it (2.5x the arrays), the streamed one by ~11 MB. Bound: a sixth of the arrays (20 MB)."""
    root = copy_tasks(shared_data, tmp_path / "arc", 20, skip=20)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), str(tmp_path / "ds"), "400"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    floor_kib, peak_kib = map(int, proc.stdout.split())
    size = sum((tmp_path / "ds" / s / f"all__{n}.npy").stat().st_size for s in ("train", "test")
               for n in ("inputs", "labels"))
    assert size > 100e6
    assert (peak_kib - floor_kib) * 1024 < size / 6, (floor_kib, peak_kib, size)
