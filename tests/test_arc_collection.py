"""ARC Prize collection files ({task_id: task} challenges + {task_id: [grid]} solutions): reading, errors,
`hrmkit solve` on them (statuses, submission), `hrmkit data build arc --source` from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from _helpers import copy_model as _copy_model  # the fixture copy_model below is the saved model
from _helpers import tiny_model
from hrmkit.cli import app
from hrmkit.data import sources
from hrmkit.errors import HrmkitError
from hrmkit.puzzles import arc, detect, maze, sudoku

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
N_EVAL = 25  # the first 25 ARC-AGI-1 evaluation tasks; the 25th (12997ef3) has two test inputs


def write_collection(folder: Path, prefix: str, files: list[Path], indent: int | None = None) -> tuple[Path, Path]:
    """PREFIX_challenges.json (test outputs removed) and PREFIX_solutions.json from task files, the Kaggle way."""
    challenges, solutions = {}, {}
    for f in files:
        task = json.loads(f.read_text())
        solutions[f.stem] = [pair.pop("output") for pair in task["test"]]
        challenges[f.stem] = task
    folder.mkdir(parents=True, exist_ok=True)
    ch, so = folder / f"{prefix}_challenges.json", folder / f"{prefix}_solutions.json"
    ch.write_text(json.dumps(challenges, indent=indent))
    so.write_text(json.dumps(solutions))
    return ch, so


def write_sample_submission(path: Path, task_ids: list[str]) -> None:
    """The ARC Prize's sample_submission.json: one all-black attempt pair per task (as Kaggle ships it, indented)."""
    path.write_text(json.dumps({t: [{"attempt_1": [[0, 0], [0, 0]], "attempt_2": [[0, 0], [0, 0]]}] for t in task_ids},
                               indent=4))


def task_files(shared_data, part: str, n: int) -> list[Path]:
    return sorted((shared_data / "arc" / "arc-agi-1" / part).glob("*.json"))[:n]


@pytest.fixture
def evaluation(shared_data, tmp_path):
    """(challenges, solutions, the task files they came from)."""
    files = task_files(shared_data, "evaluation", N_EVAL)
    return (*write_collection(tmp_path / "kaggle", "arc-agi_evaluation", files), files)


def same_task(a: arc.Task, b: arc.Task) -> bool:
    def grids(t):
        return [(p.input, p.output) for p in t.train + t.test]

    pairs = zip(grids(a), grids(b))
    return a.id == b.id and len(a.train) == len(b.train) and len(a.test) == len(b.test) and all(
        np.array_equal(x, y) if x is not None else y is None for ga, gb in pairs for x, y in zip(ga, gb))


# ----------------------------------------------------------------------------- reading


def test_collection_equals_the_task_files_with_the_solutions_beside_it(evaluation):
    ch, so, files = evaluation
    found = arc.read_file(ch)
    assert found.collection and found.solutions == so and not found.errors
    assert list(found.tasks) == [f.stem for f in files]  # ids sorted
    assert sum(len(t.test) for t in found.tasks.values()) == N_EVAL + 1
    for f in files:
        assert same_task(found.tasks[f.stem], arc.load_task(f)), f.stem
    assert all(p.output is not None for t in found.tasks.values() for p in t.test)
    assert arc.load_tasks(ch).keys() == found.tasks.keys()
    assert arc.read_solutions(so)["12997ef3"][1].dtype == np.uint8

    records = arc.read(ch)
    assert [(r.index, r.text, r.line) for r in records] == [(i, f.stem, 1) for i, f in enumerate(files)]  # one line

    so.rename(so.with_name("elsewhere.json"))  # no sibling: test outputs unknown, unless given explicitly
    assert all(p.output is None for t in arc.load_tasks(ch).values() for p in t.test)
    given = arc.load_tasks(ch, solutions=so.with_name("elsewhere.json"))
    assert all(same_task(given[f.stem], arc.load_task(f)) for f in files)


def test_explicit_solutions_replace_the_sibling_and_a_task_file_is_keyed_by_its_name(evaluation, tmp_path):
    ch, so, files = evaluation
    right = json.loads(so.read_text())
    so.write_text(json.dumps({k: [[[0]] for _ in v] for k, v in right.items()}))  # a wrong sibling
    explicit = tmp_path / "right.json"
    explicit.write_text(json.dumps(right))
    tasks = arc.load_tasks(ch, solutions=explicit)
    assert all(same_task(tasks[f.stem], arc.load_task(f)) for f in files)
    assert arc.load_tasks(ch)[files[0].stem].test[0].output.tolist() == [[0]]

    one = tmp_path / "mine.json"  # a single task file: {file name: task}, solutions keyed by that name
    task = json.loads(files[0].read_text())
    one.write_text(json.dumps({"train": task["train"], "test": [{"input": p["input"]} for p in task["test"]]}))
    (tmp_path / "mine_sol.json").write_text(json.dumps({"mine": [p["output"] for p in task["test"]]}))
    loaded = arc.read_file(one, solutions=tmp_path / "mine_sol.json")
    assert not loaded.collection and list(loaded.tasks) == ["mine"]
    assert np.array_equal(loaded.tasks["mine"].test[0].output, np.array(task["test"][0]["output"]))


