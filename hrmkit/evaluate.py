"""Evaluation of a trained model on a built data set: metrics, ARC voting, test-time augmentation, plots.

The model runs `halt_max_steps` segments from the initial state (as the authors evaluate) and every segment's
answer is scored, so one pass gives accuracy after each segment. Metrics (flat keys of metrics.json):

    exact_accuracy, token_accuracy            the answer after the last segment (puzzles all right / cells right)
    token_accuracy_blanks                     Sudoku: the share of blank cells right after the last segment
    exact_accuracy_step_<k>                   the answer after segment k
    act_steps, exact_accuracy_at_halt         the segment the model's own rule would halt at (HRM: q_halt >
                                              q_continue, TRM or halting=fixed: q_halt > 0; else the last)
                                              and the answer there
    q_halt_accuracy, q_halt_ece               does sigmoid(q_halt) predict "this answer is right"? (all segments;
                                              ECE over 10 bins)
    exact_accuracy_<difficulty>_<bucket>      Sudoku: givens and solver rating; mazes: path length
    arc_pass@1/2/10, arc_pass@2_per_output    ARC: answers of every augmented copy mapped back, voted (identical
                                              grids; ties by mean q_halt); a task counts when all outputs are right
    tta_exact_accuracy                        Sudoku/mazes with --tta K: the vote over K symmetric copies
    views, views_exact_accuracy, views_verified, segments_per_puzzle, views_per_puzzle
                                              Sudoku/mazes with --views K (or --halt-on): the test-time scaling of
                                              `hrmkit solve --views K` (hrmkit.solve, "Test-time scaling") on the
                                              same examples: K symmetric views per puzzle, the first verified answer
                                              else the Q-weighted vote; its exact accuracy against the labels, the
                                              share verified by the checker (a maze with several shortest paths can
                                              verify without matching the label), and the mean segments (summed over
                                              the views run) and views run per puzzle. Halting: the fixed segments of
                                              the main pass, or --halt-on q|verified|either as in solve (verified: a
                                              puzzle stops at its first verified view)
    baseline_one_pass_exact_accuracy/_token_accuracy
                                              Sudoku: fill every blank with exactly one candidate, once; mazes:
                                              the input copied unchanged (no model; how far no reasoning gets)
    baseline_untrained_exact_accuracy/_token_accuracy
                                              the same config with fresh weights (seeded), run like the model
    givens_mean/min/max, rating_mean          Sudoku difficulty of the evaluated puzzles (rating: the exact
                                              solver's guesses, puzzles without a rating left out)
    path_length_mean/min/max, grid_side       maze difficulty (moves of the shortest path)

Token accuracies, the baselines' included, count the labelled cells (ignore_label_id excluded), so the numbers
compare directly. Exact accuracy always counts every labelled cell, givens included: a model trained with
loss_on=blanks copies the givens from the input when decoding (hrmkit.models.hrm.keep_givens), which is legitimate
(they are the puzzle) and is what its logits say, so its raw output is scored; token_accuracy_blanks is the share
of blank cells right, comparable between models trained on all cells and on blanks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hrmkit.errors import HrmkitError
from hrmkit.puzzles import capability, with_capability


@dataclass
class Predictions:
    """Per example of a split (padding rows removed): inputs/labels, the final answer, per-segment scores."""

    index: np.ndarray  # (N,) example index in the split
    inputs: np.ndarray  # (N, L)
    labels: np.ndarray  # (N, L)
    puzzle_ids: np.ndarray  # (N,)
    pred: np.ndarray  # (N, L) answer after the last segment
    correct: np.ndarray  # (N, S) bool: answer after segment k fully right
    token_acc: np.ndarray  # (N, S) fraction of labelled cells right
    q_halt: np.ndarray  # (N, S) logits
    q_continue: np.ndarray  # (N, S)
    halt_step: np.ndarray  # (N,) 1-based segment where the model would halt


@torch.inference_mode()
def predict(model, ds, *, batch_size: int = 256, max_batches: int | None = None, steps: int | None = None,
            transform=None) -> Predictions:
    """Run the model over a split (a `hrmkit.data.loader.PuzzleDataset`) in order.

    transform: optional (forward, inverse) on token arrays [B, L]: inputs are mapped by forward and answers by
    inverse (test-time augmentation); labels are left in the original frame.
    """
    from hrmkit.data.loader import BatchSampler

    ignore = ds.meta.ignore_label_id
    sampler = BatchSampler(ds, batch_size, train=False)
    device = model.device
    parts: dict[str, list] = defaultdict(list)
    for i, index in enumerate(sampler):
        if max_batches is not None and i >= max_batches:
            break
        index = index[index >= 0]  # the last batch is padded with -1: compute on real rows only
        if len(index) == 0:
            continue
        b = ds.batch(index)
        inputs = b["inputs"] if transform is None else transform[0](b["inputs"])
        out = model.trace(torch.from_numpy(np.ascontiguousarray(inputs)).to(device),
                          torch.from_numpy(b["puzzle_identifiers"]).to(device), steps=steps)
        preds = out["logits"].argmax(-1).cpu().numpy()  # (S, B, L)
        if transform is not None:
            preds = np.stack([transform[1](p) for p in preds])
        labels = b["labels"]
        mask = labels != ignore  # (B, L)
        right = (preds == labels[None]) & mask[None]  # (S, B, L)
        n_lab = np.maximum(mask.sum(-1), 1)
        qh, qc = out["q_halt_logits"], out["q_continue_logits"]  # (S, B)
        halts = model.halts(qh, qc).cpu().numpy()  # (S, B)
        halts[-1] = True
        parts["index"].append(index)
        parts["inputs"].append(b["inputs"])
        parts["labels"].append(labels)
        parts["puzzle_ids"].append(b["puzzle_identifiers"])
        parts["pred"].append(preds[-1].astype(np.uint8))
        parts["correct"].append((right.sum(-1) == mask.sum(-1)).T)
        parts["token_acc"].append((right.sum(-1) / n_lab).T.astype(np.float32))
        parts["q_halt"].append(qh.float().cpu().numpy().T)
        parts["q_continue"].append(qc.float().cpu().numpy().T)
        parts["halt_step"].append(halts.argmax(0) + 1)
    if not parts:
        raise HrmkitError("evaluation: the split has no examples")
    return Predictions(**{k: np.concatenate(v) for k, v in parts.items()})


# ---------------------------------------------------------------------------------------------------- metrics
def calibration(p: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[float, list[dict]]:
    """Expected calibration error of probabilities p against outcomes y, and the per-bin table."""
    p, y = p.ravel(), y.ravel().astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            conf, acc = float(p[sel].mean()), float(y[sel].mean())
            ece += sel.mean() * abs(conf - acc)
            table.append({"bin": b, "confidence": conf, "accuracy": acc, "count": int(sel.sum())})
    return float(ece), table


def _buckets(values: np.ndarray, edges: list[int]) -> list[tuple[str, np.ndarray]]:
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (values >= lo) & (values < hi)
        if sel.any():
            out.append((f"{lo}-{hi - 1}", sel))
    return out


def _ratings(pred: Predictions, ds) -> np.ndarray | None:
    """Sudoku: the exact solver's guess count of each example's base puzzle (-1: unknown), or None."""
    ratings = ds.split.arrays.ratings
    if ratings is None:
        return None
    puzzle = ds.example_puzzle[pred.index]
    group = np.searchsorted(ds.group_indices, puzzle, side="right") - 1
    return np.asarray(ratings)[group]


def difficulty(pred: Predictions, ds) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Family-specific difficulty groups: {name: [(bucket label, example mask)]}, from the family's `difficulty`."""
    groups = capability(ds.meta.family, "difficulty")
    if groups is None:
        return {}
    return {name: _buckets(values, edges)
            for name, (values, edges) in groups(pred.inputs, pred.labels, lambda: _ratings(pred, ds)).items()}


