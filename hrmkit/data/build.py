"""Build a data set: read the sources, split, subsample, solve what lacks answers, augment, write atomically.

One recipe per family (``build_sudoku``, ``build_maze``, ``build_arc`` in ``hrmkit.data.arc_recipe``; the family
module names its own, ``RECIPE``, see ``hrmkit.puzzles``), all following the same order so that a bad source fails before anything is written:

1. resolve and read every source (hub download, files, generator); any bad entry raises ``FILE:LINE: ...``;
2. choose the test puzzles (``--test-source``, or a seeded ``--test-fraction`` of the source, or the hub
   repo's own test.csv) and a seeded ``--subsample`` of the training pool;
3. solve (and rate) puzzles that came without answers with the family's exact solver;
4. augment training bases (``--augment K`` copies each); test puzzles are never augmented;
5. write into a temporary folder and rename (``hrmkit.data.format``), with the provenance.

A recipe hands its splits over in memory (``SplitArrays``), or, when they are too big for that (ARC with
``--augment 1000`` is ~4 million 900-token examples), as ``SplitPlan``s and a ``fill`` function that encodes the
examples into the writer chunk by chunk, so that memory stays bounded whatever the size.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from hrmkit import __version__, puzzles
from hrmkit.data import sources as src
from hrmkit.data.format import (BLANK_IDENTIFIER, Family, RowWriter, SplitArrays, SplitPlan, check_output,
                                 write_dataset)
from hrmkit.errors import HrmkitError, where



def __getattr__(name: str):
    if name == "TASKS":  # the tasks `data build` knows: the registered families (hrmkit.puzzles.FAMILIES)
        return puzzles.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class BuildParams:
    """Every build parameter; all of them are recorded in the provenance."""

    source: list[str]
    test_source: str | None = None
    test_fraction: float | None = None
    subsample: int | None = None
    test_subsample: int | None = None
    augment: int = 0
    seed: int = 0
    count: int | None = None  # `generate`: training puzzles to generate
    test_count: int | None = None  # `generate` as test source: test puzzles to generate
    leak_check: bool = True  # Sudoku: drop training puzzles equivalent (up to symmetry) to a test puzzle
    family_options: dict = field(default_factory=dict)  # sudoku: givens, rating, minimal, test_*; maze: size, ...

    def check(self, task: str) -> None:
        tasks = puzzles.names()
        if task not in tasks:
            raise HrmkitError(f"unknown task {task!r}; choose one of: {', '.join(tasks)}")
        if not self.source:
            raise HrmkitError("--source is required")
        if not puzzles.family(task).MULTIPLE_SOURCES and len(self.source) != 1:
            raise HrmkitError(f"{task}: give one --source (got {len(self.source)})")
        if self.test_fraction is not None and not 0.0 < self.test_fraction < 1.0:
            raise HrmkitError(f"--test-fraction must be between 0 and 1, got {self.test_fraction}")
        if self.test_fraction is not None and self.test_source:
            raise HrmkitError("give either --test-source or --test-fraction, not both")
        for name in ("subsample", "test_subsample", "count", "test_count"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise HrmkitError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.augment < 0:
            raise HrmkitError(f"--augment must be >= 0, got {self.augment}")


Log = Callable[[str], None]


def parse_range(text: str | None, name: str):
    """The value of option --``name``: '17' -> 17, '17-30' -> (17, 30); None stays None."""
    if text is None:
        return None
    try:
        lo, sep, hi = text.partition("-")
        return (int(lo), int(hi)) if sep else int(lo)
    except ValueError:
        raise HrmkitError(f"--{name} {text!r}: expected N or MIN-MAX") from None


def guesses_band(rating: str | None, lo: int | None, hi: int | None, prefix: str):
    """The band of solver guesses (min, max or None) from --rating MIN-MAX or --min-guesses / --max-guesses."""
    if rating is not None:
        if lo is not None or hi is not None:
            raise HrmkitError(f"--rating {rating} and --min-guesses/--max-guesses: --rating MIN-MAX is "
                              f"--min-guesses MIN --max-guesses MAX; give one of the two spellings")
        band = parse_range(rating, "rating")
        lo, hi = (band, band) if isinstance(band, int) else band
        if lo > hi:
            raise HrmkitError(f"--rating {rating}: MIN is above MAX")
    if lo is None and hi is None:
        return None
    for name, value in ((f"{prefix}min-guesses", lo), (f"{prefix}max-guesses", hi)):
        if value is not None and value < 0:
            raise HrmkitError(f"--{name} must be >= 0, got {value}")
    if lo is not None and hi is not None and lo > hi:
        raise HrmkitError(f"--{prefix}min-guesses {lo} is above --{prefix}max-guesses {hi}: no puzzle fits")
    return (lo or 0, hi)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def provenance(task: str, params: BuildParams, sources: dict, extra: dict | None = None) -> dict:
    return {
        "family": task,
        "hrmkit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": params.seed,
        "parameters": asdict(params),
        "sources": sources,
        **(extra or {}),
    }


def build(task: str, out: str | Path, params: BuildParams, *, overwrite: bool = False, log: Log = _stderr) -> Path:
    """Build data set ``task`` into ``out``; returns ``out``. Raises HrmkitError before writing on bad input."""
    from hrmkit.atomic import check_writable, dir_lock

    params.check(task)
    out = Path(out)
    check_output(out, overwrite)
    check_writable(out.parent, folder=True)  # a read-only or full disk is said before the build, not after
    with dir_lock(out):  # a second build into the same --out fails at once instead of replacing this one
        check_output(out, overwrite)
        return _build_locked(task, out, params, overwrite, log)


def _build_locked(task: str, out: Path, params: BuildParams, overwrite: bool, log: Log) -> Path:
    start = time.perf_counter()
    result = puzzles.recipe(task)(params, log)
    dropped = result.stats.get("dropped_equivalent_to_test")
    if dropped:
        replaced = result.stats.get("generated_in_place_of_dropped")
        log(f"note: dropped {dropped} training puzzle{'s' * (dropped != 1)} equivalent to a test puzzle (same up to "
            f"the Sudoku symmetries; recorded as build.dropped_equivalent_to_test in provenance.json; "
            f"--no-leak-check keeps them)"
            + (f"; generated {replaced} more of the same seeded stream in their place" if replaced else ""))
    prov = provenance(task, params, result.sources, {"build": {**result.stats, "seconds": None}})

    def timed() -> dict:  # called by the writer once the arrays are written (a streamed build encodes then)
        prov["build"]["seconds"] = round(time.perf_counter() - start, 2)
        return prov

    write_dataset(out, result.family, result.splits, result.identifiers, timed if result.fill else timed(),
                  augmented=result.augmented or {"train": params.augment > 0}, extra_json=result.extra_json,
                  overwrite=overwrite, fill=result.fill)
    counts = ", ".join(f"{k}: {v.num_examples} examples / {v.num_groups} groups" for k, v in result.splits.items())
    log(f"wrote {out} ({counts}) in {time.perf_counter() - start:.1f}s")
    return out


@dataclass
class RecipeResult:
    """What a family recipe hands to the writer: the splits in memory, or their plans and the ``fill`` function
    that streams their examples into the writer (see ``hrmkit.data.format.write_dataset``)."""

    family: Family | dict[str, Family]  # a dict: per split (canvases of different sizes)
    splits: dict[str, SplitArrays] | dict[str, SplitPlan]
    sources: dict
    identifiers: list[str] = field(default_factory=lambda: [BLANK_IDENTIFIER])
    extra_json: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    augmented: dict | None = None  # split -> whether it holds augmented copies (default: train iff --augment)
    fill: Callable[[dict[str, RowWriter]], None] | None = None  # with SplitPlans: writes every example row


# ---------------------------------------------------------------------------------------- shared helpers


@dataclass
class Item:
    """One puzzle read from a source, before encoding: where it came from, the puzzle, its answer if known."""

    origin: str  # "FILE:LINE" or "generate#i", for error messages
    puzzle: object
    answer: np.ndarray | None = None
    rating: float | None = None


def generate_count(params: BuildParams, role: str) -> int:
    """How many puzzles `--source generate` makes for a role ("train" or "test"); it must be given."""
    n = params.count if role == "train" else params.test_count
    if n is None:
        raise HrmkitError(f"--source generate needs --{'count' if role == 'train' else 'test-count'} N")
    return n


def source_pools(params: BuildParams, items: Callable, rng: np.random.Generator):
    """Resolve --source / --test-source and return (source, test_source, train_pool, test_pool), split.

    ``items(source, role, params, seed_offset)`` reads one role's items. An ``hf:`` source without
    --test-source or --test-fraction brings its own test.csv; otherwise the test pool comes from --test-source
    or is cut from the training pool by ``split_pools``.
    """
    spec = params.source[0]
    hub_test = spec.startswith("hf:") and not params.test_source and params.test_fraction is None
    source = src.resolve(spec, hub_files=("train.csv", "test.csv") if hub_test else ("train.csv",))
    train_pool = items(source, "train", params, 0)
    test_pool, test_source = None, source
    if params.test_source:
        test_source = src.resolve(params.test_source, hub_files=("test.csv",))
        test_pool = items(test_source, "test", params, 1)
    elif hub_test:
        test_pool = items(source, "test", params, 1)
    train_pool, test_pool = split_pools(params, train_pool, test_pool, rng)
    return source, test_source, train_pool, test_pool


def split_pools(params: BuildParams, train_pool: list, test_pool: list | None, rng: np.random.Generator):
    """Apply --test-fraction (when no test pool came with the source), then the seeded subsamples."""
    if test_pool is None:
        if params.test_fraction is None:
            raise HrmkitError("no test split: give --test-source or --test-fraction")
        order = rng.permutation(len(train_pool))
        n_test = max(1, int(round(params.test_fraction * len(train_pool))))
        if n_test >= len(train_pool):
            raise HrmkitError(f"--test-fraction {params.test_fraction} leaves no training puzzles of {len(train_pool)}")
        test_pool = [train_pool[i] for i in np.sort(order[:n_test])]
        train_pool = [train_pool[i] for i in np.sort(order[n_test:])]
    if params.test_subsample is not None and params.test_subsample < len(test_pool):
        keep = np.sort(rng.choice(len(test_pool), params.test_subsample, replace=False))
        test_pool = [test_pool[i] for i in keep]
    return train_pool, test_pool


def subsample_order(params: BuildParams, n: int, rng: np.random.Generator) -> np.ndarray:
    """Training pool indices in the order the recipe should take them (seeded; all of them if no subsample)."""
    if params.subsample is not None and params.subsample > n:
        raise HrmkitError(f"--subsample {params.subsample} exceeds the {n} training puzzles of the source")
    return rng.permutation(n)


def groups_of(sizes: list[int] | np.ndarray) -> np.ndarray:
    """Boundaries (G + 1,) of consecutive groups of the given sizes."""
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)


def origin(path, line) -> str:
    return where(path, line)