def test_lines_point_at_each_task_key(shared_data, tmp_path):
    ch, _ = write_collection(tmp_path, "pretty", task_files(shared_data, "training", 4), indent=1)
    lines = ch.read_text().splitlines()
    for record in arc.read(ch):
        assert lines[record.line - 1].strip().startswith(f'"{record.text}": {{'), record


def _bad_grid_task(tasks: dict) -> str:
    """The first task with >= 3 demonstrations whose third input has >= 3 rows and >= 4 columns."""
    return next(k for k, t in tasks.items() if len(t["train"]) >= 3 and len(t["train"][2]["input"]) >= 3
                and len(t["train"][2]["input"][2]) >= 4)


def test_malformed_collections_and_solutions_name_file_and_task(evaluation):
    ch, so, _ = evaluation
    tasks, sols = json.loads(ch.read_text()), json.loads(so.read_text())

    def fails(message, ch_data=tasks, so_data=sols):
        ch.write_text(json.dumps(ch_data))
        so.write_text(json.dumps(so_data))
        with pytest.raises(HrmkitError) as err:
            arc.load_tasks(ch)
        assert str(err.value) == message

    first = next(iter(tasks))
    fails(f"{so}: task '{first}': 2 solution grids, the task has 1 test input",
          so_data={**sols, first: sols[first] * 2})
    fails(f"{so}: task 'deadbeef': no such task in {ch}", so_data={**sols, "deadbeef": [[[1]]]})
    fails(f"{so}: task '{first}': test[0] row 1 column 1: 10 is not a colour 0-9", so_data={**sols, first: [[[10]]]})
    fails(f"{so}: task '{first}': expected a non-empty list of output grids, one per test input",
          so_data={**sols, first: []})
    fails(f"{so}: an ARC solutions file is a JSON object {{task_id: [output grid, ...]}} with one grid per test "
          "input", so_data=[1])
    wrong = {**tasks, first: {**tasks[first], "test": [{**tasks[first]["test"][0], "output": [[1]]}]}}
    fails(f"{so}: task '{first}': test[0] differs from the output given in {ch}", ch_data=wrong)

    bad = _bad_grid_task(tasks)
    broken = json.loads(json.dumps(tasks))
    broken[bad]["train"][2]["input"][2][3] = 12
    fails(f"{ch}: task '{bad}': train[2].input row 3 column 4: 12 is not a colour 0-9", ch_data=broken)
    fails(f"{ch}: task '{first}': missing key 'train' (an ARC task has 'train' and 'test' lists of pairs)",
          ch_data={**tasks, first: {"test": tasks[first]["test"]}})

    ch.write_text('{"a": ' + json.dumps(tasks[first]) + ',\n"a": ' + json.dumps(tasks[first]) + "}")
    with pytest.raises(HrmkitError, match=rf"^{ch}:2: task 'a' appears twice \(first on line 1\)$"):
        arc.load_tasks(ch, solutions=None)


def test_skip_invalid_reports_the_malformed_task_and_keeps_the_others(evaluation):
    ch, so, files = evaluation
    tasks, sols = json.loads(ch.read_text()), json.loads(so.read_text())
    bad = _bad_grid_task(tasks)
    tasks[bad]["train"][2]["input"][2][3] = -1
    first = next(iter(tasks))
    sols[first] = sols[first] * 3  # a wrong count makes that task invalid too
    ch.write_text(json.dumps(tasks))
    so.write_text(json.dumps(sols))
    records = arc.read(ch, skip_invalid=True)
    assert [r.text for r in records] == [f.stem for f in files] and [r.index for r in records] == list(range(N_EVAL))
    invalid = {r.text: r.error for r in records if r.puzzle is None}
    assert invalid == {bad: f"{ch}: task '{bad}': train[2].input row 3 column 4: -1 is not a colour 0-9",
                       first: f"{so}: task '{first}': 3 solution grids, the task has 1 test input"}
    sols["deadbeef"] = [[[1]]]  # an unknown task is the solutions file's fault, not a task's: always an error
    so.write_text(json.dumps(sols))
    with pytest.raises(HrmkitError, match="no such task"):
        arc.read(ch, skip_invalid=True)


