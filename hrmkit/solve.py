"""Solving puzzles with a model: batched inference with per-puzzle halting, verification, ARC voting.

    results = solve_with_model(records, family=sudoku, model="runs/demo")   # one Solved per puzzle (ARC: per test input)

The engine (`run_batched`) keeps a batch of *slots* busy over the model's per-segment `forward(carry, batch)`:
after every segment each slot's puzzle halts when its Q head says so (HRM: q_halt > q_continue; TRM with
no_ACT_continue or halting=fixed: q_halt > 0; the authors' halting rule, i.e. sigmoid(q_halt) > the model's
halt_threshold at its default 0.5; `halt_threshold` here overrides it, see HRM.halts) or when it has run `max_steps` segments, and a halted
slot is refilled with the next puzzle of the queue (the model resets the carry of halted rows onto the new batch
row). With `fixed_steps` every puzzle runs `max_steps` segments, as the authors evaluate. When the queue is
empty, halted slots are dropped, so the tail of the run gets cheaper instead of computing on padding.

`halt_on` picks the halting signal: "q" (the Q head, above: the authors' rule), "verified" (Sudoku and mazes: a
puzzle stops at the first segment whose answer checks out, i.e. the verification that gives the status below,
and otherwise at `max_steps`; the Q head is not consulted), or "either" (whichever comes first). "verified" never
stops a puzzle on a wrong answer that a later segment would have fixed, so its exact accuracy is at least that of
`fixed_steps` with the same `max_steps`, for a fraction of the segments; ARC answers cannot be checked before the
end (the output is what is asked), so ARC halts on the Q head.

Default halting (no `halt_on`, `halt_threshold` or `fixed_steps` given): as `hrmkit eval` measured the model, so
that a plain `hrmkit solve FILE --model M` gives the accuracy of M's card (`default_halting`). eval runs a fixed
number of segments; a model trained with `halting: fixed` (the demo) never learnt to stop early, so it runs fixed
segments: the `segments` of an eval report kept in its folder (metrics.json, eval/metrics.json, ...), else its
config's `eval_segments`, or `halt_max_steps` when that is 0 (for such a model that is also the default `max_steps`
of the other modes). A model trained with
`halting: act` (the authors') learnt when to stop and halts on its Q head, as before. An explicit `halt_on` or
`halt_threshold` turns to that halting; `max_steps` alone changes the number of segments, not the halting.

Test-time scaling (`views` K, Sudoku and mazes): each puzzle is solved under K symmetric views in the same batch
(`puzzle_views`: view 0 is the puzzle as given, the others seeded random symmetries, drawn from (seed, the puzzle's
index); Sudoku: digit relabelling, transposition, band/stack and row/column-in-band/stack permutations, i.e.
`sudoku.Transform`; mazes: the dihedral transforms of the square, at most 8 views, all of them valid on every maze
because the canvas is square). Each view's answer is mapped back to the original frame (`View.invert`, exact), and
the answer taken is the first view's, in view order, that verifies; else the distinct answers are voted on, each
weighted by the sum of sigmoid(q_halt) of its views, ties to the lowest view (`choose_view`). Views are rows of
`run_batched`; with "verified" or "either" halting, once one view of a puzzle verifies, its other views stop
(queued ones never start). Solved.segments then counts the segments of all views run, Solved.views the views
run, Solved.view the view whose answer was taken. `views=1` is solving without views, unchanged.

Per puzzle: the answer after its last segment, the number of segments, `confidence` = sigmoid(q_halt) at that
segment (the Q head is trained to predict "this answer is exactly right", so it reads as a probability), and
`token_prob` = the mean over output cells of the highest softmax probability (how sure the answer is cell by
cell). Statuses (documented in `hrmkit solve --help` too):

    verified    the answer is checked and right: Sudoku a full valid grid keeping the givens, maze one shortest
                S-G path, ARC attempt 1 or 2 equals the test output (given in the task or a solutions file)
    wrong       the answer is checked and not right (for ARC: neither attempt matches the given output)
    unverified  nothing to check against (an ARC test input whose output is neither in the file nor in a
                solutions file)
    no-answer   ARC: no candidate decoded to a grid (the model's canvas has no colour at the corner)
    invalid     the puzzle itself is malformed (reported by the CLI with --skip-invalid; never reaches the model)

ARC: each test input is run under `augmentations` augmentations of its task (the identity first, then dihedral
transforms and colour permutations from `hrmkit.puzzles.arc.augmentations`), every answer is mapped back to the
original frame, and identical grids are voted on (`hrmkit.evaluate.vote`: most votes, ties by mean q_halt);
attempt 1 and attempt 2 are the two best. When the model has a puzzle embedding and the data set it was trained
on is known (`identifiers` given, or `identifiers.json` in the model folder, or in the data folder named by
the run's train_config.json; hrmkit's names or the HRM authors', see `hrmkit.data.arc_recipe.parse_identifier`), the augmentations
are the ones that data set gave the task, with their puzzle identifiers; otherwise every row uses identifier 0,
the data sets' blank identifier.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import Record, capability, with_capability
from hrmkit.puzzles import family as puzzle_family

STATUSES = ("verified", "wrong", "unverified", "no-answer", "invalid")
ARC_AUGMENTATIONS = 8  # identity + 7 random ones per ARC test input (ignored when the data set's are used)


# ---------------------------------------------------------------------------------------------------- engine
@dataclass
class Run:
    """What the model said about one input row."""

    tokens: np.ndarray  # (seq_len,) argmax answer after the last segment
    segments: int
    q_halt: float  # logits at the last segment
    q_continue: float
    token_prob: float  # mean over cells of the top softmax probability
    trace: list[np.ndarray] | None = None  # (seq_len,) answers after each segment


def auto_batch_size(model, device: torch.device | None = None, length: int | None = None) -> int:
    """Slots per batch for this machine.

    CPU: 32,768 token positions per forward (seq_len + puzzle prefix per row), at most 512 rows: past that a
    forward is already big enough to keep every core busy, and bigger batches only delay refills.
    CUDA: half the free memory over a per-row estimate of one segment's activations (24 vectors of hidden_size
    per position for the block intermediates, plus the heads' attention scores), at most 4,096 rows.
    """
    cfg = model.config
    device = device or model.device
    positions = (length or cfg.seq_len) + model.inner.prefix_len  # length: an any-size model's grid
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        width = torch.finfo(model.forward_dtype(device)).bits // 8
        per_row = width * positions * (24 * cfg.hidden_size + 2 * cfg.num_heads * positions)
        return max(1, min(4096, int(0.5 * free / per_row)))
    return max(1, min(512, 32768 // positions))


def _take(carry, rows: list[int]):
    """The carry restricted to `rows` (every tensor of it has the batch first)."""
    idx = torch.tensor(rows, device=carry.steps.device)
    parts = {}
    for f in dataclasses.fields(carry):
        value = getattr(carry, f.name)
        parts[f.name] = {k: v[idx] for k, v in value.items()} if isinstance(value, dict) else value[idx]
    return type(carry)(**parts)


@torch.inference_mode()
def run_batched(model, inputs: np.ndarray, puzzle_ids: np.ndarray | None = None, *, batch_size: int | None = None,
                max_steps: int | None = None, fixed_steps: bool = False, trace: bool = False,
                halt_threshold: float | None = None, accept=None, use_q: bool = True,
                groups=None) -> list[Run | None]:
    """Run every row of `inputs` [N, seq_len] (token ids) to its halt with continuous batching; one Run per row.

    Rows enter the batch in order; a row's result depends only on its own input and identifier (each row of the
    model's forward is independent of the others), so the outcome equals running it alone for the same number
    of segments. `accept(row, answer_tokens) -> bool`, when given, also halts a row whose answer it accepts;
    `use_q=False` ignores the Q head (halting on `accept` and `max_steps` only).

    `groups` [N] (e.g. the puzzle of each row, when rows are views of puzzles): once `accept` accepts a row's
    answer (checked after every segment, also on a row halting then for another reason), every other row of its
    group stops too: those in the batch halt after this segment (their Run is the answer so far), those still
    queued never run (their entry is None). Without `accept`, or with `fixed_steps`, groups change nothing.
    """
    cfg = model.config
    max_steps = cfg.test_segments if max_steps is None else int(max_steps)
    if max_steps < 1:
        raise HrmkitError(f"--max-steps must be >= 1, got {max_steps}")
    if halt_threshold is not None:
        from hrmkit.models.config import check_halt_threshold

        check_halt_threshold(halt_threshold, "--halt-threshold")
    inputs = torch.as_tensor(np.asarray(inputs, dtype=np.int64))
    N = inputs.shape[0]
    if N == 0:
        return []
    if inputs.ndim != 2:
        raise HrmkitError(f"model inputs must be [N, {cfg.seq_len}] token ids, got {list(inputs.shape)}")
    length = model.seq_len_of(inputs)
    ids = torch.zeros(N, dtype=torch.int32) if puzzle_ids is None else torch.as_tensor(np.asarray(puzzle_ids, np.int32))
    device = model.device
    B = max(1, min(batch_size or auto_batch_size(model, device, length), N))
    model.eval()
    carry = model.initial_carry({"inputs": torch.zeros(B, length, dtype=torch.int64, device=device),
                                 "puzzle_identifiers": torch.zeros(B, dtype=torch.int32, device=device)})
    slots = [-1] * B  # the input row each slot is working on
    queued = 0  # rows handed to a slot so far (or skipped: their group was answered)
    results: list[Run | None] = [None] * N
    traces: list[list[np.ndarray]] = [[] for _ in range(N)] if trace else []
    group = None if groups is None or accept is None or fixed_steps else np.asarray(groups).tolist()
    if group is not None and len(group) != N:
        raise HrmkitError(f"run_batched: {len(group)} groups for {N} rows")
    answered: set = set()  # groups one of whose rows was accepted
    while True:
        # Refill halted slots from the queue; drop those left empty once it runs dry.
        keep = []
        for pos, halted in enumerate(carry.halted.tolist()):
            if halted:
                while group is not None and queued < N and group[queued] in answered:
                    queued += 1  # a row of an answered group: never run
                if queued == N:
                    continue
                slots[pos], queued = queued, queued + 1
            keep.append(pos)
        if not keep:
            break
        if len(keep) < len(slots):
            carry, slots = _take(carry, keep), [slots[p] for p in keep]
        rows = torch.tensor(slots)
        batch = {"inputs": inputs[rows].to(device), "puzzle_identifiers": ids[rows].to(device)}
        carry, out = model(carry, batch)  # halted rows are reset onto their new batch row, then one segment

        q_halt, q_continue = out["q_halt_logits"].float(), out["q_continue_logits"].float()
        done = carry.steps >= max_steps
        if not fixed_steps and use_q:
            done = done | model.halts(q_halt, q_continue, halt_threshold)
        answers = out["logits"].argmax(-1).cpu().numpy()  # (B, L)
        if accept is not None and not fixed_steps:
            # with groups, a row halting now for another reason may still answer its group
            accepted = [pos for pos, row in enumerate(slots)
                        if (group is not None or not done[pos]) and accept(row, answers[pos])]
            if group is not None and accepted:
                answered.update(group[slots[pos]] for pos in accepted)
                accepted = [pos for pos, row in enumerate(slots) if group[row] in answered]  # and its siblings
            if accepted:
                done[torch.tensor(accepted, device=done.device)] = True
        if trace:
            for pos, row in enumerate(slots):
                traces[row].append(answers[pos])
        for pos in done.nonzero().flatten().tolist():
            probs = torch.softmax(out["logits"][pos].float(), dim=-1).amax(-1)  # (L,)
            row = slots[pos]
            results[row] = Run(answers[pos], int(carry.steps[pos]), float(q_halt[pos]), float(q_continue[pos]),
                               float(probs.mean()), traces[row] if trace else None)
        carry.halted = done
    return results  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------------- models
def model_dir(name_or_dir: str | Path) -> Path:
    """The folder of a model given by folder or zoo name (pulled on first use)."""
    path = Path(name_or_dir).expanduser()
    if path.is_dir():
        return path
    if path.is_file():
        raise HrmkitError(f"{path}: is a file; --model takes a model folder (config.json + model.safetensors) "
                          f"or a zoo name")
    from hrmkit.zoo import resolve

    return Path(resolve(str(name_or_dir)))


def model_task(directory: Path, config) -> tuple[str | None, str]:
    """(task, where it was read) of a model: its card's tags, its run's data set, else its shape."""
    from hrmkit.puzzles import FAMILIES
    from hrmkit.zoo.card import infer_task, read_card_metadata

    tags = read_card_metadata(directory / "README.md").get("tags") or []
    named = [t for t in tags if t in FAMILIES] if isinstance(tags, list) else []
    if len(named) == 1:
        return named[0], f"{directory / 'README.md'} (tags)"
    data = _run_data_dir(directory)
    if data is not None:
        for split in ("test", "train"):
            meta = data / split / "dataset.json"
            if meta.is_file():
                family = json.loads(meta.read_text()).get("family")
                if family in FAMILIES:
                    return family, str(meta)
    return infer_task(config.to_dict()), f"{directory / 'config.json'} (vocab_size/seq_len)"


def _run_data_dir(directory: Path) -> Path | None:
    try:
        data = json.loads((directory / "train_config.json").read_text()).get("data")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return Path(data) if data and Path(data).is_dir() else None


def check_task(model, directory: Path, family: ModuleType, source: str) -> None:
    """Raise when the model was made for another puzzle family, or its vocabulary/length cannot hold these."""
    cfg = model.config
    task, where_from = model_task(directory, cfg)
    if task is not None and task != family.NAME:
        raise HrmkitError(f"model {directory} solves {task} puzzles (from {where_from}), but {source} holds "
                          f"{family.NAME} puzzles; use a model made for {family.NAME}")
    vocab, seq = family.VOCAB_SIZE, None if capability(family, "ANY_SIZE", False) else family.SEQ_LEN
    if cfg.vocab_size != vocab or (seq is not None and cfg.seq_len != seq):
        need = f"vocab_size {vocab}" + (f", seq_len {seq}" if seq else "")
        raise HrmkitError(f"model {directory} has vocab_size {cfg.vocab_size}, seq_len {cfg.seq_len}; "
                          f"{family.NAME} puzzles need {need} (a model of another task)")


def evaluated_segments(directory: Path | None) -> tuple[int, Path] | None:
    """(segments, report) of an `hrmkit eval` report kept in the model folder (metrics.json, eval/metrics.json,
    ...: the names a model card reads its numbers from, `hrmkit.zoo.card.REPORT_NAMES`), or None."""
    if directory is None:
        return None
    from hrmkit.zoo.card import REPORT_NAMES

    for name in REPORT_NAMES:
        path = Path(directory) / name
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        segments = report.get("segments") if isinstance(report, dict) else None
        if isinstance(segments, int) and not isinstance(segments, bool) and segments >= 1 \
                and "exact_accuracy" in report:
            return segments, path
    return None


def default_halting(config, directory: Path | None = None) -> tuple[bool, int | None, str]:
    """How `hrmkit solve` halts a model's puzzles when no halting option is given: as `hrmkit eval` measured it,
    so that the default solve gives the accuracy of the model's card. Returns (fixed_steps, max_steps, why).

    `hrmkit eval` runs every puzzle a fixed number of segments (halt_max_steps, or its --steps) and scores the last
    answer. A model trained with halting=fixed never learnt when to stop early (its Q head only estimates whether
    the answer is right, and is often over-confident after one segment), so it solves with fixed segments: the
    `segments` of an eval report in its folder (`evaluated_segments`), else config.test_segments (eval_segments
    of config.json, else halt_max_steps: the default of `hrmkit eval` too). A model trained with
    halting=act learnt to halt (its Q head was trained for that), so it keeps the Q head (max_steps None: its
    halt_max_steps)."""
    if config.halting != "fixed":
        return False, None, f"default for a halting={config.halting} model"
    found = evaluated_segments(directory)
    if found is not None:
        return True, found[0], f"default for a halting=fixed model: as evaluated in {found[1]}"
    return True, config.test_segments, "default for a halting=fixed model: as evaluated"


# ---------------------------------------------------------------------------------------------------- results
@dataclass
class Solved:
    """The model's answer to one puzzle (ARC: to one test input of a task)."""

    record: int  # Record.index
    status: str  # one of STATUSES
    solution: Any | None  # the family's grid (ARC: attempt 1)
    verified: bool
    segments: float  # segments run (summed over the views run; ARC: mean over the augmented copies)
    confidence: float  # sigmoid(q_halt) at the answer (views: mean over the views giving it; ARC: of the mean
    #                    q_halt of attempt 1's voters)
    token_prob: float  # (views: mean over the views giving the answer)
    part: int = 0  # ARC: test input index
    attempts: list | None = None  # ARC: [attempt_1, attempt_2] grids (original frame)
    votes: list[int] | None = None  # ARC: votes of the two attempts
    trace: list | None = None  # the answer (family grid) after each segment (views: of the chosen view)
    info: dict = field(default_factory=dict)
    views: int = 1  # Sudoku/maze views run for this puzzle (--views; fewer than asked when one verified early)
    view: int = 0  # the view whose answer was chosen (0: the puzzle as given)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def _status(checked: bool | None) -> str:
    return "unverified" if checked is None else ("verified" if checked else "wrong")