def metrics(pred: Predictions, ds) -> dict[str, float]:
    S = pred.correct.shape[1]
    n = len(pred.index)
    at_halt = pred.correct[np.arange(n), pred.halt_step - 1]
    m: dict[str, float] = {
        "num_examples": n,
        "segments": S,
        "exact_accuracy": float(pred.correct[:, -1].mean()),
        "token_accuracy": float(pred.token_acc[:, -1].mean()),
        "act_steps": float(pred.halt_step.mean()),
        "exact_accuracy_at_halt": float(at_halt.mean()),
    }
    blank_token = capability(ds.meta.family, "BLANK_TOKEN")
    if blank_token is not None:  # the cells to fill (input blank): comparable across loss_on settings
        blank = pred.inputs == blank_token
        m["token_accuracy_blanks"] = float(((pred.pred == pred.labels) & blank).sum() / max(1, blank.sum()))
    for k in range(S):
        m[f"exact_accuracy_step_{k + 1}"] = float(pred.correct[:, k].mean())
        m[f"token_accuracy_step_{k + 1}"] = float(pred.token_acc[:, k].mean())
    prob = 1 / (1 + np.exp(-pred.q_halt.astype(np.float64)))
    m["q_halt_accuracy"] = float(((pred.q_halt >= 0) == pred.correct).mean())
    m["q_halt_ece"], _ = calibration(prob, pred.correct)
    for name, groups in difficulty(pred, ds).items():
        for label, sel in groups:
            m[f"exact_accuracy_{name}_{label}"] = float(pred.correct[sel, -1].mean())
            m[f"count_{name}_{label}"] = int(sel.sum())
    return m


