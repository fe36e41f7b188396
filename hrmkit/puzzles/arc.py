"""ARC tasks: the JSON format, the 30x30 token canvas, invertible augmentations and de-duplication.

A task file is ``{"train": [{"input": grid, "output": grid}, ...], "test": [{"input": grid, "output"?: grid}]}``
where a grid is a non-empty list of equally long rows of colours 0-9, at most 30x30. Other keys are ignored;
test outputs are optional. Grids become ``numpy.uint8`` arrays; a file becomes a ``Task``. Errors name the
file and the place: pairs are numbered from 0 as JSON indices (``train[2]``), rows and columns from 1.

A collection file (the ARC Prize's ``arc-agi_{training,evaluation,test}_challenges.json``) is one JSON object
``{task_id: task}``; it is told from a task by the task's top-level "train" key. Its test outputs come from a
solutions file ``{task_id: [output grid per test input]}``: given explicitly, or ``PREFIX_solutions.json``
beside ``PREFIX_challenges.json``. Errors inside a collection name the file and the task
(``FILE: task '00576224': train[2].input ...``); ``read_file`` / ``load_tasks`` / ``read`` read either kind,
and folders may hold both (a ``*_solutions.json`` is never read as tasks, nor is a submission file such as the
Kaggle folder's ``sample_submission.json``; given alone as the file to read, either is an error that says what it is).

Tokens (the authors' ids): 0 pad, 1 end-of-grid marker, 2..11 colours 0..9; vocabulary 12, 900 tokens per
grid. A grid of h x w placed at offset (r, c) fills rows r..r+h-1, columns c..c+w-1 of the 30x30 canvas; the
marker fills the row below it (columns c..c+w-1) and the column right of it (rows r..r+h-1) where they fit on
the canvas (not the corner cell), the rest is pad.

Decoding (``from_tokens``) crops at the marker: from the grid's top-left corner, the largest rectangle of
colour tokens whose rows are each as wide as the narrowest row above (the authors' evaluation rule). So a
model output full of garbage still gives a grid, or None when the corner cell is not a colour; with
``strict=True`` it gives None unless the canvas is exactly the encoding of a grid (markers and pads in place).

An ``Augmentation`` is a dihedral transform (numbered as in ``hrmkit.puzzles.maze.dihedral``), then a
permutation of colours 1-9 (black stays 0), then a translation inside the canvas when encoded. ``apply`` /
``invert`` work on grids and ``apply_task`` / ``invert_task`` on tasks; ``encode`` / ``decode`` add and remove
the translation. ``augmentations`` draws distinct ones: no two give the same augmented task (the verdict of
``task_hash``, reached on flattened cells without building the augmented tasks).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hrmkit.errors import HrmkitError, where
from hrmkit.puzzles import Record, read_text
from hrmkit.puzzles.maze import DIHEDRAL_INVERSE, dihedral

NAME = "arc"
MAX_SIZE = 30
PAD_ID, EOS_ID, COLOUR_OFFSET = 0, 1, 2
VOCAB_SIZE = 12
SEQ_LEN = MAX_SIZE * MAX_SIZE
# the other facts other code reads from a family (``hrmkit.puzzles.CONTRACT``)
GRID = (MAX_SIZE, MAX_SIZE)
AUGMENTATION_LAYOUT = "arc-v1"  # a data set's augmentations.npy rows (hrmkit.data.format)
AUGMENTED_SPLITS = ("train", "test")  # evaluation votes over every augmented copy of a test task
DISTINCT_AUGMENTATIONS = True  # a task's group holds at most --augment + 1 puzzles (duplicates dropped)
MULTIPLE_SOURCES = True  # `data build` takes several --source (folders, collections)
SHOW = "png"  # `data show` draws examples (hrmkit.data.show.show_png)
RECIPE = "hrmkit.data.arc_recipe:build_arc"
DATA_CHECKS = "hrmkit.puzzles.arc_checks:data_checks"  # `data validate`'s suites (imported only when validating)
# optional capabilities (``hrmkit.puzzles``: what solve and eval ask a family for)
VOTES_OVER_AUGMENTATIONS = True  # a model answers each test input of a task by a vote over augmented copies
READS_FOLDERS = True  # `solve DIR`: a folder is read as task files and collections (the default family of one)
SOLUTIONS_FILE = True  # `read(..., solutions=)`: the test outputs from a separate file (`solve --solutions`)
SUBMISSION = True  # `solve --submission`: the ARC Prize JSON of the attempts (`hrmkit.solve.write_submission`)
IDENTITY_COLORS = tuple(range(10))
_IS_COLOUR = np.zeros(256, dtype=bool)  # token id -> is it a colour (ids 2..11)
_IS_COLOUR[COLOUR_OFFSET : COLOUR_OFFSET + 10] = True


@dataclass
class Pair:
    """One demonstration (train) or query (test); ``output`` is None for a test pair without its answer."""

    input: np.ndarray  # (h, w) uint8 colours 0..9
    output: np.ndarray | None = None


@dataclass
class Task:
    """One ARC task: its id (the file name without .json) and its pairs."""

    id: str
    train: list[Pair]
    test: list[Pair]

    def grids(self) -> list[np.ndarray]:
        """Every grid of the task, inputs and outputs, train then test."""
        return [g for p in self.train + self.test for g in (p.input, p.output) if g is not None]

    def to_dict(self) -> dict:
        """The JSON form (lists of lists of ints)."""
        def pair(p: Pair) -> dict:
            return {"input": p.input.tolist(), **({"output": p.output.tolist()} if p.output is not None else {})}

        return {"train": [pair(p) for p in self.train], "test": [pair(p) for p in self.test]}


# ----------------------------------------------------------------------------- parse and read


def _grid(value, place: str, source) -> np.ndarray:
    """A JSON grid -> (h, w) uint8, or HrmkitError naming ``source: place``."""
    def fail(msg: str) -> HrmkitError:
        return HrmkitError(f"{source}: {place}{msg}")

    if not isinstance(value, list):
        raise fail(": a grid is a list of rows of colours 0-9")
    for i, row in enumerate(value):
        if not isinstance(row, list):
            raise fail(f" row {i + 1}: a row is a list of colours")
    if not value or not value[0]:
        raise fail(": empty grid")
    width = len(value[0])
    for i, row in enumerate(value):
        if len(row) != width:
            cells = f"{len(row)} cell{'' if len(row) == 1 else 's'}"
            raise fail(f" row {i + 1}: {cells}, row 1 has {width} (ragged rows)")
    if len(value) > MAX_SIZE or width > MAX_SIZE:
        raise fail(f": {len(value)}x{width} grid, larger than {MAX_SIZE}x{MAX_SIZE}")
    try:
        arr = np.array(value)
    except (ValueError, OverflowError):  # cells that are lists of different lengths, ...
        arr = None
    if arr is None or arr.ndim != 2 or arr.dtype.kind not in "iu" or ((arr < 0) | (arr > 9)).any():
        for i, row in enumerate(value):
            for j, cell in enumerate(row):
                if type(cell) is not int or not 0 <= cell <= 9:
                    raise fail(f" row {i + 1} column {j + 1}: {json.dumps(cell)} is not a colour 0-9")
    return arr.astype(np.uint8)


def _pairs(data: dict, key: str, source, need_output: bool) -> list[Pair]:
    if key not in data:
        raise HrmkitError(f"{source}: missing key {key!r} (an ARC task has 'train' and 'test' lists of pairs)")
    items = data[key]
    if not isinstance(items, list) or not items:
        raise HrmkitError(f"{source}: {key!r} must be a non-empty list of pairs")
    pairs = []
    for i, item in enumerate(items):
        place = f"{key}[{i}]"
        if not isinstance(item, dict) or "input" not in item:
            keys = "'input' and 'output'" if need_output else "'input'"
            raise HrmkitError(f"{source}: {place}: a pair is an object with {keys}")
        if need_output and item.get("output") is None:
            raise HrmkitError(f"{source}: {place}: missing 'output'")
        out = item.get("output")
        inp = _grid(item["input"], place + ".input", source)
        pairs.append(Pair(inp, None if out is None else _grid(out, place + ".output", source)))
    return pairs


def parse_task(data, task_id: str, *, source="<task>") -> Task:
    """A task from its JSON text or decoded object; errors name ``source``."""
    if isinstance(data, (str, bytes)):
        data = _decode(data, source)
    if not isinstance(data, dict):
        raise HrmkitError(f"{source}: an ARC task is a JSON object with 'train' and 'test' lists")
    return Task(task_id, _pairs(data, "train", source, True), _pairs(data, "test", source, False))


def sniff(text: str) -> bool:
    """Any JSON object or array: ARC is the only family stored as JSON, so a task, a collection, an ARC Prize
    solutions or submission file, or a malformed task is read as ARC, and the reader says what is wrong with it
    instead of "unknown format"."""
    return text.lstrip("\ufeff \t\r\n").startswith(("{", "["))


# ----------------------------------------------------------------------------- files, collections, solutions

CHALLENGES, SOLUTIONS = "_challenges.json", "_solutions.json"  # the ARC Prize names: PREFIX_challenges.json ...
_SUBMISSION = re.compile(r'\ufeff?\s*\{\s*"[^"]*"\s*:\s*\[\s*\{\s*"attempt_')  # {"id": [{"attempt_1": ...
_WS = re.compile(r"[ \t\n\r]*")


@dataclass
class TaskFile:
    """What one JSON file held: a single task (``collection`` False, id = the file name) or an ARC Prize collection
    ``{task_id: task}``. ``tasks`` in id order; ``lines``: where each task's key is (1 for a single task);
    ``solutions``: the solutions file whose outputs were attached; ``errors``: read with ``skip_invalid``, the
    message of each malformed task (left out of ``tasks``)."""

    path: Path
    tasks: dict[str, Task]
    collection: bool
    lines: dict[str, int]
    solutions: Path | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _decode(text: str, source):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise HrmkitError(f"{where(source, err.lineno)}: not valid JSON: {err.msg} (column {err.colno})") from None


def _is_collection(data) -> bool:
    """A JSON object of task objects; a task itself has a top-level "train" (or "test") key."""
    return (isinstance(data, dict) and bool(data) and "train" not in data and "test" not in data
            and any(isinstance(v, dict) for v in data.values()))


def _not_tasks(data, source) -> None:
    """Raise a pointed error for the ARC Prize's other files when they are given where tasks are expected."""
    if not (isinstance(data, dict) and data and "train" not in data and "test" not in data):
        return
    first = next(iter(data.values()))
    if isinstance(first, list) and first and all(isinstance(x, dict) and "attempt_1" in x for x in first):
        raise HrmkitError(f"{source}: an ARC Prize submission file ({{task_id: [{{attempt_1, attempt_2}}, ...]}}), "
                          "not tasks")
    if isinstance(first, list) and first and all(isinstance(x, list) for x in first):
        raise HrmkitError(f"{source}: an ARC Prize solutions file ({{task_id: [output grid, ...]}}), not tasks: give "
                          f"the challenges file (PREFIX{SOLUTIONS} beside PREFIX{CHALLENGES} is read with it) or "
                          "pass it as --solutions")


