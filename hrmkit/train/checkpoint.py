"""Checkpoints of a run: safetensors + JSON only (never pickle), written atomically.

Layout of a run folder:

    RUN/model.safetensors, RUN/config.json   the latest weights in the Hugging Face layout (`hrmkit.load(RUN)`)
    RUN/ema.safetensors                      EMA weights (same keys) when EMA is on
    RUN/checkpoint/                          everything `--resume` needs:
        model.safetensors config.json [ema.safetensors]
        optimizer.safetensors                optimiser moments, keyed by parameter name
        rank-<r>.safetensors                 per process: RNG states (torch, cuda, numpy, python) and the ACT carry
        state.json                           step, epoch, sampler position, optimiser hyper-parameters, metrics

A checkpoint is written into RUN/.checkpoint.tmp (every file through hrmkit.atomic: fsync'ed, then renamed),
then swapped in with renames (the previous one is kept as RUN/.checkpoint.old until the swap is done, so a crash
at any point leaves one complete checkpoint). The top-level model files are then replaced one by one (os.replace
is atomic). A failed write (disk full, read-only) removes RUN/.checkpoint.tmp (`abort`). Reading names the file
that is missing or damaged (a truncated optimiser file is one error line, not a safetensors traceback).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from hrmkit.atomic import _fsync_dir, copy_file, write_text
from hrmkit.errors import HrmkitError

CKPT, TMP, OLD = "checkpoint", ".checkpoint.tmp", ".checkpoint.old"


# ---------------------------------------------------------------- nested tensors <-> flat dict (the ACT carry)
def flatten(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten dataclasses / dicts / lists / tuples / objects of tensors into {"a.b.0": tensor}."""
    out: dict[str, torch.Tensor] = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            out.update(flatten(getattr(obj, f.name), f"{prefix}{f.name}."))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{i}."))
    elif hasattr(obj, "__dict__"):
        for k, v in vars(obj).items():
            out.update(flatten(v, f"{prefix}{k}."))
    return {k.rstrip("."): v for k, v in out.items()}


