"""Import the HRM authors' checkpoints (sapientinc/HRM), and the TRM authors' (SamsungSAILMontreal/
TinyRecursiveModels, same file layout), into hrmkit's model folder format.

Their format: `torch.save(model.state_dict())` in a file named `step_N` (or `checkpoint` on the Hub), with
`all_config.yaml` beside it, whose `arch:` section holds the model fields. Keys carry the prefix of the object
saved: `_orig_mod.model.` (torch.compile'd model inside the loss head), `model.` (not compiled) or none. The file is
read with `torch.load(weights_only=True)`: tensors only, no code runs. What the config does not say is taken from
the weights (vocab_size, num_puzzle_identifiers) or from the caller (seq_len: `--seq-len` or `--task`).

`arch.name` picks the model: HRM ACT v1 (`hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1`) or TRM
(`recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1`, the attention and the mlp_t variants). hrmkit keeps
both codes' parameter names, so the key map is literal; any key or config field outside the maps below is an
error, so a format change is noticed instead of half-loaded. Numerical parity is tested against outputs of the
authors' code: HRM in tests/test_convert.py (shared/reference/official-hrm-tiny), TRM's mlp_t variant in
tests/test_trm_parity.py (shared/reference/official-trm-tiny).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
import yaml

from hrmkit import puzzles
from hrmkit.errors import HrmkitError, where
from hrmkit.models import HRM, TRM, HRMConfig, TRMConfig
from hrmkit.models.base import load_state

PREFIXES = ("_orig_mod.model.", "model.", "")  # compiled in the loss head, in the loss head, bare model
ARCH_NAME = "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1"
TRM_ARCH_NAME = "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1"
MODELS = {ARCH_NAME: (HRM, HRMConfig), TRM_ARCH_NAME: (TRM, TRMConfig)}


def __getattr__(name: str):
    if name == "TASK_SEQ_LEN":  # family -> seq_len of its authors' data: 9x9 grid; 30x30 grids (hrmkit.puzzles)
        from hrmkit import puzzles

        return puzzles.seq_lens()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Authors' model key -> hrmkit key ({level}: H or L, {i}: layer index). hrmkit keeps their names on purpose, so a
# converted state dict diffs cleanly against theirs; the map still lists every key that may appear.
KEY_MAP: dict[str, str | None] = {
    "inner.H_init": "inner.H_init",
    "inner.L_init": "inner.L_init",
    "inner.embed_tokens.embedding_weight": "inner.embed_tokens.embedding_weight",
    "inner.embed_pos.embedding_weight": "inner.embed_pos.embedding_weight",
    "inner.puzzle_emb.weights": "inner.puzzle_emb.weights",
    "inner.lm_head.weight": "inner.lm_head.weight",
    "inner.q_head.weight": "inner.q_head.weight",
    "inner.q_head.bias": "inner.q_head.bias",
    "inner.{level}_level.layers.{i}.self_attn.qkv_proj.weight":
        "inner.{level}_level.layers.{i}.self_attn.qkv_proj.weight",
    "inner.{level}_level.layers.{i}.self_attn.o_proj.weight":
        "inner.{level}_level.layers.{i}.self_attn.o_proj.weight",
    "inner.{level}_level.layers.{i}.mlp.gate_up_proj.weight":
        "inner.{level}_level.layers.{i}.mlp.gate_up_proj.weight",
    "inner.{level}_level.layers.{i}.mlp.down_proj.weight":
        "inner.{level}_level.layers.{i}.mlp.down_proj.weight",
    # TRM's mlp_t variant: an MLP across the sequence positions in place of attention
    "inner.L_level.layers.{i}.mlp_t.gate_up_proj.weight": "inner.L_level.layers.{i}.mlp_t.gate_up_proj.weight",
    "inner.L_level.layers.{i}.mlp_t.down_proj.weight": "inner.L_level.layers.{i}.mlp_t.down_proj.weight",
    # Non-persistent in their code, but present if a state dict was taken with them: derived, dropped.
    "inner.rotary_emb.cos_cached": None,
    "inner.rotary_emb.sin_cached": None,
    "inner.puzzle_emb.local_weights": None,
    "inner.puzzle_emb.local_ids": None,
}

# Their `arch:` fields -> hrmkit HRMConfig fields; None: read and dropped on purpose.
ARCH_FIELDS: dict[str, str | None] = {
    "H_cycles": "H_cycles", "L_cycles": "L_cycles", "H_layers": "H_layers", "L_layers": "L_layers",
    "hidden_size": "hidden_size", "num_heads": "num_heads", "expansion": "expansion",
    "pos_encodings": "pos_encodings", "puzzle_emb_ndim": "puzzle_emb_ndim", "rope_theta": "rope_theta",
    "rms_norm_eps": "rms_norm_eps", "halt_max_steps": "halt_max_steps",
    "halt_exploration_prob": "halt_exploration_prob",
    "name": None,  # checked against ARCH_NAME
    "loss": None,  # the loss head (stablemax / softmax CE) is a training choice, not part of the model
    "forward_dtype": None,  # hrmkit picks float32 on CPU, bfloat16 on CUDA
}
# TRM's `arch:` fields: HRM's, less H_layers (declared and ignored by their code), plus its three switches.
TRM_ARCH_FIELDS: dict[str, str | None] = {
    **ARCH_FIELDS, "H_layers": None, "mlp_t": "mlp_t", "puzzle_emb_len": "puzzle_emb_len",
    "no_ACT_continue": "no_ACT_continue",
}


def _compile_key_map() -> list[tuple[re.Pattern, str | None]]:
    out = []
    for pattern, target in KEY_MAP.items():
        regex = re.escape(pattern).replace(r"\{level\}", "(?P<level>[HL])").replace(r"\{i\}", r"(?P<i>\d+)")
        out.append((re.compile(f"^{regex}$"), target))
    return out


_KEY_PATTERNS = _compile_key_map()


def map_key(key: str) -> str | None:
    """hrmkit key for an authors' model key (prefix removed); None if dropped on purpose; unknown keys raise."""
    for regex, target in _KEY_PATTERNS:
        m = regex.match(key)
        if m:
            return None if target is None else target.format(**m.groupdict())
    raise HrmkitError(f"unknown key {key!r} (not in hrmkit.zoo.official.KEY_MAP)")


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The authors' state dict with its prefix removed and keys mapped; tensors as stored (float32 / bfloat16)."""
    path = Path(path)
    if not path.is_file():
        raise HrmkitError(f"{path}: checkpoint not found")
    with path.open("rb") as f:
        magic = f.read(4)
    if not (magic.startswith(b"PK\x03\x04") or magic[:1] == b"\x80"):  # torch.save: a zip, or a legacy pickle
        raise HrmkitError(f"{path}: not a checkpoint in the HRM authors' format (not a torch.save file)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError (non-tensor objects), RuntimeError (broken zip), EOFError...
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:100]
        raise HrmkitError(f"{path}: not a checkpoint in the HRM authors' format (torch.load with "
                          f"weights_only=True refused it: {reason})") from None
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise HrmkitError(f"{path}: not a checkpoint in the HRM authors' format (expected a state dict of tensors)")
    prefix = next((p for p in PREFIXES if all(k.startswith(p + "inner.") for k in raw)), None)
    if prefix is None:
        example = next(iter(raw))
        raise HrmkitError(f"{path}: keys are not HRM model keys under one of the prefixes "
                          f"{', '.join(repr(p) for p in PREFIXES)} (first key: {example!r})")
    state = {}
    for key, value in raw.items():
        try:
            target = map_key(key[len(prefix):])
        except HrmkitError as err:
            raise HrmkitError(f"{path}: {err}") from None
        if target is not None:
            state[target] = value
    return state


