"""`hrmkit.data.build`: Sudoku / maze / ARC recipes from real sources, the hub offline, failures before writing."""

import json
import shutil

import numpy as np
import pytest

from hrmkit.data.build import BuildParams, build
from hrmkit.data.format import open_dataset
from hrmkit.data.sudoku_recipe import IDENTITY, apply_tokens, as_transform, sample_transforms
from hrmkit.errors import HrmkitError
from hrmkit.puzzles import arc, sudoku


def _lines(path, n):
    return [ln for ln in path.read_text().splitlines() if ln.strip()][:n]


@pytest.fixture
def sudoku_file(shared_data, tmp_path):
    """40 hard puzzles (no answers) from magictour_top1465."""
    f = tmp_path / "forty.txt"
    f.write_text("\n".join(_lines(shared_data / "sudoku" / "magictour_top1465.txt", 40)) + "\n")
    return f


def test_vectorised_transforms_match_the_family_transform():
    rng = np.random.default_rng(0)
    grid = sudoku.read.__globals__["parse_line"](
        "4...3.......6..8..........1....5..9..8....6...7.2........1.27..5.3....4.9........").grid
    t = sample_transforms(rng, 50)
    ours = apply_tokens(t, grid.astype(np.int64) + 1)  # (50, 81) tokens
    for row, got in zip(t, ours):
        assert np.array_equal(sudoku.apply(as_transform(row), grid) + 1, got)
    assert np.array_equal(apply_tokens(IDENTITY[None], grid + 1)[0], grid + 1)


def test_sudoku_from_file_solves_rates_augments_and_records_provenance(sudoku_file, tmp_path):
    out = build("sudoku", tmp_path / "ds", BuildParams(source=[str(sudoku_file)], test_fraction=0.25,
                                                         subsample=10, augment=4, seed=3), log=lambda m: None)
    ds = open_dataset(out)
    tr, te = ds.split("train"), ds.split("test")
    assert (tr.meta.num_examples, tr.meta.total_groups, te.meta.num_examples) == (50, 10, 10)
    assert tr.meta.augmented and not te.meta.augmented
    a = tr.arrays
    assert np.array_equal(a.group_indices, np.arange(0, 51, 5))
    for g in range(10):
        base_in, base_lab = a.inputs[5 * g].astype(np.int8) - 1, a.labels[5 * g].astype(np.int8) - 1
        assert sudoku.verify(base_in, base_lab) and sudoku.solve_exact(base_in).status == "solved"
        assert (a.augmentations[5 * g] == IDENTITY).all()
        for r in range(5 * g + 1, 5 * g + 5):
            t = as_transform(a.augmentations[r])
            assert np.array_equal(sudoku.apply(t, base_in), a.inputs[r].astype(np.int8) - 1)
            assert np.array_equal(sudoku.invert(t, a.labels[r].astype(np.int8) - 1), base_lab)
    assert (a.ratings >= 0).all() and len(a.ratings) == 10
    assert (te.arrays.augmentations == IDENTITY).all() and np.array_equal(te.arrays.group_indices, np.arange(11))
    # base puzzles are puzzles of the file, test and train disjoint
    lines = set(_lines(sudoku_file, 40))
    as_text = lambda tokens: sudoku.format_one_line(tokens.astype(np.int8) - 1)  # noqa: E731
    train_text = {as_text(a.inputs[5 * g]) for g in range(10)}
    test_text = {as_text(x) for x in te.arrays.inputs}
    assert train_text <= lines and test_text <= lines and not train_text & test_text
    prov = ds.provenance
    assert prov["parameters"]["augment"] == 4 and prov["seed"] == 3 and prov["hrmkit_version"]
    import hashlib

    assert prov["sources"]["train"]["files"]["file"]["sha256"] == hashlib.sha256(sudoku_file.read_bytes()).hexdigest()
    assert prov["build"]["solved_by_hrmkit"] == 20


