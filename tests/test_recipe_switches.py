"""The CPU demo recipe's model switches (benchmarks/demo_recipe/RESULTS.md): pos_encodings sudoku_rcb, attn_mask
sudoku_peers, grad_cycles, loss_on blanks, halting fixed; their defaults, errors, saving, and the `demo` presets."""

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from hrmkit.errors import HrmkitError
from hrmkit.models import HRMConfig, ModelConfig, TRMConfig, build, from_pretrained
from hrmkit.models.attention import Attention, attend, reference_attention, sudoku_peer_mask
from hrmkit.models.losses import act_loss, softmax_cross_entropy
from hrmkit.train.config import TRAIN_PRESETS, TrainConfig, resolve

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")

SWITCHES = dict(pos_encodings="sudoku_rcb", attn_mask="sudoku_peers", grad_cycles=1, loss_on="blanks",
                halting="fixed")


def tiny(**kw) -> HRMConfig:
    base = dict(hidden_size=32, num_heads=2, H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=3,
                puzzle_emb_ndim=0, forward_dtype="float32")
    return HRMConfig(**{**base, **kw})


def puzzles(n: int, seed: int = 0, blank_frac: float = 0.4):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(2, 11, (n, 81), generator=g)
    inputs = torch.where(torch.rand(n, 81, generator=g) < blank_frac, 1, labels)
    return inputs, labels


# ---- config ---------------------------------------------------------------------------------------------------
def test_defaults_keep_the_authors_behaviour():
    cfg = HRMConfig()
    assert (cfg.pos_encodings, cfg.attn_mask, cfg.grad_cycles, cfg.loss_on, cfg.halting) == \
        ("rope", "none", 0, "all", "act")
    assert TrainConfig().q_loss_weight == 0.5


@pytest.mark.parametrize("field,value,match", [
    ("attn_mask", "peers", "attn_mask"), ("pos_encodings", "rcb", "pos_encodings"), ("loss_on", "givens", "loss_on"),
    ("halting", "none", "halting"), ("grad_cycles", 3, "grad_cycles"), ("grad_cycles", -1, "grad_cycles"),
])
def test_unknown_switch_values_are_clear_errors(field, value, match):
    with pytest.raises(HrmkitError, match=match):
        ModelConfig.from_dict({"arch": "hrm_act_v1", "H_cycles": 2, field: value})


@pytest.mark.parametrize("field,value", [("pos_encodings", "sudoku_rcb"), ("attn_mask", "sudoku_peers")])
def test_sudoku_priors_need_81_cells(field, value):
    with pytest.raises(HrmkitError, match=f"{field}=.*seq_len 81.*got seq_len 30"):
        tiny(seq_len=30, **{field: value})


def test_mask_with_mlp_t_and_grad_cycles_on_trm_are_refused():
    with pytest.raises(HrmkitError, match="attn_mask needs attention"):
        TRMConfig(mlp_t=True, pos_encodings="none", attn_mask="sudoku_peers")
    with pytest.raises(HrmkitError, match="unknown field.*grad_cycles"):
        ModelConfig.from_dict({"arch": "trm", "grad_cycles": 1})


def test_switches_are_saved_in_config_json(tmp_path):
    torch.manual_seed(0)
    model = build(tiny(**SWITCHES))
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert {k: saved[k] for k in SWITCHES} == SWITCHES
    inputs, _ = puzzles(3)
    again = from_pretrained(tmp_path)
    torch.testing.assert_close(again.trace(inputs)["logits"], model.trace(inputs)["logits"])


# ---- attn_mask: sudoku_peers ----------------------------------------------------------------------------------
def test_peer_mask_is_the_sudoku_constraint_graph():
    m = sudoku_peer_mask()
    assert m.shape == (81, 81) and m.dtype == torch.bool
    assert (m.sum(1) == 21).all() and torch.equal(m, m.T) and m.diagonal().all()
    assert m[0, 8] and m[0, 72] and m[0, 20] and not m[0, 21] and not m[0, 80]  # row, column, box; neither
    p = sudoku_peer_mask(prefix_len=2)
    assert p.shape == (83, 83) and p[:2].all() and p[:, :2].all() and torch.equal(p[2:, 2:], m)


def test_masked_attention_matches_the_reference_and_xformers_request_falls_back():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 81, 2, 16) for _ in range(3))
    mask = sudoku_peer_mask()
    expected = reference_attention(q, k, v, mask)
    torch.testing.assert_close(attend(q, k, v, "sdpa", mask), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attend(q, k, v, "xformers", mask), expected, atol=1e-5, rtol=1e-5)  # -> sdpa
    assert not torch.allclose(attend(q, k, v, "sdpa"), expected, atol=1e-3)


