"""The ACT training loop, single process or torchrun DDP, resumable exactly.

One *step* is one ACT segment for every sequence of the (persistent) carry: sequences that halted on the last
step are replaced by the rows of a freshly drawn batch, the others continue with their state (as the authors
train). Per step:

    batch -> model(carry, batch) -> loss (per-sequence mean CE + q_loss_weight * (BCE q_halt + BCE q_continue))
    / B_local (the CE over the cells the model config's loss_on names)
    -> backward (DDP averages gradients over ranks: the mean over the global batch)
    -> Adam-atan2 on the weights, sign-SGD on the puzzle-embedding rows of the batch (all-gathered), EMA

Determinism: weights are initialised from `seed` on every rank; batches come from the sampler's (seed, epoch,
position); ACT exploration from `exploration(seed, step, ...)`, a draw for the whole global batch made from
(seed, step) alone, of which each rank takes its rows, so N processes explore exactly as one process does and a
resumed run draws what the uninterrupted one drew. A checkpoint holds the rest (RNG states, carry), so on CPU a
resumed run ends bit-identical to an uninterrupted one.

Length: `steps`, else the authors' count from `epochs` (pretrain.py): int(epochs * total_groups *
mean_puzzle_examples / global_batch_size); the cosine schedule spans it. `stop_at` ends the run earlier without
changing the schedule (its checkpoint resumes into the uninterrupted run); with `sampler: authors` the run also
ends when their batch stream does (their last iteration's partial batch is dropped). `init` starts from given
weights (an authors' step_N file or an hrmkit model folder) with fresh optimiser state.

Logs go through dvclive (LIVE_DIR, default RUN/live); at every checkpoint and at the end
LIVE_DIR/learning_curves.png draws them, for viewers without the Vega CDN. RUN/steps.jsonl holds one line per
optimiser step: the learning rates and the loss terms summed over the global batch (the authors' `loss`).
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from hrmkit.errors import HrmkitError
from hrmkit.models.hrm import exploration_min_steps
from hrmkit.models.losses import act_loss
from hrmkit.train import checkpoint, dist
from hrmkit.train.config import TrainConfig
from hrmkit.train.ema import EMA
from hrmkit.train.optim import AdamATan2, SparseSignSGD
from hrmkit.train.schedule import lr_at, set_lr

TRAIN_CONFIG = "train_config.json"
STEPS_LOG = "steps.jsonl"
# Fields that may differ when resuming (they do not change what a step computes).
RESUME_MAY_CHANGE = {"steps", "epochs", "checkpoint_every", "eval_every", "eval_batches", "eval_steps", "log_every",
                     "early_stop_exact", "device", "compile"}


def exploration(model_cfg, seed: int, step: int, sampler, device) -> torch.Tensor | None:
    """This rank's rows of the step's exploration draw: for every row of the global batch, a minimum number of
    segments in 2..halt_max_steps with probability halt_exploration_prob, else 0 (as the authors' ACT wrapper).
    Drawn from (seed, step) for the whole global batch, so it is the same however many processes share it."""
    if model_cfg.halting != "act" or model_cfg.halt_max_steps <= 1 or model_cfg.halt_exploration_prob <= 0:
        return None
    g = torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))
    draw = exploration_min_steps(model_cfg, sampler.global_batch_size, generator=g)
    lo = sampler.rank * sampler.local_batch_size
    return draw[lo:lo + sampler.local_batch_size].to(device)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def to_device(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in batch.items() if k != "index"}


def build_model_config(preset: str | None, overrides: dict[str, Any], meta) -> Any:
    """Model config from the preset + overrides; vocab_size, seq_len and num_puzzle_identifiers come from the data."""
    from hrmkit.models import ModelConfig

    if preset is None and "arch" not in overrides:
        raise HrmkitError("no model preset: pass --preset NAME (or `preset:` in the --config file)")
    from_data = dict(vocab_size=meta.vocab_size, seq_len=meta.seq_len,
                     num_puzzle_identifiers=meta.num_puzzle_identifiers)
    for key, value in from_data.items():
        if key in overrides and overrides[key] != value:
            raise HrmkitError(f"model setting {key}={overrides[key]} disagrees with the data set ({key}={value})")
    if preset is None:  # a full config (the authors' arch: section)
        return ModelConfig.from_dict({**overrides, **from_data}, source="model config (arch)")
    return ModelConfig.from_name(preset, **{**overrides, **from_data})


def load_init(model, path: str | Path) -> None:
    """Load the weights of `path` into `model` (--init): an authors' checkpoint file (step_N, keys
    `_orig_mod.model.inner...`, via hrmkit.zoo.official) or an hrmkit model folder; names and shapes must be the
    model's, else one error naming the file and the tensor."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from hrmkit.models import ModelConfig
    from hrmkit.models.base import load_state
    from hrmkit.zoo.official import read_checkpoint

    path = Path(path)
    if not path.exists():
        raise HrmkitError(f"--init {path}: not found")
    if path.is_dir():
        saved = ModelConfig.from_checkpoint(path)
        if saved.arch != model.config.arch:
            raise HrmkitError(f"--init {path / 'config.json'}: arch {saved.arch!r}, but this run trains "
                              f"{model.config.arch!r}")
        file = path / "model.safetensors"
        try:
            state = load_file(str(file))
        except (SafetensorError, OSError) as err:
            raise HrmkitError(f"--init {file}: not a readable safetensors file ({err})") from None
    else:
        file, state = path, read_checkpoint(path)
    load_state(model, state, source=f"--init {file}")