def _grid_codec(family: ModuleType, cfg):
    """(encode puzzle -> tokens, decode tokens for that puzzle -> grid): the family's `model_codec` (Sudoku, mazes)."""
    return family.model_codec(cfg.seq_len, cfg.any_size)


HALT_ON = ("q", "verified", "either")


def check_halt_on(halt_on: str | None) -> None:
    """Raise unless `halt_on` is None (the model's default) or one of HALT_ON."""
    if halt_on is not None and halt_on not in HALT_ON:
        raise HrmkitError(f"--halt-on must be one of {', '.join(HALT_ON)}, got {halt_on!r}")


# ---------------------------------------------------------------------------------------------------- views
def view_families() -> tuple[str, ...]:
    """The families whose puzzles can be solved under views (`random_views`, `view_apply`, `view_invert`)."""
    return tuple(m.NAME for m in with_capability("random_views"))


def __getattr__(name: str):
    if name == "VIEW_FAMILIES":  # computed on access, from the registry
        return view_families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class View:
    """One symmetry under which a Sudoku or maze is solved (test-time scaling, `--views`).

    `transform`: None (the identity) or one of the family's views (`random_views`: a `sudoku.Transform`, a maze
    dihedral id 1..7). `apply` maps a puzzle (Sudoku: a `Sudoku` or a grid [81]; maze: an (H, W) grid) into the
    view; `invert` maps an answer grid of the view back to the puzzle's frame, exactly (`invert(apply(g)) == g`):
    the family's `view_apply` and `view_invert`, which say why the views keep puzzles valid and answers right.
    """

    family: str
    transform: Any = None

    def apply(self, puzzle):
        if self.transform is None:
            return puzzle
        return puzzle_family(self.family).view_apply(self.transform, puzzle)

    def invert(self, answer):
        if self.transform is None or answer is None:
            return answer
        return puzzle_family(self.family).view_invert(self.transform, answer)


