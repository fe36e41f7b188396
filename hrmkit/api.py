"""`hrmkit.load`: a model from a local folder or a zoo name, ready for `trace`."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from hrmkit.errors import HrmkitError
from hrmkit.models import PretrainedModel, from_pretrained


def resolve_device(spec: str | torch.device | None, option: str = "--device") -> torch.device:
    """auto | cpu | cuda | cuda:N (or a torch.device) -> a device this build and machine have; else one clear
    error naming the setting (an unknown name, CUDA on a CPU-only build or without a GPU, a missing index)."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = (spec or "auto").strip()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError):
        raise HrmkitError(f"{option} {spec!r}: unknown device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise HrmkitError(f"{option} {spec!r}: unsupported device type {dev.type!r}; use auto, cpu, cuda or cuda:N")
    if torch.version.cuda is None:
        raise HrmkitError(f"{option} {spec}: this torch ({torch.__version__}) is a CPU-only build; use --device cpu "
                          f"(or install a CUDA build of torch)")
    if not torch.cuda.is_available():
        raise HrmkitError(f"{option} {spec}: no CUDA GPU is visible (driver missing or CUDA_VISIBLE_DEVICES empty); "
                          f"use --device cpu")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise HrmkitError(f"{option} {spec}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                          f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1})")
    return dev


def load(path_or_name: str | Path, device: str | torch.device = "cpu") -> PretrainedModel:
    """A model in eval mode with `.config`, from a folder (model.safetensors + config.json) or a zoo name.

    An existing directory is read directly; anything else is resolved to a folder by `hrmkit.zoo.resolve(name)`
    (local cache first, then the Hub). Authors' checkpoints are converted first: `hrmkit convert official`.
    """
    device = resolve_device(device, option="device")
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