def _key_lines(text: str, source) -> dict[str, int]:
    """1-based line of each key of the (valid) top-level JSON object ``text``; a key given twice is an error
    (``json.loads`` would keep the last one silently)."""
    decoder = json.JSONDecoder()
    lines: dict[str, int] = {}
    i = _WS.match(text).end() + 1  # past "{"
    line, counted = 1, 0
    while True:
        i = _WS.match(text, i).end()
        if text[i] == "}":
            return lines
        key, j = json.decoder.scanstring(text, i + 1)
        line, counted = line + text.count("\n", counted, i), i
        if key in lines:
            raise HrmkitError(f"{where(source, line)}: task {key!r} appears twice (first on line {lines[key]})")
        lines[key] = line
        i = _WS.match(text, j).end() + 1  # past ":"
        _, i = decoder.raw_decode(text, _WS.match(text, i).end())
        i = _WS.match(text, i).end()
        i += text[i] == ","


def solutions_beside(path) -> Path | None:
    """``PREFIX_solutions.json`` next to ``PREFIX_challenges.json`` when it exists (the ARC Prize layout)."""
    path = Path(path)
    if not path.name.endswith(CHALLENGES):
        return None
    sibling = path.with_name(path.name[: -len(CHALLENGES)] + SOLUTIONS)
    return sibling if sibling.is_file() else None


