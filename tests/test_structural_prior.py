"""The family-supplied structural prior (hrmkit.models.structure; `structure`, `attn_mask: family-graph`,
`pos_encodings: family-coords`), its first spellings (sudoku_rcb, sudoku_peers, grid), and the named halting rule
(`halt_rule`)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hrmkit.errors import HrmkitError
from hrmkit.models import HRM, TRM, HRMConfig, ModelConfig, TRMConfig, build, from_pretrained
from hrmkit.models.attention import Attention, GridAttention, graph_mask
from hrmkit.puzzles import maze, sudoku

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")

SUDOKU_OLD = dict(pos_encodings="sudoku_rcb", attn_mask="sudoku_peers")
SUDOKU_NEW = dict(pos_encodings="family-coords", attn_mask="family-graph", structure="sudoku")
GRID_OLD = dict(pos_encodings="none", attn_mask="grid", attn_radius=2)
GRID_NEW = dict(pos_encodings="none", attn_mask="family-graph", structure="maze", attn_radius=2)
SMALL = dict(hidden_size=32, num_heads=2, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=3, puzzle_emb_ndim=0,
             forward_dtype="float32")

# config.json of the sudoku-search-cpu pipeline's model as written before `structure` and `halt_rule` existed
OLD_SUDOKU_JSON = {
    "arch": "hrm_act_v1", "vocab_size": 11, "seq_len": 81, "num_puzzle_identifiers": 1, "puzzle_emb_ndim": 0,
    "hidden_size": 64, "num_heads": 4, "expansion": 4.0, "L_layers": 1, "H_cycles": 2, "L_cycles": 2,
    "pos_encodings": "sudoku_rcb", "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "attn_mask": "sudoku_peers",
    "attn_radius": 1, "halt_max_steps": 16, "halt_exploration_prob": 0.1, "halting": "fixed", "halt_threshold": 0.5,
    "loss_on": "blanks", "blank_token_id": 1, "q_pool": "first", "attention": "auto", "forward_dtype": "auto",
    "H_layers": 1, "grad_cycles": 1}


def config(cls, **kw):
    extra = {"H_layers": 1} if cls is HRMConfig else {}
    return cls(**{**SMALL, **extra, **kw})


def tokens(n, length, vocab, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab, (n, length), generator=g)


def same_model(a_cfg, b_cfg, inputs):
    """Build both from the same seed: same state-dict names and shapes, the same initial weights, and the same
    outputs (b also run with a's weights loaded); returns a's model."""
    torch.manual_seed(0)
    a = build(a_cfg)
    torch.manual_seed(0)
    b = build(b_cfg)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    torch.manual_seed(1)
    b.load_state_dict({k: torch.randn_like(v) for k, v in sa.items()})
    a.load_state_dict(b.state_dict())
    ta, tb = a.trace(inputs, steps=2), b.trace(inputs, steps=2)
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key
    return a


# ---- the families' structure ----------------------------------------------------------------------------------
def test_family_structure_modules_do_not_import_torch():
    code = ("import sys, hrmkit.puzzles.sudoku as s, hrmkit.puzzles.maze as m; "
            "s.relation_graph(81); s.coordinates(81); m.relation_graph(25, 2); m.coordinates(25); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_sudoku_structure_is_rows_columns_boxes():
    axes, sizes, coords = sudoku.coordinates(81)
    assert axes == ("row", "col", "box") and sizes == (9, 9, 9) and len(coords) == 81
    assert coords[0] == (0, 0, 0) and coords[33] == (3, 6, 5) and coords[80] == (8, 8, 8)
    relations, neighbours = sudoku.relation_graph(81)
    assert relations == ("peer",)
    for i in range(81):
        r, c = divmod(i, 9)
        peers = {j for j in range(81) if j // 9 == r or j % 9 == c or (j // 27, j % 9 // 3) == (r // 3, c // 3)}
        assert {j for j, o in neighbours[i]} == peers and {o for _, o in neighbours[i]} == {0} and len(peers) == 21
    with pytest.raises(HrmkitError, match="seq_len 81.*got seq_len 64"):
        sudoku.relation_graph(64)


@pytest.mark.parametrize("side", [3, 7])
def test_maze_structure_is_offsets_on_a_square_grid(side):
    axes, sizes, coords = maze.coordinates(side * side)
    assert axes == ("row", "col") and sizes == (side, side) and coords[side + 2] == (1, 2)
    relations, neighbours = maze.relation_graph(side * side, 2)
    assert relations[0] == (0, 0) and len(relations) == 13
    for i, edges in enumerate(neighbours):
        r, c = divmod(i, side)
        want = {((r + dy) * side + c + dx, o) for o, (dy, dx) in enumerate(relations)
                if 0 <= r + dy < side and 0 <= c + dx < side}
        assert set(edges) == want
    with pytest.raises(HrmkitError, match="square"):
        maze.relation_graph(side * side + 1, 2)


def test_the_graph_mask_is_the_families_graph():
    mask = graph_mask("sudoku", 81, prefix_len=2)
    assert mask.shape == (83, 83) and mask[:2].all() and mask[:, :2].all()
    _, neighbours = sudoku.relation_graph(81)
    want = torch.zeros(81, 81, dtype=torch.bool)
    for i, edges in enumerate(neighbours):
        want[i, [j for j, _ in edges]] = True
    assert torch.equal(mask[2:, 2:], want)


# ---- new and old spellings: one model ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [HRMConfig, TRMConfig])
@pytest.mark.parametrize("old, new", [
    (SUDOKU_OLD, SUDOKU_NEW),
    (dict(attn_mask="sudoku_peers", pos_encodings="none"), dict(attn_mask="family-graph", structure="sudoku", pos_encodings="none")),
    (dict(pos_encodings="sudoku_rcb"), dict(pos_encodings="family-coords", structure="sudoku")),
    (dict(SUDOKU_OLD, puzzle_emb_ndim=32, num_puzzle_identifiers=3), dict(SUDOKU_NEW, puzzle_emb_ndim=32, num_puzzle_identifiers=3)),
])
def test_sudoku_spellings_build_the_same_model(cls, old, new):
    a_cfg, b_cfg = config(cls, **old), config(cls, **new)
    assert a_cfg.structure == b_cfg.structure == "sudoku"
    assert (a_cfg.uses_graph, a_cfg.uses_coords) == (b_cfg.uses_graph, b_cfg.uses_coords)
    model = same_model(a_cfg, b_cfg, tokens(3, 81, 11))
    names = set(model.state_dict())
    assert ({"inner.embed_row.embedding_weight", "inner.embed_col.embedding_weight", "inner.embed_box.embedding_weight"}
            <= names) == a_cfg.uses_coords
    attn = model.inner.L_level.layers[0].self_attn
    assert isinstance(attn, Attention) and (attn.attn_mask is not None) == a_cfg.uses_graph


@pytest.mark.parametrize("cls", [HRMConfig, TRMConfig])
def test_grid_spellings_build_the_same_model_and_run_on_two_sizes(cls):
    a_cfg, b_cfg = config(cls, vocab_size=6, seq_len=64, **GRID_OLD), config(cls, vocab_size=6, seq_len=64, **GRID_NEW)
    assert a_cfg.structure == b_cfg.structure == "maze" and a_cfg.any_size and b_cfg.any_size
    a = same_model(a_cfg, b_cfg, tokens(2, 64, 6))
    b = build(b_cfg)
    b.load_state_dict(a.state_dict())
    assert isinstance(b.inner.L_level.layers[0].self_attn, GridAttention)
    assert {k for k in b.state_dict() if "rel_" in k} == {k for k in a.state_dict() if "rel_" in k} != set()
    for side in (5, 11):  # neither the training canvas
        x = tokens(2, side * side, 6, seed=side)
        ta, tb = a.trace(x, steps=2), b.trace(x, steps=2)
        assert tb["logits"].shape == (2, 2, side * side, 6) and torch.equal(ta["logits"], tb["logits"])


@pytest.mark.parametrize("side", [6, 9])
def test_grid_attention_sees_only_the_radius(side):
    """One GridAttention layer: a cell's output moves when a cell within the radius changes, never otherwise."""
    torch.manual_seed(0)
    att = GridAttention(16, 2, radius=2, name="maze")
    x = torch.randn(1, side * side, 16)
    centre = (side // 2) * side + side // 2
    base = att(x)[0, centre]
    for cell in range(side * side):
        y = x.clone()
        y[0, cell] += 1.0
        moved = not torch.equal(att(y)[0, centre], base)
        r, c = divmod(cell, side)
        assert moved == (abs(r - side // 2) + abs(c - side // 2) <= 2), cell


def test_maze_coordinates_give_row_and_column_tables_of_the_canvas():
    cfg = config(HRMConfig, vocab_size=6, seq_len=49, pos_encodings="family-coords", structure="maze")
    assert not cfg.any_size
    torch.manual_seed(0)
    model = build(cfg)
    inner = model.inner
    assert inner.coord_axes == ("row", "col")
    assert inner.embed_row.embedding_weight.shape == inner.embed_col.embedding_weight.shape == (7, 32)
    assert not hasattr(inner, "embed_box") and inner.cell_units[:, 10].tolist() == [1, 3]
    x = tokens(2, 49, 6)
    got = inner.input_embeddings(x, torch.zeros(2, dtype=torch.int32), torch.float32)
    cell = 10
    want = (inner.embed_tokens.embedding_weight[x[:, cell]] + inner.embed_row.embedding_weight[1]
            + inner.embed_col.embedding_weight[3]) / 2 ** 0.5 * 32 ** 0.5
    torch.testing.assert_close(got[:, cell], want)
    assert model.trace(x, steps=1)["logits"].shape == (1, 2, 49, 6)
    with pytest.raises(HrmkitError, match="inputs must be"):
        model.trace(tokens(1, 64, 6))


# ---- config.json --------------------------------------------------------------------------------------------
def test_an_old_config_json_loads_and_is_written_back_unchanged(tmp_path):
    old = ModelConfig.from_dict(OLD_SUDOKU_JSON)
    assert (old.structure, old.halt_rule, old.uses_graph, old.uses_coords) == ("sudoku", "threshold", True, True)
    assert old.to_dict() == OLD_SUDOKU_JSON  # the first spellings, no new keys: re-saving gives the same file
    new = old.replace(**SUDOKU_NEW)
    torch.manual_seed(0)
    model = build(new)
    model.save_pretrained(tmp_path / "new")
    saved = json.loads((tmp_path / "new" / "config.json").read_text())
    assert {k: saved[k] for k in SUDOKU_NEW} == SUDOKU_NEW and "halt_rule" not in saved
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps(OLD_SUDOKU_JSON))
    (tmp_path / "old" / "model.safetensors").write_bytes((tmp_path / "new" / "model.safetensors").read_bytes())
    a, b = from_pretrained(tmp_path / "old"), from_pretrained(tmp_path / "new")
    assert a.config.pos_encodings == "sudoku_rcb" and b.config.pos_encodings == "family-coords"
    x = tokens(3, 81, 11)
    for key, value in a.trace(x, steps=3).items():
        assert torch.equal(value, b.trace(x, steps=3)[key]), key


def test_trained_model_folders_rebuild_under_the_generic_names():
    """The models trained by the CPU pipelines (when present here): loaded from their config.json (first
    spellings) and rebuilt with the generic names around the same weights, they give the same outputs."""
    from safetensors.torch import load_file

    folders = sorted(p.parent for p in REPO.glob("pipelines/*/runs/*/config.json") if (p.parent / "model.safetensors").is_file())
    folders += sorted(p.parent for p in REPO.glob("runs/*/config.json") if (p.parent / "model.safetensors").is_file())
    if not folders:
        pytest.skip("no trained model folders under pipelines/*/runs or runs")
    for folder in folders:
        data = json.loads((folder / "config.json").read_text())
        if data.get("attn_mask") not in ("sudoku_peers", "grid") and data.get("pos_encodings") != "sudoku_rcb":
            continue
        model = from_pretrained(folder)
        assert model.config.to_dict() == data, folder
        generic = {"sudoku_peers": "family-graph", "grid": "family-graph", "sudoku_rcb": "family-coords"}
        names = {k: generic.get(data[k], data[k]) for k in ("attn_mask", "pos_encodings")}
        again = build(model.config.replace(structure=model.config.structure, **names))
        assert again.config.structure in ("sudoku", "maze") and "structure" in again.config.to_dict()
        again.load_state_dict(load_file(str(folder / "model.safetensors")))
        again.eval()
        length = model.config.seq_len
        x = tokens(2, length, model.config.vocab_size, seed=3)
        for key, value in model.trace(x, steps=2).items():
            assert torch.equal(value, again.trace(x, steps=2)[key]), (folder, key)


# ---- errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fields, match", [
    (dict(attn_mask="family-graph"), "attn_mask=family-graph needs a structure"),
    (dict(pos_encodings="family-coords"), "pos_encodings=family-coords needs a structure"),
    (dict(structure="chess"), "structure must be one of none, sudoku, maze, got 'chess'"),
    (dict(structure="arc", attn_mask="family-graph"), "structure must be one of none, sudoku, maze, got 'arc'"),
    (dict(attn_mask="sudoku_peers", structure="maze"), "sudoku_peers is the sudoku structure's prior.*'maze'"),
    (dict(attn_mask="grid", pos_encodings="sudoku_rcb", seq_len=81), "name different structures"),
    (dict(attn_mask="family-graph", structure="sudoku", seq_len=64), "family-graph.*seq_len 81\\), got seq_len 64"),
    (dict(pos_encodings="family-coords", structure="maze", seq_len=60), "pos_encodings=family-coords.*square"),
    (dict(attn_mask="family-graph", structure="maze", seq_len=64, pos_encodings="rope"), "pos_encodings none"),
    (dict(attn_mask="family-graph", structure="maze", seq_len=64, pos_encodings="none", attn_radius=0), "radius"),
])
def test_structure_errors_are_one_clear_line(fields, match):
    with pytest.raises(HrmkitError, match=match):
        config(HRMConfig, **fields)


def test_a_structure_alone_changes_nothing():
    cfg = config(HRMConfig, structure="sudoku", pos_encodings="rope")
    assert not cfg.uses_graph and not cfg.uses_coords and cfg.to_dict()["structure"] == "sudoku"
    same_model(cfg, config(HRMConfig, pos_encodings="rope"), tokens(2, 81, 11))


# ---- the halting rule ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, fields, rule", [
    (HRMConfig, {}, "q_continue"),  # the authors' HRM
    (HRMConfig, {"halting": "fixed"}, "threshold"),  # no q_continue target
    (HRMConfig, {"halt_threshold": 0.6}, "threshold"),
    (TRMConfig, {}, "threshold"),  # no_ACT_continue
    (TRMConfig, {"no_ACT_continue": False}, "q_continue"),
    (TRMConfig, {"no_ACT_continue": False, "halt_threshold": 0.7}, "threshold"),
])
def test_a_config_without_halt_rule_gets_the_rule_it_ran_under(cls, fields, rule):
    cfg = config(cls, **fields)
    assert cfg.halt_rule == rule and "halt_rule" not in cfg.to_dict()  # implied: config.json as before
    assert config(cls, halt_rule=rule, **fields) == cfg
    assert cls.from_dict(cfg.to_dict()) == cfg


