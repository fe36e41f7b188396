"""Builders shared by several test modules (imported as `_helpers`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


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