def read_solutions(path) -> dict[str, list[np.ndarray]]:
    """An ARC Prize solutions file ``{task_id: [output grid of test input 0, of test input 1, ...]}``."""
    path = Path(path)
    data = _decode(read_text(path), path)
    if not isinstance(data, dict) or "train" in data or "test" in data:
        raise HrmkitError(f"{path}: an ARC solutions file is a JSON object {{task_id: [output grid, ...]}} with one "
                          "grid per test input")
    out = {}
    for tid, grids in data.items():
        source = f"{path}: task {tid!r}"
        if not isinstance(grids, list) or not grids:
            raise HrmkitError(f"{source}: expected a non-empty list of output grids, one per test input")
        out[tid] = [_grid(g, f"test[{i}]", source) for i, g in enumerate(grids)]
    return out


def attach_solutions(tasks: dict[str, Task], solutions: dict[str, list[np.ndarray]], *, source, against,
                     errors: dict[str, str] | None = None) -> dict[str, Task]:
    """The tasks with their test outputs taken from ``solutions`` (read from ``source``; ``against`` names where
    the tasks came from). A solution for an unknown task is an error; so are a count of grids other than the
    task's test inputs and an output that disagrees with one the task already has. With ``errors`` (a dict) the
    last two make that task invalid (its message stored, the task left out) instead of raising."""
    out = dict(tasks)
    for tid, grids in solutions.items():
        if tid not in tasks:
            if errors is not None and tid in errors:  # the task itself is malformed and already reported
                continue
            raise HrmkitError(f"{source}: task {tid!r}: no such task in {against}")
        task = tasks[tid]
        try:
            if len(grids) != len(task.test):
                n = len(task.test)
                raise HrmkitError(f"{source}: task {tid!r}: {len(grids)} solution grid{'s' * (len(grids) != 1)}, "
                                  f"the task has {n} test input{'s' * (n != 1)}")
            for i, (pair, grid) in enumerate(zip(task.test, grids)):
                if pair.output is not None and not np.array_equal(pair.output, grid):
                    raise HrmkitError(f"{source}: task {tid!r}: test[{i}] differs from the output given in {against}")
        except HrmkitError as err:
            if errors is None:
                raise
            errors[tid] = str(err)
            del out[tid]
            continue
        out[tid] = Task(tid, task.train, [Pair(p.input, g) for p, g in zip(task.test, grids)])
    return out