def difficulty_summary(pred: Predictions, ds) -> dict[str, float]:
    """How hard the evaluated puzzles are, in a few numbers (beside the accuracy in the report and the card)."""
    summary = capability(ds.meta.family, "difficulty_summary")
    if summary is None:
        return {}
    return summary(pred.inputs, pred.labels, lambda: _ratings(pred, ds), ds.meta.grid)


# ---------------------------------------------------------------------------------------------------- baselines
def _scores(answers: np.ndarray, labels: np.ndarray, ignore: int) -> tuple[float, float]:
    """(exact, token) accuracy of answers [N, L] against labels, over labelled cells, as `predict` scores."""
    mask = labels != ignore
    right = (answers == labels) & mask
    n_lab = np.maximum(mask.sum(-1), 1)
    return float((right.sum(-1) == mask.sum(-1)).mean()), float((right.sum(-1) / n_lab).mean())


def one_pass_answers(inputs: np.ndarray, family: str) -> np.ndarray | None:
    """The answer of the no-reasoning baseline, as tokens [N, L]: Sudoku fills the blanks with exactly one
    candidate once (`sudoku.one_pass_baseline`), a maze is copied unchanged: the family's `one_pass_answers`; None
    for other families."""
    answers = capability(family, "one_pass_answers")
    return None if answers is None else answers(inputs)


def one_pass_baseline(pred: Predictions, ds) -> dict[str, float]:
    answers = one_pass_answers(pred.inputs, ds.meta.family)
    if answers is None:
        return {}
    exact, token = _scores(answers, pred.labels, ds.meta.ignore_label_id)
    return {"baseline_one_pass_exact_accuracy": exact, "baseline_one_pass_token_accuracy": token}


def untrained_baseline(config, ds, *, seed: int, device, batch_size: int, max_batches: int | None,
                       steps: int | None) -> dict[str, float]:
    """The same architecture with fresh weights (torch seeded with `seed`), evaluated like the model: what the
    training added. The global torch RNG is restored afterwards."""
    from hrmkit.models import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(config)
    model.to(device).eval()
    pred = predict(model, ds, batch_size=batch_size, max_batches=max_batches, steps=steps)
    return {"baseline_untrained_exact_accuracy": float(pred.correct[:, -1].mean()),
            "baseline_untrained_token_accuracy": float(pred.token_acc[:, -1].mean())}


