"""ARC data sets, the authors' recipe: every task and up to K de-duplicated augmentations of it.

Sources (``--source`` repeated) are folders: ARC-AGI-1 or -2 data folders (``training/``, ``evaluation/``) and
ConceptARC (``corpus/``); or ARC Prize collection files (``arc-agi_training_challenges.json``, ...; the
``*_solutions.json`` beside each is read with it), alone or inside folders. An evaluation task puts its
demonstration pairs in the train split and its test pairs, held out, in the test split; every other task puts all
its pairs with an output in train (a training collection without its solutions file gives its demonstrations
only). Which tasks are evaluation: a task file in a folder named ``evaluation``; every task of a collection
whose file name has the word ``evaluation`` or ``test`` (words split at anything not a letter or digit:
``arc-agi_evaluation_challenges.json``, ``arc-agi_test_challenges.json``). An evaluation task without its test
outputs (a challenges file without its solutions) is an error: its test pairs would be the test split.

Each augmented task (``hrmkit.puzzles.arc.augmentations``: dihedral transform + permutation of colours 1-9,
distinct by content) is a puzzle with its own identifier, in both splits; a task's puzzles form one group.
The test split is augmented too, because evaluation votes over the model's answers to every augmented copy
after undoing it: ``augmentations.json`` stores, per identifier, the base task and the forward and inverse
augmentation. Training examples are placed at a random offset on the 30x30 canvas (``--no-translate`` to
keep them at the corner), test examples at the corner.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hrmkit.data import sources as src
from hrmkit.data.build import BuildParams, Log, RecipeResult
from hrmkit.data.format import BLANK_IDENTIFIER, Family, SplitArrays
from hrmkit.errors import HrmkitError

LAYOUT = "arc-v1"
SEP = "|||"  # identifier names: "<task id>|||t<dihedral>_c<colours>" (the identity keeps the bare id)


def family() -> Family:
    from hrmkit.puzzles import arc

    return Family("arc", seq_len=arc.SEQ_LEN, vocab_size=arc.VOCAB_SIZE, grid=(arc.MAX_SIZE, arc.MAX_SIZE),
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
    tasks, seen = [], {}
    for source in sources:
        for task, is_eval, file in read_tasks(source):
            if task.id in seen:
                raise HrmkitError(f"{file}: task {task.id} also in {seen[task.id]}; the sources overlap")
            seen[task.id] = file
            tasks.append((task, is_eval))
            missing = [i for i, p in enumerate(task.test) if p.output is None] if is_eval else []
            if missing:
                beside = f" (no {file.name[: -len(arc.CHALLENGES)]}{arc.SOLUTIONS} beside it)" \
                    if file.name.endswith(arc.CHALLENGES) else ""
                raise HrmkitError(f"{file}: task {task.id!r}: test[{missing[0]}] has no output; the test pairs of "
                                  f"an evaluation task are the test split and need their outputs{beside}")
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

    identifiers, inverse = [BLANK_IDENTIFIER], [None]
    train = _Collect()
    test = _Collect()
    for task, is_eval in tasks:
        augs = arc.augmentations(task, params.augment, rng=rng) if params.augment else [arc.Augmentation()]
        for aug in augs:
            ident = len(identifiers)
            identifiers.append(task.id if aug == arc.Augmentation() else f"{task.id}{SEP}{aug.key.rsplit('_r', 1)[0]}")
            inv = aug.inverse()
            inverse.append({"task": task.id, "dihedral": aug.dihedral, "colors": list(aug.colors),
                            "inverse_dihedral": inv.dihedral, "inverse_colors": list(inv.colors)})
            demos = task.train if is_eval else task.train + [p for p in task.test if p.output is not None]
            train.puzzle(ident, aug, demos, rng if translate else None)
            if is_eval:
                test.puzzle(ident, aug, task.test, None)
        train.end_group()
        if is_eval:
            test.end_group()
    n_eval = sum(is_eval for _, is_eval in tasks)
    log(f"arc: {len(tasks)} tasks ({n_eval} evaluation), {len(identifiers) - 1} puzzles with augmentations")
    stats = {"tasks": len(tasks), "evaluation_tasks": n_eval, "puzzles": len(identifiers) - 1, "translate": translate}
    return RecipeResult(family(), {"train": train.arrays(), "test": test.arrays()},
                        {f"source{i}": s.record() for i, s in enumerate(sources)}, identifiers,
                        extra_json={"augmentations.json": inverse}, stats=stats,
                        augmented={"train": params.augment > 0, "test": params.augment > 0})


class _Collect:
    """Accumulates one split: examples, puzzles, groups."""

    def __init__(self):
        self.inputs, self.labels, self.ids, self.augs = [], [], [], []
        self.puzzle_indices, self.group_indices = [0], [0]

    def end_group(self):
        """Close the group of the puzzles added since the last call."""
        self.group_indices.append(len(self.ids))

    def puzzle(self, ident: int, aug, pairs, rng):
        from hrmkit.puzzles import arc

        for pair in pairs:
            inp = aug.apply(pair.input)
            out = None if pair.output is None else aug.apply(pair.output)
            offset = (0, 0) if rng is None else arc.random_offset([inp] + ([out] if out is not None else []), rng)
            self.inputs.append(arc.to_tokens(inp, offset))
            self.labels.append(np.zeros(arc.SEQ_LEN, np.uint8) if out is None else arc.to_tokens(out, offset))
        self.ids.append(ident)
        self.augs.append([aug.dihedral, *aug.colors])
        self.puzzle_indices.append(len(self.inputs))

    def arrays(self) -> SplitArrays:
        from hrmkit.puzzles import arc

        return SplitArrays(
            inputs=np.stack(self.inputs) if self.inputs else np.zeros((0, arc.SEQ_LEN), np.uint8),
            labels=np.stack(self.labels) if self.labels else np.zeros((0, arc.SEQ_LEN), np.uint8),
            puzzle_identifiers=np.asarray(self.ids, np.int32),
            puzzle_indices=np.asarray(self.puzzle_indices, np.int32),
            group_indices=np.asarray(self.group_indices, np.int32),
            augmentations=np.asarray(self.augs, np.int16).reshape(-1, 11),
        )