def test_a_masked_model_sees_only_peers_in_one_block():
    """One attention + MLP block: changing cell 80 moves its peers' outputs, never cell 0's (no shared unit)."""
    torch.manual_seed(0)
    model = build(tiny(attn_mask="sudoku_peers", pos_encodings="none"))
    attn = model.inner.L_level.layers[0].self_attn
    assert isinstance(attn, Attention) and torch.equal(attn.attn_mask, sudoku_peer_mask())
    x = torch.randn(1, 81, 32)
    y = x.clone()
    y[0, 80] += 1.0
    block = model.inner.L_level.layers[0]
    delta = (block(x, None) - block(y, None)).abs().sum(-1)[0]  # (81,)
    assert delta[0] == 0 and delta[8 * 9 + 0] > 0 and delta[8] > 0 and delta[60] > 0  # 60: box 8


# ---- pos_encodings: sudoku_rcb --------------------------------------------------------------------------------
def test_rcb_embedding_is_the_scaled_sum_of_four_tables():
    torch.manual_seed(0)
    inner = build(tiny(pos_encodings="sudoku_rcb")).inner
    assert not hasattr(inner, "rotary_emb") and inner.cos_sin() is None
    inputs, _ = puzzles(2)
    got = inner.input_embeddings(inputs, torch.zeros(2, dtype=torch.int32), torch.float32)
    cell = 40  # row 4, column 4, box 4
    tok = inner.embed_tokens.embedding_weight[inputs[:, cell]]
    want = math.sqrt(32) * (tok + inner.embed_row.embedding_weight[4] + inner.embed_col.embedding_weight[4]
                            + inner.embed_box.embedding_weight[4]) / math.sqrt(3)
    torch.testing.assert_close(got[:, cell], want)
    assert inner.cell_units[:, 80].tolist() == [8, 8, 8] and inner.cell_units[:, 33].tolist() == [3, 6, 5]


def test_rcb_leaves_the_puzzle_embedding_prefix_alone():
    torch.manual_seed(0)
    model = build(tiny(pos_encodings="sudoku_rcb", attn_mask="sudoku_peers", puzzle_emb_ndim=32,
                       num_puzzle_identifiers=3)).eval()
    model.inner.puzzle_emb.weights.normal_()
    inputs, _ = puzzles(2)
    ids = torch.tensor([1, 2], dtype=torch.int32)
    x = model.inner.input_embeddings(inputs, ids, torch.float32)
    assert x.shape == (2, 82, 32)
    torch.testing.assert_close(x[:, 0], math.sqrt(32) * model.inner.puzzle_emb.weights[ids])
    assert model.inner.H_level.layers[0].self_attn.attn_mask.shape == (82, 82)
    assert model.trace(inputs, ids)["logits"].shape == (3, 2, 81, 11)


# ---- grad_cycles ----------------------------------------------------------------------------------------------
def _by_hand(inner, inputs, grad_cycles):
    """The segment written out: the first H_cycles - grad_cycles cycles without gradient, the rest with."""
    cfg = inner.config
    x = inner.input_embeddings(inputs, torch.zeros(len(inputs), dtype=torch.int32), torch.float32)
    z_H = inner.H_init.expand(len(inputs), 81, -1)
    z_L = inner.L_init.expand(len(inputs), 81, -1)
    for h in range(cfg.H_cycles):
        with torch.set_grad_enabled(h >= cfg.H_cycles - grad_cycles):
            for _ in range(cfg.L_cycles):
                z_L = inner.L_level(z_L, z_H + x, None)
            z_H = inner.H_level(z_H, z_L, None)
    return inner.lm_head(z_H)


def _grads(inner, logits):
    inner.zero_grad()
    logits.square().mean().backward()
    return {n: p.grad.clone() for n, p in inner.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("grad_cycles", [1, 2])
def test_grad_cycles_back_propagates_whole_h_cycles(grad_cycles):
    torch.manual_seed(0)
    inner = build(tiny(pos_encodings="none", grad_cycles=grad_cycles, H_cycles=3)).inner
    inputs, _ = puzzles(2)
    z0 = inner.H_init.expand(2, 81, -1)
    got = _grads(inner, inner(z0, inner.L_init.expand(2, 81, -1), inputs, torch.zeros(2, dtype=torch.int32))[2])
    want = _grads(inner, _by_hand(inner, inputs, grad_cycles))
    assert got.keys() == want.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], msg=name)
    one_step = build(tiny(pos_encodings="none", grad_cycles=0, H_cycles=3)).inner
    one_step.load_state_dict(inner.state_dict())
    g1 = _grads(one_step, one_step(z0, inner.L_init.expand(2, 81, -1), inputs, torch.zeros(2, dtype=torch.int32))[2])
    name = "embed_tokens.embedding_weight"  # more L-calls with gradient: a different input gradient
    assert not torch.allclose(g1[name], got[name])