def puzzle_views(family: str, k: int, seed: int = 0, key: int = 0) -> list[View]:
    """The `k` views of one puzzle: the identity first, then k - 1 random symmetries drawn from (seed, key) (`key`:
    the puzzle's index in its file or split, so a puzzle's views do not depend on batching or chunking): the
    family's `random_views`. Sudoku: uniform elements of its symmetry group (`sudoku.random_transform`); maze: k - 1
    distinct dihedral transforms other than the identity, in random order (so k <= 8, its MAX_VIEWS: a repeated
    transform would repeat an answer)."""
    if capability(family, "random_views") is None:
        raise HrmkitError(f"--views is for Sudoku and mazes, not {family}"
                          + ("; ARC votes over --augmentations K instead"
                             if capability(family, "VOTES_OVER_AUGMENTATIONS", False) else ""))
    if k < 1:
        raise HrmkitError(f"--views must be >= 1, got {k}")
    most = capability(family, "MAX_VIEWS")
    if most is not None and k > most:
        raise HrmkitError(capability(family, "TOO_MANY_VIEWS").format(k=k, n=most))
    if seed < 0:
        raise HrmkitError(f"--seed must be >= 0, got {seed}")
    views = [View(family)]
    if k == 1:
        return views
    rng = np.random.default_rng([seed, key])
    return views + [View(family, t) for t in capability(family, "random_views")(rng, k - 1)]


