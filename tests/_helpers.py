"""Builders and constants shared by several test modules (imported as `_helpers`: pytest puts tests/ on sys.path).

Shared fixtures live in tests/conftest.py. No test module imports another: what two of them use lives here or there.
Heavy imports (torch, hrmkit) stay inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np


def copy_model(path: Path, **over) -> Path:
    """A tiny HRM whose answer is its input, halting after one segment: attention and MLP outputs are zero, so each
    block is a norm; token embeddings are large basis vectors that dominate the initial states, and lm_head reads
    them back. `over`: config overrides (e.g. vocab_size=12, seq_len=900 for ARC)."""
    import torch

    from hrmkit.models import ModelConfig, build

    torch.manual_seed(0)
    model = build(ModelConfig.from_name("tiny", **over))
    V, D = model.config.vocab_size, model.config.hidden_size
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                p.zero_()
        model.inner.embed_tokens.embedding_weight.copy_(100 * torch.eye(V, D))
        model.inner.lm_head.weight.copy_(torch.eye(V, D))
        model.inner.q_head.weight.zero_()
        model.inner.q_head.bias.copy_(torch.tensor([5.0, -5.0]))
    model.save_pretrained(path)
    return path


def authors_copy(built: Path, out: Path) -> Path:
    """What the HRM authors' dataset scripts would have written for the examples of an hrmkit-built data set: the
    five arrays per split, dataset.json with their nine fields, identifiers.json; no provenance, no records."""
    from hrmkit.data.format import AUTHORS_FIELDS

    for split in ("train", "test"):
        (out / split).mkdir(parents=True)
        meta = json.loads((built / split / "dataset.json").read_text())
        (out / split / "dataset.json").write_text(json.dumps({k: meta[k] for k in AUTHORS_FIELDS}))
        for name in ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"):
            shutil.copyfile(built / split / f"all__{name}.npy", out / split / f"all__{name}.npy")
    shutil.copyfile(built / "identifiers.json", out / "identifiers.json")
    return out


# ---------------------------------------------------------------------------------------------- data sets
def make_dataset(out: Path, n_train: int = 48, n_test: int = 16, seed: int = 0, puzzle_ids: bool = False,
                 blank_frac: float = 0.4) -> Path:
    """A tiny Sudoku-shaped data set in the documented on-disk format: 9x9 grids, vocab 11 (0 pad, 1 blank).

    Labels are random digits; inputs show each with probability 1 - blank_frac (blank_frac 0: a copy task a
    model learns in a few steps). Each puzzle is its own group. With puzzle_ids, each has its own identifier.
    """
    from hrmkit.data.format import Family, SplitArrays, write_dataset

    rng = np.random.default_rng(seed)
    fam = Family(name="sudoku", seq_len=81, vocab_size=11, grid=(9, 9), augmentation_layout="sudoku-v1")
    splits, next_id = {}, 1
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(2, 11, size=(n, 81)).astype(np.uint8)
        inputs = np.where(rng.random((n, 81)) < blank_frac, 1, labels).astype(np.uint8)
        ids = np.arange(next_id, next_id + n) if puzzle_ids else np.zeros(n)
        next_id += n if puzzle_ids else 0
        splits[split] = SplitArrays(inputs=inputs, labels=labels, puzzle_identifiers=ids.astype(np.int32),
                                    puzzle_indices=np.arange(n + 1, dtype=np.int32),
                                    group_indices=np.arange(n + 1, dtype=np.int32))
    names = ["<blank>"] + [f"p{i}" for i in range(1, next_id)] if puzzle_ids else ["<blank>"]
    return write_dataset(out, fam, splits, names, {"family": "sudoku", "source": "test fixture"})


def maze_dataset(out: Path, n: int = 16) -> Path:
    """A maze-shaped set (30x30, vocab pad + '# SGo') in the on-disk format."""
    from hrmkit.data.format import Family, SplitArrays, write_dataset

    rng = np.random.default_rng(0)
    fam = Family(name="maze", seq_len=900, vocab_size=6, grid=(30, 30), augmentation_layout="dihedral-v1")
    splits = {}
    for split in ("train", "test"):
        labels = rng.integers(1, 6, size=(n, 900)).astype(np.uint8)
        splits[split] = SplitArrays(inputs=labels.copy(), labels=labels, puzzle_identifiers=np.zeros(n, np.int32),
                                    puzzle_indices=np.arange(n + 1, dtype=np.int32),
                                    group_indices=np.arange(n + 1, dtype=np.int32))
    return write_dataset(out, fam, splits, ["<blank>"], {"family": "maze", "source": "test fixture"})


# ---------------------------------------------------------------------------------------------- training
# a tiny HRM (hidden 32, 1+1 layers, 2 segments) trains a step in a few ms on CPU
TINY = dict(hidden_size=32, num_heads=2, halt_max_steps=2)


def tiny_config(**kw):
    """A TrainConfig for a few CPU steps of TINY (6 steps, batch 8, seed 0); `kw` overrides."""
    from hrmkit.train.config import TrainConfig

    base = dict(global_batch_size=8, steps=6, warmup_steps=2, lr=1e-3, log_every=1, seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


# ---------------------------------------------------------------------------------------------- models
def tiny_model(path: Path, seed: int = 0, **over) -> Path:
    """A tiny random HRM saved to `path` whose Q head has random weights, so that puzzles halt at different
    segments (a fresh model's Q head says "never halt"). `over`: config overrides."""
    import torch

    from hrmkit.models import ModelConfig, build

    torch.manual_seed(seed)
    model = build(ModelConfig.from_name("tiny", **over))
    with torch.no_grad():
        model.inner.q_head.weight.normal_(0, 0.5)
        model.inner.q_head.bias.zero_()
    model.save_pretrained(path)
    return path


def small(**overrides):
    """A tiny HRM (hidden 32, seed 1) in memory, to be written in the authors' format by write_official."""
    import torch

    from hrmkit.models import HRM, ModelConfig

    torch.manual_seed(1)
    return HRM(ModelConfig.from_name("tiny", hidden_size=32, **overrides))


def write_official(directory: Path, model, prefix: str = "_orig_mod.model.", arch_extra: dict | None = None,
                   state_edit=None) -> Path:
    """A checkpoint laid out as the authors' code saves it: step_N (torch.save) + all_config.yaml."""
    import torch
    import yaml

    cfg = model.config
    state = {prefix + k: v for k, v in model.state_dict().items()}
    if state_edit is not None:
        state = state_edit(state)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(state, directory / "step_10")
    arch = {"name": "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1",
            "loss": {"name": "losses@ACTLossHead", "loss_type": "stablemax_cross_entropy"},
            "H_cycles": cfg.H_cycles, "L_cycles": cfg.L_cycles, "H_layers": cfg.H_layers, "L_layers": cfg.L_layers,
            "hidden_size": cfg.hidden_size, "num_heads": cfg.num_heads, "expansion": cfg.expansion,
            "pos_encodings": cfg.pos_encodings, "puzzle_emb_ndim": cfg.puzzle_emb_ndim,
            "halt_max_steps": cfg.halt_max_steps, "halt_exploration_prob": cfg.halt_exploration_prob,
            **(arch_extra or {})}
    (directory / "all_config.yaml").write_text(yaml.safe_dump({"arch": arch, "lr": 1e-4, "seed": 0}))
    return directory / "step_10"