def test_the_halting_rule_decides_halting():
    q_halt, q_continue = torch.tensor([-1.0, 0.2, 0.2, 3.0]), torch.tensor([-2.0, 1.0, -1.0, 0.0])
    by_q = HRM(config(HRMConfig))
    by_threshold = HRM(config(HRMConfig, halt_rule="threshold"))  # named: q_halt > 0 on an act model
    assert by_q.halts(q_halt, q_continue).tolist() == [True, False, True, True]
    assert by_threshold.halts(q_halt, q_continue).tolist() == [False, True, True, True]
    assert by_threshold.config.to_dict()["halt_rule"] == "threshold"
    assert HRM(config(HRMConfig, halt_rule="threshold", halt_threshold=0.9)).halts(q_halt, q_continue).tolist() == \
        [False, False, False, True]  # sigmoid(3) = 0.95
    assert by_q.halts(q_halt, q_continue, 0.6).tolist() == [False, False, False, True]  # an explicit threshold
    trm = TRM(config(TRMConfig))
    assert trm.halts(q_halt, q_continue).tolist() == [False, True, True, True]
    # a derived rule follows the fields it derives from
    assert config(HRMConfig).replace(halt_threshold=0.6).halt_rule == "threshold"
    assert config(HRMConfig).replace(halting="fixed").halt_rule == "threshold"