def choose_view(family: ModuleType, puzzle, answers: list, q_halts: list) -> tuple[int, bool]:
    """(the view whose answer is taken, whether it verifies) from each view's answer mapped back to the puzzle's
    frame (None: the view did not run or gave nothing) and its q_halt logit: the first view, in view order, whose
    answer verifies; else the distinct answers are voted on, each weighted by the sum of sigmoid(q_halt) over the
    views giving it, ties to the answer of the lowest view index (the chosen view is that lowest one)."""
    for v, answer in enumerate(answers):
        if answer is not None and family.verify(puzzle, answer):
            return v, True
    tally: dict[bytes, list] = {}  # answer -> [first view, summed confidence]
    for v, (answer, q) in enumerate(zip(answers, q_halts)):
        if answer is None:
            continue
        a = np.asarray(answer)
        entry = tally.setdefault(repr(a.shape).encode() + a.astype(np.int64).tobytes(), [v, 0.0])
        entry[1] += _sigmoid(float(q))
    if not tally:
        return 0, False
    first, _ = max(tally.values(), key=lambda e: (e[1], -e[0]))
    return first, False


def _same(a, b) -> bool:
    return a is not None and b is not None and np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))


def _solve_grids(records, family, model, halt_on: str = "q", views: int = 1, seed: int = 0,
                 **run) -> list[Solved]:
    encode, decode = _grid_codec(family, model.config)
    per = [puzzle_views(family.NAME, views, seed, r.index) for r in records]
    rows = [(i, v) for i, vs in enumerate(per) for v in range(len(vs))]  # puzzle-major: a puzzle's views together
    shown = [per[i][v].apply(records[i].puzzle) for i, v in rows]  # each row's puzzle, as the model sees it
    tokens = [encode(p) for p in shown]
    runs: list = [None] * len(rows)
    for length in dict.fromkeys(len(t) for t in tokens):  # one batch run per canvas size, in order of appearance
        part = [n for n, t in enumerate(tokens) if len(t) == length]
        accept = None
        if halt_on != "q":
            def accept(row: int, answer: np.ndarray, part=part) -> bool:
                i, v = rows[part[row]]
                back = per[i][v].invert(decode(shown[part[row]], answer))
                return bool(family.verify(records[i].puzzle, back))
        groups = [rows[n][0] for n in part] if views > 1 else None
        for n, res in zip(part, run_batched(model, np.stack([tokens[n] for n in part]), accept=accept,
                                            use_q=halt_on != "verified", groups=groups, **run)):
            runs[n] = res
    out = []
    start = 0
    for i, r in enumerate(records):
        mine = range(start, start + len(per[i]))
        start += len(per[i])
        answers = [per[i][v].invert(decode(shown[n], runs[n].tokens)) if runs[n] is not None else None
                   for v, n in enumerate(mine)]
        q_halts = [runs[n].q_halt if runs[n] is not None else None for n in mine]
        chosen, ok = choose_view(family, r.puzzle, answers, q_halts)
        ran = [n for n in mine if runs[n] is not None]
        res = runs[mine[chosen]]
        voters = [runs[n] for v, n in enumerate(mine) if _same(answers[v], answers[chosen])]
        trace = None
        if res.trace is not None:
            trace = [per[i][chosen].invert(decode(shown[mine[chosen]], t)) for t in res.trace]
        info = {} if views == 1 else {"view_segments": [runs[n].segments if runs[n] is not None else 0
                                                        for n in mine]}
        out.append(Solved(r.index, _status(ok), answers[chosen], ok, sum(runs[n].segments for n in ran),
                          float(np.mean([_sigmoid(x.q_halt) for x in voters])),
                          float(np.mean([x.token_prob for x in voters])), trace=trace, info=info,
                          views=len(ran), view=chosen))
    return out


