"""Checks `hrmkit train` makes before step 1, so that a wrong input is one error line instead of a crash (or a
silently wrong run) minutes later.

- ``check_out``: the run folder is writable (a probe file, before any data is read) and is not a model folder of
  something else: a folder holding model files (``config.json``, ``model.safetensors`` ...) but neither a
  ``train_config.json`` nor a checkpoint (a converted or pulled model) is replaced only with ``--overwrite``,
  and even then only the files training writes are replaced; nothing else in it is deleted.
- ``data_identity``: what identifies a data set: the sha256 of its provenance's ``outputs`` (the sha256 of every
  file `hrmkit data build` wrote), or for a folder of the authors' scripts (no provenance) a sha256 over each
  split's ``dataset.json`` bytes and, per array, its size and the bytes of its first and last MiB. A run records
  it in ``train_config.json``; ``--resume`` refuses a ``--data`` whose identity differs.
- ``check_family``: a preset made for one family (``paper-sudoku``, ``trm-maze``, ``demo`` with its Sudoku
  priors ...) is refused on a data set of another; generic presets (``tiny``) train on any data.
- ``check_tokens``: every token of every split is inside the model's vocabulary (labels may also hold the
  data set's ignore_label_id); the first bad one is named by split, row and position.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from hrmkit.errors import HrmkitError

# what a training run writes at the top of its folder (a folder with these and no run marks is someone else's)
MODEL_FILES = ("model.safetensors", "config.json", "ema.safetensors")


def __getattr__(name: str):
    if name == "_FAMILIES":  # the registered families (hrmkit.puzzles.FAMILIES)
        from hrmkit import puzzles

        return puzzles.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_run(run: Path) -> bool:
    from hrmkit.train import checkpoint
    from hrmkit.train.loop import TRAIN_CONFIG

    return (run / TRAIN_CONFIG).is_file() or checkpoint.find(run) is not None


def check_out(run: Path, *, overwrite: bool) -> bool:
    """Refuse an --out that is a file or a foreign model folder; probe that it is writable. Returns whether
    the folder existed before (a folder this command created is removed again if training fails early)."""
    from hrmkit.atomic import check_writable

    run = Path(run)
    existed = run.exists() or run.is_symlink()
    if existed and run.is_dir() and not is_run(run):
        found = [name for name in MODEL_FILES if (run / name).exists()]
        if found and not overwrite:
            raise HrmkitError(f"{run}: holds a model ({', '.join(found)}) that is not a training run (no "
                              f"train_config.json, no checkpoint); pass --overwrite to replace its model files, "
                              f"or choose another --out")
    try:
        check_writable(run, folder=True)
    except BaseException:
        if not existed:
            remove_created(run)
        raise
    return existed


def remove_created(run: Path) -> None:
    """Remove a run folder this command created (and nothing else: a link is left alone)."""
    run = Path(run)
    if run.is_dir() and not run.is_symlink():
        shutil.rmtree(run, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- data identity
_EDGE = 1 << 20


def _edges_digest(path: Path) -> str:
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(_EDGE))
        if size > 2 * _EDGE:
            f.seek(size - _EDGE)
            h.update(f.read(_EDGE))
        elif size > _EDGE:
            h.update(f.read())
    return h.hexdigest()


def data_identity(path: str | Path) -> dict[str, Any]:
    """{"sha256": ..., "from": "provenance outputs" | "authors' files", "family": ...} of a data set folder."""
    from hrmkit.data.format import SPLITS, open_dataset

    path = Path(path)
    ds = open_dataset(path)
    outputs = ds.provenance.get("outputs")
    if isinstance(outputs, dict) and outputs:
        digest = hashlib.sha256(json.dumps(outputs, sort_keys=True).encode()).hexdigest()
        return {"sha256": digest, "from": "provenance outputs", "family": ds.family}
    h = hashlib.sha256()
    for split in SPLITS:
        folder = path / split
        if not (folder / "dataset.json").is_file():
            continue
        h.update(f"{split}/dataset.json\0".encode())
        h.update((folder / "dataset.json").read_bytes())
        for array in sorted(folder.glob("*.npy")):
            h.update(f"{split}/{array.name}\0{_edges_digest(array)}".encode())
    return {"sha256": h.hexdigest(), "from": "authors' files", "family": ds.family}


def check_same_data(saved: dict, data: str | Path, run: Path) -> None:
    """--resume: the data set is the one the run started on (runs saved before identities were recorded: no check)."""
    recorded = saved.get("data_identity")
    if not recorded:
        return
    now = data_identity(data)
    if now["sha256"] != recorded["sha256"]:
        kind = "" if now.get("family") == recorded.get("family") else \
            f" (a {now.get('family')} set; the run trains on {recorded.get('family')})"
        raise HrmkitError(f"--resume: --data {data} is not the data set {run} started on ({saved.get('data')}): "
                          f"sha256 {now['sha256'][:12]}... of its {now['from']}{kind}, the run recorded "
                          f"{recorded['sha256'][:12]}...; resume with the original data or start a new --out")


# ---------------------------------------------------------------------------------------------- preset family
def preset_family(preset: str | None, overrides: dict[str, Any]) -> str | None:
    """The family a preset (with the run's model overrides) is made for, or None for a generic one."""
    from hrmkit.models.config import PRESETS
    from hrmkit.models.structure import NO_STRUCTURE, implied_structures

    fields = dict(PRESETS.get(preset or "", {}), **overrides)
    # a structural prior indexes the positions of its family's puzzles (`structure`, or a first spelling of it)
    structure = fields.get("structure", NO_STRUCTURE)
    if structure != NO_STRUCTURE:
        return structure
    implied = implied_structures(fields)
    if implied:
        return next(iter(implied))
    from hrmkit import puzzles

    for family in puzzles.names():
        if preset and family in preset.split("-"):
            return family
    return None


def check_family(preset: str | None, overrides: dict[str, Any], data_family: str, data: str | Path) -> None:
    family = preset_family(preset, overrides)
    if family is not None and data_family and family != data_family:
        what = f"preset {preset!r}" if preset else "the model config"
        raise HrmkitError(f"{what} is made for {family}, but --data {data} is a {data_family} data set; pick a "
                          f"{data_family} preset (or a generic one such as 'tiny')")


# ---------------------------------------------------------------------------------------------- tokens
_ROWS = 1 << 16


def check_tokens(data: str | Path, vocab_size: int) -> None:
    """Every split's inputs and labels are token ids in [0, vocab_size) (labels may hold ignore_label_id)."""
    from hrmkit.data.format import open_dataset

    ds = open_dataset(data)
    for name, split in ds.splits.items():
        ignore = split.meta.ignore_label_id
        for field in ("inputs", "labels"):
            a = getattr(split.arrays, field)
            for lo in range(0, len(a), _ROWS):
                chunk = np.asarray(a[lo:lo + _ROWS])
                if chunk.size == 0 or (chunk.min() >= 0 and chunk.max() < vocab_size):
                    continue  # the usual case: one pass over the native dtype (a few GB/s)
                chunk = chunk.reshape(len(chunk), -1).astype(np.int64)
                bad = (chunk < 0) | (chunk >= vocab_size)
                if field == "labels" and ignore is not None:
                    bad &= chunk != ignore
                if bad.any():
                    row, col = (int(x[0]) for x in np.nonzero(bad))
                    raise HrmkitError(f"{data}: {name} {field} row {lo + row} holds token {int(chunk[row, col])} at "
                                      f"position {col}, outside the model's vocabulary [0, {vocab_size}); "
                                      f"`hrmkit data validate {data}` lists every such row")
