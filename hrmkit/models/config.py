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
from hrmkit.models import structure as _structure
from hrmkit.models.structure import COORD_ENCODINGS, FAMILY_COORDS, FAMILY_GRAPH, GRAPH_MASKS

# The structural priors (hrmkit.models.structure): the family named by `structure` supplies them.
# family-coords: one learned table per coordinate axis of the family (Sudoku: row, column, box; grids: row, column).
# family-graph: attention sees only a position's neighbours in the family's relation graph (Sudoku: its row, column
# and box; grids: the cells within Manhattan distance attn_radius, with learned embeddings of each offset, so that
# the same weights run on a grid of any size). The first spellings stay accepted: sudoku_rcb (family-coords with
# sudoku), sudoku_peers (family-graph with sudoku), grid (family-graph with maze).
POS_ENCODINGS = ("rope", "learned", "none", FAMILY_COORDS, "sudoku_rcb")
ATTN_MASKS = ("none", FAMILY_GRAPH, "sudoku_peers", "grid")
# Per-puzzle halting (`model.halts`), named once: q_continue halts when q_halt > q_continue (the authors' HRM; needs
# a trained q_continue: halting act, and for TRM no_ACT_continue false); threshold halts when sigmoid(q_halt) >
# halt_threshold (at 0.5: q_halt > 0, the authors' TRM). A config that names none (written before the setting) gets
# the rule it ran under: q_continue when q_continue is trained and halt_threshold is 0.5, else threshold.
HALT_RULES = ("q_continue", "threshold")
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
    attn_radius: int = 1  # a grid's relation graph: Manhattan radius of a cell's neighbourhood
    structure: str = "none"  # the family supplying family-graph / family-coords (none, sudoku, maze)
    # adaptive computation time
    halt_max_steps: int = 16
    halt_exploration_prob: float = 0.1
    halting: str = "act"  # act: the authors' Q-learning halting in training; fixed: no early halt, no exploration
    # Per-puzzle halting (`model.halts`; with halting=act it also decides when training halts): halt_rule (HALT_RULES;
    # "" = not named: resolved once, from the other settings, to the rule such a config always ran under) and the
    # probability of halt_rule threshold.
    halt_rule: str = ""
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
        check_halt_threshold(self.halt_threshold, "model config: halt_threshold")
        for name, allowed in (("pos_encodings", POS_ENCODINGS), ("attention", ATTENTION),
                              ("forward_dtype", FORWARD_DTYPES), ("attn_mask", ATTN_MASKS), ("loss_on", LOSS_ON),
                              ("halting", HALTING), ("q_pool", Q_POOLS)):
            if getattr(self, name) not in allowed:
                raise HrmkitError(f"model config: {name} must be one of {', '.join(allowed)}, "
                                  f"got {getattr(self, name)!r}")
        self._check_structure()
        self._resolve_halt_rule()
        if not 0 <= self.blank_token_id < self.vocab_size:
            raise HrmkitError(f"model config: blank_token_id must be a token id < vocab_size {self.vocab_size}, "
                              f"got {self.blank_token_id}")

    # ---- structural prior ---------------------------------------------------------------------------------
    def _implied_structure(self) -> str:
        """The structure a first spelling of the prior names (sudoku_peers, sudoku_rcb: sudoku; grid: maze), or none."""
        return next(iter(_structure.implied_structures(self)), "none")

    def _check_structure(self) -> None:
        """Resolve the first spellings to their structure, then check the prior against the family's structure."""
        implied = _structure.implied_structures(self)
        if len(implied) > 1:
            (a, b), (c, d) = implied.values()
            raise HrmkitError(f"model config: {a}={b} and {c}={d} name different structures ({', '.join(implied)})")
        if implied:
            (family, (name, value)), = implied.items()
            if self.structure == "none":
                self.structure = family  # (config.json leaves it out: the spelling says it)
            elif self.structure != family:
                raise HrmkitError(f"model config: {name}={value} is the {family} structure's prior, but structure "
                                  f"is {self.structure!r}")
        if self.structure != "none":
            try:
                _structure.family_module(self.structure)
            except HrmkitError as err:
                raise HrmkitError(f"model config: {err}") from None
        for name in ("pos_encodings", "attn_mask"):
            if getattr(self, name) in (FAMILY_COORDS, FAMILY_GRAPH) and self.structure == "none":
                raise HrmkitError(f"model config: {name}={getattr(self, name)} needs a structure, the family that "
                                  f"supplies it ({', '.join(_structure.structures())})")
        if self.uses_coords:
            try:
                _structure.coordinates(self.structure, self.seq_len)
            except HrmkitError as err:
                raise HrmkitError(f"model config: pos_encodings={self.pos_encodings}: {err}") from None
        if self.uses_graph:
            try:
                kernel = self.graph_kernel
            except HrmkitError as err:
                raise HrmkitError(f"model config: attn_mask={self.attn_mask} (structure {self.structure}, "
                                  f"attn_radius {self.attn_radius}): {err}") from None
            if kernel == "lattice" and (self.pos_encodings != "none" or self.puzzle_emb_ndim):
                raise HrmkitError(f"model config: attn_mask={self.attn_mask} with the {self.structure} structure runs "
                                  "on any grid size: it needs pos_encodings none and no puzzle embedding (its "
                                  "offsets embed relative positions)")

    @property
    def uses_graph(self) -> bool:
        """Attention restricted to the structure's relation graph (family-graph, or sudoku_peers / grid)."""
        return self.attn_mask in GRAPH_MASKS

    @property
    def uses_coords(self) -> bool:
        """Factored position embeddings from the structure's coordinates (family-coords, or sudoku_rcb)."""
        return self.pos_encodings in COORD_ENCODINGS

    @property
    def graph_kernel(self) -> str | None:
        """How attention runs the structure's relation graph ("mask" | "lattice", `structure.graph_kernel`), or None
        without family-graph."""
        if not self.uses_graph:
            return None
        relations, _ = _structure.relation_graph(self.structure, self.seq_len, self.attn_radius)
        return _structure.graph_kernel(relations)

    @property
    def any_size(self) -> bool:
        """True when the model runs on square grids of any size (seq_len is then the training canvas only): its
        attention is a grid relation graph (offsets), and nothing else depends on the number of positions."""
        return self.graph_kernel == "lattice"

    # ---- halting rule -------------------------------------------------------------------------------------
    @property
    def q_continue_trained(self) -> bool:
        """Whether training gives q_continue a target (HRM: halting act)."""
        return self.halting == "act"

    def _implied_halt_rule(self) -> str:
        """The rule of a config that names none (all configs before halt_rule): HRM.halts compared q_halt with
        q_continue when q_continue is trained and halt_threshold is 0.5, else q_halt with the threshold's logit."""
        return "q_continue" if self.q_continue_trained and self.halt_threshold == 0.5 else "threshold"

    def _resolve_halt_rule(self) -> None:
        if self.halt_rule == "":  # not named: the rule this config always ran under
            self.halt_rule = self._implied_halt_rule()
        if self.halt_rule not in HALT_RULES:
            raise HrmkitError(f"model config: halt_rule must be one of {', '.join(HALT_RULES)}, got {self.halt_rule!r}")
        if self.halt_rule == "q_continue" and not self.q_continue_trained:
            raise HrmkitError(f"model config: halt_rule q_continue needs a trained q_continue (halting act"
                              f"{'' if self.arch != 'trm' else ' and no_ACT_continue false'}); use halt_rule threshold")
        if self.halt_rule == "q_continue" and self.halt_threshold != 0.5:
            raise HrmkitError(f"model config: halt_threshold {self.halt_threshold} is used by halt_rule threshold "
                              "only; halt_rule is q_continue")

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
        # likewise, left out where the other fields imply them (as a config without them resolves): the structure
        # of a first spelling (sudoku_peers ...) or none, and the halting rule such a config always ran under
        for name, implied in (("structure", self._implied_structure()), ("halt_rule", self._implied_halt_rule())):
            if data[name] == implied:
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

    @property
    def q_continue_trained(self) -> bool:
        """TRM trains q_continue only with halting act and no_ACT_continue false."""
        return self.halting == "act" and not self.no_ACT_continue

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