def test_same_seed_same_bytes_other_seed_differs(sudoku_file, tmp_path):
    p = lambda seed: BuildParams(source=[str(sudoku_file)], test_fraction=0.25, subsample=5, augment=2, seed=seed)  # noqa: E731
    outs = [build("sudoku", tmp_path / f"d{i}", p(s), log=lambda m: None) for i, s in enumerate((1, 1, 2))]
    sha = [json.loads((o / "provenance.json").read_text())["outputs"]["train/all__inputs.npy"] for o in outs]
    assert sha[0] == sha[1] != sha[2]


def test_training_puzzles_equivalent_to_test_are_dropped(sudoku_file, tmp_path):
    rng = np.random.default_rng(5)
    firsts = [sudoku.parse_line(x).grid for x in _lines(sudoku_file, 3)]
    test = tmp_path / "test.txt"  # the first 3 puzzles, disguised by random symmetries
    test.write_text("\n".join(sudoku.format_one_line(sudoku.apply(sudoku.random_transform(rng), g)) for g in firsts))
    out = build("sudoku", tmp_path / "ds", BuildParams(source=[str(sudoku_file)], test_source=str(test)),
                log=lambda m: None)
    ds = open_dataset(out)
    assert ds.provenance["build"]["dropped_equivalent_to_test"] == 3
    assert ds.split("train").meta.total_groups == 37


def _seed_hub_cache(root, repo, files, commit="0123456789abcdef0123456789abcdef01234567"):
    """The layout hf_hub_download reads offline: <cache>/datasets--owner--name/{refs/main,snapshots/<commit>/}."""
    base = root / f"datasets--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    (base / "snapshots" / commit).mkdir(parents=True)
    for name, text in files.items():
        (base / "snapshots" / commit / name).write_text(text)
    return commit


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    import huggingface_hub.constants as c

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    return cache


def _csv(grids):
    rows = ["source,question,answer,rating"]
    for g in grids:
        r = sudoku.solve_exact(g)
        rows.append(f"test,{sudoku.format_one_line(g)},{sudoku.format_one_line(r.solution)},{r.info['guesses']}")
    return "\n".join(rows) + "\n"


def test_hub_source_reads_the_cache_offline(sudoku_file, offline_hub, tmp_path):
    grids = [sudoku.parse_line(x).grid for x in _lines(sudoku_file, 30)]
    commit = _seed_hub_cache(offline_hub, "sapientinc/sudoku-extreme",
                             {"train.csv": _csv(grids[:24]), "test.csv": _csv(grids[24:])})
    out = build("sudoku", tmp_path / "ds", BuildParams(source=["hf:sapientinc/sudoku-extreme"], subsample=8,
                                                         augment=1, seed=0), log=lambda m: None)
    ds = open_dataset(out)
    assert ds.split("train").meta.total_groups == 8 and ds.split("test").meta.num_examples == 6
    src = ds.provenance["sources"]["train"]
    assert src["repo"] == "sapientinc/sudoku-extreme" and src["revision"] == commit
    assert ds.provenance["build"]["solved_by_hrmkit"] == 0  # answers and ratings came with the CSV
    with pytest.raises(HrmkitError, match="hf:sapientinc/maze-30x30-hard-1k: cannot download train.csv.*HF_HUB_OFFLINE"):
        build("maze", tmp_path / "mz", BuildParams(source=["hf:sapientinc/maze-30x30-hard-1k"]), log=lambda m: None)
    assert not (tmp_path / "mz").exists()