def _arc_identifiers(directory: Path) -> dict[str, list[tuple[Any, int]]] | None:
    """The identifier index of the data set the model was trained on, when it can be found."""
    from hrmkit.data.arc_recipe import identifier_index
    from hrmkit.data.format import read_identifiers

    for folder in (directory, _run_data_dir(directory)):
        if folder is not None and (folder / "identifiers.json").is_file():
            return identifier_index(read_identifiers(folder))
    return None


def _arc_augmentations(task, known: dict[str, list[tuple[Any, int]]] | None, count: int,
                       rng) -> list[tuple[Any, int]]:
    """(augmentation, puzzle identifier) pairs for one task: the data set's own when it knows the task."""
    from hrmkit.puzzles import arc

    if known is not None and task.id in known:
        return list(known[task.id])
    return [(aug, 0) for aug in arc.augmentations(task, count - 1, rng=rng)]


def _solve_arc(records, model, directory: Path, *, augmentations: int, seed: int,
               identifiers: str | Path | None = None, **run) -> list[Solved]:
    from hrmkit.evaluate import vote
    from hrmkit.puzzles import arc

    uses_ids = getattr(model.inner, "puzzle_emb", None) is not None
    if identifiers is not None:
        from hrmkit.data.arc_recipe import identifier_index
        from hrmkit.data.format import read_identifiers

        known = identifier_index(read_identifiers(identifiers)) if uses_ids else None
    else:
        known = _arc_identifiers(directory) if uses_ids else None
    rng = np.random.default_rng(seed)
    rows, ids, where_ = [], [], []  # where_: (record position, test index, augmentation)
    for k, r in enumerate(records):
        for aug, ident in _arc_augmentations(r.puzzle, known, augmentations, rng):
            for t, pair in enumerate(r.puzzle.test):
                rows.append(aug.encode(pair.input))
                ids.append(ident)
                where_.append((k, t, aug))
    if max(ids, default=0) >= model.config.num_puzzle_identifiers:
        raise HrmkitError(f"model {directory}: puzzle identifier {max(ids)} is beyond its "
                          f"{model.config.num_puzzle_identifiers} (identifiers.json does not belong to this model)")
    runs = run_batched(model, np.stack(rows), np.asarray(ids), **run)
    groups: dict[tuple[int, int], list] = {}
    for (k, t, aug), res in zip(where_, runs):
        groups.setdefault((k, t), []).append((aug, res))
    out = []
    for (k, t), members in sorted(groups.items()):
        pair = records[k].puzzle.test[t]
        cands = [(g, res.q_halt) for aug, res in members if (g := aug.decode(res.tokens)) is not None]
        ranked = vote(cands)
        attempts = [g for g, _, _ in ranked[:2]]
        attempts += attempts[-1:] * (2 - len(attempts)) if attempts else []
        ok = None if pair.output is None else any(arc.verify(pair, g) for g in attempts)
        status = "no-answer" if not attempts else _status(ok)
        first_aug, first = members[0]
        out.append(Solved(
            records[k].index, status, attempts[0] if attempts else None, bool(ok),
            float(np.mean([res.segments for _, res in members])),
            _sigmoid(ranked[0][2]) if ranked else 0.0, float(np.mean([res.token_prob for _, res in members])),
            part=t, attempts=attempts or None, votes=[c for _, c, _ in ranked[:2]] if ranked else None,
            trace=[first_aug.decode(x) for x in first.trace] if first.trace is not None else None,
            info={"candidates": len(members)}))
    return out


