"""Model configs: one dataclass per architecture, named presets, loading from a name, a file or a checkpoint.

    cfg = ModelConfig.from_name("paper-sudoku", halt_max_steps=8)     # -> HRMConfig
    cfg = ModelConfig.from_file("my-model.yaml")                      # {preset: demo, hidden_size: 256} or a full dict
    cfg = ModelConfig.from_checkpoint("runs/demo/model")              # its config.json

`to_dict()` holds `arch` and every field, so a checkpoint's config.json alone rebuilds its model. Field names follow
the authors' (H_cycles, puzzle_emb_ndim, ...) so their `arch:` sections map one to one.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from hrmkit.errors import HrmkitError, where
from hrmkit.fields import coerce_fields, from_mapping

POS_ENCODINGS = ("rope", "learned", "none", "sudoku_rcb")  # sudoku_rcb: learned row/column/box tables (81 cells)
# sudoku_peers: a cell attends to its row, column and box (itself included); grid: a cell of a square grid attends
# to the cells within Manhattan distance attn_radius (itself included), with learned embeddings of each offset
# (relative positions), so that the same weights run on a grid of any size
ATTN_MASKS = ("none", "sudoku_peers", "grid")
Q_POOLS = ("first", "mean")  # the Q head reads position 0 (the authors) or the mean over positions
LOSS_ON = ("all", "blanks")  # blanks: loss on cells whose input is the blank token; decoding keeps the givens
OMITTED_AT_DEFAULT = ("eval_segments",)
HALTING = ("act", "fixed")  # fixed: every sequence runs halt_max_steps segments in training; q_halt still trained
BLANK_TOKEN_ID = 1  # the data sets' blank cell (Sudoku: 0 pad, 1 blank, 2..10 digits)
ATTENTION = ("auto", "xformers", "sdpa")
FORWARD_DTYPES = ("auto", "float32", "bfloat16")  # auto: bfloat16 on CUDA, float32 elsewhere


@dataclass
class ModelConfig:
    """Fields shared by HRM and TRM. Defaults are the HRM paper's Sudoku-Extreme settings."""

    arch: ClassVar[str] = ""

    # task
    vocab_size: int = 11  # Sudoku: 0 pad, 1 blank, 2..10 digits
    seq_len: int = 81
    num_puzzle_identifiers: int = 1
    puzzle_emb_ndim: int = 0  # 0: no puzzle embedding
    # network
    hidden_size: int = 512
    num_heads: int = 8
    expansion: float = 4.0
    L_layers: int = 4
    H_cycles: int = 2
    L_cycles: int = 2
    pos_encodings: str = "rope"
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    attn_mask: str = "none"
    attn_radius: int = 1  # attn_mask=grid: Manhattan radius of a cell's neighbourhood
    # adaptive computation time
    halt_max_steps: int = 16
    halt_exploration_prob: float = 0.1
    halting: str = "act"  # act: the authors' Q-learning halting in training; fixed: no early halt, no exploration
    # Per-puzzle halting (`model.halts`): halt once sigmoid(q_halt) > halt_threshold. The default 0.5 is the
    # authors' q_halt > 0 (TRM, halting=fixed); HRM with halting=act keeps its q_halt > q_continue at 0.5 and uses
    # the threshold only when set to another value. With halting=act it also decides when training halts.
    halt_threshold: float = 0.5
    # Segments an evaluation or `hrmkit solve` runs by default (trace's default); 0 = halt_max_steps. A model
    # trained with few segments of deep supervision can keep improving well past them (the sudoku-search recipe:
    # 4 in training, 32 here), and config.json carries the number with the weights.
    eval_segments: int = 0
    # what the loss sees (decoding follows: with blanks the given cells are copied from the input)
    loss_on: str = "all"
    blank_token_id: int = BLANK_TOKEN_ID  # the input token of a cell to fill (Sudoku 1 blank; maze 2 open)
    q_pool: str = "first"
    # execution
    attention: str = "auto"
    forward_dtype: str = "auto"

    def __post_init__(self) -> None:
        coerce_fields(self, "model config")
        positive = ("vocab_size", "seq_len", "num_puzzle_identifiers", "hidden_size", "num_heads", "L_layers",
                    "H_cycles", "L_cycles", "halt_max_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise HrmkitError(f"model config: {name} must be >= 1, got {getattr(self, name)}")
        if self.eval_segments < 0:
            raise HrmkitError(f"model config: eval_segments must be >= 0 (0 = halt_max_steps), got {self.eval_segments}")
        if self.puzzle_emb_ndim < 0:
            raise HrmkitError(f"model config: puzzle_emb_ndim must be >= 0, got {self.puzzle_emb_ndim}")
        if self.hidden_size % self.num_heads:
            raise HrmkitError(f"model config: hidden_size {self.hidden_size} is not a multiple of "
                              f"num_heads {self.num_heads}")
        if self.pos_encodings == "rope" and (self.hidden_size // self.num_heads) % 2:
            raise HrmkitError("model config: rope needs an even head size (hidden_size / num_heads)")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            raise HrmkitError("model config: halt_exploration_prob must be in [0, 1], "
                              f"got {self.halt_exploration_prob}")
        if not 0.0 < self.halt_threshold < 1.0:
            raise HrmkitError(f"model config: halt_threshold must be a probability in (0, 1), got {self.halt_threshold}")
        for name, allowed in (("pos_encodings", POS_ENCODINGS), ("attention", ATTENTION),
                              ("forward_dtype", FORWARD_DTYPES), ("attn_mask", ATTN_MASKS), ("loss_on", LOSS_ON),
                              ("halting", HALTING), ("q_pool", Q_POOLS)):
            if getattr(self, name) not in allowed:
                raise HrmkitError(f"model config: {name} must be one of {', '.join(allowed)}, "
                                  f"got {getattr(self, name)!r}")
        for name in ("pos_encodings", "attn_mask"):  # the Sudoku priors index the 81 cells of a 9x9 grid
            if getattr(self, name).startswith("sudoku_") and self.seq_len != 81:
                raise HrmkitError(f"model config: {name}={getattr(self, name)} needs a 9x9 Sudoku (seq_len 81), "
                                  f"got seq_len {self.seq_len}")

        if self.attn_mask == "grid":
            if self.attn_radius < 1:
                raise HrmkitError(f"model config: attn_radius must be >= 1, got {self.attn_radius}")
            if self.pos_encodings != "none" or self.puzzle_emb_ndim:
                raise HrmkitError("model config: attn_mask=grid runs on any grid size: it needs pos_encodings none "
                                  "and no puzzle embedding (its offsets embed relative positions)")
            side = math.isqrt(self.seq_len)
            if side * side != self.seq_len:
                raise HrmkitError(f"model config: attn_mask=grid needs a square grid, got seq_len {self.seq_len}")
        if not 0 <= self.blank_token_id < self.vocab_size:
            raise HrmkitError(f"model config: blank_token_id must be a token id < vocab_size {self.vocab_size}, "
                              f"got {self.blank_token_id}")

    @property
    def any_size(self) -> bool:
        """True when the model runs on square grids of any size (seq_len is then the training canvas only)."""
        return self.attn_mask == "grid"

    @property
    def prefix_len(self) -> int:
        """Sequence positions taken by the puzzle embedding: ceil(puzzle_emb_ndim / hidden_size)."""
        return -(self.puzzle_emb_ndim // -self.hidden_size)

    # ---- dict / file / name -------------------------------------------------------------------------------
    @property
    def test_segments(self) -> int:
        """The segments an evaluation runs by default: eval_segments, or halt_max_steps when it is 0."""
        return self.eval_segments or self.halt_max_steps

    def to_dict(self) -> dict[str, Any]:
        data = {"arch": self.arch, **dataclasses.asdict(self)}
        for name in OMITTED_AT_DEFAULT:  # fields added later: config.json of a model not using them is unchanged
            if data[name] == self.__dataclass_fields__[name].default:
                del data[name]
        return data

    def replace(self, **overrides) -> ModelConfig:
        return type(self).from_dict({**self.to_dict(), **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model config") -> ModelConfig:
        """Build from {arch, field: value...}; `arch` picks the class (optional when called on a subclass)."""
        data = dict(data)
        arch = data.pop("arch", cls.arch or None)
        if arch not in ARCHS:
            raise HrmkitError(f"{source}: arch must be one of {', '.join(ARCHS)}, got {arch!r}")
        klass = ARCHS[arch]
        if cls.arch and klass is not cls:
            raise HrmkitError(f"{source}: arch {arch!r} is not {cls.arch!r}")
        return from_mapping(klass, data, source, "unknown field(s) {} for arch " + repr(arch))

    @classmethod
    def from_name(cls, name: str, **overrides) -> ModelConfig:
        if name not in PRESETS:
            raise HrmkitError(f"unknown model preset {name!r}; presets: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides}, source=f"preset {name}")

    @classmethod
    def from_file(cls, path: str | Path, **overrides) -> ModelConfig:
        """YAML or JSON: a full config ({arch, fields}) or {preset: name, field: value...} over a preset."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())  # JSON is YAML
        except FileNotFoundError:
            raise HrmkitError(f"{path}: model config not found") from None
        except yaml.YAMLError as err:
            line = getattr(getattr(err, "problem_mark", None), "line", None)
            raise HrmkitError(f"{where(path, None if line is None else line + 1)}: not valid YAML/JSON") from None
        if not isinstance(data, dict):
            raise HrmkitError(f"{path}: a model config must be a mapping of fields")
        data.update(overrides)
        preset = data.pop("preset", None)
        if preset is not None:
            if preset not in PRESETS:
                raise HrmkitError(f"{path}: unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
            data = {**PRESETS[preset], **data}
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_checkpoint(cls, directory: str | Path) -> ModelConfig:
        path = Path(directory) / "config.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise HrmkitError(f"{path}: not found (a model directory holds config.json + model.safetensors)") from None
        except json.JSONDecodeError as err:
            raise HrmkitError(f"{where(path, err.lineno)}: not valid JSON ({err.msg})") from None
        if not isinstance(data, dict):
            raise HrmkitError(f"{path}: a model config must be a JSON object")
        return cls.from_dict(data, source=str(path))


@dataclass
class HRMConfig(ModelConfig):
    """HRM ACT v1: a slow module H (H_layers blocks) and a fast module L (L_layers blocks)."""

    arch: ClassVar[str] = "hrm_act_v1"
    H_layers: int = 4
    # H-cycles back-propagated in full (their L-calls and H-call); 0: the authors' 1-step gradient (last L- and
    # H-call only). 1 is what the CPU demo recipe needs (benchmarks/demo_recipe/RESULTS.md).
    grad_cycles: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.H_layers < 1:
            raise HrmkitError(f"model config: H_layers must be >= 1, got {self.H_layers}")
        if not 0 <= self.grad_cycles <= self.H_cycles:
            raise HrmkitError(f"model config: grad_cycles must be in [0, H_cycles={self.H_cycles}], "
                              f"got {self.grad_cycles}")


@dataclass
class TRMConfig(ModelConfig):
    """TRM: one L_layers network updates latent z (L_cycles times, with the input) then answer y, H_cycles times."""

    arch: ClassVar[str] = "trm"
    mlp_t: bool = False  # MLP over the sequence instead of attention (the Sudoku "MLP-mixer" variant)
    puzzle_emb_len: int = 16  # positions for the puzzle embedding; 0: ceil(puzzle_emb_ndim / hidden)
    no_ACT_continue: bool = True  # halt on q_halt > 0 alone; no q_continue target, no extra forward

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.puzzle_emb_len < 0:
            raise HrmkitError(f"model config: puzzle_emb_len must be >= 0, got {self.puzzle_emb_len}")
        if self.mlp_t and self.attn_mask != "none":
            raise HrmkitError("model config: attn_mask needs attention; mlp_t replaces it by an MLP over positions")
        if self.puzzle_emb_ndim > self.prefix_len * self.hidden_size:
            raise HrmkitError(f"model config: puzzle_emb_ndim {self.puzzle_emb_ndim} does not fit in "
                              f"puzzle_emb_len {self.puzzle_emb_len} positions of {self.hidden_size}")

    @property
    def prefix_len(self) -> int:
        """Positions for the puzzle embedding: puzzle_emb_len (or the ceil rule when 0); none without one."""
        if self.puzzle_emb_ndim == 0:
            return 0
        return self.puzzle_emb_len or -(self.puzzle_emb_ndim // -self.hidden_size)


ARCHS: dict[str, type[ModelConfig]] = {"hrm_act_v1": HRMConfig, "trm": TRMConfig}

# ---- presets ---------------------------------------------------------------------------------------------------
_HRM_PAPER = dict(arch="hrm_act_v1", hidden_size=512, num_heads=8, expansion=4.0, H_layers=4, L_layers=4,
                  H_cycles=2, L_cycles=2, halt_max_steps=16, halt_exploration_prob=0.1, pos_encodings="rope",
                  puzzle_emb_ndim=512)  # HRM paper / authors' config/arch/hrm_v1.yaml
_TRM_PAPER = dict(arch="trm", hidden_size=512, num_heads=8, expansion=4.0, L_layers=2, H_cycles=3, L_cycles=4,
                  halt_max_steps=16, halt_exploration_prob=0.1, pos_encodings="rope", puzzle_emb_ndim=512,
                  puzzle_emb_len=16, no_ACT_continue=True)  # TRM paper / its config/arch/trm.yaml

PRESETS: dict[str, dict[str, Any]] = {
    # HRM paper, Sudoku-Extreme 1k: 27,275,266 parameters. Vocab: pad, blank, digits 1..9.
    "paper-sudoku": dict(_HRM_PAPER, vocab_size=11, seq_len=81, num_puzzle_identifiers=1),
    # HRM paper, Maze-Hard 30x30: vocab pad + "# SGo".
    "paper-maze": dict(_HRM_PAPER, vocab_size=6, seq_len=900, num_puzzle_identifiers=1),
    # HRM paper, ARC: vocab pad, end-of-grid, colours 0..9; one puzzle id per augmented puzzle, so
    # num_puzzle_identifiers must be set from the dataset (it is inferred from the weights on conversion).
    "paper-arc": dict(_HRM_PAPER, vocab_size=12, seq_len=900, num_puzzle_identifiers=1),
    # The reference case in shared/reference/official-hrm-tiny (authors' code, hidden 64, one layer per module).
    "tiny": dict(arch="hrm_act_v1", vocab_size=11, seq_len=81, hidden_size=64, num_heads=2, expansion=4.0,
                 H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=4, puzzle_emb_ndim=0),
    # The CPU demo recipe (benchmarks/demo_recipe/RESULTS.md, run R6): a 134k-parameter HRM with the Sudoku
    # structural priors (peer attention mask, row/column/box embeddings), gradient through the last H-cycle, loss
    # on blanks, 4 fixed segments with deep supervision. 99.6% exact on 50-55-given puzzles in 10 CPU-minutes.
    "demo": dict(arch="hrm_act_v1", vocab_size=11, seq_len=81, hidden_size=64, num_heads=4, expansion=4.0,
                 H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=4, puzzle_emb_ndim=0,
                 pos_encodings="sudoku_rcb", attn_mask="sudoku_peers", grad_cycles=1, loss_on="blanks",
                 halting="fixed"),
    # The CPU recipe for Sudoku that needs search (benchmarks/sudoku_search/RESULTS.md): the demo's model, trained
    # for 4 fixed segments per puzzle (deep supervision on each) easy-to-hard and run for 32 segments at test time
    # (pipelines/sudoku-search-cpu); 4 segments learn faster per step than 16 and keep improving past 4.
    "sudoku-search": dict(arch="hrm_act_v1", vocab_size=11, seq_len=81, hidden_size=64, num_heads=4, expansion=4.0,
                          H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=4, puzzle_emb_ndim=0,
                          pos_encodings="sudoku_rcb", attn_mask="sudoku_peers", grad_cycles=1, loss_on="blanks",
                          halting="fixed"),
    # The CPU maze recipe (benchmarks/maze_recipe/RESULTS.md): a 59k-parameter HRM whose attention sees only the
    # cells within Manhattan distance 2 (learned offset embeddings, no position table), so the weights run on a
    # maze grid of any size; loss on the open cells, 16 fixed segments with deep supervision, Q head on the mean.
    "maze-cpu": dict(arch="hrm_act_v1", vocab_size=6, seq_len=100, hidden_size=32, num_heads=2, expansion=4.0,
                     H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=16, puzzle_emb_ndim=0,
                     pos_encodings="none", attn_mask="grid", attn_radius=2, grad_cycles=2, loss_on="blanks",
                     blank_token_id=2, halting="fixed", q_pool="mean"),
    # TRM paper, Sudoku-Extreme: MLP over the sequence, no positional encoding, T=3, n=6 (about 5M parameters).
    "trm-sudoku-mlp": dict(_TRM_PAPER, vocab_size=11, seq_len=81, mlp_t=True, pos_encodings="none", L_cycles=6),
    # TRM paper, Maze-Hard: attention, T=3, n=4 (about 7M parameters).
    "trm-maze": dict(_TRM_PAPER, vocab_size=6, seq_len=900),
    # TRM paper, ARC: attention, T=3, n=4; num_puzzle_identifiers from the dataset as for paper-arc.
    "trm-arc": dict(_TRM_PAPER, vocab_size=12, seq_len=900),
}
