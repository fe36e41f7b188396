"""ARC data sets, the authors' recipe: every task and up to K de-duplicated augmentations of it.

Sources (``--source`` repeated) are folders: ARC-AGI-1 or -2 data folders (``training/``, ``evaluation/``) and
ConceptARC (``corpus/``); or ARC Prize collection files (``arc-agi_training_challenges.json``, ...; the
``*_solutions.json`` beside each is read with it), alone or inside folders. An evaluation task puts its
demonstration pairs in the train split and its test pairs, held out, in the test split; every other task puts all
its pairs with an output in train (a training collection without its solutions file gives its demonstrations
only). Which tasks are evaluation: a task file in a folder named ``evaluation``; every task of a collection
whose file name has the word ``evaluation`` or ``test`` (words split at anything not a letter or digit:
``arc-agi_evaluation_challenges.json``, ``arc-agi_test_challenges.json``). An evaluation task with none of its
test outputs (the ARC Prize's hidden test tasks: ``arc-agi_test_challenges.json`` has no solutions file) gives its
demonstrations to train and nothing to the test split: the trained model then solves its test inputs with the
task's own puzzle identifiers (``hrmkit solve``). One with some test outputs but not all is an error.

Each augmented task (``hrmkit.puzzles.arc.augmentations``: dihedral transform + permutation of colours 1-9,
distinct by content) is a puzzle with its own identifier, in both splits; a task's puzzles form one group.
The test split is augmented too, because evaluation votes over the model's answers to every augmented copy
after undoing it: ``augmentations.json`` stores, per identifier, the base task and the forward and inverse
augmentation. Training examples are placed at a random offset on the 30x30 canvas (``--no-translate`` to
keep them at the corner), test examples at the corner.

The build streams (``--augment 1000`` over the paper's ~1,000 tasks is ~4 million examples, ~7 GB of tokens):
pass 1 (``build_arc``) draws every task's augmentations and training offsets, in the one seeded order
(per task: its augmentations, then the offset of each augmented copy's examples, copy by copy), and keeps them
as small integer arrays; pass 2 (the ``fill`` handed to the writer) encodes each task's examples, a block of
copies at a time (``encode``), straight into the output files. Memory holds the tasks, those arrays and the
identifiers, whatever ``--augment`` is.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hrmkit.data import sources as src
from hrmkit.data.build import BuildParams, Log, RecipeResult
from hrmkit.data.format import BLANK_IDENTIFIER, Family, JsonText, SplitPlan
from hrmkit.errors import HrmkitError
from hrmkit.puzzles import arc as _arc
from hrmkit.puzzles.maze import DIHEDRAL_INVERSE, dihedral

LAYOUT = _arc.AUGMENTATION_LAYOUT
SEP = "|||"  # identifier names: "<task id>|||t<dihedral>_c<colours>" (the identity keeps the bare id)


def cli_options(v: dict) -> dict:
    """``BuildParams.family_options`` from the values of the ``data build`` options (by parameter name)."""
    return {"translate": v["translate"]}


def identifier_name(task_id: str, aug) -> str:
    """The puzzle identifier name of a task under an augmentation (``parse_identifier`` reads it back)."""
    from hrmkit.puzzles import arc

    return task_id if aug == arc.Augmentation() else f"{task_id}{SEP}{aug.key.rsplit('_r', 1)[0]}"


def parse_identifier(name: str):
    """(task id, Augmentation) that an ARC puzzle identifier names, or None.

    Understood: a bare task id (the identity), hrmkit's ``<task>|||t<d>_c<colours>`` (``identifier_name``) and the
    HRM authors' ``<task>|||t<d>|||<colours>`` (their build_arc_dataset.py); in both, ``colours[c]`` is the new
    colour of c and ``d`` the dihedral id in the same numbering. Names that do not say how to undo the
    augmentation (the blank identifier; the later authors' code's ``<task>_t<d>_<hash>``) give None.
    """
    from hrmkit.puzzles import arc

    if name == BLANK_IDENTIFIER or re.search(r"_t[0-7]_-?\d+$", name):  # the later authors' code: a hash
        return None
    if SEP not in name:
        return name, arc.Augmentation()
    task, _, rest = name.partition(SEP)
    parts = rest.split(SEP) if SEP in rest else rest.split("_c", 1)
    try:
        if len(parts) != 2 or not parts[0].startswith("t") or len(parts[1]) != 10:
            return None
        return task, arc.Augmentation(int(parts[0][1:]), tuple(int(ch) for ch in parts[1]))
    except (ValueError, HrmkitError):
        return None


def identifier_index(names: list[str]) -> dict[str, list[tuple[object, int]]]:
    """task id -> [(augmentation, puzzle identifier), ...] from identifiers.json, the identity first."""
    from hrmkit.puzzles import arc

    index: dict[str, list[tuple[object, int]]] = {}
    for ident, name in enumerate(names):
        parsed = parse_identifier(name)
        if parsed is not None:
            index.setdefault(parsed[0], []).append((parsed[1], ident))
    for members in index.values():
        members.sort(key=lambda m: m[0] != arc.Augmentation())  # identity first, the others in identifier order
    return index


def inverse_record(task_id: str, aug) -> dict:
    """One augmentations.json record: the task, the forward augmentation and the inverse that undoes it
    (``_inverse_records`` writes the same text without building dicts)."""
    inv = aug.inverse()
    return {"task": task_id, "dihedral": aug.dihedral, "colors": list(aug.colors),
            "inverse_dihedral": inv.dihedral, "inverse_colors": list(inv.colors)}


def records_from_names(names: list[str]) -> list[dict | None] | None:
    """augmentations.json's records rebuilt from identifier names (for data built by the HRM authors' scripts,
    whose names say the augmentation); None when no name says one."""
    parsed = [parse_identifier(name) for name in names]
    out = [None if p is None else inverse_record(*p) for p in parsed]
    return out if any(e is not None for e in out) else None


def family() -> Family:
    return Family(_arc.NAME, seq_len=_arc.SEQ_LEN, vocab_size=_arc.VOCAB_SIZE, grid=_arc.GRID,
                  augmentation_layout=LAYOUT)


def is_evaluation_collection(path: Path) -> bool:
    """An ARC Prize collection holds evaluation tasks when a word of its name is "evaluation" or "test"."""
    words = re.split(r"[^a-z0-9]+", Path(path).stem.lower())
    return "evaluation" in words or "test" in words


def read_tasks(source: src.Source) -> list[tuple[object, bool, Path]]:
    """(task, is_evaluation, file) for every task of a source, in the order of the build: a folder's top-level
    subfolders in name order (or the folder itself when task files sit at its top), each one's tasks in id order.
    A solutions file read beside a collection source is added to ``source.files`` (role "solutions"), so that
    the provenance records its sha256 too (a folder's tree sha256 already covers it)."""
    from hrmkit.puzzles import arc

    if "file" in source.files:
        found = arc.read_file(source.files["file"])
        if found.solutions is not None:
            source.files["solutions"] = found.solutions
        is_eval = is_evaluation_collection(found.path) if found.collection else found.path.parent.name == "evaluation"
        return [(task, is_eval, found.path) for task in found.tasks.values()]
    root = source.files["dir"]
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    parts = subdirs if subdirs and not any(root.glob("*.json")) else [root]
    out = []
    for part in parts:
        tasks = []
        for file in arc.task_files(part):
            found = arc.read_file(file)
            is_eval = is_evaluation_collection(file) if found.collection else part.name == "evaluation"
            tasks += [(task, is_eval, file) for task in found.tasks.values()]
        out += sorted(tasks, key=lambda t: t[0].id)
    if not out:
        raise HrmkitError(f"{root}: no *.json ARC task files")
    return out


def build_arc(params: BuildParams, log: Log) -> RecipeResult:
    from hrmkit.puzzles import arc

    if params.test_source or params.test_fraction is not None:
        raise HrmkitError("arc: the test split is the test pairs of evaluation tasks; drop --test-source/--test-fraction")
    for spec in params.source:
        if spec == src.GENERATE or spec.startswith("hf:"):
            raise HrmkitError(f"--source {spec}: {src.ARC_FORMS}, local or gh:OWNER/REPO@COMMIT[:PATH]")
    sources = [src.resolve(spec, dirs=True) for spec in params.source]
    tasks, seen, unlabelled = [], {}, defaultdict(int)
    for source in sources:
        for task, is_eval, file in read_tasks(source):
            if task.id in seen:
                raise HrmkitError(f"{file}: task {task.id} also in {seen[task.id]}; the sources overlap")
            seen[task.id] = file
            missing = [i for i, p in enumerate(task.test) if p.output is None] if is_eval else []
            if is_eval and len(missing) == len(task.test):  # no outputs at all: demonstrations only
                unlabelled[file] += 1
                is_eval, missing = False, []
            tasks.append((task, is_eval))
            if missing:
                beside = f" (no {file.name[: -len(arc.CHALLENGES)]}{arc.SOLUTIONS} beside it)" \
                    if file.name.endswith(arc.CHALLENGES) else ""
                raise HrmkitError(f"{file}: task {task.id!r}: test[{missing[0]}] has no output; the test pairs of "
                                  f"an evaluation task are the test split and need their outputs{beside}")
    for file, n in unlabelled.items():
        log(f"arc: {file}: {n} evaluation tasks without test outputs give their demonstrations to train only; "
            "solve their test inputs with the trained model")
    rng = np.random.default_rng(params.seed)
    if params.subsample is not None:
        if params.subsample > len(tasks):
            raise HrmkitError(f"--subsample {params.subsample} exceeds the {len(tasks)} tasks of the sources")
        # Stratified, so that a small subsample still has evaluation tasks (the test split) when the sources do:
        # evaluation tasks keep their share of the sources, at least one.
        evals = [i for i, (_, is_eval) in enumerate(tasks) if is_eval]
        others = [i for i, (_, is_eval) in enumerate(tasks) if not is_eval]
        n_eval = min(len(evals), max(1 if evals else 0, round(params.subsample * len(evals) / len(tasks))))
        keep = list(rng.permutation(evals)[:n_eval]) + list(rng.permutation(others)[: params.subsample - n_eval])
        if len(keep) < params.subsample:  # too few non-evaluation tasks: fill with evaluation ones
            keep += [i for i in rng.permutation(evals) if i not in keep][: params.subsample - len(keep)]
        tasks = [tasks[i] for i in sorted(keep)]
    if not any(is_eval for _, is_eval in tasks):
        raise HrmkitError("arc: no evaluation tasks among the sources, so no test split (include an evaluation/ "
                          "folder or an evaluation challenges file)")
    translate = bool(params.family_options.get("translate", True))

    # Pass 1: augmentations, offsets, identifiers and the split plans (every array but the example rows).
    plans, identifiers = [], [BLANK_IDENTIFIER]
    for task, is_eval in tasks:
        augs = arc.augmentations(task, params.augment, rng=rng) if params.augment else [arc.Augmentation()]
        demos = _demos(task, is_eval)
        offsets = np.zeros((len(augs), len(demos), 2), np.uint8)  # (copies, examples, row/col)
        for i, aug in enumerate(augs):
            identifiers.append(identifier_name(task.id, aug))
            if translate:  # the draws of the examples' offsets, in example order, on the shapes after the transform
                for j, pair in enumerate(demos):
                    shapes = [_shape_after(g, aug.dihedral) for g in (pair.input, pair.output) if g is not None]
                    offsets[i, j] = arc.random_offset(shapes, rng)
        rows = np.array([[a.dihedral, *a.colors] for a in augs], np.int16)  # (copies, 11) the arc-v1 layout
        plans.append(_TaskPlan(task, is_eval, len(identifiers) - len(augs), rows, offsets))
    splits = {"train": _split_plan(plans, "train"), "test": _split_plan(plans, "test")}
    n_eval = sum(is_eval for _, is_eval in tasks)
    log(f"arc: {len(tasks)} tasks ({n_eval} evaluation), {len(identifiers) - 1} puzzles with augmentations; "
        f"encoding {splits['train'].num_examples} + {splits['test'].num_examples} examples")

    def fill(writers) -> None:
        """Pass 2: every task's examples, in the order of the plans, into the writers."""
        for done, plan in enumerate(plans, 1):
            for split, pairs, offsets in _parts(plan):
                for lo in range(0, len(plan.augs), BLOCK):  # a block of copies at a time: memory stays bounded
                    inputs, labels = encode(pairs, plan.augs[lo : lo + BLOCK], offsets[lo : lo + BLOCK])
                    writers[split].append(inputs, labels)
            if done * 4 // len(plans) > (done - 1) * 4 // len(plans) and done < len(plans):
                log(f"arc: encoded {done}/{len(plans)} tasks")

    stats = {"tasks": len(tasks), "evaluation_tasks": n_eval, "puzzles": len(identifiers) - 1, "translate": translate}
    return RecipeResult(family(), splits, {f"source{i}": s.record() for i, s in enumerate(sources)}, identifiers,
                        extra_json={"augmentations.json": _inverse_records(plans)}, stats=stats,
                        augmented={"train": params.augment > 0, "test": params.augment > 0}, fill=fill)


BLOCK = 256  # augmented copies encoded at once (per split: BLOCK x examples per task x 900 bytes x 2)
_TRANSPOSES = frozenset(d for d in range(8) if dihedral(np.zeros((1, 2)), d).shape == (2, 1))


@dataclass
class _TaskPlan:
    """One task as pass 1 leaves it: its augmented copies (identifiers first_id, first_id + 1, ...; row i of
    ``augs`` is copy i in the arc-v1 layout) and the canvas offset of each copy's training examples."""

    task: object  # hrmkit.puzzles.arc.Task
    is_eval: bool
    first_id: int
    augs: np.ndarray  # (copies, 11) int16: dihedral id, colour map of 0..9
    offsets: np.ndarray  # (copies, training examples, 2) uint8: (row, col); zeros without translation


def _demos(task, is_eval: bool) -> list:
    """The pairs of a task that go to the train split: an evaluation task's demonstrations, else every pair with
    an output."""
    return task.train if is_eval else task.train + [p for p in task.test if p.output is not None]


def _parts(plan: _TaskPlan):
    """(split, pairs, offsets) of a task: its train-split examples, and its test pairs (at the corner) when it is
    an evaluation task."""
    yield "train", _demos(plan.task, plan.is_eval), plan.offsets
    if plan.is_eval:
        yield "test", plan.task.test, np.zeros((len(plan.augs), len(plan.task.test), 2), np.uint8)


class _Shape:
    """A stand-in for a grid that has only its ``shape``: all that ``arc.random_offset`` looks at."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple[int, int]):
        self.shape = shape


def _shape_after(grid: np.ndarray, d: int) -> _Shape:
    """What ``grid`` looks like to ``arc.random_offset`` after dihedral transform ``d``."""
    return _Shape(grid.shape[::-1] if d in _TRANSPOSES else grid.shape)


def _split_plan(plans: list[_TaskPlan], split: str) -> SplitPlan:
    """The arrays of a split but its example rows: one puzzle per augmented copy, one group per task."""
    from hrmkit.puzzles import arc

    parts = [(p, len(pairs)) for p in plans for s, pairs, _ in _parts(p) if s == split]
    ids = [np.arange(p.first_id, p.first_id + len(p.augs)) for p, _ in parts]  # per task: its copies' identifiers
    examples = np.concatenate([np.zeros(0, np.int64)] + [np.full(len(p.augs), m) for p, m in parts])  # per puzzle
    return SplitPlan(
        num_examples=int(examples.sum()),
        seq_len=arc.SEQ_LEN,
        puzzle_identifiers=np.concatenate([np.zeros(0, np.int64)] + ids).astype(np.int32),
        puzzle_indices=np.concatenate([[0], np.cumsum(examples)]).astype(np.int32),
        group_indices=np.concatenate([[0], np.cumsum([len(i) for i in ids], dtype=np.int64)]).astype(np.int32),
        augmentations=np.concatenate([np.zeros((0, 11), np.int16)] + [p.augs for p, _ in parts]),
    )


def encode(pairs: list, augs: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tokens of every pair under every augmentation: inputs and labels [copies * pairs, 900] uint8, copy-major
    (copy 0's pairs, then copy 1's ...); what ``arc.to_tokens(Augmentation(d, colours).apply(grid), offset)``
    gives one example at a time (a pair without output gets an all-pad label), computed a dihedral at a time."""
    from hrmkit.puzzles import arc

    n, m = len(augs), len(pairs)
    inputs = np.zeros((n, m, arc.SEQ_LEN), np.uint8)
    labels = np.zeros((n, m, arc.SEQ_LEN), np.uint8)
    tokens = augs[:, 1:].astype(np.uint8) + arc.COLOUR_OFFSET  # (n, 10) token of each original colour
    for d in np.unique(augs[:, 0]):
        sel = np.flatnonzero(augs[:, 0] == d)
        for j, pair in enumerate(pairs):
            for grid, out in ((pair.input, inputs), (pair.output, labels)):
                if grid is not None:
                    g = dihedral(grid, int(d))  # (h, w) transformed once, coloured per copy below
                    out[sel, j] = _canvases(tokens[sel][:, g], offsets[sel, j]).reshape(len(sel), arc.SEQ_LEN)
    return inputs.reshape(n * m, arc.SEQ_LEN), labels.reshape(n * m, arc.SEQ_LEN)


def _canvases(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(k, h, w) colour tokens at (k, 2) offsets -> (k, 30, 30) canvases with their end-of-grid markers (the row
    below and the column right of the grid, where they fit; see ``arc.to_canvas``)."""
    from hrmkit.puzzles import arc

    k, h, w = values.shape
    size = arc.MAX_SIZE
    canvas = np.zeros((k, size, size), np.uint8)
    r, c = offsets[:, 0].astype(np.intp), offsets[:, 1].astype(np.intp)
    rows = r[:, None] + np.arange(h)  # (k, h)
    cols = c[:, None] + np.arange(w)  # (k, w)
    every = np.arange(k)
    canvas[every[:, None, None], rows[:, :, None], cols[:, None, :]] = values
    below = np.flatnonzero(r + h < size)
    canvas[below[:, None], (r + h)[below, None], cols[below]] = arc.EOS_ID
    right = np.flatnonzero(c + w < size)
    canvas[right[:, None], rows[right], (c + w)[right, None]] = arc.EOS_ID
    return canvas


def _inverse_records(plans: list[_TaskPlan]):
    """augmentations.json, one record at a time: null for the blank identifier, then per puzzle its task, the
    forward augmentation and the inverse that undoes it (``arc.Augmentation.inverse``)."""
    yield None
    for plan in plans:
        task = json.dumps(plan.task.id)
        inverse = np.argsort(plan.augs[:, 1:], axis=1)  # colour maps are permutations: argsort inverts them
        for row, inv in zip(plan.augs.tolist(), inverse.tolist()):
            # json.dumps({"task", "dihedral", "colors", "inverse_dihedral", "inverse_colors"}, indent=1), faster
            yield JsonText(_RECORD % (task, row[0], ",\n  ".join(map(str, row[1:])), DIHEDRAL_INVERSE[row[0]],
                                      ",\n  ".join(map(str, inv))))


_RECORD = ('{\n "task": %s,\n "dihedral": %d,\n "colors": [\n  %s\n ],\n "inverse_dihedral": %d,\n'
           ' "inverse_colors": [\n  %s\n ]\n}')
