"""ARC puzzle identifiers name their augmentation: hrmkit's and the HRM authors' schemes are read alike, so a
model trained on the authors' data (or their checkpoint) gets its own augmented puzzle ids at solve time, and
`hrmkit eval` votes on data built by the authors' scripts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from _helpers import authors_copy, copy_model
from hrmkit.data.arc_recipe import identifier_index, parse_identifier, records_from_names
from hrmkit.models import ModelConfig, build
from hrmkit.puzzles import arc

REPO = Path(__file__).resolve().parents[1]


def authors_transform(grid: np.ndarray, trans_id: int, mapping: np.ndarray) -> np.ndarray:
    """The authors' augmentation of a grid (dataset/build_arc_dataset.py + common.dihedral_transform)."""
    g = mapping[grid]
    return [g, np.rot90(g, 1), np.rot90(g, 2), np.rot90(g, 3), np.fliplr(g), np.flipud(g), g.T,
            np.fliplr(np.rot90(g, 1))][trans_id]


def test_both_naming_schemes_parse_to_the_same_augmentation():
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 10, (5, 7)).astype(np.uint8)
    for _ in range(30):
        d = int(rng.integers(0, 8))
        mapping = np.concatenate([[0], rng.permutation(np.arange(1, 10))]).astype(np.uint8)
        colours = "".join(map(str, mapping))
        task, aug = parse_identifier(f"007bbfb7|||t{d}|||{colours}")  # the authors'
        assert task == "007bbfb7" and np.array_equal(aug.apply(grid), authors_transform(grid, d, mapping))
        assert parse_identifier(f"007bbfb7|||t{d}_c{colours}") == (task, aug)  # hrmkit's
    assert parse_identifier("007bbfb7") == ("007bbfb7", arc.Augmentation())
    for name in ("<blank>", "007bbfb7_t3_-8812345", "x|||t9|||0123456789", "x|||t1|||012", "x|||tz_c0123456789"):
        assert parse_identifier(name) is None, name
    index = identifier_index(["<blank>", "a|||t1|||0213456789", "a", "b", "a|||t2_c0123456798"])
    assert [i for _, i in index["a"]] == [2, 1, 4] and index["a"][0][0] == arc.Augmentation()
    assert [i for _, i in index["b"]] == [3]


@pytest.mark.usefixtures("one_thread")
def test_eval_votes_on_an_authors_arc_folder_as_on_hrmkit_s(tmp_path, shared_data):
    # 6 evaluation tasks: 3 whose test output is their input (a copying model solves them), 3 real ones
    src = tmp_path / "raw" / "evaluation"
    src.mkdir(parents=True)
    real = sorted((shared_data / "arc" / "arc-agi-1" / "evaluation").glob("*.json"))[:3]
    for f in real:
        shutil.copyfile(f, src / f.name)
        task = json.loads(f.read_text())
        same = {"train": task["train"], "test": [{"input": p["input"], "output": p["input"]} for p in task["test"]]}
        (src / f"same{f.name}").write_text(json.dumps(same))
    built = tmp_path / "hrmkit-built"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "hrmkit", "data", "build", "arc", "--source", str(tmp_path / "raw"),
                    "--augment", "3", "--seed", "0", "--out", str(built)], check=True, capture_output=True, env=env)
    authors = authors_copy(built, tmp_path / "authors-built")  # the authors' names: below
    names = json.loads((built / "identifiers.json").read_text())
    renamed = [n.replace("_c", "|||", 1) if "|||" in n else n for n in names]  # task|||t<d>|||<colours>
    assert renamed != names
    (authors / "identifiers.json").write_text(json.dumps(renamed))
    assert records_from_names(renamed) == [None] + json.loads((built / "augmentations.json").read_text())[1:]

    model = copy_model(tmp_path / "copy", vocab_size=12, seq_len=900, num_puzzle_identifiers=len(names))
    reports = {}
    for name, data in (("hrmkit", built), ("authors", authors)):
        out = tmp_path / f"report-{name}"
        proc = subprocess.run([sys.executable, "-m", "hrmkit", "eval", str(model), "--data", str(data), "--out",
                               str(out), "--batch-size", "32", "--steps", "1"], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        reports[name] = json.loads((out / "metrics.json").read_text())
    for key in ("arc_pass@1", "arc_pass@2", "arc_tasks", "arc_test_outputs"):
        assert reports["authors"][key] == reports["hrmkit"][key], key
    assert reports["hrmkit"]["arc_tasks"] == 6 and reports["hrmkit"]["arc_pass@1"] == pytest.approx(0.5)


def test_solve_reads_the_authors_identifiers_for_an_arc_model(tmp_path, monkeypatch):
    """A model with a puzzle embedding solves a known task under the identifiers its data gave that task."""
    import hrmkit.solve as solve_mod
    from hrmkit.errors import HrmkitError
    from hrmkit.puzzles import sudoku

    torch.manual_seed(0)
    model = build(ModelConfig.from_name("tiny", vocab_size=12, seq_len=900, puzzle_emb_ndim=16,
                                        num_puzzle_identifiers=4))
    model.save_pretrained(tmp_path / "m")
    names = ["<blank>", "mirror|||t1|||0213456789", "mirror", "other"]  # the authors' scheme
    (tmp_path / "ids.json").write_text(json.dumps(names))
    seen = {}

    def spy(net, inputs, ids=None, **kw):
        seen["ids"] = sorted(set(np.asarray(ids).tolist()))
        return real(net, inputs, ids, **kw)

    real = solve_mod.run_batched
    monkeypatch.setattr(solve_mod, "run_batched", spy)
    task = json.loads((REPO / "examples" / "arc-mirror.json").read_text())
    path = tmp_path / "mirror.json"
    path.write_text(json.dumps(task))
    records = arc.read(path)
    solve_mod.solve_with_model(records, family=arc, model=tmp_path / "m", identifiers=tmp_path / "ids.json")
    assert seen["ids"] == [1, 2]  # the identity (2) and the one augmentation (1) the data gave "mirror"
    with pytest.raises(HrmkitError, match="--identifiers is for ARC models"):
        solve_mod.solve_with_model(sudoku.read(REPO / "examples" / "sudoku-lines.txt"), family=sudoku,
                                   model=tmp_path / "m", identifiers=tmp_path / "ids.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(HrmkitError, match="not a JSON list of puzzle names"):
        solve_mod.solve_with_model(records, family=arc, model=tmp_path / "m", identifiers=tmp_path / "bad.json")
