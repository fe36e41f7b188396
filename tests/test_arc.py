"""ARC: task files and their errors, the 30x30 canvas, invertible augmentations on every public task, dedup."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import arc, detect

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "arc-mirror.json"
FOLDERS = ("arc-agi-1", "arc-agi-2", "concept-arc")
PAIR = {"input": [[1]], "output": [[2]]}


@pytest.fixture(scope="module")
def all_tasks(shared_data):
    """Every public task: {folder/id: Task} (2,096 tasks)."""
    tasks = {}
    for folder in FOLDERS:
        tasks.update({f"{folder}/{k}": v for k, v in arc.read_dir(shared_data / "arc" / folder).items()})
    return tasks


grids = hnp.arrays(
    np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=30), elements=st.integers(0, 9)
)


@st.composite
def augmentations(draw):
    perm = draw(st.permutations(range(1, 10)))
    return arc.Augmentation(draw(st.integers(0, 7)), (0, *perm))


# ----------------------------------------------------------------------------- files


def test_read_example():
    assert detect(EXAMPLE) is arc and arc.sniff(EXAMPLE.read_text())
    (record,) = arc.read(EXAMPLE)
    task = record.puzzle
    assert record.text == task.id == "arc-mirror" and record.error is None
    assert len(task.train) == 3 and len(task.test) == 1
    assert task.train[0].input.dtype == np.uint8 and task.train[0].input.shape == (2, 3)
    for pair in task.train + task.test:  # the example's rule: mirror left-right
        assert arc.verify(pair, pair.input[:, ::-1])
    assert task.to_dict() == json.loads(EXAMPLE.read_text())
    assert arc.format_one_line(task.train[0].input) == "100|220"
    assert arc.format_pretty(task.train[0].input) == "100\n220"


def test_read_dir_and_test_without_output(shared_data, tmp_path):
    tasks = arc.read_dir(shared_data / "arc" / "arc-agi-1")
    assert len(tasks) == 800 and list(tasks) == sorted(tasks)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.json").write_text(json.dumps({"train": [PAIR], "test": [{"input": [[3]]}]}))
    task = arc.read_dir(tmp_path)["x"]
    assert task.test[0].output is None
    with pytest.raises(HrmkitError, match="no output to verify against"):
        arc.verify(task.test[0], np.array([[3]]))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.json").write_text((tmp_path / "a" / "x.json").read_text())
    with pytest.raises(HrmkitError, match="task id 'x' also used by"):
        arc.read_dir(tmp_path)
    with pytest.raises(HrmkitError, match="not a folder"):
        arc.read_dir(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(HrmkitError, match="no \\*.json task files"):
        arc.read_dir(tmp_path / "empty")


GOOD = {"input": [[1, 2], [3, 4]], "output": [[0]]}


def bad_input(grid):
    """A task whose first training input is ``grid``."""
    return {"train": [{"input": grid, "output": [[1]]}], "test": [GOOD]}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"train": [', ":1: not valid JSON: Expecting value (column 12)"),
        ("[1, 2]", ": an ARC task is a JSON object with 'train' and 'test' lists"),
        ({"test": [GOOD]}, ": missing key 'train'"),
        ({"train": [GOOD], "test": []}, ": 'test' must be a non-empty list of pairs"),
        ({"train": [GOOD, {"input": [[1]]}], "test": [GOOD]}, ": train[1]: missing 'output'"),
        ({"train": [{"input": [[1]], "output": None}], "test": [GOOD]}, ": train[0]: missing 'output'"),
        ({"train": [GOOD], "test": [{"output": [[1]]}]}, ": test[0]: a pair is an object with 'input'"),
        (
            {"train": [GOOD, GOOD, {"input": [[1]], "output": [[1, 2], [3, 4], [5]]}], "test": [GOOD]},
            ": train[2].output row 3: 1 cell, row 1 has 2 (ragged rows)",
        ),
        (
            {"train": [GOOD], "test": [{"input": [[1, 2], [3, 10]]}]},
            ": test[0].input row 2 column 2: 10 is not a colour 0-9",
        ),
        (bad_input([[1, -1]]), ": train[0].input row 1 column 2: -1 is not a colour"),
        (bad_input([[1, 1.5]]), ": train[0].input row 1 column 2: 1.5 is not a colour"),
        (bad_input([[1, "2"]]), ': train[0].input row 1 column 2: "2" is not a colour'),
        (bad_input([[1, [2]]]), ": train[0].input row 1 column 2: [2] is not a colour"),
        (bad_input([[0] * 31]), ": train[0].input: 1x31 grid, larger than 30x30"),
        (bad_input([[0]] * 31), ": train[0].input: 31x1 grid, larger than 30x30"),
        (bad_input([]), ": train[0].input: empty grid"),
        (bad_input([[]]), ": train[0].input: empty grid"),
        (bad_input([[1], 2]), ": train[0].input row 2: a row is a list of colours"),
        (bad_input(5), ": train[0].input: a grid is a list of rows"),
    ],
)
def test_malformed_tasks_name_file_and_place(tmp_path, content, message):
    path = tmp_path / "task.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(HrmkitError) as err:
        arc.read(path)
    assert str(err.value) == f"{path}{message}" or str(err.value).startswith(f"{path}{message}")
    (record,) = arc.read(path, skip_invalid=True)
    assert record.puzzle is None and record.error == str(err.value)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(HrmkitError, match="no such file"):
        arc.read(tmp_path / "nope.json", skip_invalid=True)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(HrmkitError, match="not a UTF-8 text file"):
        arc.read(tmp_path / "bin.json")


def test_sniff(shared_data):
    assert arc.sniff(' {"test": [], "train": []}')
    assert arc.sniff('{"00576224": {"train": [], "test": []}, "009d5c81": {"train": [], "test": []}}')  # a collection
    assert not arc.sniff((shared_data / "sudoku" / "magictour_top1465.txt").read_text()[:2000])
    assert not arc.sniff("#####\n#S G#\n#####") and not arc.sniff("")
    assert arc.sniff('{"a": 1}') and arc.sniff("[1, 2]")  # JSON is ARC's alone: the reader says what is wrong


def test_malformed_json_is_read_as_arc_and_named(tmp_path):
    from hrmkit.puzzles import detect

    for name, text, message in (("list.json", "[1, 2]", "an ARC task is a JSON object"),
                                ("empty.json", '{"train": []}', "'train' must be a non-empty list of pairs"),
                                ("other.json", '{"a": 1}', "missing key 'train'")):
        path = tmp_path / name
        path.write_text(text)
        assert detect(path) is arc
        with pytest.raises(HrmkitError, match=message):
            arc.read(path)


# ----------------------------------------------------------------------------- tokens


def test_canvas_layout_matches_the_authors():
    g = np.array([[0, 1, 2], [3, 4, 9]], dtype=np.uint8)
    canvas = arc.to_canvas(g, (4, 5))
    assert canvas.shape == (30, 30) and canvas.dtype == np.uint8
    assert (canvas[4:6, 5:8] == g + 2).all()
    assert (canvas[6, 5:8] == arc.EOS_ID).all() and (canvas[4:6, 8] == arc.EOS_ID).all()
    assert canvas[6, 8] == arc.PAD_ID  # not the corner
    assert (canvas != 0).sum() == 6 + 3 + 2
    full = arc.to_canvas(np.zeros((30, 30), np.uint8))
    assert (full == 2).all()  # no room for markers
    tall = arc.to_canvas(np.ones((30, 4), np.uint8))
    assert (tall[:, 4] == arc.EOS_ID).all() and (tall[:, 5:] == 0).all()
    assert np.array_equal(arc.to_tokens(g), arc.to_canvas(g).reshape(900))
    with pytest.raises(HrmkitError, match="does not fit"):
        arc.to_canvas(g, (29, 0))


@settings(max_examples=200, deadline=None)
@given(grids, st.data())
def test_encode_decode_round_trip(grid, data):
    h, w = grid.shape
    offset = (data.draw(st.integers(0, 30 - h)), data.draw(st.integers(0, 30 - w)))
    tokens = arc.to_tokens(grid, offset)
    for strict in (False, True):
        assert np.array_equal(arc.from_tokens(tokens, offset, strict=strict), grid)
        assert np.array_equal(arc.from_tokens(tokens.reshape(30, 30), offset, strict=strict), grid)


def test_decode_garbage():
    g = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
    canvas = arc.to_canvas(g)
    no_markers = canvas.copy()
    no_markers[no_markers == arc.EOS_ID] = 2 + 7  # the model painted colour 7 where the markers belong
    # rows of colour prefixes 4, 4, 3 (the marker corner stays pad): 3x3 (area 9) beats 2x4 (area 8)
    assert arc.from_tokens(no_markers).shape == (3, 3)  # the largest colour rectangle...
    assert arc.from_tokens(no_markers, strict=True) is None  # ...which strict decoding refuses
    stairs = canvas.copy()
    stairs[1, 1] = arc.EOS_ID  # row 2 shorter than row 1: 1x3 (area 3) beats 2x1 (area 2)
    assert np.array_equal(arc.from_tokens(stairs), g[:1])
    corner = canvas.copy()
    corner[0, 0] = arc.PAD_ID
    assert arc.from_tokens(corner) is None
    stray = canvas.copy()
    stray[20, 20] = 5
    assert np.array_equal(arc.from_tokens(stray), g) and arc.from_tokens(stray, strict=True) is None
    rng = np.random.default_rng(0)
    for _ in range(200):
        out = arc.from_tokens(rng.integers(0, 12, 900))
        assert out is None or (out.ndim == 2 and out.max() <= 9 and out.size > 0)
    assert arc.verify(arc.Pair(g, g), arc.from_tokens(canvas))
    assert not arc.verify(arc.Pair(g, g), arc.from_tokens(stairs))
    assert not arc.verify(arc.Pair(g, g), None)


# ----------------------------------------------------------------------------- augmentations


def test_augmentation_validation_and_records():
    bad_params = (
        dict(dihedral=8),
        dict(colors=(1, 0, 2, 3, 4, 5, 6, 7, 8, 9)),
        dict(colors=(0, 1, 1, 3, 4, 5, 6, 7, 8, 9)),
        dict(offset=(30, 0)),
    )
    for bad in bad_params:
        with pytest.raises(HrmkitError, match="augmentation"):
            arc.Augmentation(**bad)
    aug = arc.Augmentation(3, (0, 9, 5, 8, 1, 7, 2, 3, 4, 6), (2, 5))
    assert arc.Augmentation.from_dict(json.loads(json.dumps(aug.to_dict()))) == aug
    assert aug.key == "t3_c0958172346_r2c5"
    g = np.array([[1, 2, 0]], dtype=np.uint8)
    assert np.array_equal(aug.apply(g), np.array([[9], [5], [0]]))  # turned a quarter clockwise, then recoloured
    assert np.array_equal(aug.inverse().apply(aug.apply(g)), g)
    assert np.array_equal(aug.inverse().invert(g), aug.apply(g))


@settings(max_examples=200, deadline=None)
@given(grids, augmentations(), st.data())
def test_augment_then_invert_is_identity(grid, aug, data):
    assert np.array_equal(aug.invert(aug.apply(grid)), grid)
    assert (aug.apply(grid) == 0).sum() == (grid == 0).sum()  # black stays black
    h, w = aug.apply(grid).shape
    aug = replace(aug, offset=(data.draw(st.integers(0, 30 - h)), data.draw(st.integers(0, 30 - w))))
    assert np.array_equal(aug.decode(aug.encode(grid), strict=True), grid)


def test_every_augmentation_inverted_on_every_public_task(all_tasks):
    """On every task, all 8 dihedral transforms, each with a random colour permutation and a random offset:
    inverting the augmented task gives the task back; encoding then decoding every grid gives it back for two
    of the eight (taking turns, so each transform is checked on a quarter of the tasks; all in the slow test)."""
    assert len(all_tasks) == 2096
    rng = np.random.default_rng(0)
    for index, (name, task) in enumerate(all_tasks.items()):
        original = arc.task_hash(task)
        for tid in range(8):
            aug = arc.Augmentation(tid, (0, *(rng.permutation(9) + 1)))
            augmented = aug.apply_task(task)
            assert arc.task_hash(aug.invert_task(augmented)) == original, (name, aug.key)
            if tid % 4 != index % 4:
                continue
            aug = replace(aug, offset=arc.random_offset(augmented.grids(), rng))
            for g in task.grids():
                assert np.array_equal(aug.decode(aug.encode(g)), g), (name, aug.key)


@pytest.mark.slow
def test_exhaustive_augmentations_on_every_public_task(all_tasks):
    """Slow variant: 8 dihedral x 4 colour permutations x the extreme offsets (corner and farthest), every grid
    encoded and decoded (strict: markers and pads exactly in place)."""
    rng = np.random.default_rng(1)
    for name, task in all_tasks.items():
        for tid in range(8):
            for _ in range(4):
                aug = arc.Augmentation(tid, (0, *(rng.permutation(9) + 1)))
                augmented = aug.apply_task(task)
                assert arc.task_hash(aug.invert_task(augmented)) == arc.task_hash(task)
                h = max(g.shape[0] for g in augmented.grids())
                w = max(g.shape[1] for g in augmented.grids())
                for offset in ((0, 0), (30 - h, 30 - w)):
                    moved = replace(aug, offset=offset)
                    for g in task.grids():
                        assert np.array_equal(moved.decode(moved.encode(g), strict=True), g), (name, moved.key)


def test_task_hash_and_dedup():
    rng = np.random.default_rng(0)
    task = arc.read(EXAMPLE)[0].puzzle
    augs = arc.augmentations(task, 50, rng=rng)
    assert augs[0] == arc.Augmentation() and len(augs) == 51
    assert len({arc.task_hash(a.apply_task(task)) for a in augs}) == 51
    assert arc.task_hash(replace(task, id="other")) == arc.task_hash(task)
    # A task of black squares is the same under every augmentation: only the identity remains.
    zeros = np.zeros((3, 3), np.uint8)
    black = arc.Task("black", [arc.Pair(zeros, zeros)], [arc.Pair(zeros)])
    assert arc.augmentations(black, 20, rng=rng) == [arc.Augmentation()]
    # One coloured cell: its images differ only by the colour, so 9 distinct tasks (identity + 8).
    five = np.array([[5]], np.uint8)
    dot = arc.Task("dot", [arc.Pair(five, five)], [arc.Pair(five)])
    assert len(arc.augmentations(dot, 100, rng=rng)) == 9
    # Same seed, same augmentations; translation gives each one an offset where the whole task fits.
    moved = arc.augmentations(task, 10, rng=np.random.default_rng(5), translate=True)
    again = arc.augmentations(task, 10, rng=np.random.default_rng(5), translate=True)
    assert moved == again and any(a.offset != (0, 0) for a in moved)
    for a in moved:
        for g in task.grids():
            assert np.array_equal(a.decode(a.encode(g), strict=True), g)


def test_augmentations_choose_what_comparing_whole_tasks_chooses(shared_data):
    """arc.augmentations compares flattened cells instead of task_hash(aug.apply_task(task)); the verdicts and
    so the chosen augmentations (and every build made from them) must be the same."""
    def reference(task, count, rng, tries_factor=5):
        chosen, seen = [arc.Augmentation()], {arc.task_hash(task)}
        for _ in range(tries_factor * count):
            if len(chosen) > count:
                break
            aug = arc.Augmentation.random(rng)
            digest = arc.task_hash(aug.apply_task(task))
            if digest not in seen:
                seen.add(digest)
                chosen.append(aug)
        return chosen

    files = sorted((shared_data / "arc" / "arc-agi-1" / "training").glob("*.json"))[:120]
    files += sorted((shared_data / "arc" / "concept-arc").rglob("*.json"))[:20]
    short = 0
    for i, f in enumerate(files):
        task = arc.load_task(f)
        count = 30 if i % 2 else 200  # 200: more than many symmetric tasks have, so duplicates get refused
        got = arc.augmentations(task, count, rng=np.random.default_rng(i))
        assert got == reference(task, count, np.random.default_rng(i)), f.name
        short += len(got) <= count
    assert short > 0  # some task ran out of distinct images: the duplicate check was exercised