def solve_with_model(records: list[Record], *, family: ModuleType, model: str | Path, batch_size: int | None = None,
                     max_steps: int | None = None, fixed_steps: bool = False, trace: bool = False,
                     augmentations: int = ARC_AUGMENTATIONS, seed: int = 0, device: str = "auto",
                     source: str = "the file", halt_threshold: float | None = None,
                     halt_on: str | None = None, identifiers: str | Path | None = None,
                     views: int = 1) -> list[Solved]:
    """Solve the parsed records (those with a puzzle) with the model `model` (folder or zoo name).

    One Solved per record in order (ARC: one per test input of each task). `info` of the first result also
    holds the run's totals: seconds, rows, batch size, halting. `halt_threshold` (a probability; None: the model
    config's) sets per-puzzle halting on sigmoid(q_halt) > it (see `halts`); `halt_on` (q | verified | either, see
    the module docstring; None with no `halt_threshold` and no `fixed_steps`: as the model was evaluated, see
    `default_halting`) the halting signal; `views` (Sudoku, mazes) the symmetric views solved per puzzle (see
    "Test-time scaling" in the module docstring); `identifiers` (ARC: a data set folder or its identifiers.json,
    hrmkit's or the HRM authors') names the puzzle identifiers the model was trained with. Raises HrmkitError when
    the model's task does not match.
    """
    start = time.perf_counter()
    out: list[Solved] = []
    info: dict = {}
    for chunk in iter_solve_with_model(records, family=family, model=model, batch_size=batch_size,
                                       max_steps=max_steps, fixed_steps=fixed_steps, trace=trace,
                                       augmentations=augmentations, seed=seed, device=device, source=source,
                                       halt_threshold=halt_threshold, halt_on=halt_on, identifiers=identifiers,
                                       views=views, chunk=None, info=info):
        out.extend(chunk)
    if out:
        out[0].info.update(seconds=time.perf_counter() - start, batch_size=info["batch_size"],
                           device=info["device"], halting=info["halting"])
    return out