@pytest.mark.parametrize("cls, fields, match", [
    (HRMConfig, {"halt_rule": "q_halt"}, "halt_rule must be one of q_continue, threshold, got 'q_halt'"),
    (HRMConfig, {"halt_rule": "q_continue", "halting": "fixed"}, "halt_rule q_continue needs a trained q_continue"),
    (TRMConfig, {"halt_rule": "q_continue"}, "needs a trained q_continue .*no_ACT_continue false"),
    (HRMConfig, {"halt_rule": "q_continue", "halt_threshold": 0.9}, "halt_threshold 0.9 is used by halt_rule threshold"),
    (HRMConfig, {"halt_threshold": 1.0}, "halt_threshold must be a probability in \\(0, 1\\), got 1.0"),
    (HRMConfig, {"halt_threshold": float("nan")}, "halt_threshold"),
])
def test_halting_settings_are_validated_with_one_clear_error(cls, fields, match):
    with pytest.raises(HrmkitError, match=match):
        config(cls, **fields)


def test_a_threshold_given_at_call_time_is_checked_the_same_way():
    model = HRM(config(HRMConfig))
    with pytest.raises(HrmkitError, match="halt threshold must be a probability in \\(0, 1\\), got 1.5"):
        model.halts(torch.zeros(2), torch.zeros(2), 1.5)
