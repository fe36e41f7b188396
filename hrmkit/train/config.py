"""The training configuration: every hyper-parameter of the HRM/TRM recipes as one dataclass.

Precedence (later wins): the training preset named like the model preset < `--config FILE[:section]` (YAML,
e.g. a DVC params.yaml section) < `key=value` arguments < explicit flags (--steps, --epochs, --seed).
A `key=value` names a TrainConfig field or a model config field (`model.` / `train.` prefixes disambiguate).
The HRM authors' all_config.yaml is read as they wrote it (hrmkit.train.authors), in place of an hrmkit file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from hrmkit.errors import HrmkitError, where
from hrmkit.fields import coerce_fields, from_mapping

LOSSES = ("stablemax", "softmax")
SAMPLERS = ("hrmkit", "authors")  # hrmkit.data.loader.BatchSampler | AuthorsSampler
ADAM_ROUNDINGS = ("torch", "kernel")  # hrmkit.train.optim.AdamATan2(rounding=...)


@dataclass
class TrainConfig:
    # optimiser (Adam-atan2) and schedule; defaults are the authors' config/cfg_pretrain.yaml
    lr: float = 1e-4
    lr_min_ratio: float = 1.0  # cosine floor as a fraction of lr; 1.0 = constant after warm-up
    warmup_steps: int = 2000
    beta1: float = 0.9
    beta2: float = 0.95
    weight_decay: float = 0.1
    # sparse puzzle embedding (sign-SGD)
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    # batch and length; steps > 0 wins over epochs
    global_batch_size: int = 768
    epochs: float = 100000
    steps: int = 0
    # batch order: hrmkit (resumable, epochs run into each other) | authors (their PuzzleDataset, draw for draw)
    sampler: str = "hrmkit"
    epochs_per_iter: int = 0  # authors' sampler: epochs per iteration (their eval_interval); 0 = all epochs
    adam_rounding: str = "torch"  # torch (PyTorch's lerp) | kernel (the authors' CUDA kernel, bit for bit)
    # loss and regularisation
    loss: str = "stablemax"  # stablemax (authors) | softmax
    q_loss_weight: float = 0.5  # weight of the Q-halt (and Q-continue) BCE; 0.5 = the authors'
    grad_clip: float = 0.0  # max global grad norm; 0 = off (the authors do not clip)
    ema: bool = False  # TRM: evaluate with an exponential moving average of the weights
    ema_rate: float = 0.999
    # run control
    checkpoint_every: int = 0  # steps; 0 = only at the end
    eval_every: int = 0  # steps; 0 = no evaluation during training
    eval_batches: int = 0  # batches of the test split per evaluation; 0 = all
    eval_steps: int = 0  # segments per evaluation (fixed, as `hrmkit eval --steps`); 0 = the model's test_segments
    early_stop_exact: float = 0.0  # stop when train exact accuracy (mean over log_every steps) reaches it; 0 = off
    log_every: int = 10
    compile: bool = False  # torch.compile the inner model (1.25x on the CPU sudoku-search recipe; a few s to compile)
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0

    def __post_init__(self) -> None:
        coerce_fields(self, "training config")
        for name, allowed in (("loss", LOSSES), ("sampler", SAMPLERS), ("adam_rounding", ADAM_ROUNDINGS)):
            if getattr(self, name) not in allowed:
                raise HrmkitError(f"training config: {name} must be one of {', '.join(allowed)}, "
                                  f"got {getattr(self, name)!r}")
        for name in ("lr", "q_loss_weight", "puzzle_emb_lr", "weight_decay", "puzzle_emb_weight_decay", "grad_clip", "steps",
                     "epochs", "warmup_steps", "checkpoint_every", "eval_every", "eval_batches", "eval_steps", "epochs_per_iter"):
            if getattr(self, name) < 0:
                raise HrmkitError(f"training config: {name} must be >= 0, got {getattr(self, name)}")
        if self.global_batch_size < 1 or self.log_every < 1:
            raise HrmkitError("training config: global_batch_size and log_every must be >= 1")
        for name in ("beta1", "beta2", "ema_rate", "lr_min_ratio", "early_stop_exact"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise HrmkitError(f"training config: {name} must be in [0, 1], got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "training config") -> "TrainConfig":
        return from_mapping(cls, data, source, "unknown training field(s) {}")


# Paper recipes per model preset (HRM: the authors' README commands; TRM: its README). Batch 768 throughout.
_SUDOKU = dict(lr=1e-4, puzzle_emb_lr=1e-4, weight_decay=1.0, puzzle_emb_weight_decay=1.0, epochs=20000,
               eval_every=0)
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "paper-sudoku": dict(_SUDOKU),
    "paper-maze": dict(_SUDOKU),
    "paper-arc": dict(lr=1e-4, puzzle_emb_lr=1e-2, weight_decay=0.1, puzzle_emb_weight_decay=0.1, epochs=100000),
    "trm-sudoku-mlp": dict(_SUDOKU, epochs=50000, ema=True),
    "trm-maze": dict(_SUDOKU, epochs=50000, ema=True),
    "trm-arc": dict(lr=1e-4, puzzle_emb_lr=1e-2, weight_decay=0.1, puzzle_emb_weight_decay=0.1, epochs=100000,
                    ema=True),
    # small CPU models: short warm-up, larger steps, small batches
    "tiny": dict(lr=1e-3, puzzle_emb_lr=1e-2, weight_decay=0.1, warmup_steps=10, global_batch_size=32, epochs=1,
                 log_every=1),
    # the CPU demo recipe (benchmarks/demo_recipe/RESULTS.md, R6) with the `demo` model preset; R6 trained no Q
    # head; a Q-halt weight of 0.5 cost 8 points of exact accuracy at 600 steps (85.5 vs 93.6%), 0.1 about 1 (92.4%)
    "demo": dict(lr=1e-3, lr_min_ratio=0.1, puzzle_emb_lr=1e-2, weight_decay=0.1, warmup_steps=100,
                 global_batch_size=64, steps=2500, loss="softmax", q_loss_weight=0.1, log_every=50),
    # the CPU recipe for Sudoku that needs search (benchmarks/sudoku_search/RESULTS.md), `sudoku-search` model
    "sudoku-search": dict(lr=1e-3, lr_min_ratio=0.1, puzzle_emb_lr=1e-2, weight_decay=0.1, warmup_steps=100,
                          global_batch_size=64, steps=2500, loss="softmax", q_loss_weight=0.1, log_every=100,
                          compile=True),
    # the CPU maze recipe (benchmarks/maze_recipe/RESULTS.md) with the `maze-cpu` model preset
    "maze-cpu": dict(lr=2e-3, lr_min_ratio=0.1, puzzle_emb_lr=1e-2, weight_decay=0.1, warmup_steps=50,
                     global_batch_size=64, steps=1500, loss="softmax", q_loss_weight=0.1, log_every=25),
}


def parse_value(text: str) -> Any:
    """`key=value` values are YAML scalars: 1e-4, 32, true, softmax."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def read_config_file(spec: str) -> dict[str, Any]:
    """`FILE` or `FILE:section.subsection` (so a DVC params.yaml section can drive training)."""
    path, _, section = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise HrmkitError(f"{path}: training config file not found") from None
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise HrmkitError(f"{where(path, None if line is None else line + 1)}: not valid YAML") from None
    for key in filter(None, section.split(".")):
        if not isinstance(data, dict) or key not in data:
            raise HrmkitError(f"{path}: no section {section!r}")
        data = data[key]
    if not isinstance(data, dict):
        raise HrmkitError(f"{path}{':' + section if section else ''}: a training config must be a mapping")
    return dict(data)