# ---- loss_on: blanks ------------------------------------------------------------------------------------------
def test_blank_loss_ignores_givens_and_decoding_keeps_them():
    torch.manual_seed(0)
    model = build(tiny(loss_on="blanks")).train()
    inputs, labels = puzzles(4)
    batch = {"inputs": inputs, "labels": labels}
    carry, out = model(model.initial_carry(batch), batch)
    given = inputs != 1
    assert (out["logits"].argmax(-1)[given] == inputs[given]).all()  # the givens are copied from the input
    loss, parts = act_loss(carry, out, "softmax_cross_entropy", loss_on="blanks", q_weight=0.0)
    ce = softmax_cross_entropy(out["logits"], torch.where(given, -100, labels))  # (B, L)
    torch.testing.assert_close(loss, (ce.sum(1) / (~given).sum(1)).sum())
    assert loss.requires_grad
    # a model whose blanks are right is "fully correct" whatever it was taught about givens
    wrong_givens = torch.where(given, (labels - 1) % 9 + 2, labels)  # every given cell a different digit
    blanks_right = {**out, "logits": torch.nn.functional.one_hot(wrong_givens, 11).float() * 10}
    halted = dataclasses.replace(carry, halted=torch.ones(4, dtype=torch.bool))  # metrics count halted rows
    _, parts = act_loss(halted, blanks_right, "softmax_cross_entropy", loss_on="blanks")
    assert parts["exact_accuracy"] == parts["count"] == 4
    _, parts = act_loss(halted, blanks_right, "softmax_cross_entropy")
    assert parts["exact_accuracy"] == 0
    # the default loss counts every labelled cell
    trace = model.trace(inputs)["logits"].argmax(-1)  # (S, B, L)
    assert (trace[:, given] == inputs[given]).all()


def test_untrained_model_with_default_loss_does_not_copy_givens():
    torch.manual_seed(0)
    inputs, _ = puzzles(8)
    pred = build(tiny()).trace(inputs)["logits"].argmax(-1)[-1]
    given = inputs != 1
    assert (pred[given] == inputs[given]).float().mean() < 0.5


# ---- halting: fixed -------------------------------------------------------------------------------------------
def test_fixed_halting_runs_every_segment_in_training_and_trains_q_halt():
    torch.manual_seed(0)
    model = build(tiny(halting="fixed", halt_exploration_prob=1.0)).train()
    with torch.no_grad():
        model.inner.q_head.bias.fill_(5.0)  # the Q head says "halt" everywhere
    inputs, labels = puzzles(6)
    batch = {"inputs": inputs, "labels": labels}
    carry = model.initial_carry(batch)
    for step in range(1, 4):
        carry, out = model(carry, batch)
        assert "target_q_continue" not in out  # no bootstrap forward
        assert carry.halted.tolist() == [step == 3] * 6  # no early halt, no exploration
    loss, parts = act_loss(carry, out, "softmax_cross_entropy")
    assert parts["q_halt_loss"] > 0 and "q_continue_loss" not in parts
    q = torch.tensor([0.5, -0.5])
    assert model.halts(q, torch.tensor([9.0, -9.0])).tolist() == [True, False]  # q_halt > 0, q_continue unused
    act = build(tiny()).train()
    assert act.halts(q, torch.tensor([9.0, -9.0])).tolist() == [False, True]  # the authors' q_halt > q_continue


# ---- the demo presets and params.yaml -------------------------------------------------------------------------
def test_demo_preset_is_the_recipe():
    cfg = ModelConfig.from_name("demo")
    assert {k: getattr(cfg, k) for k in SWITCHES} == SWITCHES
    assert (cfg.hidden_size, cfg.num_heads, cfg.H_layers, cfg.L_layers, cfg.H_cycles, cfg.L_cycles,
            cfg.halt_max_steps, cfg.puzzle_emb_ndim) == (64, 4, 1, 1, 2, 2, 4, 0)
    with torch.device("meta"):
        assert build(cfg).num_parameters() == 134_338  # RESULTS.md
    train = TrainConfig(**TRAIN_PRESETS["demo"])
    assert (train.lr, train.lr_min_ratio, train.warmup_steps, train.weight_decay, train.global_batch_size,
            train.loss, train.beta1, train.beta2) == (1e-3, 0.1, 100, 0.1, 64, "softmax", 0.9, 0.95)


def test_params_yaml_names_the_demo_presets():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["build"]["options"]["givens"] == "50-55"
    preset, train, model_over = resolve(None, str(REPO / "params.yaml") + ":train", [], set(HRMConfig().to_dict()))
    assert preset == "demo"
    assert ModelConfig.from_name(preset, **model_over) == ModelConfig.from_name("demo")
    expected = TrainConfig(**{**TRAIN_PRESETS["demo"], "device": "cpu"})
    assert {k: v for k, v in train.to_dict().items() if k not in ("steps", "log_every")} == \
        {k: v for k, v in expected.to_dict().items() if k not in ("steps", "log_every")}