# ---------------------------------------------------------------------------------------------------- voting
def vote(candidates: list[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, int, float]]:
    """Rank distinct answers: most votes first, ties by higher mean q_halt. Returns (grid, votes, mean q)."""
    tally: dict[bytes, list] = {}
    for grid, q in candidates:
        key = repr(grid.shape).encode() + grid.astype(np.uint8).tobytes()
        if key not in tally:
            tally[key] = [grid, 0, 0.0]
        tally[key][1] += 1
        tally[key][2] += float(q)
    ranked = [(g, c, s / c) for g, c, s in tally.values()]
    ranked.sort(key=lambda t: (t[1], t[2]), reverse=True)
    return ranked


def arc_vote(pred: Predictions, ds, augmentations: list, ks=(1, 2, 10)) -> tuple[dict[str, float], dict]:
    """ARC scoring: map every augmented copy's answer back, vote per (task, test output), pass@K per task.

    Returns the metrics and the ARC Prize submission {task: [{"attempt_1": grid, "attempt_2": grid}, ...]}.
    """
    from hrmkit.puzzles import arc

    cands: dict[tuple[str, int], list] = defaultdict(list)
    truth: dict[tuple[str, int], np.ndarray | None] = {}
    puzzle = ds.example_puzzle[pred.index]
    for n in range(len(pred.index)):
        entry = augmentations[int(pred.puzzle_ids[n])]
        if entry is None:
            continue
        inv = arc.Augmentation(int(entry["inverse_dihedral"]), tuple(entry["inverse_colors"]))
        key = (entry["task"], int(pred.index[n] - ds.puzzle_indices[puzzle[n]]))
        grid = arc.from_tokens(pred.pred[n])
        if grid is not None:
            cands[key].append((inv.apply(grid), pred.q_halt[n, -1]))
        if key not in truth or truth[key] is None:
            label = arc.from_tokens(pred.labels[n], strict=True)
            truth[key] = None if label is None else inv.apply(label)
    tasks: dict[str, list[int]] = defaultdict(list)
    for task, i in truth:
        tasks[task].append(i)
    ranked = {key: vote(cands.get(key, [])) for key in truth}
    m: dict[str, float] = {"arc_tasks": len(tasks), "arc_test_outputs": len(truth)}
    for k in ks:
        hit = {key: truth[key] is not None and any(np.array_equal(g, truth[key]) for g, _, _ in ranked[key][:k])
               for key in truth}
        m[f"arc_pass@{k}"] = float(np.mean([all(hit[(t, i)] for i in idx) for t, idx in tasks.items()]))
        if k == 2:
            m["arc_pass@2_per_output"] = float(np.mean([np.mean([hit[(t, i)] for i in idx])
                                                       for t, idx in tasks.items()]))
    submission = {}
    for task, idx in sorted(tasks.items()):
        attempts = []
        for i in sorted(idx):
            top = [g.tolist() for g, _, _ in ranked[(task, i)][:2]] or [[[0]]]
            attempts.append({"attempt_1": top[0], "attempt_2": top[1] if len(top) > 1 else top[0]})
        submission[task] = attempts
    return m, submission


# ---------------------------------------------------------------------------------------------------- TTA
def _listed(names) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = list(names)
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def _tta_transforms(family: str, k: int, seed: int, seq_len: int):
    """k (forward, inverse) token maps, the identity first, then the family's `tta_transforms`: Sudoku symmetry
    group, maze dihedral transforms."""
    rng = np.random.default_rng(seed)
    out = [(lambda t: t, lambda t: t)]
    transforms = capability(family, "tta_transforms")
    if transforms is None:
        able = _listed(m.NAME for m in with_capability("tta_transforms"))
        raise HrmkitError(f"--tta: test-time augmentation is for {able} data, not {family}")
    return out + transforms(rng, k - 1, seq_len)