@pytest.mark.parametrize("problem", ["missing", "bad line", "multiple solutions", "no test split"])
def test_bad_source_fails_before_anything_is_written(sudoku_file, tmp_path, problem):
    source = tmp_path / "src.txt"
    lines = _lines(sudoku_file, 10)
    params = dict(test_fraction=0.2)
    if problem == "bad line":
        lines[6] = lines[6][:40] + "x" + lines[6][41:]
        match = r"src.txt:7: bad character 'x'"
    elif problem == "multiple solutions":
        lines[2] = "." * 81
        match = "src.txt:3: the puzzle has more than one solution"
    elif problem == "no test split":
        params = {}
        match = "no test split"
    else:
        match = "no such file"
    if problem != "missing":
        source.write_text("\n".join(lines) + "\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(HrmkitError, match=match):
        build("sudoku", tmp_path / "out", BuildParams(source=[str(source)], **params), log=lambda m: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_maze_generate_with_dihedral_copies(tmp_path):
    from hrmkit.puzzles import maze

    out = build("maze", tmp_path / "mz", BuildParams(source=["generate"], count=8, test_fraction=0.25, augment=3,
                                                       family_options={"size": 9, "min_length": 6}), log=lambda m: None)
    tr = open_dataset(out).split("train")
    assert tr.meta.seq_len == 81 and tr.meta.total_groups == 6 and tr.meta.num_examples == 24
    ids = tr.arrays.augmentations.reshape(6, 4)
    assert (ids[:, 0] == 0).all() and all(len(set(r)) == 4 for r in ids.tolist())
    for g in range(6):
        base = maze.from_tokens(tr.arrays.labels[4 * g])
        for k in range(1, 4):
            assert np.array_equal(maze.from_tokens(tr.arrays.labels[4 * g + k]), maze.dihedral(base, int(ids[g, k])))


@pytest.fixture
def arc_dirs(shared_data, tmp_path):
    """A small ARC-AGI-1 layout: 3 training and 2 evaluation tasks copied from the shared data."""
    root = tmp_path / "arc"
    for part, n in (("training", 3), ("evaluation", 2)):
        (root / part).mkdir(parents=True)
        for f in sorted((shared_data / "arc" / "arc-agi-1" / part).glob("*.json"))[:n]:
            shutil.copy(f, root / part / f.name)
    return root


def test_arc_recipe_holds_out_evaluation_tests_and_stores_inverses(arc_dirs, tmp_path):
    out = build("arc", tmp_path / "a", BuildParams(source=[str(arc_dirs)], augment=3, seed=1), log=lambda m: None)
    ds = open_dataset(out)
    tr, te = ds.split("train"), ds.split("test")
    tasks = {f.stem: arc.load_task(f) for f in arc_dirs.rglob("*.json")}
    evals = {f.stem for f in (arc_dirs / "evaluation").glob("*.json")}
    assert tr.meta.total_groups == 5 and te.meta.total_groups == 2
    table = ds.extra["augmentations"]
    assert table[0] is None and len(table) == len(ds.identifiers) == tr.meta.num_puzzle_identifiers
    # every test example, decoded with its stored inverse, is the original test input of an evaluation task
    ids = np.repeat(te.arrays.puzzle_identifiers, np.diff(te.arrays.puzzle_indices))
    starts = te.arrays.puzzle_indices
    for p, ident in enumerate(te.arrays.puzzle_identifiers):
        entry = table[ident]
        assert entry["task"] in evals
        inv = arc.Augmentation(entry["inverse_dihedral"], tuple(entry["inverse_colors"]))
        for k, row in enumerate(range(starts[p], starts[p + 1])):
            grid = arc.from_tokens(te.arrays.inputs[row])
            assert np.array_equal(inv.apply(grid), tasks[entry["task"]].test[k].input)
    assert set(ids) <= set(tr.arrays.puzzle_identifiers)  # the same puzzle ids train on the demonstrations
    n_train_pairs = sum(len(t.train) + (0 if t.id in evals else len(t.test)) for t in tasks.values())
    base_rows = sum(np.diff(tr.arrays.puzzle_indices)[tr.arrays.group_indices[:-1]])
    assert base_rows == n_train_pairs


def test_arc_subsample_keeps_evaluation_tasks(tmp_path, shared_data):
    """A small --subsample of ARC-AGI-2 (1000 training + 120 evaluation tasks) still has a test split."""
    from hrmkit.data.build import BuildParams, build

    for seed in range(4):
        out = tmp_path / f"arc{seed}"
        build("arc", out, BuildParams(source=[str(shared_data / "arc" / "arc-agi-2")], subsample=3, augment=1,
                                      seed=seed))
        meta = json.loads((out / "test" / "dataset.json").read_text())
        assert meta["total_groups"] >= 1
        assert json.loads((out / "train" / "dataset.json").read_text())["total_groups"] == 3