@dataclass
class Resolved:
    preset: str | None
    train: TrainConfig
    model_overrides: dict[str, Any]  # with `arch` when the file was the authors' (no preset then)
    data_path: str | None = None  # the authors' data_path
    notes: list[str] = dataclasses.field(default_factory=list)  # for stderr


def resolve(
    preset: str | None,
    config_file: str | None,
    overrides: list[str],
    model_field_names: set[str],
) -> tuple[str | None, TrainConfig, dict[str, Any]]:
    """Merge the sources into (model preset, TrainConfig, model overrides). See the module docstring."""
    r = resolve_run(preset, config_file, overrides, model_field_names)
    return r.preset, r.train, r.model_overrides


def resolve_run(
    preset: str | None,
    config_file: str | None,
    overrides: list[str],
    model_field_names: set[str],
) -> Resolved:
    """`resolve`, plus what an authors' all_config.yaml brings (its data_path, notes on ignored keys)."""
    from hrmkit.train.authors import is_authors_config, read_authors_config

    file_data = read_config_file(config_file) if config_file else {}
    train_names = {f.name for f in fields(TrainConfig)}
    data_path, notes = None, []
    if is_authors_config(file_data):
        if preset is not None:
            raise HrmkitError(f"--preset {preset}: {config_file} is the authors' all_config.yaml, whose arch: "
                              f"section defines the model; drop --preset")
        authors = read_authors_config(file_data, Path(config_file))
        model_over, train, data_path = authors.model, authors.train, authors.data_path
        if authors.ignored:
            notes.append(f"{config_file}: ignored (they do not change the weights): {', '.join(authors.ignored)}")
        file_data = {}
    else:
        model_over = dict(file_data.pop("model", None) or {})
        preset = preset or file_data.pop("preset", None)
        file_data.pop("preset", None)
        train = dict(TRAIN_PRESETS.get(preset or "", {}))
    for key, value in file_data.items():
        if key in train_names:
            train[key] = value
        elif key in model_field_names:
            model_over[key] = value
        else:
            raise HrmkitError(f"{config_file}: unknown field {key!r} (neither a training nor a model setting)")
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise HrmkitError(f"override {item!r}: expected key=value")
        value = parse_value(text)
        scope, _, name = key.rpartition(".")
        if scope == "model" or (not scope and name in model_field_names and name not in train_names):
            if name not in model_field_names:
                raise HrmkitError(f"override {item!r}: unknown model field {name!r}")
            model_over[name] = value
        elif scope in ("train", "") and name in train_names:
            train[name] = value
        else:
            raise HrmkitError(f"override {item!r}: unknown setting {key!r} (neither a training nor a model field)")
    return Resolved(preset, TrainConfig.from_dict(train, source=config_file or "training config"), model_over,
                    data_path, notes)