def read_arch(config_path: str | Path) -> tuple[str, dict[str, Any]]:
    """(arch.name, model config fields) from the `arch:` section of the authors' all_config.yaml."""
    config_path = Path(config_path)
    try:
        data = yaml.safe_load(config_path.read_text())
    except FileNotFoundError:
        raise HrmkitError(f"{config_path}: not found; the authors' checkpoints come with all_config.yaml beside "
                          f"them (pass its path with --config)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise HrmkitError(f"{where(config_path, None if mark is None else mark.line + 1)}: not valid YAML") from None
    arch = data.get("arch") if isinstance(data, dict) else None
    if not isinstance(arch, dict):
        raise HrmkitError(f"{config_path}: no `arch:` section (is this the authors' all_config.yaml?)")
    name = arch.get("name")
    if name not in MODELS:
        raise HrmkitError(f"{config_path}: arch.name is {name!r}; supported: {ARCH_NAME!r} (HRM ACT v1) and "
                          f"{TRM_ARCH_NAME!r} (TRM)")
    known = TRM_ARCH_FIELDS if name == TRM_ARCH_NAME else ARCH_FIELDS
    fields = {}
    for key, value in arch.items():
        if key not in known:
            raise HrmkitError(f"{config_path}: unknown field arch.{key} (not in hrmkit.zoo.official."
                              f"{'TRM_ARCH_FIELDS' if name == TRM_ARCH_NAME else 'ARCH_FIELDS'})")
        if known[key] is not None:
            fields[known[key]] = value
    return name, fields


def _puzzle_positions(name: str, fields: dict[str, Any]) -> int:
    """Sequence positions the puzzle embedding takes in front of the puzzle (both codes' rule)."""
    ndim, hidden = int(fields.get("puzzle_emb_ndim", 0)), int(fields.get("hidden_size", 0)) or 1
    if ndim == 0:
        return 0
    if name == TRM_ARCH_NAME and int(fields.get("puzzle_emb_len", 16)):
        return int(fields.get("puzzle_emb_len", 16))
    return -(ndim // -hidden)  # ceil(ndim / hidden)


def load_official(checkpoint: str | Path, config_path: str | Path | None = None, seq_len: int | None = None,
                  task: str | None = None) -> HRM:
    """An HRM or TRM (float32, eval mode) holding the weights of an authors' checkpoint."""
    checkpoint = Path(checkpoint)
    config_path = Path(config_path) if config_path is not None else checkpoint.parent / "all_config.yaml"
    state = read_checkpoint(checkpoint)  # first: a non-checkpoint is reported as such, config or not
    name, fields = read_arch(config_path)
    model_class, config_class = MODELS[name]

    if seq_len is not None and task is not None:
        raise HrmkitError("give either seq_len or task, not both")
    seq_lens = puzzles.seq_lens()
    if task is not None:
        if task not in seq_lens:
            raise HrmkitError(f"task must be one of {', '.join(seq_lens)}, got {task!r}")
        seq_len = seq_lens[task]
    if "inner.embed_tokens.embedding_weight" not in state:
        raise HrmkitError(f"{checkpoint}: no inner.embed_tokens.embedding_weight: not an HRM or TRM checkpoint")
    fields["vocab_size"] = state["inner.embed_tokens.embedding_weight"].shape[0]
    if "inner.puzzle_emb.weights" in state:
        fields["num_puzzle_identifiers"] = state["inner.puzzle_emb.weights"].shape[0]
    # a table over the positions (learned positions; TRM's mlp_t) fixes the length
    for key in ("inner.embed_pos.embedding_weight", "inner.L_level.layers.0.mlp_t.down_proj.weight"):
        if key in state:
            implied = state[key].shape[0] - _puzzle_positions(name, fields)
            if seq_len is not None and seq_len != implied:
                raise HrmkitError(f"{checkpoint}: seq_len {seq_len} disagrees with the position table {key} "
                                  f"({implied})")
            seq_len = implied
    if seq_len is None:
        raise HrmkitError(f"{config_path} has no seq_len: pass --seq-len N or --task "
                          f"{'|'.join(seq_lens)}")
    fields["seq_len"] = seq_len

    config = config_class.from_dict(fields, source=f"{config_path} (arch)")
    model = model_class(config)
    load_state(model, state, source=f"{checkpoint} (with {config_path})")  # shapes vs the config; bf16 -> f32
    return model.eval()


def convert_official(checkpoint: str | Path, out_dir: str | Path, config_path: str | Path | None = None,
                     seq_len: int | None = None, task: str | None = None, overwrite: bool = False) -> Path:
    """Convert an authors' checkpoint into `out_dir` (model.safetensors + config.json); returns out_dir.

    An existing non-empty `out_dir` is replaced only with `overwrite`, and only when it is a model folder (it
    has a config.json); the new folder is written under a temporary name and renamed into place."""
    from hrmkit.atomic import atomic_dir, check_writable

    out_dir = Path(out_dir)
    if out_dir.is_symlink():
        raise HrmkitError(f"{out_dir}: is a symbolic link; refusing to write through it")
    if out_dir.exists() and not out_dir.is_dir():
        raise HrmkitError(f"{out_dir}: exists and is not a directory")
    existing = out_dir.is_dir() and any(out_dir.iterdir())
    if existing and not overwrite:
        raise HrmkitError(f"{out_dir}: already exists (pass --overwrite to replace it)")
    if existing and not (out_dir / "config.json").is_file():
        raise HrmkitError(f"{out_dir}: exists and is not a model folder (no config.json); refusing to replace it")
    check_writable(out_dir.parent, folder=True)
    model = load_official(checkpoint, config_path=config_path, seq_len=seq_len, task=task)
    if out_dir.is_dir() and not existing:  # an empty folder (pull's staging folder): write into it
        return model.save_pretrained(out_dir)
    with atomic_dir(out_dir, replace=overwrite) as tmp:
        model.save_pretrained(tmp)
    return out_dir
