"""`hrmkit.load`: a model from a local folder or a zoo name, ready for `trace`."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from hrmkit.errors import HrmkitError
from hrmkit.models import PretrainedModel, from_pretrained


def load(path_or_name: str | Path, device: str | torch.device = "cpu") -> PretrainedModel:
    """A model in eval mode with `.config`, from a folder (model.safetensors + config.json) or a zoo name.

    An existing directory is read directly; anything else is resolved to a folder by `hrmkit.zoo.resolve(name)`
    (local cache first, then the Hub). Authors' checkpoints are converted first: `hrmkit convert official`.
    """
    path = Path(path_or_name)
    if path.is_dir():
        return from_pretrained(path, device=device)
    if path.is_file():
        raise HrmkitError(f"{path}: is a file; hrmkit.load takes a model folder (config.json + model.safetensors) "
                          f"or a zoo name. An HRM authors' checkpoint converts with `hrmkit convert official {path} "
                          f"--out DIR`")
    try:
        resolve = importlib.import_module("hrmkit.zoo").resolve
    except (ImportError, AttributeError):
        raise HrmkitError(f"{path_or_name}: no such model folder, and zoo names cannot be resolved in this version "
                          f"(hrmkit.zoo.resolve is missing)") from None
    return from_pretrained(resolve(str(path_or_name)), device=device)