def tta_accuracy(model, ds, k: int, *, batch_size: int, max_batches: int | None, seed: int = 0) -> dict[str, float]:
    """Vote over k symmetric copies of each puzzle (answers mapped back; ties by mean q_halt)."""
    runs = [predict(model, ds, batch_size=batch_size, max_batches=max_batches, transform=tr)
            for tr in _tta_transforms(ds.meta.family, k, seed, ds.meta.seq_len)]
    mask = runs[0].labels != ds.meta.ignore_label_id
    right = 0
    for n in range(len(runs[0].index)):
        best = vote([(r.pred[n], r.q_halt[n, -1]) for r in runs])[0][0]
        right += bool(((best == runs[0].labels[n]) | ~mask[n]).all())
    return {"tta_copies": k, "tta_exact_accuracy": right / len(runs[0].index)}


def _view_records(pred: Predictions, ds):
    """The puzzles of the evaluated examples as `hrmkit solve` reads them (Records with Sudoku / maze grids)."""
    from hrmkit.puzzles import Record
    from hrmkit.puzzles import family as family_module

    module = family_module(ds.meta.family)
    return [Record(int(index), 0, "", module.view_puzzle(pred.inputs[n], ds.meta.grid))
            for n, index in enumerate(pred.index.tolist())]


def check_views(family: str, views: int, seed: int, halt_on: str | None) -> None:
    """Raise when --views/--halt-on cannot run on this data (ARC, a maze with > 8 views, a bad mode or seed)."""
    from hrmkit.solve import check_halt_on, puzzle_views, view_families

    if family not in view_families():
        raise HrmkitError(f"--views/--halt-on: test-time scaling is for {_listed(view_families())} data, not {family}"
                          + (" (ARC's augmentation vote is arc_pass@K)"
                             if capability(family, "VOTES_OVER_AUGMENTATIONS", False) else ""))
    check_halt_on(halt_on)
    puzzle_views(family, views, seed)


def views_accuracy(model, pred: Predictions, ds, views: int, *, batch_size: int, steps: int | None = None,
                   seed: int = 0, halt_on: str | None = None) -> dict[str, float]:
    """Test-time scaling as `hrmkit solve --views K` does it, on the examples of `pred` (see the module docstring:
    views, views_exact_accuracy, views_verified, segments_per_puzzle, views_per_puzzle). Halting: `steps`
    fixed segments (eval's own rule) unless `halt_on` (q | verified | either) is given."""
    from hrmkit.puzzles import family as family_module
    from hrmkit.solve import _solve_grids

    family = ds.meta.family
    check_views(family, views, seed, halt_on)
    module = family_module(family)
    results = _solve_grids(_view_records(pred, ds), module, model, halt_on=halt_on or "q", views=views, seed=seed,
                           batch_size=batch_size, max_steps=steps, fixed_steps=halt_on is None, trace=False,
                           halt_threshold=None)
    mask = pred.labels != ds.meta.ignore_label_id
    right = 0
    for n, res in enumerate(results):
        answer = res.solution
        tokens = module.answer_tokens(answer, pred.labels.shape[1])
        right += bool(((tokens == pred.labels[n]) | ~mask[n]).all())
    n = len(results)
    return {"views": views, "views_exact_accuracy": right / n,
            "views_verified": sum(r.verified for r in results) / n,
            "segments_per_puzzle": float(np.mean([r.segments for r in results])),
            "views_per_puzzle": float(np.mean([r.views for r in results]))}