def unflatten_into(template: Any, flat: dict[str, torch.Tensor], prefix: str = "") -> Any:
    """Rebuild an object shaped like `template` with its tensors taken from `flat` (inverse of `flatten`)."""
    if isinstance(template, torch.Tensor):
        key = prefix.rstrip(".")
        if key not in flat:
            raise HrmkitError(f"checkpoint: the saved ACT carry lacks '{key}' (model changed since it was saved?)")
        return flat[key].to(device=template.device, dtype=template.dtype)
    if dataclasses.is_dataclass(template):
        kw = {f.name: unflatten_into(getattr(template, f.name), flat, f"{prefix}{f.name}.")
              for f in dataclasses.fields(template)}
        return dataclasses.replace(template, **kw)
    if isinstance(template, dict):
        return {k: unflatten_into(v, flat, f"{prefix}{k}.") for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        items = [unflatten_into(v, flat, f"{prefix}{i}.") for i, v in enumerate(template)]
        return type(template)(*items) if hasattr(template, "_fields") else type(template)(items)
    if hasattr(template, "__dict__"):
        obj = object.__new__(type(template))
        for k, v in vars(template).items():
            setattr(obj, k, unflatten_into(v, flat, f"{prefix}{k}."))
        return obj
    return template


# ---------------------------------------------------------------- RNG states
def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """RNG states of torch (CPU, CUDA), numpy and python, as tensors + a JSON-able dict."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(keys.astype(np.int64))
    version, py_state, py_gauss = random.getstate()
    tensors["rng.python"] = torch.tensor(py_state, dtype=torch.int64)
    meta = dict(numpy=[name, int(pos), int(has_gauss), float(gauss)], python=[version, py_gauss])
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    name, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_gauss = meta["python"]
    random.setstate((version, tuple(int(x) for x in tensors["rng.python"].tolist()), py_gauss))


# ---------------------------------------------------------------- optimiser state keyed by parameter name
def optimizer_state(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> tuple[dict[str, torch.Tensor], list]:
    tensors: dict[str, torch.Tensor] = {}
    for p, st in optimizer.state.items():
        for k, v in st.items():
            tensors[f"{names[id(p)]}.{k}"] = v.detach() if isinstance(v, torch.Tensor) else torch.tensor(v)
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    return tensors, groups


def load_optimizer_state(optimizer: torch.optim.Optimizer, names: dict[int, str], tensors: dict, groups: list) -> None:
    for g, saved in zip(optimizer.param_groups, groups):
        g.update({k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
        for p in g["params"]:
            keys = [k for k in tensors if k.rsplit(".", 1)[0] == names[id(p)]]
            if keys:
                optimizer.state[p] = {k.rsplit(".", 1)[1]: tensors[k].to(p.device).clone() for k in keys}


# ---------------------------------------------------------------- files
def _save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict | None = None) -> None:
    from hrmkit.atomic import atomic_path, safetensors_write

    # safetensors wants contiguous, unshared CPU tensors
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path, replace=True) as tmp, safetensors_write(path):
        save_file(tensors, str(tmp), metadata={"json": json.dumps(metadata)} if metadata is not None else None)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint file's tensors; a missing or damaged file is one error naming it."""
    from safetensors import SafetensorError

    path = Path(path)
    if not path.is_file():
        raise HrmkitError(f"{path}: missing from the checkpoint")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise HrmkitError(f"{path}: not a readable safetensors file ({err}); the checkpoint is damaged "
                          f"(truncated?)") from None


def save_rank_state(run: Path, rank: int, carry: Any) -> None:
    """Every process writes its RNG states and ACT carry into the checkpoint being assembled."""
    tensors, meta = rng_state()
    tensors.update({f"carry.{k}": v for k, v in flatten(carry).items()})
    _save(tensors, Path(run) / TMP / f"rank-{rank}.safetensors", meta)


def abort(run: Path) -> None:
    """Remove a checkpoint being assembled (and top-level copies in flight) after a failed write."""
    run = Path(run)
    shutil.rmtree(run / TMP, ignore_errors=True)
    for name in ("model.safetensors", "config.json", "ema.safetensors"):
        try:
            (run / f".{name}.tmp").unlink()
        except OSError:
            pass


def begin(run: Path) -> Path:
    """Start assembling a checkpoint (main process, before the ranks write theirs)."""
    tmp = Path(run) / TMP
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def commit(
    run: Path,
    *,
    model: torch.nn.Module,
    save_model,
    ema_state: dict[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer,
    state: dict,
) -> None:
    """Main process: write weights, optimiser and state.json into the temporary folder, then swap it in."""
    run = Path(run)
    tmp = run / TMP
    save_model(tmp)  # model.safetensors + config.json
    if ema_state is not None:
        _save(ema_state, tmp / "ema.safetensors")
    names = {id(p): n for n, p in model.named_parameters()}
    opt_tensors, groups = optimizer_state(optimizer, names)
    _save(opt_tensors, tmp / "optimizer.safetensors")
    state = dict(state, optimizer_groups=groups)
    write_text(tmp / "state.json", json.dumps(state, indent=1), replace=True)
    _fsync_dir(tmp)
    ckpt, old = run / CKPT, run / OLD
    shutil.rmtree(old, ignore_errors=True)
    if ckpt.exists():
        os.replace(ckpt, old)
    os.replace(tmp, ckpt)
    shutil.rmtree(old, ignore_errors=True)
    # the user-facing copy at the top of the run folder: hard links when possible, each swapped in atomically
    for name in ("model.safetensors", "config.json", "ema.safetensors"):
        src = ckpt / name
        if not src.exists():
            continue
        part = run / f".{name}.tmp"
        part.unlink(missing_ok=True)
        try:
            os.link(src, part)
        except OSError:
            copy_file(src, run / name, replace=True)  # no hard links here: a copy, fsync'ed, renamed
            continue
        os.replace(part, run / name)


def find(run: Path) -> Path | None:
    """The complete checkpoint folder of a run (or the previous one if a crash hit mid-swap), else None."""
    for name in (CKPT, OLD):
        d = Path(run) / name
        if (d / "state.json").exists():
            return d
    return None


def load(ckpt: Path, rank: int) -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor], dict, dict]:
    """Read (state, model tensors, optimizer tensors, rank tensors, rank json) of a checkpoint folder."""
    from safetensors import safe_open

    from safetensors import SafetensorError

    ckpt = Path(ckpt)
    try:
        state = json.loads((ckpt / "state.json").read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise HrmkitError(f"{ckpt / 'state.json'}: not a readable JSON file ({err}); the checkpoint is damaged") from None
    rank_file = ckpt / f"rank-{rank}.safetensors"
    if not rank_file.exists():
        raise HrmkitError(f"{rank_file}: missing; resume with the same number of processes as the saved run")
    try:
        with safe_open(str(rank_file), framework="pt") as f:
            rank_meta = json.loads(f.metadata()["json"])
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as err:
        raise HrmkitError(f"{rank_file}: not a readable checkpoint file ({err}); the checkpoint is damaged") from None
    return (
        state,
        read_tensors(ckpt / "model.safetensors"),
        read_tensors(ckpt / "optimizer.safetensors"),
        read_tensors(rank_file),
        rank_meta,
    )