def read_file(path, *, solutions=None, skip_invalid: bool = False) -> TaskFile:
    """One JSON file: a task, or a collection ``{task_id: task}`` (the ARC Prize ``*_challenges.json``).

    ``solutions``: a solutions file whose outputs fill the test pairs; by default ``PREFIX_solutions.json`` beside
    ``PREFIX_challenges.json`` when there is one. Errors inside a collection name the file and the task
    (``FILE: task '00576224': train[2].input row 3 column 4: ...``). With ``skip_invalid`` a malformed task is
    recorded in ``errors`` and the others are kept, and a file that is no task at all (not JSON, ...) is one
    malformed task named after the file; a missing file and a bad solutions file (unreadable, or naming a task
    the file does not have) raise all the same."""
    path = Path(path)
    try:
        text = read_text(path)
        data = _decode(text, path)
        collection = _is_collection(data)
        lines = _key_lines(text, path) if collection else {path.stem: 1}
        if not collection:
            _not_tasks(data, path)
    except HrmkitError as err:
        if not skip_invalid or not path.is_file():
            raise
        return TaskFile(path, {}, False, {path.stem: 1}, None, {path.stem: str(err)})
    tasks, errors = {}, {}
    if collection:
        entries = [(tid, f"{path}: task {tid!r}", data[tid]) for tid in sorted(data)]
    else:
        entries = [(path.stem, path, data)]
    for tid, source, value in entries:
        try:
            tasks[tid] = parse_task(value, tid, source=source)
        except HrmkitError as err:
            if not skip_invalid:
                raise
            errors[tid] = str(err)
    sol = Path(solutions) if solutions is not None else solutions_beside(path)
    if sol is not None:
        tasks = attach_solutions(tasks, read_solutions(sol), source=sol, against=path,
                                 errors=errors if skip_invalid else None)
    return TaskFile(path, tasks, collection, lines, sol, errors)


def load_tasks(path, *, solutions=None) -> dict[str, Task]:
    """A task file -> {file name without .json: task}; a collection -> {task id: task}, ids sorted; with the test
    outputs of ``solutions`` (default: the ``*_solutions.json`` beside a ``*_challenges.json``)."""
    return read_file(path, solutions=solutions).tasks


def load_task(path) -> Task:
    """One task file -> Task (id = the file name without .json)."""
    path = Path(path)
    text = read_text(path)
    return parse_task(text, path.stem, source=path)


