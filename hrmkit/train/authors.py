"""The HRM authors' training config (all_config.yaml: their pretrain.py PretrainConfig) read as an hrmkit run.

`hrmkit train --config all_config.yaml` takes the file as their code wrote it. Every top-level key is in one
of the tables below: trained under its hrmkit name (TRAIN_FIELDS), read for what it sets (`arch`, `data_path`,
`eval_interval`), or accepted and ignored because it does not change the weights (IGNORED, reported as a note);
any other key is refused by name. The `arch:` section goes through the checkpoint converter's field map
(hrmkit.zoo.official.read_arch), its `loss:` subsection picks the loss.

Such a run follows the authors' semantics: their batch order (`sampler: authors`, iterations of eval_interval
epochs, or all epochs when it is null), Adam-atan2 rounded as their CUDA kernel (`adam_rounding: kernel`), their
step count and cosine schedule (hrmkit.train.loop.total_steps, hrmkit.train.schedule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hrmkit.errors import HrmkitError

# their PretrainConfig field -> TrainConfig field
TRAIN_FIELDS = {
    "lr": "lr", "lr_min_ratio": "lr_min_ratio", "lr_warmup_steps": "warmup_steps", "beta1": "beta1",
    "beta2": "beta2", "weight_decay": "weight_decay", "puzzle_emb_lr": "puzzle_emb_lr",
    "puzzle_emb_weight_decay": "puzzle_emb_weight_decay", "global_batch_size": "global_batch_size",
    "epochs": "epochs", "seed": "seed",
}
# names, output paths and evaluation outputs: nothing a training step computes depends on them
IGNORED = ("project_name", "run_name", "checkpoint_path", "checkpoint_every_eval", "eval_save_outputs")
READ = ("arch", "data_path", "eval_interval")
LOSS_HEAD = "losses@ACTLossHead"
LOSS_TYPES = {"stablemax_cross_entropy": "stablemax", "softmax_cross_entropy": "softmax"}


@dataclass
class AuthorsConfig:
    train: dict[str, Any]  # TrainConfig fields
    model: dict[str, Any]  # model config fields, with `arch`
    data_path: str | None
    ignored: list[str] = field(default_factory=list)


def is_authors_config(data: Any) -> bool:
    """The authors' files have an `arch:` mapping with a `name`; hrmkit's have `model:` / `preset:`."""
    return isinstance(data, dict) and isinstance(data.get("arch"), dict) and "name" in data["arch"]


def read_authors_config(data: dict[str, Any], path: str | Path) -> AuthorsConfig:
    """Translate the parsed all_config.yaml at `path` (see the module docstring)."""
    from hrmkit.models.config import FORWARD_DTYPES
    from hrmkit.zoo.official import ARCH_NAME, read_arch

    unknown = [k for k in data if k not in TRAIN_FIELDS and k not in IGNORED and k not in READ]
    if unknown:
        raise HrmkitError(f"{path}: unknown field(s) {', '.join(unknown)} (not in the HRM authors' PretrainConfig "
                          f"as hrmkit.train.authors reads it)")
    name, model = read_arch(path)
    if name != ARCH_NAME:
        raise HrmkitError(f"{path}: arch.name {name!r}: training from the authors' config follows HRM's "
                          f"pretrain.py; only {ARCH_NAME!r} is supported")
    arch = data["arch"]
    loss = arch.get("loss") or {}
    if not isinstance(loss, dict) or loss.get("name") != LOSS_HEAD:
        raise HrmkitError(f"{path}: arch.loss.name must be {LOSS_HEAD!r}, got {loss.get('name') if isinstance(loss, dict) else loss!r}")
    extra = [k for k in loss if k not in ("name", "loss_type")]
    if extra:
        raise HrmkitError(f"{path}: unknown field(s) arch.loss.{', arch.loss.'.join(extra)}")
    loss_type = loss.get("loss_type")
    if loss_type not in LOSS_TYPES:
        raise HrmkitError(f"{path}: arch.loss.loss_type must be one of {', '.join(LOSS_TYPES)}, got {loss_type!r}")
    dtype = arch.get("forward_dtype")
    if dtype is not None:
        if dtype not in FORWARD_DTYPES:
            raise HrmkitError(f"{path}: arch.forward_dtype must be one of {', '.join(FORWARD_DTYPES)}, got {dtype!r}")
        model["forward_dtype"] = dtype
    model["arch"] = "hrm_act_v1"

    train: dict[str, Any] = {TRAIN_FIELDS[k]: v for k, v in data.items() if k in TRAIN_FIELDS}
    for key in ("epochs", "global_batch_size", "lr_warmup_steps"):
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], (int, float))):
            raise HrmkitError(f"{path}: {key} must be a number, got {data[key]!r}")
    if "warmup_steps" in train:
        train["warmup_steps"] = round(train["warmup_steps"])  # as their compute_lr does
    epochs, interval = data.get("epochs"), data.get("eval_interval")
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise HrmkitError(f"{path}: eval_interval must be a positive whole number of epochs or null, got {interval!r}")
        if isinstance(epochs, int) and epochs % interval:
            raise HrmkitError(f"{path}: eval_interval {interval} must divide epochs {epochs} (as pretrain.py asserts)")
        train["epochs_per_iter"] = interval
    train.update(loss=LOSS_TYPES[loss_type], sampler="authors", adam_rounding="kernel")
    data_path = data.get("data_path")
    return AuthorsConfig(train=train, model=model, data_path=None if data_path is None else str(data_path),
                         ignored=[k for k in data if k in IGNORED])