def test_folders_read_collections_with_their_solutions(evaluation, shared_data):
    ch, so, files = evaluation
    folder = ch.parent
    extra = task_files(shared_data, "training", 1)[0]
    shutil.copy(extra, folder / extra.name)
    write_sample_submission(folder / "sample_submission.json", [f.stem for f in files])
    tasks = arc.read_dir(folder)  # neither the solutions file nor the submission file is read as tasks
    assert arc.task_files(folder) == sorted([ch, folder / extra.name])
    assert list(tasks) == sorted([f.stem for f in files] + [extra.stem])
    assert all(same_task(tasks[f.stem], arc.load_task(f)) for f in files + [extra])
    shutil.copy(files[3], folder / files[3].name)  # the same id as a file and in the collection
    with pytest.raises(HrmkitError, match=f"task id '{files[3].stem}' also used by"):
        arc.read_dir(folder)


def test_sniff_and_detect(evaluation, tmp_path):
    ch, so, _ = evaluation
    assert detect(ch) is arc and arc.sniff(ch.read_text())
    assert detect(so) is arc  # so that reading it says what it is
    with pytest.raises(HrmkitError, match="an ARC Prize solutions file .* not tasks: give the challenges file"):
        arc.read(so)
    sub = tmp_path / "sample_submission.json"
    sub.write_text(json.dumps({"00576224": [{"attempt_1": [[0]], "attempt_2": [[0]]}]}))
    with pytest.raises(HrmkitError, match="an ARC Prize submission file"):
        arc.read(sub)
    assert detect(EXAMPLES / "sudoku-lines.txt") is sudoku and detect(EXAMPLES / "arc-mirror.json") is arc
    mazes = tmp_path / "m.txt"
    mazes.write_text("#####\n#S G#\n#####\n")
    assert detect(mazes) is maze and arc.sniff('{"a": 1}') and arc.sniff("[[[1]]]")  # JSON: ARC, named errors


# ----------------------------------------------------------------------------- hrmkit solve


def solve(*args):
    return CliRunner().invoke(app, ["solve", *map(str, args)])


@pytest.fixture(scope="module")
def copy_model(tmp_path_factory):
    """An ARC model that answers its input (so an answer is right exactly when the output equals the input)."""
    return _copy_model(tmp_path_factory.mktemp("m") / "copy", vocab_size=12, seq_len=900)


@pytest.mark.usefixtures("one_thread")
def test_solve_a_collection_verifies_with_its_solutions_and_submits_every_task(evaluation, copy_model, tmp_path):
    ch, so, files = evaluation
    # the solutions say that the test outputs of one task (two test inputs) are its inputs, which the copy model
    # answers: that task verified, every other one wrong
    sols = json.loads(so.read_text())
    sols["12997ef3"] = [pair["input"] for pair in json.loads(files[-1].read_text())["test"]]
    so.write_text(json.dumps(sols))
    sub = tmp_path / "out" / "submission.json"
    args = ("--model", copy_model, "--augmentations", "1", "--json")
    result = solve(ch, *args, "--submission", sub)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["puzzle"], r["test_index"]) for r in rows] == \
        [(f.stem, k) for f in files for k in range(2 if f.stem == "12997ef3" else 1)]
    assert {r["puzzle"]: r["status"] for r in rows if r["status"] == "verified"} == {"12997ef3": "verified"}
    assert sum(r["status"] == "verified" for r in rows) == 2
    assert {r["status"] for r in rows if r["puzzle"] != "12997ef3"} == {"wrong"}
    assert "26 answers, 2 verified" in result.stderr

    data = json.loads(sub.read_text())
    assert list(data) == [f.stem for f in files]
    for f in files:
        test = json.loads(f.read_text())["test"]
        assert len(data[f.stem]) == len(test)
        for entry, pair in zip(data[f.stem], test):
            assert entry["attempt_1"] == pair["input"] == entry["attempt_2"]  # the copy model's answer, voted alone

    # a folder holding the challenges and solutions files reads the same; submission files beside them (Kaggle's
    # sample_submission.json, the one just written) are answers, not tasks, and are left out
    write_sample_submission(ch.parent / "sample_submission.json", [f.stem for f in files])
    shutil.copy(sub, ch.parent / "submission.json")
    folder = solve(ch.parent, *args)
    assert folder.exit_code == 0 and folder.stdout == result.stdout, folder.output

    elsewhere = so.rename(tmp_path / "sols.json")  # no sibling: unverified; --solutions brings them back
    rows = [json.loads(line) for line in solve(ch, *args).stdout.splitlines()]
    assert len(rows) == N_EVAL + 1 and {r["status"] for r in rows} == {"unverified"}
    result = solve(ch, *args, "--solutions", elsewhere)
    assert sum(json.loads(line)["status"] == "verified" for line in result.stdout.splitlines()) == 2


