"""ARC data sets, the authors' recipe: every task and up to K de-duplicated augmentations of it.

Sources are folders (``--source DIR`` repeated): ARC-AGI-1 or -2 data folders (``training/``, ``evaluation/``)
and ConceptARC (``corpus/``). A task in a folder named ``evaluation`` puts its demonstration pairs in the train
split and its test pairs, held out, in the test split; every other task puts all its pairs in train.

Each augmented task (``hrmkit.puzzles.arc.augmentations``: dihedral transform + permutation of colours 1-9,
distinct by content) is a puzzle with its own identifier, in both splits; a task's puzzles form one group.
The test split is augmented too, because evaluation votes over the model's answers to every augmented copy
after undoing it: ``augmentations.json`` stores, per identifier, the base task and the forward and inverse
augmentation. Training examples are placed at a random offset on the 30x30 canvas (``--no-translate`` to
keep them at the corner), test examples at the corner.
"""

from __future__ import annotations

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


def read_tasks(source: src.Source) -> list[tuple[object, bool, Path]]:
    """(task, is_evaluation, folder) for every task of a source folder; evaluation = under a folder so named."""
    from hrmkit.puzzles import arc

    root = source.files["dir"]
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    parts = subdirs if subdirs and not any(root.glob("*.json")) else [root]
    out = []
    for part in parts:
        if not any(part.rglob("*.json")):
            continue
        for task in arc.read_dir(part).values():
            out.append((task, part.name == "evaluation", part))
    if not out:
        raise HrmkitError(f"{root}: no *.json ARC task files")
    return out


def build_arc(params: BuildParams, log: Log) -> RecipeResult:
    from hrmkit.puzzles import arc

    if params.test_source or params.test_fraction is not None:
        raise HrmkitError("arc: the test split is the test pairs of evaluation tasks; drop --test-source/--test-fraction")
    sources = [src.resolve(spec, dirs=True) for spec in params.source]
    tasks, seen = [], {}
    for source in sources:
        for task, is_eval, part in read_tasks(source):
            if task.id in seen:
                raise HrmkitError(f"{part}: task {task.id} also in {seen[task.id]}; the sources overlap")
            seen[task.id] = part
            tasks.append((task, is_eval))
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
        raise HrmkitError("arc: no evaluation tasks among the sources, so no test split (include an evaluation/ folder)")
    for task, is_eval in tasks:
        if is_eval and any(p.output is None for p in task.train):
            raise HrmkitError(f"task {task.id}: a demonstration pair without output")
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