def is_submission(path) -> bool:
    """Whether a file starts the way an ARC Prize submission does (``{task_id: [{"attempt_1": ...``): Kaggle's
    ``sample_submission.json``, or what ``hrmkit solve --submission`` writes. Only the first bytes are read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024).decode("utf-8-sig", errors="replace")
    except OSError:  # not a readable file: reading it as tasks says why
        return False
    return _SUBMISSION.match(head) is not None


def task_files(folder) -> list[Path]:
    """The ``*.json`` files under a folder (recursively, sorted) that hold tasks: every one but the
    ``*_solutions.json`` files, which are read with their ``*_challenges.json``, and submission files (answers,
    never tasks: the ARC Prize folder ships ``sample_submission.json`` beside the challenges)."""
    return [f for f in sorted(Path(folder).rglob("*.json")) if not f.name.endswith(SOLUTIONS) and not is_submission(f)]


def read(path, *, skip_invalid: bool = False, solutions=None) -> list[Record]:
    """One Record per task (text = the task id, puzzle = the Task, line = where the task's key is) of a task file,
    a collection, or every task file and collection under a folder (files in path order, a collection's tasks in
    id order); malformed -> error or Record.error (see ``read_file``). ``solutions``: a solutions file for the
    tasks of the file, or of the whole folder."""
    path = Path(path)
    if path.is_dir():
        files = task_files(path)
        if not files:
            raise HrmkitError(f"{path}: no *.json task files")
    else:
        files = [path]
    records: list[Record] = []
    owner: dict[str, Path] = {}
    for file in files:
        found = read_file(file, skip_invalid=skip_invalid, solutions=solutions if file == path else None)
        for tid in sorted(found.tasks.keys() | found.errors.keys()):
            if tid in owner:
                raise HrmkitError(f"{file}: task id {tid!r} also used by {owner[tid]}; read them separately")
            owner[tid] = file
            records.append(Record(len(records), found.lines.get(tid, 1), tid, found.tasks.get(tid),
                                  found.errors.get(tid)))
    if solutions is not None and path.is_dir():
        tasks = {r.text: r.puzzle for r in records if r.puzzle is not None}
        errors = {r.text: r.error for r in records if r.puzzle is None} if skip_invalid else None
        tasks = attach_solutions(tasks, read_solutions(solutions), source=Path(solutions), against=path,
                                 errors=errors)
        records = [replace(r, puzzle=tasks.get(r.text), error=None if r.text in tasks else errors[r.text])
                   if r.puzzle is not None else r for r in records]
    return records


def read_dir(path) -> dict[str, Task]:
    """Every task under a folder (recursively): ``*.json`` task files and collections (``*_challenges.json`` with
    their ``*_solutions.json``) -> {id: Task} in id order; two tasks with one id are an error (ARC-AGI-2 reuses
    ARC-AGI-1 ids: read such folders separately)."""
    path = Path(path)
    if not path.is_dir():
        raise HrmkitError(f"{path}: not a folder of ARC task files")
    return dict(sorted((r.text, r.puzzle) for r in read(path)))


def format_one_line(grid: np.ndarray) -> str:
    """Rows of digits joined by '|', e.g. ``012|340``."""
    return "|".join("".join(map(str, row)) for row in np.asarray(grid).tolist())


def format_pretty(grid: np.ndarray) -> str:
    """Rows of digits, one per line."""
    return "\n".join("".join(map(str, row)) for row in np.asarray(grid).tolist())


def verify(pair: Pair, predicted: np.ndarray | None) -> bool:
    """Exact match (shape and every cell) with the pair's output; a failed decode (None) is wrong."""
    if pair.output is None:
        raise HrmkitError("this test pair has no output to verify against")
    if predicted is None or np.shape(predicted) != pair.output.shape:
        return False
    return bool((np.asarray(predicted) == pair.output).all())


# ----------------------------------------------------------------------------- tokens


def to_canvas(grid: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(h, w) colours -> (30, 30) uint8 token canvas with the grid at ``offset`` and its end-of-grid markers."""
    h, w = grid.shape
    r, c = offset
    if r < 0 or c < 0 or r + h > MAX_SIZE or c + w > MAX_SIZE:
        raise HrmkitError(f"a {h}x{w} grid at offset {tuple(offset)} does not fit the {MAX_SIZE}x{MAX_SIZE} canvas")
    canvas = np.zeros((MAX_SIZE, MAX_SIZE), dtype=np.uint8)
    canvas[r : r + h, c : c + w] = np.asarray(grid) + COLOUR_OFFSET
    if r + h < MAX_SIZE:
        canvas[r + h, c : c + w] = EOS_ID
    if c + w < MAX_SIZE:
        canvas[r : r + h, c + w] = EOS_ID
    return canvas


def to_tokens(grid: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(h, w) colours -> (900,) uint8 tokens (the canvas, row-major)."""
    return to_canvas(grid, offset).reshape(SEQ_LEN)


def from_tokens(tokens: np.ndarray, offset: tuple[int, int] = (0, 0), *, strict: bool = False) -> np.ndarray | None:
    """(900,) or (30, 30) tokens -> (h, w) colours cropped at the marker (see the module docstring), or None."""
    canvas = np.asarray(tokens).reshape(MAX_SIZE, MAX_SIZE)
    r, c = offset
    view = canvas[r:, c:]
    colour = _IS_COLOUR[view]  # (30-r, 30-c) bool
    widths = np.where(colour.all(1), colour.shape[1], colour.argmin(1))  # colour prefix of each row
    widths = np.minimum.accumulate(widths)
    areas = widths * np.arange(1, len(widths) + 1)
    k = int(areas.argmax())
    if areas[k] == 0:
        return None
    grid = (view[: k + 1, : widths[k]] - COLOUR_OFFSET).astype(np.uint8)
    if strict and not np.array_equal(to_canvas(grid, offset), canvas):
        return None
    return grid


# ----------------------------------------------------------------------------- augmentations


@dataclass(frozen=True)
class Augmentation:
    """Dihedral transform, then colour permutation (``colors[c]`` is what colour c becomes; 0 stays 0), then a
    translation by ``offset`` (rows, columns) when encoded on the canvas. Every part is invertible.
    (``colors``: US spelling, as in the data sets' augmentation records.)"""

    dihedral: int = 0
    colors: tuple[int, ...] = IDENTITY_COLORS
    offset: tuple[int, int] = (0, 0)
    _table: np.ndarray = field(init=False, repr=False, compare=False)
    _inverse: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        colours = tuple(int(c) for c in self.colors)
        if not 0 <= self.dihedral < 8:
            raise HrmkitError(f"augmentation: dihedral transform id must be 0..7, got {self.dihedral}")
        if sorted(colours) != list(range(10)) or colours[0] != 0:
            raise HrmkitError(f"augmentation: colours must permute 1-9 and keep 0, got {colours}")
        if len(self.offset) != 2 or min(self.offset) < 0 or max(self.offset) >= MAX_SIZE:
            raise HrmkitError(f"augmentation: offset must be two integers in 0..{MAX_SIZE - 1}, got {self.offset}")
        object.__setattr__(self, "colors", colours)
        object.__setattr__(self, "offset", (int(self.offset[0]), int(self.offset[1])))
        object.__setattr__(self, "_table", np.array(colours, dtype=np.uint8))
        object.__setattr__(self, "_inverse", np.argsort(colours).astype(np.uint8))

    @classmethod
    def random(cls, rng: np.random.Generator, task: Task | None = None) -> Augmentation:
        """A uniform dihedral transform and colour permutation; with a task, also a uniform offset that fits it."""
        aug = cls(int(rng.integers(8)), (0, *(int(c) for c in rng.permutation(9) + 1)))
        return aug if task is None else replace(aug, offset=random_offset(aug.apply_task(task).grids(), rng))

    def apply(self, grid: np.ndarray) -> np.ndarray:
        return self._table[dihedral(grid, self.dihedral)]

    def invert(self, grid: np.ndarray) -> np.ndarray:
        return dihedral(self._inverse[np.asarray(grid)], DIHEDRAL_INVERSE[self.dihedral])

    def apply_task(self, task: Task) -> Task:
        return _map_task(task, self.apply)

    def invert_task(self, task: Task) -> Task:
        return _map_task(task, self.invert)

    def encode(self, grid: np.ndarray) -> np.ndarray:
        """Original grid -> (900,) tokens of the augmented grid at ``offset``."""
        return to_tokens(self.apply(grid), self.offset)

    def decode(self, tokens: np.ndarray, *, strict: bool = False) -> np.ndarray | None:
        """Tokens (e.g. a model's answer to an augmented query) -> the grid in the original frame, or None."""
        grid = from_tokens(tokens, self.offset, strict=strict)
        return None if grid is None else self.invert(grid)

    def to_dict(self) -> dict:
        """JSON-ready form, for storing with a data set what undoes each augmented puzzle."""
        return {"dihedral": self.dihedral, "colors": list(self.colors), "offset": list(self.offset)}

    @classmethod
    def from_dict(cls, data: dict) -> Augmentation:
        return cls(int(data["dihedral"]), tuple(data["colors"]), tuple(data.get("offset", (0, 0))))

    def inverse(self) -> Augmentation:
        """The grid augmentation that undoes this one (no offset): ``inverse().apply(apply(g)) == g``; colour
        maps commute with the dihedral transforms, so the inverse is again a dihedral transform then colours."""
        return Augmentation(DIHEDRAL_INVERSE[self.dihedral], tuple(int(c) for c in self._inverse))

    @property
    def key(self) -> str:
        """Short printable name, e.g. ``t3_c0958172346_r2c5``."""
        return f"t{self.dihedral}_c{''.join(map(str, self.colors))}_r{self.offset[0]}c{self.offset[1]}"


def _map_task(task: Task, fn) -> Task:
    def pair(p: Pair) -> Pair:
        return Pair(fn(p.input), None if p.output is None else fn(p.output))

    return Task(task.id, [pair(p) for p in task.train], [pair(p) for p in task.test])


def random_offset(grids: list[np.ndarray], rng: np.random.Generator) -> tuple[int, int]:
    """A uniform (row, column) offset at which every one of ``grids`` fits the canvas."""
    h = max(g.shape[0] for g in grids)
    w = max(g.shape[1] for g in grids)
    return int(rng.integers(MAX_SIZE - h + 1)), int(rng.integers(MAX_SIZE - w + 1))


def task_hash(task: Task) -> str:
    """A digest of the task's grids (shapes and cells, train then test, outputs included; not the id)."""
    digest = hashlib.blake2b(digest_size=16)
    for part, pairs in ((b"train", task.train), (b"test", task.test)):
        digest.update(part)
        for p in pairs:
            for g in (p.input, p.output):
                cells = b"-" if g is None else bytes(g.shape) + np.ascontiguousarray(g, dtype=np.uint8).tobytes()
                digest.update(cells)
    return digest.hexdigest()


def augmentations(
    task: Task, count: int, *, rng: np.random.Generator, translate: bool = False, tries_factor: int = 5
) -> list[Augmentation]:
    """The identity then up to ``count`` random augmentations whose augmented tasks are all different (by
    ``task_hash``); gives up after ``tries_factor * count`` draws, as symmetric tasks have few distinct images.
    With ``translate`` every one (the identity too) gets a random offset where the whole task fits."""
    # Two augmentations are duplicates when they give the same augmented task: compare the task's cells under
    # each (dihedral, colour map) without building Task objects. The 8 dihedral images of all grids are computed
    # once, flattened with their shapes; an augmentation is then one table lookup and one hash. Same verdicts
    # as comparing task_hash(aug.apply_task(task)), so the same augmentations are chosen.
    grids = [g for pairs in (task.train, task.test) for p in pairs for g in (p.input, p.output)]
    images: dict[int, tuple[bytes, np.ndarray]] = {}

    def key(aug: Augmentation) -> bytes:
        if aug.dihedral not in images:
            moved = [None if g is None else dihedral(np.asarray(g, dtype=np.uint8), aug.dihedral) for g in grids]
            shapes = b"".join(b"-" if g is None else b"%d,%d;" % g.shape for g in moved)
            cells = [g.ravel() for g in moved if g is not None]
            images[aug.dihedral] = (shapes, np.concatenate(cells) if cells else np.zeros(0, np.uint8))
        shapes, cells = images[aug.dihedral]
        return hashlib.blake2b(shapes + aug._table[cells].tobytes(), digest_size=16).digest()

    chosen, seen = [Augmentation()], {key(Augmentation())}
    for _ in range(tries_factor * count):
        if len(chosen) > count:
            break
        aug = Augmentation.random(rng)
        digest = key(aug)
        if digest not in seen:
            seen.add(digest)
            chosen.append(aug)
    if translate:
        chosen = [replace(a, offset=random_offset(a.apply_task(task).grids(), rng)) for a in chosen]
    return chosen