def check_halt_threshold(p: float, name: str = "halt threshold") -> float:
    """`p` if it is a probability in (0, 1) (the halting threshold's one check), else an HrmkitError naming it."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(p, bool) or not 0.0 < value < 1.0:  # nan fails too
        raise HrmkitError(f"{name} must be a probability in (0, 1), got {p}")
    return value

# ---- presets ---------------------------------------------------------------------------------------------------
_HRM_PAPER = dict(arch="hrm_act_v1", hidden_size=512, num_heads=8, expansion=4.0, H_layers=4, L_layers=4,
                  H_cycles=2, L_cycles=2, halt_max_steps=16, halt_exploration_prob=0.1, pos_encodings="rope",
                  puzzle_emb_ndim=512)  # HRM paper / authors' config/arch/hrm_v1.yaml
_TRM_PAPER = dict(arch="trm", hidden_size=512, num_heads=8, expansion=4.0, L_layers=2, H_cycles=3, L_cycles=4,
                  halt_max_steps=16, halt_exploration_prob=0.1, pos_encodings="rope", puzzle_emb_ndim=512,
                  puzzle_emb_len=16, no_ACT_continue=True)  # TRM paper / its config/arch/trm.yaml

# The priors: sudoku-search and maze-cpu name them generically (structure + family-graph / family-coords); demo keeps
# the first spellings (sudoku_rcb, sudoku_peers: the same model), so that its config.json and dvc.lock stay as they
# are (config.json keeps whichever spelling a config used).
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
                 halting="fixed"),  # the prior's first spelling: the demo's config.json (and dvc.lock) stay as they are
    # The CPU recipe for Sudoku that needs search (benchmarks/sudoku_search/RESULTS.md): the demo's model, trained
    # for 4 fixed segments per puzzle (deep supervision on each) easy-to-hard and run for 32 segments at test time
    # (pipelines/sudoku-search-cpu); 4 segments learn faster per step than 16 and keep improving past 4.
    "sudoku-search": dict(arch="hrm_act_v1", vocab_size=11, seq_len=81, hidden_size=64, num_heads=4, expansion=4.0,
                          H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=4, puzzle_emb_ndim=0,
                          structure="sudoku", pos_encodings="family-coords", attn_mask="family-graph",
                          grad_cycles=1, loss_on="blanks", halting="fixed"),
    # The CPU maze recipe (benchmarks/maze_recipe/RESULTS.md): a 59k-parameter HRM whose attention sees only the
    # cells within Manhattan distance 2 (learned offset embeddings, no position table), so the weights run on a
    # maze grid of any size; loss on the open cells, 16 fixed segments with deep supervision, Q head on the mean.
    "maze-cpu": dict(arch="hrm_act_v1", vocab_size=6, seq_len=100, hidden_size=32, num_heads=2, expansion=4.0,
                     H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=16, puzzle_emb_ndim=0,
                     pos_encodings="none", structure="maze", attn_mask="family-graph", attn_radius=2,
                     grad_cycles=2, loss_on="blanks",
                     blank_token_id=2, halting="fixed", q_pool="mean"),
    # TRM paper, Sudoku-Extreme: MLP over the sequence, no positional encoding, T=3, n=6 (about 5M parameters).
    "trm-sudoku-mlp": dict(_TRM_PAPER, vocab_size=11, seq_len=81, mlp_t=True, pos_encodings="none", L_cycles=6),
    # TRM paper, Maze-Hard: attention, T=3, n=4 (about 7M parameters).
    "trm-maze": dict(_TRM_PAPER, vocab_size=6, seq_len=900),
    # TRM paper, ARC: attention, T=3, n=4; num_puzzle_identifiers from the dataset as for paper-arc.
    "trm-arc": dict(_TRM_PAPER, vocab_size=12, seq_len=900),
}