def iter_solve_with_model(records: list[Record], *, family: ModuleType, model: str | Path,
                          batch_size: int | None = None, max_steps: int | None = None, fixed_steps: bool = False,
                          trace: bool = False, augmentations: int = ARC_AUGMENTATIONS, seed: int = 0,
                          device: str = "auto", source: str = "the file", halt_threshold: float | None = None,
                          halt_on: str | None = None, identifiers: str | Path | None = None,
                          chunk: int | None = 0, info: dict | None = None, views: int = 1):
    """`solve_with_model` in pieces: the model is loaded once, then the records are solved `chunk` at a time
    (0: four batches' worth; None: all at once) and each piece's Solved list is yielded as soon as it is done, in
    record order, so that a caller can print answers while the rest are computed. Each row's answer depends only
    on its own input, so the pieces together equal one call. `info` (a dict) receives batch_size, device and
    halting (the halting used, in words)."""
    from hrmkit.api import resolve_device

    votes = capability(family, "VOTES_OVER_AUGMENTATIONS", False)
    if identifiers is not None and not votes:
        raise HrmkitError("--identifiers is for ARC models (puzzle identifiers of augmented tasks)")
    if views != 1:
        puzzle_views(family.NAME, views, seed)  # says now what is wrong with --views (ARC, > 8 for mazes, < 1)
    check_halt_on(halt_on)
    if halt_on not in (None, "q") and votes:
        raise HrmkitError("--halt-on verified|either: ARC answers cannot be checked before the end (the test output "
                          "is what is asked); ARC halts on the Q head")
    from hrmkit.models import from_pretrained

    records = [r for r in records if r.puzzle is not None]
    dev = resolve_device(device)
    directory = model_dir(model)
    net = from_pretrained(directory, device=dev)
    check_task(net, directory, family, source)
    batch = batch_size or auto_batch_size(net, dev)
    auto = halt_on is None and halt_threshold is None and not fixed_steps
    default_fixed, default_steps, why = default_halting(net.config, directory)
    if max_steps is not None and default_fixed:
        why = "default for a halting=fixed model, segments from --max-steps"
    if max_steps is None and default_fixed:
        max_steps = default_steps
    if auto and default_fixed:
        fixed_steps = True
    halt_on = halt_on or "q"
    steps = net.config.test_segments if max_steps is None else max_steps
    halting = (f"fixed {steps} segments" if fixed_steps else
               {"q": "Q head", "verified": "verified answer", "either": "Q head or verified answer"}[halt_on]
               + f", at most {steps} segments")
    if auto:
        halting += f" ({why})"
    if info is not None:
        info.update(batch_size=batch, device=str(dev), halting=halting)
    if not records:
        return
    run = dict(batch_size=batch, max_steps=max_steps, fixed_steps=fixed_steps, trace=trace,
               halt_threshold=halt_threshold)
    size = len(records) if chunk is None else (chunk or 4 * batch)
    if votes:  # a task's rows are voted together: pieces of whole tasks
        size = max(1, size // max(1, augmentations * 2))
    else:  # a puzzle's views run together: pieces of whole puzzles, about as many rows as before
        size = max(1, size // views)
    for lo in range(0, len(records), size):
        piece = records[lo:lo + size]
        if votes:
            yield _solve_arc(piece, net, directory, augmentations=augmentations, seed=seed, identifiers=identifiers,
                             **run)
        else:
            yield _solve_grids(piece, family, net, halt_on=halt_on, views=views, seed=seed, **run)


# ---------------------------------------------------------------------------------------------------- files
def write_submission(path: str | Path, results: list[Solved], records: list[Record]) -> Path:
    """The ARC Prize submission JSON {task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]} (temp + rename).

    Every task of `records` (in their order; invalid records have no task to name) gets one entry per test input,
    in order; test inputs without an answer get [[0]] for both attempts, so the file keeps the shape the ARC Prize
    expects (one entry per test input of every task)."""
    by_record = {r.index: r for r in records}
    sub: dict[str, list] = {r.puzzle.id: [{"attempt_1": [[0]], "attempt_2": [[0]]} for _ in r.puzzle.test]
                            for r in records if r.puzzle is not None}
    for s in results:
        grids = [g.tolist() for g in s.attempts] if s.attempts else [[[0]], [[0]]]
        sub[by_record[s.record].puzzle.id][s.part] = {"attempt_1": grids[0], "attempt_2": grids[1]}
    from hrmkit.atomic import write_text

    return write_text(Path(path), json.dumps(sub) + "\n", replace=True)