# ---------------------------------------------------------------------------------------------------- plots
# The PNGs `eval` draws, in OUT/PLOTS_DIR: the one place their names are written. The DVC pipelines declare the
# folder as the evaluate stage's plots, not the files (a family without difficulty groups has no difficulty plot).
PLOTS_DIR = "plots"
SEGMENTS_PLOT = "accuracy_per_segment.png"
HALTING_PLOT = "act_steps_histogram.png"
DIFFICULTY_PLOT = "accuracy_by_difficulty.png"
CALIBRATION_PLOT = "q_halt_calibration.png"
PLOT_FILES = (SEGMENTS_PLOT, HALTING_PLOT, DIFFICULTY_PLOT, CALIBRATION_PLOT)


def plots(pred: Predictions, m: dict[str, float], ds, out: Path) -> list[Path]:
    """Draw PLOT_FILES into out/PLOTS_DIR (the difficulty plot only when the family has difficulty groups)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []

    from hrmkit.atomic import atomic_path

    def save(fig, name):
        path = out / PLOTS_DIR / name
        fig.tight_layout()
        try:
            with atomic_path(path, root=out, replace=True) as tmp:  # never a 0-byte PNG on a full disk
                fig.savefig(tmp, dpi=100, format="png")
        finally:
            plt.close(fig)
        files.append(path)

    S = pred.correct.shape[1]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(range(1, S + 1), pred.correct.mean(0), marker="o", label="exact")
    ax.plot(range(1, S + 1), pred.token_acc.mean(0), marker=".", label="token")
    ax.set(xlabel="segment (ACT step)", ylabel="accuracy", ylim=(0, 1), title="accuracy after each segment")
    ax.legend()
    save(fig, SEGMENTS_PLOT)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(pred.halt_step, bins=np.arange(0.5, S + 1.5))
    ax.set(xlabel="halting segment", ylabel="puzzles", title=f"ACT steps (mean {m['act_steps']:.2f})")
    save(fig, HALTING_PLOT)

    groups = difficulty(pred, ds)
    if groups:
        fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.5), squeeze=False)
        for ax, (name, buckets) in zip(axes[0], groups.items()):
            ax.bar([b for b, _ in buckets], [pred.correct[s, -1].mean() for _, s in buckets])
            ax.set(xlabel=name, ylabel="exact accuracy", ylim=(0, 1), title=f"accuracy by {name}")
        save(fig, DIFFICULTY_PLOT)

    _, table = calibration(1 / (1 + np.exp(-pred.q_halt.astype(np.float64))), pred.correct)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], color="grey", lw=1)
    ax.plot([t["confidence"] for t in table], [t["accuracy"] for t in table], marker="o")
    ax.set(xlabel="sigmoid(q_halt)", ylabel="fraction right", xlim=(0, 1), ylim=(0, 1),
           title=f"Q-halt calibration (ECE {m['q_halt_ece']:.3f})")
    save(fig, CALIBRATION_PLOT)
    return files


# ---------------------------------------------------------------------------------------------------- entry points
def evaluate_split(model, data, *, split: str = "test", batch_size: int = 256, max_batches: int | None = None,
                   steps: int | None = None) -> dict[str, float]:
    """Metrics of `model` on one split of the data set folder `data` (used during training too)."""
    from hrmkit.data.loader import PuzzleDataset

    ds = PuzzleDataset(data, split)
    return metrics(predict(model, ds, batch_size=batch_size, max_batches=max_batches, steps=steps), ds)


def _write_json(path: Path, obj) -> None:
    from hrmkit.atomic import write_json

    write_json(path, obj, root=path.parent, replace=True)


def evaluate_run(run, data, out, *, split: str = "test", batch_size: int = 256, max_batches: int | None = None,
                 steps: int | None = None, tta: int = 0, weights: str = "auto", device: str = "auto",
                 seed: int = 0, baselines: bool | None = None, views: int = 1,
                 halt_on: str | None = None) -> dict[str, float]:
    """Evaluate the model folder `run` on `data`; write metrics.json, the PNG plots (PLOTS_DIR/PLOT_FILES) and
    ARC's submission.json into `out`.

    weights: auto (EMA weights when the run has ema.safetensors), ema, or raw (model.safetensors).
    baselines: also evaluate the untrained model (seeded with `seed`); None = for Sudoku and mazes only (ARC
    evaluations are long). The one-pass baseline and the difficulty summary are cheap and always there.
    views, halt_on: the test-time scaling pass (`views_accuracy`), run when views > 1 or halt_on is given.
    """
    from safetensors.torch import load_file

    from hrmkit.api import load
    from hrmkit.data.format import open_dataset
    from hrmkit.data.loader import PuzzleDataset
    from hrmkit.models.base import load_state

    from hrmkit.api import resolve_device
    from hrmkit.atomic import check_target, check_writable

    run, out = Path(run), Path(out)
    device = resolve_device(device)
    check_writable(out, folder=True)  # before the evaluation: a read-only, full or file --out is said now
    for name in ("metrics.json", "submission.json", *(f"{PLOTS_DIR}/{f}" for f in PLOT_FILES)):
        check_target(out / name, root=out, replace=True)  # no symbolic link to write through
    model = load(run, device=device)
    ema_file = run / "ema.safetensors"
    if weights == "ema" and not ema_file.is_file():
        raise HrmkitError(f"{ema_file}: not found (the run was trained without EMA); use --weights raw")
    if weights not in ("auto", "ema", "raw"):
        raise HrmkitError(f"--weights must be auto, ema or raw, got {weights!r}")
    use_ema = weights == "ema" or (weights == "auto" and ema_file.is_file())
    if use_ema:
        load_state(model, load_file(str(ema_file)), source=str(ema_file))
        model.to(device).eval()
    dataset = open_dataset(data)
    ds = PuzzleDataset(dataset.split(split))
    cfg = model.config
    for key in ("vocab_size",) if cfg.any_size else ("seq_len", "vocab_size"):  # any size: any square grid
        if getattr(cfg, key) != getattr(ds.meta, key):
            raise HrmkitError(f"{data}: {key}={getattr(ds.meta, key)} but the model in {run} has "
                              f"{key}={getattr(cfg, key)}")
    if ds.meta.num_puzzle_identifiers > cfg.num_puzzle_identifiers:
        raise HrmkitError(f"{data}: {ds.meta.num_puzzle_identifiers} puzzle identifiers, the model knows "
                          f"{cfg.num_puzzle_identifiers}")
    scaling = views != 1 or halt_on is not None
    if scaling:  # a bad --views/--halt-on for this data is said before the evaluation
        check_views(ds.meta.family, views, seed, halt_on)

    pred = predict(model, ds, batch_size=batch_size, max_batches=max_batches, steps=steps)
    m = metrics(pred, ds)
    m["weights_ema"] = int(use_ema)
    m.update(difficulty_summary(pred, ds))
    m.update(one_pass_baseline(pred, ds))
    if baselines is None:
        baselines = bool(capability(ds.meta.family, "DEFAULT_BASELINES", False))
    if baselines:
        m.update(untrained_baseline(cfg, ds, seed=seed, device=device, batch_size=batch_size,
                                    max_batches=max_batches, steps=steps))
    submission = None
    if capability(ds.meta.family, "VOTES_OVER_AUGMENTATIONS", False):
        from hrmkit.data.arc_recipe import records_from_names

        augs = dataset.extra.get("augmentations") or records_from_names(dataset.identifiers)
        if augs is not None:
            arc_m, submission = arc_vote(pred, ds, augs)
            m.update(arc_m)
    if tta > 1:
        m.update(tta_accuracy(model, ds, tta, batch_size=batch_size, max_batches=max_batches, seed=seed))
    if scaling:
        m.update(views_accuracy(model, pred, ds, views, batch_size=batch_size, steps=steps, seed=seed,
                                halt_on=halt_on))
    plots(pred, m, ds, out)
    if submission is not None:
        _write_json(out / "submission.json", submission)
    _write_json(out / "metrics.json", m)
    return m
