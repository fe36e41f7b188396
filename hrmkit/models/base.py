"""What every hrmkit model shares: its config, inference by `trace`, and the checkpoint folder format.

A model folder is the Hugging Face layout: `model.safetensors` (the state dict, float32, no pickle) and
`config.json` (`arch` + every config field), so the folder alone rebuilds its model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from hrmkit.errors import HrmkitError
from hrmkit.models.config import ModelConfig

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


class PretrainedModel(nn.Module):
    config_class: type[ModelConfig] = ModelConfig

    def __init__(self, config: ModelConfig):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise HrmkitError(f"{type(self).__name__} needs a {self.config_class.__name__}, "
                              f"got {type(config).__name__}")
        self.config = config

    # ---- execution ------------------------------------------------------------------------------------------
    def forward_dtype(self, device: torch.device) -> torch.dtype:
        """float32 on CPU, bfloat16 on CUDA (unless the config's forward_dtype says otherwise)."""
        name = self.config.forward_dtype
        if name == "auto":
            name = "bfloat16" if device.type == "cuda" else "float32"
        return getattr(torch, name)

    @staticmethod
    def _with_puzzle_ids(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if "puzzle_identifiers" in batch:
            return batch
        inputs = batch["inputs"]
        return {**batch, "puzzle_identifiers": torch.zeros(inputs.shape[0], dtype=torch.int32, device=inputs.device)}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def seq_len_of(self, inputs: torch.Tensor) -> int:
        """The sequence length of `inputs` [B, L]: the config's seq_len, or any square for an any-size model."""
        cfg, n = self.config, int(inputs.shape[-1])
        if cfg.any_size:
            if math.isqrt(n) ** 2 != n:
                raise HrmkitError(f"this model runs on square grids; inputs of {n} cells are not one")
        elif n != cfg.seq_len:
            raise HrmkitError(f"model inputs must be [batch, {cfg.seq_len}] token ids, got {list(inputs.shape)}")
        return n

    @torch.inference_mode()
    def trace(self, inputs: torch.Tensor, puzzle_identifiers: torch.Tensor | None = None,
              steps: int | None = None) -> dict[str, torch.Tensor]:
        """Run `steps` segments (default config.test_segments: eval_segments, else halt_max_steps) from the initial
        state, no halting, no gradient.

        inputs [B, seq_len] token ids; puzzle_identifiers [B] (default 0). Returns float32 tensors stacked over
        segments: logits [N, B, seq_len, V], q_halt_logits [N, B], q_continue_logits [N, B].
        """
        cfg = self.config
        steps = cfg.test_segments if steps is None else steps
        if steps < 1:
            raise HrmkitError(f"trace: steps must be >= 1, got {steps}")
        if inputs.ndim != 2:
            raise HrmkitError(f"trace: inputs must be [batch, {cfg.seq_len}] token ids, got {list(inputs.shape)}")
        seq_len = self.seq_len_of(inputs)
        if inputs.is_floating_point() or inputs.min() < 0 or inputs.max() >= cfg.vocab_size:
            raise HrmkitError(f"trace: inputs must be integer token ids in [0, {cfg.vocab_size})")
        device = self.device
        inputs = inputs.to(device)
        if puzzle_identifiers is None:
            puzzle_identifiers = torch.zeros(inputs.shape[0], dtype=torch.int32, device=device)
        puzzle_identifiers = puzzle_identifiers.to(device)
        if puzzle_identifiers.min() < 0 or puzzle_identifiers.max() >= cfg.num_puzzle_identifiers:
            raise HrmkitError(f"trace: puzzle_identifiers must be in [0, {cfg.num_puzzle_identifiers})")

        was_training = self.training
        self.eval()
        try:
            dtype = self.forward_dtype(device)
            shape = (inputs.shape[0], seq_len + self.inner.prefix_len, cfg.hidden_size)
            z_H = self.inner.H_init.to(dtype).expand(shape)
            z_L = self.inner.L_init.to(dtype).expand(shape)
            logits, q_halt, q_continue = [], [], []
            for _ in range(steps):
                z_H, z_L, lg, qh, qc = self.inner(z_H, z_L, inputs, puzzle_identifiers)
                logits.append(lg.float()), q_halt.append(qh), q_continue.append(qc)
        finally:
            self.train(was_training)
        return {"logits": torch.stack(logits), "q_halt_logits": torch.stack(q_halt),
                "q_continue_logits": torch.stack(q_continue)}

    # ---- checkpoints ----------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write model.safetensors + config.json into `directory` through hrmkit.atomic (each to a temporary name
        in the folder, fsync'ed, renamed; never through a symbolic link; on failure the old file stays)."""
        from hrmkit.atomic import atomic_path, safetensors_write, write_text

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu").contiguous() for k, v in self.state_dict().items()}
        # one metadata key only: safetensors keeps metadata in a hash map, so with two keys their order (and the
        # file's bytes and sha256) changes from run to run; the architecture is in config.json
        with atomic_path(directory / WEIGHTS_NAME, replace=True) as weights_tmp, \
                safetensors_write(directory / WEIGHTS_NAME):
            save_file(state, str(weights_tmp), metadata={"format": "pt"})
        write_text(directory / CONFIG_NAME, json.dumps(self.config.to_dict(), indent=2) + "\n", replace=True)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> PretrainedModel:
        """Rebuild a model from its folder; returned in eval mode. Called on a subclass, the arch must match."""
        from hrmkit.models import MODELS  # the registry lives beside the model classes

        directory = Path(directory)
        if not directory.is_dir():
            raise HrmkitError(f"{directory}: not a model directory")
        config = ModelConfig.from_checkpoint(directory)
        klass = MODELS[config.arch]
        if cls is not PretrainedModel and not issubclass(klass, cls):
            raise HrmkitError(f"{directory / CONFIG_NAME}: arch {config.arch!r} is not a {cls.__name__}")
        path = directory / WEIGHTS_NAME
        if not path.is_file():
            raise HrmkitError(f"{path}: not found")
        from hrmkit.models.header import check_weights

        check_weights(path, klass, config, directory / CONFIG_NAME)  # from the header, before any allocation
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise HrmkitError(f"{path}: not a readable safetensors file ({err})") from None
        model = klass(config)
        load_state(model, state, source=str(path))
        return model.to(device).eval()


def load_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """load_state_dict with one clear error for missing/unexpected keys or shapes that disagree with the config."""
    from hrmkit.models.header import check_names

    expected = model.state_dict()
    check_names(expected, state, source)
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise HrmkitError(f"{source}: {key} has shape {list(value.shape)}, the config needs "
                              f"{list(expected[key].shape)}")
        if not value.is_floating_point():
            raise HrmkitError(f"{source}: {key} is {value.dtype}, expected floating point")
    model.load_state_dict({k: v.float() for k, v in state.items()})