@pytest.mark.usefixtures("one_thread")
def test_solve_collection_errors_and_skip_invalid(evaluation, tmp_path):
    ch, so, files = evaluation
    model = tiny_model(tmp_path / "tiny", vocab_size=12, seq_len=900)
    result = solve(ch, "--solver", "exact")
    assert result.exit_code == 1 and "arc puzzles have no exact solver" in result.stderr
    result = solve(EXAMPLES / "sudoku-lines.txt", "--model", model, "--solutions", so)
    assert result.exit_code == 1 and "--solutions is for ARC tasks" in result.stderr
    result = solve(ch, "--model", model, "--solutions", tmp_path / "none.json")
    assert result.exit_code == 1 and "none.json: no such file" in result.stderr

    tasks = json.loads(ch.read_text())
    bad = _bad_grid_task(tasks)
    tasks[bad]["train"][2]["input"][2][3] = "x"
    ch.write_text(json.dumps(tasks))
    result = solve(ch, "--model", model, "--json", "--augmentations", "1", "--max-steps", "1")
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {ch}: task '{bad}': train[2].input row 3 ")
    sub = tmp_path / "sub.json"
    result = solve(ch, "--model", model, "--json", "--augmentations", "1", "--max-steps", "1", "--skip-invalid",
                   "--submission", sub)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["puzzle"] for r in rows if r["status"] == "invalid"] == [bad] and len(rows) == N_EVAL + 1
    assert {r["status"] for r in rows if r["puzzle"] != bad} <= {"wrong", "verified", "no-answer"}
    assert list(json.loads(sub.read_text())) == [f.stem for f in files if f.stem != bad]
    assert "(1 invalid task left out)" in result.stderr


# ----------------------------------------------------------------------------- hrmkit data build


def data(*args):
    return CliRunner().invoke(app, ["data", *map(str, args)])


@pytest.fixture
def arc_prize(shared_data, tmp_path):
    """The same 4 training + 3 evaluation tasks as a folder (ARC-AGI layout) and as ARC Prize files."""
    folder = tmp_path / "folder"
    kaggle = tmp_path / "kaggle"
    for part, n in (("training", 4), ("evaluation", 3)):
        (folder / part).mkdir(parents=True)
        for f in task_files(shared_data, part, n):
            shutil.copy(f, folder / part / f.name)
        write_collection(kaggle, f"arc-agi_{part}", task_files(shared_data, part, n))
    return folder, kaggle