def authors_example_seed(model_cfg, seed: int, rank: int, device: torch.device) -> list[int]:
    """The seed of numpy's generator in the authors' DataLoader worker, which picks the examples inside a puzzle:
    their loop seeds torch with seed + rank, builds the model (from the CPU generator when it runs on the CPU,
    from the CUDA one on a GPU), then the DataLoader draws its base seed from the CPU generator. Replayed on a
    forked generator; hrmkit's initialisation makes the same draws as theirs (step_0 of the reference is equal)."""
    from hrmkit.data.loader import worker_numpy_seed
    from hrmkit.models import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + rank)
        if device.type == "cpu":
            build(model_cfg)
        base = int(torch.empty((), dtype=torch.int64).random_().item())
    return worker_numpy_seed(base)


def make_sampler(cfg: TrainConfig, train_ds, info, model_cfg):
    """The training batch sampler the config names (see hrmkit.data.loader)."""
    from hrmkit.data.loader import AuthorsSampler, BatchSampler

    if cfg.sampler == "hrmkit":
        return BatchSampler(train_ds, cfg.global_batch_size, rank=info.rank, world_size=info.world_size,
                            seed=cfg.seed, train=True)
    if cfg.epochs != int(cfg.epochs) or (not cfg.steps and cfg.epochs < 1):
        raise HrmkitError(f"sampler authors: epochs must be a whole number >= 1 (their iterations), got {cfg.epochs:g}")
    per_iter = cfg.epochs_per_iter or int(cfg.epochs)
    if not cfg.steps and int(cfg.epochs) % per_iter:
        raise HrmkitError(f"sampler authors: epochs_per_iter {per_iter} must divide epochs {int(cfg.epochs)}")
    sampler = AuthorsSampler(train_ds, cfg.global_batch_size, rank=info.rank, world_size=info.world_size,
                             seed=cfg.seed, epochs_per_iter=max(1, per_iter),
                             iterations=None if cfg.steps else int(cfg.epochs) // per_iter)
    if sampler.multi_example:
        sampler = AuthorsSampler(train_ds, cfg.global_batch_size, rank=info.rank, world_size=info.world_size,
                                 seed=cfg.seed, epochs_per_iter=sampler.epochs_per_iter,
                                 iterations=sampler.iterations,
                                 example_state=authors_example_seed(model_cfg, cfg.seed, info.rank, info.device))
    return sampler


def total_steps(cfg: TrainConfig, meta) -> int:
    """`steps`, else the authors' count (pretrain.py, truncated like theirs): epochs x the examples an epoch
    draws (one puzzle of each group, all its examples) / global batch. Sudoku-Extreme 1k (1000 groups, 1 example
    per puzzle) at batch 768 for 20000 epochs: 26,041 steps. meta: the train split's metadata."""
    if cfg.steps:
        return cfg.steps
    steps = int(cfg.epochs * meta.total_groups * meta.mean_puzzle_examples / cfg.global_batch_size)
    if steps < 1:
        raise HrmkitError(f"training length is zero: epochs={cfg.epochs} x {meta.total_groups} groups x "
                          f"{meta.mean_puzzle_examples:g} examples per puzzle / global_batch_size="
                          f"{cfg.global_batch_size} is under one step; raise epochs or set steps")
    return steps


class _Live:
    """dvclive in the run folder (or --live-dir); only the main process logs. Absent when disabled."""

    def __init__(self, directory: Path | None, resume: bool):
        self.live, self.dir = None, directory
        if directory is None:
            return
        from dvclive import Live

        # Inside `dvc repro` the stage declares the metrics/plots; standalone, a dvc.yaml beside the logs.
        dvcyaml = False if os.environ.get("DVC_ROOT") else str(Path(directory) / "dvc.yaml")
        self.live = Live(dir=str(directory), resume=resume, save_dvc_exp=False, dvcyaml=dvcyaml)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if self.live is None:
            return
        self.live.step = step
        for k, v in metrics.items():
            self.live.log_metric(k, v)
        self.live.next_step()

    def params(self, params: dict) -> None:
        if self.live is not None:
            self.live.log_params(params)

    def end(self) -> None:
        if self.live is not None:
            self.live.end()

    def plot(self) -> Path | None:
        """Redraw LIVE_DIR/learning_curves.png from the logged series (dvclive's TSVs, resumed runs included)."""
        if self.live is None:
            return None
        return plot_learning_curves(self.dir)


# what learning_curves.png draws: (dvclive metric, panel, label)
CURVES_FILE = "learning_curves.png"
_CURVES = (("train/loss", 0, "train loss"), ("train/exact_accuracy", 1, "train exact accuracy"),
           ("eval/exact_accuracy", 1, "eval exact accuracy"))


def read_series(live_dir: Path, name: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one dvclive metric; a step logged twice (a run resumed from an earlier checkpoint)
    keeps its last value."""
    path = Path(live_dir) / "plots" / "metrics" / f"{name}.tsv"
    if not path.is_file():
        return [], []
    by_step: dict[int, float] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            by_step[int(row["step"])] = float(row[name.split("/")[-1]])
    steps = sorted(by_step)
    return steps, [by_step[k] for k in steps]


def plot_learning_curves(live_dir: Path) -> Path | None:
    """Loss, train and eval exact accuracy against step, as a PNG (temporary name, then renamed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [(read_series(live_dir, name), panel, label) for name, panel, label in _CURVES]
    if not any(steps for (steps, _), _, _ in series):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for (steps, values), panel, label in series:
        if steps:
            axes[panel].plot(steps, values, marker="." if len(steps) < 50 else None, label=label)
    loss = series[0][0][1]
    if loss and min(loss) > 0:
        axes[0].set_yscale("log")
    axes[0].set(xlabel="step", ylabel="loss (per sequence)", title="training loss")
    axes[1].set(xlabel="step", ylabel="exact accuracy", ylim=(-0.02, 1.02), title="puzzles fully right")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    from hrmkit.atomic import atomic_path

    out = Path(live_dir) / CURVES_FILE
    try:
        with atomic_path(out, replace=True) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return out


def train(
    run: str | Path,
    data: str | Path,
    *,
    preset: str | None,
    config: TrainConfig,
    model_overrides: dict[str, Any] | None = None,
    resume: bool = False,
    live_dir: str | Path | None = "",
    progress: bool = True,
    callback: Callable[[int, dict], None] | None = None,
    init: str | Path | None = None,
    stop_at: int | None = None,
    overwrite: bool = False,
) -> dict[str, float]:
    """Train into the folder `run`; returns the last logged metrics. See the module docstring.

    live_dir: "" = RUN/live, None = no dvclive. callback(step, metrics) is called after every step (tests use
    it to interrupt a run or corrupt it). init: starting weights (ignored when resuming: the checkpoint holds
    them). stop_at: stop after this many optimiser steps (counted from the run's start), schedule unchanged.
    overwrite: replace the model files of an --out that holds a model but is no run (hrmkit.train.guard).

    Before step 1 (hrmkit.train.guard): --out is writable and no foreign model folder, the data set is the one
    a resumed run started on, the preset is made for the data's family, every token is in the vocabulary. A
    run folder this call created is removed again when training fails before its first checkpoint.
    """
    from hrmkit.train import guard

    run = Path(run)
    created: dict[str, bool] = {}
    try:
        return _train(run, data, preset=preset, config=config, model_overrides=model_overrides, resume=resume,
                      live_dir=live_dir, progress=progress, callback=callback, init=init, stop_at=stop_at,
                      overwrite=overwrite, created=created)
    except Exception:
        if created.get("run") and checkpoint.find(run) is None:
            guard.remove_created(run)
        raise


def _train(run: Path, data, *, preset, config: TrainConfig, model_overrides, resume: bool, live_dir, progress,
           callback, init, stop_at, overwrite: bool, created: dict[str, bool]) -> dict[str, float]:
    """The run as a sequence of steps; each is one function below, in this order (the order of the random draws
    and of the checks before step 1 is part of the result)."""
    info = dist.init(config.device)
    settings = _settings(run, data, config, preset, model_overrides, resume, overwrite, created, info)
    if stop_at is not None and stop_at < 1:
        raise HrmkitError(f"--stop-at must be >= 1, got {stop_at}")
    split = _training_data(data, settings, stop_at, info)
    parts = _build_parts(data, settings, split, init, info)
    state = _restore(settings.ckpt_dir, parts, info)
    _wrap_for_training(parts, settings.cfg, info)
    logs = _open_logs(run, data, settings, split, parts, state, init, live_dir, progress, info)
    r = _Run(run, data, info, settings.cfg, split, parts, logs)
    return _run_steps(r, state, callback)


# ---- the steps of _train, with what they hand on


@dataclass
class _Settings:
    """The run's settings: a resumed run's saved ones, where only RESUME_MAY_CHANGE may differ from the call's."""

    cfg: TrainConfig
    preset: str | None
    model_overrides: dict
    ckpt_dir: Path | None  # the checkpoint a resumed run starts from; None for a new run
    saved: dict  # a resumed run's train_config.json; {} for a new run


@dataclass
class _Split:
    """The training split and the run's length."""

    train_ds: Any  # hrmkit.data.loader.PuzzleDataset
    identity: dict  # guard.data_identity (a resumed run keeps the one it started on)
    n_steps: int  # the schedule's length
    stop: int  # the step this call ends at (stop_at, else n_steps)
    local_bs: int  # this rank's rows of the global batch


@dataclass
class _Parts:
    """The model and everything that updates it."""

    model_cfg: Any
    model: torch.nn.Module
    sampler: Any  # hrmkit.data.loader.BatchSampler | AuthorsSampler
    opt: AdamATan2
    pemb: Any  # the model's puzzle embedding, or None
    sparse: SparseSignSGD | None  # sign-SGD on the batch's puzzle-embedding rows
    ema: EMA | None
    net: torch.nn.Module | None = None  # what the steps call: the model, or DDP around it (_wrap_for_training)


@dataclass
class _State:
    """What changes from step to step; a checkpoint holds it."""

    step: int = 0
    carry: Any = None  # the ACT carry, made from the first batch
    last_ckpt: int | None = None  # the step of the last checkpoint written (or resumed from)
    last_metrics: dict = field(default_factory=dict)  # the last logged window's metrics (what train returns)
    carry_flat: dict | None = None  # a resumed run's saved carry, put into the first batch's carry


@dataclass
class _Logs:
    """dvclive, the progress bar and RUN/steps.jsonl (the last two only in the main process)."""

    live: _Live
    bar: Any
    steps_log: Any

    def close(self, plot: bool) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.steps_log is not None:
            self.steps_log.close()
        self.live.end()
        if plot:  # stopped by an error between checkpoints: draw what was logged, but a failure to draw
            try:  # must not hide the error that stopped training
                self.live.plot()
            except Exception:  # noqa: BLE001
                pass


@dataclass
class _Run:
    """What the per-step functions read."""

    run: Path
    data: Any
    info: Any  # hrmkit.train.dist.DistInfo
    cfg: TrainConfig
    split: _Split
    parts: _Parts
    logs: _Logs


def _settings(run: Path, data, config: TrainConfig, preset, model_overrides, resume: bool, overwrite: bool,
              created: dict[str, bool], info) -> _Settings:
    """Checks --out and --resume (a checkpoint there or not), then, when resuming, reads the saved settings and
    refuses changed fields outside RESUME_MAY_CHANGE and another data set."""
    from hrmkit.train import guard

    cfg = config
    model_overrides = dict(model_overrides or {})
    ckpt_dir = checkpoint.find(run) if resume else None
    if resume and ckpt_dir is None:
        raise HrmkitError(f"{run}: --resume given but no checkpoint found in it")
    if not resume and checkpoint.find(run) is not None:
        raise HrmkitError(f"{run}: holds a checkpoint already; pass --resume to continue it, or choose another --out")
    if info.is_main:
        created["run"] = not guard.check_out(run, overwrite=overwrite)
    saved: dict = {}
    if ckpt_dir is not None:  # the saved settings win; only run-control fields may change
        try:
            saved = json.loads((run / TRAIN_CONFIG).read_text())
        except FileNotFoundError:
            raise HrmkitError(f"{run / TRAIN_CONFIG}: missing; the run's settings are needed to resume it") from None
        except (ValueError, UnicodeDecodeError) as err:
            raise HrmkitError(f"{run / TRAIN_CONFIG}: not a readable JSON file ({err}); the file is damaged") from None
        guard.check_same_data(saved, data, run)
        for k, v in cfg.to_dict().items():
            if k not in RESUME_MAY_CHANGE and saved["train"].get(k) != v and k in saved["train"]:
                raise HrmkitError(f"--resume: {k}={v!r} differs from the saved run ({saved['train'][k]!r})")
        cfg = TrainConfig.from_dict({**saved["train"], **{k: getattr(cfg, k) for k in RESUME_MAY_CHANGE}})
        preset, model_overrides = saved["preset"], saved["model_overrides"]
    return _Settings(cfg, preset, model_overrides, ckpt_dir, saved)


def _training_data(data, s: _Settings, stop_at: int | None, info) -> _Split:
    """The data's family against the preset (a new run), the data set's identity, the train split, the length."""
    from hrmkit.data.format import open_dataset
    from hrmkit.data.loader import PuzzleDataset
    from hrmkit.train import guard

    data_family = open_dataset(data).family
    if s.ckpt_dir is None:
        guard.check_family(s.preset, s.model_overrides, data_family, data)
    identity = s.saved.get("data_identity") or guard.data_identity(data)
    train_ds = PuzzleDataset(data, "train")
    n_steps = total_steps(s.cfg, train_ds.meta)
    stop = n_steps if stop_at is None else min(n_steps, stop_at)
    return _Split(train_ds, identity, n_steps, stop, dist.local_batch_size(s.cfg.global_batch_size, info.world_size))


def _build_parts(data, s: _Settings, split: _Split, init, info) -> _Parts:
    """The model (identical initial weights on every rank; --init's weights for a new run), the sampler, the
    optimisers and the EMA; then each rank's own stream for any other randomness (exploration: `exploration`)."""
    from hrmkit.models import build
    from hrmkit.train import guard

    cfg, meta = s.cfg, split.train_ds.meta
    seed_everything(cfg.seed)
    if s.ckpt_dir is not None:
        from hrmkit.models import ModelConfig

        model_cfg = ModelConfig.from_checkpoint(s.ckpt_dir)
    else:
        model_cfg = build_model_config(s.preset, s.model_overrides, meta)
    if not model_cfg.any_size and meta.seq_len != model_cfg.seq_len:
        raise HrmkitError(f"--data {data}: sequences of {meta.seq_len} tokens, the model takes {model_cfg.seq_len}")
    guard.check_tokens(data, model_cfg.vocab_size)
    model = build(model_cfg)
    if init is not None and s.ckpt_dir is None:
        load_init(model, init)
    model = model.to(info.device)
    model.train()
    sampler = make_sampler(cfg, split.train_ds, info, model_cfg)
    opt = AdamATan2(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay,
                    rounding=cfg.adam_rounding)
    pemb = model.puzzle_emb
    sparse = None
    if pemb is not None:
        def _rows():
            grad = pemb.local_weights.grad if pemb.local_weights is not None else None
            return pemb.weights, grad, pemb.local_ids

        sparse = SparseSignSGD(_rows, lr=cfg.puzzle_emb_lr, weight_decay=cfg.puzzle_emb_weight_decay)
    ema = EMA(model, cfg.ema_rate) if cfg.ema else None
    seed_everything(cfg.seed + 1 + info.rank)  # per-rank stream for any other randomness (exploration: below)
    return _Parts(model_cfg, model, sampler, opt, pemb, sparse, ema)


def _restore(ckpt_dir: Path | None, p: _Parts, info) -> _State:
    """A resumed run's weights, optimiser moments, EMA, sampler position, RNG states and carry; a new run's
    state at step 0."""
    if ckpt_dir is None:
        return _State()
    state, weights, opt_tensors, rank_tensors, rank_meta = checkpoint.load(ckpt_dir, info.rank)
    if state["world_size"] != info.world_size:
        raise HrmkitError(f"{ckpt_dir}: saved with {state['world_size']} processes, resumed with "
                          f"{info.world_size}; use the same number")
    from hrmkit.models.base import load_state

    load_state(p.model, weights, source=str(ckpt_dir / "model.safetensors"))
    names = {id(t): n for n, t in p.model.named_parameters()}
    checkpoint.load_optimizer_state(p.opt, names, opt_tensors, state["optimizer_groups"])
    if p.ema is not None:
        p.ema.load_shadow(checkpoint.read_tensors(ckpt_dir / "ema.safetensors"))
    p.sampler.load_state_dict(state["sampler"])
    checkpoint.set_rng_state({k: v for k, v in rank_tensors.items() if k.startswith("rng.")}, rank_meta)
    carry_flat = {k[len("carry."):]: v for k, v in rank_tensors.items() if k.startswith("carry.")}
    return _State(step=state["step"], last_ckpt=state["step"], carry_flat=carry_flat)


def _wrap_for_training(p: _Parts, cfg: TrainConfig, info) -> None:
    """`compile` compiles the inner model in place; under torchrun the steps call DDP around the model."""
    p.net = p.model
    if cfg.compile:
        p.model.inner.compile()
    if info.distributed:
        from torch.nn.parallel import DistributedDataParallel

        p.net = DistributedDataParallel(p.model, broadcast_buffers=False,
                                        device_ids=[info.device.index] if info.device.type == "cuda" else None)


def _open_logs(run: Path, data, s: _Settings, split: _Split, p: _Parts, state: _State, init, live_dir, progress,
               info) -> _Logs:
    """RUN/train_config.json (the settings a resume reads back), dvclive (its params for a new run), the
    progress bar, RUN/steps.jsonl (a resumed run keeps the lines up to its checkpoint)."""
    from hrmkit.atomic import write_text

    cfg = s.cfg
    if info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        write_text(run / TRAIN_CONFIG, json.dumps(
            {"preset": s.preset, "model_overrides": s.model_overrides, "train": cfg.to_dict(),
             "data": str(Path(data).resolve()), "data_identity": split.identity, "world_size": info.world_size,
             "init": None if init is None else str(Path(init).resolve())}, indent=1), replace=True)
    live = _Live(None if (live_dir is None or not info.is_main) else Path(live_dir or run / "live"),
                 resume=s.ckpt_dir is not None)
    if s.ckpt_dir is None:
        live.params({"preset": s.preset, **cfg.to_dict(),
                     **{f"model.{k}": v for k, v in p.model_cfg.to_dict().items()}})
    bar = None
    if progress and info.is_main:
        from tqdm import tqdm

        bar = tqdm(total=split.stop, initial=state.step, desc="train", unit="step", dynamic_ncols=True)
    steps_log = _open_steps_log(run / STEPS_LOG, state.step) if info.is_main else None
    return _Logs(live, bar, steps_log)


@dataclass
class _Window:
    """The metrics summed over the steps since the last log line (see _METRICS), and their time."""

    start: int  # the step before the window's first
    sums: torch.Tensor = field(default_factory=lambda: torch.zeros(len(_METRICS), dtype=torch.float64))
    seconds: float = 0.0


def _run_steps(r: _Run, state: _State, callback) -> dict[str, float]:
    """Steps until `stop` (or early stop, or the end of the authors' batch stream); returns the last metrics."""
    batches = iter(r.parts.sampler)
    window = _Window(start=state.step)
    try:
        while state.step < r.split.stop:
            t0 = time.perf_counter()
            try:
                index = next(batches)
            except StopIteration:  # the authors' sampler: their last iteration ended before the schedule
                if state.step == 0:
                    raise HrmkitError(f"{r.data}: the authors' sampler draws no full batch of "
                                      f"{r.cfg.global_batch_size} (their last partial batch is dropped)") from None
                if state.last_ckpt != state.step:
                    _save(r, state)
                break
            values, totals_step = _update(r, state, index)
            window.sums += values
            window.seconds += time.perf_counter() - t0
            if _after_update(r, state, window, totals_step, callback):
                break
    finally:
        r.logs.close(plot=state.last_ckpt != state.step)
    return state.last_metrics


def _update(r: _Run, state: _State, index) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step on the batch `index`: forward one ACT segment, the loss (refused when not finite, on
    the global batch's sums), backward, clipping, the scheduled learning rates, Adam-atan2, sign-SGD, EMA.
    Returns this rank's loss terms (see _METRICS) and their sums over the global batch."""
    cfg, p, info = r.cfg, r.parts, r.info
    batch = to_device(r.split.train_ds.batch(index), info.device)
    if state.carry is None:
        state.carry = p.model.initial_carry(batch)
        if state.carry_flat is not None:
            state.carry = checkpoint.unflatten_into(state.carry, state.carry_flat)
    explore = exploration(p.model_cfg, cfg.seed, state.step, p.sampler, info.device)
    state.carry, out = p.net(state.carry, batch, min_steps=explore)
    loss_sum, terms = act_loss(state.carry, out, f"{cfg.loss}_cross_entropy",
                               ignore_index=r.split.train_ds.meta.ignore_label_id, loss_on=p.model_cfg.loss_on,
                               q_weight=cfg.q_loss_weight)
    zero = torch.zeros(())  # TRM has no q_continue loss
    values = torch.stack([loss_sum.detach().double().cpu(),
                          *[terms.get(k, zero).detach().double().cpu() for k in _METRICS[1:]]])
    # the step's sums over the global batch; every rank must agree to stop, so the finiteness check is on them
    # a copy: all_reduce_sum works in place, and `values` (this rank's share) goes into the window
    totals_step = dist.all_reduce_sum(values.clone().to(info.device)).cpu()
    if not torch.isfinite(totals_step[0]):
        where = (f"the last good checkpoint (step {state.last_ckpt}) is in {r.run / checkpoint.CKPT}"
                 if state.last_ckpt is not None else "no checkpoint had been written yet")
        raise HrmkitError(f"step {state.step + 1}: the loss is not finite ({loss_sum.item()}); training stopped; "
                          f"{where}")
    (loss_sum * (1.0 / r.split.local_bs)).backward()  # the authors' (1 / global_batch_size) * loss
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(p.model.parameters(), cfg.grad_clip)
    state.step += 1
    n_steps = r.split.n_steps
    set_lr(p.opt, lr_at(state.step, cfg.lr, cfg.warmup_steps, n_steps, cfg.lr_min_ratio))
    p.opt.step()
    p.opt.zero_grad(set_to_none=True)
    if p.sparse is not None:
        set_lr(p.sparse, lr_at(state.step, cfg.puzzle_emb_lr, cfg.warmup_steps, n_steps, cfg.lr_min_ratio))
        p.sparse.step()
        p.pemb.local_weights = None
    if p.ema is not None:
        p.ema.update(p.model)
    return values, totals_step


def _after_update(r: _Run, state: _State, window: _Window, totals_step: torch.Tensor, callback) -> bool:
    """What follows a step, by cadence: its steps.jsonl line; every log_every steps (and at the end) the window's
    metrics to dvclive and the bar, and the early-stop test; every eval_every steps an evaluation; every
    checkpoint_every steps (and at the end) a checkpoint; then the callback. True when the run is done."""
    cfg, info, live, bar = r.cfg, r.info, r.logs.live, r.logs.bar
    step = state.step
    if r.logs.steps_log is not None:
        _log_step(r.logs.steps_log, step, totals_step, r.parts.opt, r.parts.sparse)
    done = step == r.split.stop
    if step % cfg.log_every == 0 or done:
        totals = dist.all_reduce_sum(window.sums.to(info.device)).cpu()
        state.last_metrics = _summarise(totals, step - window.start, cfg.global_batch_size, window.seconds)
        state.last_metrics["train/lr"] = r.parts.opt.param_groups[0]["lr"]
        live.log(step, state.last_metrics)
        if bar is not None:
            bar.set_postfix(loss=f"{state.last_metrics['train/loss']:.3f}",
                            exact=f"{state.last_metrics.get('train/exact_accuracy', float('nan')):.3f}",
                            sps=f"{state.last_metrics['train/samples_per_s']:.0f}")
        window.sums.zero_()
        window.seconds, window.start = 0.0, step
        if cfg.early_stop_exact and state.last_metrics.get("train/exact_accuracy", 0.0) >= cfg.early_stop_exact:
            done = True
            state.last_metrics["train/early_stopped"] = 1.0
    if cfg.eval_every and step % cfg.eval_every == 0 and not done:
        live.log(step, _evaluate_during_training(r.parts.model, r.data, cfg, info))
    if bar is not None:
        bar.update(1)
    if done or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0):
        _save(r, state)
    if callback is not None:
        callback(step, state.last_metrics)
    return done


def _save(r: _Run, state: _State) -> None:
    """A checkpoint of this step (every rank's RNG states and carry, then the main process's model, optimiser,
    EMA and state.json, swapped in by renames; hrmkit.train.checkpoint.commit), which also refreshes the model
    files at the top of the run folder. The main process then redraws the learning curves."""
    info, p = r.info, r.parts
    try:
        if info.is_main:
            checkpoint.begin(r.run)
        dist.barrier()
        checkpoint.save_rank_state(r.run, info.rank, state.carry)
        dist.barrier()
        if info.is_main:
            checkpoint.commit(r.run, model=p.model, save_model=p.model.save_pretrained,
                              ema_state=p.ema.state_dict(p.model) if p.ema else None, optimizer=p.opt,
                              state={"step": state.step, "total_steps": r.split.n_steps,
                                     "epoch": p.sampler.epoch_progress, "sampler": p.sampler.state_dict(),
                                     "world_size": info.world_size, "metrics": state.last_metrics})
    except BaseException:
        if info.is_main:  # disk full, read-only, a rank gone: no half-assembled checkpoint stays
            checkpoint.abort(r.run)
        raise
    if info.is_main:
        r.logs.live.plot()
    dist.barrier()
    state.last_ckpt = state.step


# summed per step (hrmkit.models.losses.act_loss): the losses, then counts over the sequences that halted
_METRICS = ("loss", "lm_loss", "q_halt_loss", "q_continue_loss", "count", "accuracy", "exact_accuracy", "steps",
            "q_halt_accuracy")


def _open_steps_log(path: Path, step: int):
    """RUN/steps.jsonl for appending, keeping the lines of steps <= `step` (a resumed run rewrites what followed
    its checkpoint)."""
    kept = []
    if step and path.is_file():
        kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "w", encoding="utf-8")
    f.writelines(line + "\n" for line in kept)
    f.flush()
    return f


def _log_step(f, step: int, totals: torch.Tensor, opt, sparse) -> None:
    row = {"step": step, "lr": opt.param_groups[0]["lr"]}
    if sparse is not None:
        row["puzzle_emb_lr"] = sparse.param_groups[0]["lr"]
    row.update(zip(_METRICS, totals.tolist()))
    f.write(json.dumps(row) + "\n")
    f.flush()


def _summarise(totals: torch.Tensor, n_steps: int, global_bs: int, seconds: float) -> dict[str, float]:
    t = dict(zip(_METRICS, totals.tolist()))
    n_seq = max(1, n_steps * global_bs)
    out = {
        "train/loss": t["loss"] / n_seq,
        "train/lm_loss": t["lm_loss"] / n_seq,
        "train/q_halt_loss": t["q_halt_loss"] / n_seq,
        "train/q_continue_loss": t["q_continue_loss"] / n_seq,
        "train/samples_per_s": n_steps * global_bs / max(seconds, 1e-9),
    }
    if t["count"] > 0:  # accuracies describe final answers: only when some sequence halted in the window
        out.update({"train/accuracy": t["accuracy"] / t["count"],
                    "train/exact_accuracy": t["exact_accuracy"] / t["count"],
                    "train/act_steps": t["steps"] / t["count"],
                    "train/q_halt_accuracy": t["q_halt_accuracy"] / t["count"]})
    return out


def _evaluate_during_training(model, data, cfg: TrainConfig, info) -> dict[str, float]:
    """Exact accuracy on (part of) the test split, by the main process; the others wait."""
    from hrmkit.evaluate import evaluate_split

    metrics: dict[str, float] = {}
    if info.is_main:
        m = evaluate_split(model, data, split="test", batch_size=cfg.global_batch_size,
                           max_batches=cfg.eval_batches or None, steps=cfg.eval_steps or None)
        metrics = {f"eval/{k}": v for k, v in m.items() if k in ("exact_accuracy", "token_accuracy", "act_steps", "segments")}
        model.train()
    dist.barrier()
    return metrics