def test_data_build_from_collections_equals_the_folder_and_validates(arc_prize, tmp_path):
    folder, kaggle = arc_prize
    common = ("--augment", "2", "--seed", "3")
    r = data("build", "arc", "--out", tmp_path / "a", "--source", folder, *common)
    assert r.exit_code == 0, r.output
    ev, tr = kaggle / "arc-agi_evaluation_challenges.json", kaggle / "arc-agi_training_challenges.json"
    r = data("build", "arc", "--out", tmp_path / "b", "--source", ev, "--source", tr, *common)
    assert r.exit_code == 0, r.output
    assert "7 tasks (3 evaluation)" in r.output
    for split in ("train", "test"):
        names = sorted(p.name for p in (tmp_path / "a" / split).glob("*.npy"))
        assert names and names == sorted(p.name for p in (tmp_path / "b" / split).glob("*.npy"))
        for name in names:
            assert np.array_equal(np.load(tmp_path / "a" / split / name), np.load(tmp_path / "b" / split / name))
    for name in ("identifiers.json", "augmentations.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    r = data("validate", tmp_path / "b")
    assert r.exit_code == 0 and "expectations met" in r.output, r.output

    recorded = json.loads((tmp_path / "b" / "provenance.json").read_text())["sources"]
    for key, path in (("source0", ev), ("source1", tr)):
        files = recorded[key]["files"]
        assert recorded[key]["kind"] == "file" and files["file"]["path"] == str(path)
        assert files["file"]["sha256"] == sources.sha256_file(path)
        solutions = path.with_name(path.name.replace("_challenges", "_solutions"))
        assert files["solutions"] == {"path": str(solutions), "sha256": sources.sha256_file(solutions)}

    # the folder of ARC Prize files (with Kaggle's sample_submission.json, not tasks): its tasks in id order (as
    # read_dir), evaluation by file name, solutions paired
    write_sample_submission(kaggle / "sample_submission.json", sorted(arc.load_tasks(ev)))
    r = data("build", "arc", "--out", tmp_path / "c", "--source", kaggle)
    assert r.exit_code == 0 and "7 tasks (3 evaluation)" in r.output, r.output
    tasks = {**arc.load_tasks(ev), **arc.load_tasks(tr)}
    assert json.loads((tmp_path / "c" / "identifiers.json").read_text())[1:] == sorted(tasks)
    expected = [arc.to_tokens(p.input) for k in sorted(arc.load_tasks(ev)) for p in tasks[k].test]
    assert np.array_equal(np.load(tmp_path / "c" / "test" / "all__inputs.npy"), np.stack(expected))
    labels = [arc.to_tokens(p.output) for k in sorted(arc.load_tasks(ev)) for p in tasks[k].test]
    assert np.array_equal(np.load(tmp_path / "c" / "test" / "all__labels.npy"), np.stack(labels))


def test_data_build_without_solutions(arc_prize, tmp_path, shared_data):
    _, kaggle = arc_prize
    ev, tr = kaggle / "arc-agi_evaluation_challenges.json", kaggle / "arc-agi_training_challenges.json"
    (kaggle / "arc-agi_training_solutions.json").unlink()  # training tasks: their demonstrations only
    r = data("build", "arc", "--out", tmp_path / "a", "--source", ev, "--source", tr, "--no-translate")
    assert r.exit_code == 0, r.output
    train_pairs = sum(len(t.train) for t in arc.load_tasks(tr).values()) + \
        sum(len(t.train) for t in arc.load_tasks(ev).values())
    assert len(np.load(tmp_path / "a" / "train" / "all__inputs.npy")) == train_pairs
    recorded = json.loads((tmp_path / "a" / "provenance.json").read_text())["sources"]
    assert "solutions" in recorded["source0"]["files"] and "solutions" not in recorded["source1"]["files"]

    # the ARC Prize's hidden test tasks: a test challenges file, no solutions. Its tasks give their demonstrations
    # to train (under their own puzzle ids, for solving later) and nothing to the test split.
    folder, _ = arc_prize
    hidden = kaggle / "arc-agi_test_challenges.json"
    ev.rename(hidden)
    (kaggle / "arc-agi_evaluation_solutions.json").unlink()
    r = data("build", "arc", "--out", tmp_path / "b", "--source", hidden)
    assert r.exit_code == 1 and not (tmp_path / "b").exists() and "no evaluation tasks among the sources" in r.stderr
    other = tmp_path / "other" / "evaluation"  # evaluation tasks with outputs, not among the hidden ones
    other.mkdir(parents=True)
    for f in task_files(shared_data, "evaluation", 5)[3:]:
        shutil.copy(f, other / f.name)
    r = data("build", "arc", "--out", tmp_path / "b", "--source", hidden, "--source", other, "--no-translate")
    assert r.exit_code == 0, r.output
    assert "3 evaluation tasks without test outputs give their demonstrations to train only" in r.output
    hidden_tasks = arc.load_tasks(hidden)
    names = json.loads((tmp_path / "b" / "identifiers.json").read_text())
    assert set(hidden_tasks) <= set(names)  # ids to solve them with
    test_ids = set(np.load(tmp_path / "b" / "test" / "all__puzzle_identifiers.npy").tolist())
    assert not test_ids & {names.index(k) for k in hidden_tasks}  # none of them in the test split
    # an evaluation task with some test outputs but not all is an error
    task = json.loads(next(iter((folder / "evaluation").glob("*.json"))).read_text())
    task["test"] = [task["test"][0], {"input": task["test"][0]["input"]}]
    (folder / "evaluation" / "partial.json").write_text(json.dumps(task))
    r = data("build", "arc", "--out", tmp_path / "c", "--source", folder / "evaluation")
    assert r.exit_code == 1 and not (tmp_path / "c").exists()
    assert "task 'partial': test[1] has no output; the test pairs of an evaluation task are the test split" \
        in r.stderr
    r = data("build", "arc", "--out", tmp_path / "d", "--source", "hf:a/b")
    assert r.exit_code == 1 and "ARC sources are folders of task JSON files or ARC Prize collections" in r.stderr
    (kaggle / "notes.txt").write_text("hello\n")
    r = data("build", "arc", "--out", tmp_path / "d", "--source", kaggle / "notes.txt")
    assert r.exit_code == 1 and "is a file; ARC sources are folders" in r.stderr
