"""Models: presets and sizes, the ACT training API, trace, attention backends, save/load, configs, losses."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from hrmkit.errors import HrmkitError
from hrmkit.models import HRM, PRESETS, TRM, HRMConfig, ModelConfig, TRMConfig, build, from_pretrained
from hrmkit.models.attention import attend, reference_attention, resolve_backend
from hrmkit.models.layers import PuzzleEmbedding, swiglu_inner, trunc_normal_
from hrmkit.models.losses import act_loss, softmax_cross_entropy, stablemax_cross_entropy


def tiny(**overrides) -> HRM:
    torch.manual_seed(0)
    return build(ModelConfig.from_name("tiny", **overrides))


def tiny_trm(**overrides) -> TRM:
    torch.manual_seed(0)
    base = dict(vocab_size=11, seq_len=81, hidden_size=32, num_heads=2, L_layers=2, H_cycles=2, L_cycles=2,
                halt_max_steps=4, puzzle_emb_ndim=32, puzzle_emb_len=2, num_puzzle_identifiers=3)
    return build(TRMConfig(**{**base, **overrides}))


def sudoku_batch(B: int = 3, seed: int = 0, vocab: int = 11, L: int = 81) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(2, vocab, (B, L), generator=g, dtype=torch.int32)
    blank = torch.rand(B, L, generator=g) < 0.5
    return {"inputs": torch.where(blank, 1, labels), "labels": labels,
            "puzzle_identifiers": torch.zeros(B, dtype=torch.int32)}


def block_params(hidden: int, expansion: float, attention: bool = True, mix_len: int = 0) -> int:
    """Parameters of one block, counted by hand: QKV + O projections, SwiGLU (and a token-mixing SwiGLU)."""
    swiglu = lambda d: 3 * d * swiglu_inner(d, expansion)  # noqa: E731  gate, up, down
    return (4 * hidden * hidden if attention else 0) + swiglu(hidden) + (swiglu(mix_len) if mix_len else 0)


# ---- presets -----------------------------------------------------------------------------------------------
def test_paper_sudoku_has_the_papers_parameter_count():
    with torch.device("meta"):
        model = build(ModelConfig.from_name("paper-sudoku"))
    assert model.num_parameters() == 27_275_266
    buffers = dict(model.named_buffers())
    assert sum(buffers[k].numel() for k in ("inner.H_init", "inner.L_init", "inner.puzzle_emb.weights")) == 1536


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_with_the_expected_size(name):
    cfg = ModelConfig.from_name(name)
    with torch.device("meta"):
        model = build(cfg)
    D, V = cfg.hidden_size, cfg.vocab_size
    heads = 2 * V * D + 2 * D + 2  # embedding, lm_head, q_head (+bias)
    if cfg.uses_coords:  # family-coords (or its first spelling sudoku_rcb): one learned table per axis
        assert cfg.structure == "sudoku"  # the only preset family with coordinates: row / column / box of 9
        heads += 3 * 9 * D
    if isinstance(cfg, HRMConfig):
        assert isinstance(model, HRM) and not isinstance(model, TRM)
        layers = (cfg.H_layers + cfg.L_layers) * block_params(D, cfg.expansion)
        if cfg.uses_graph and cfg.structure == "maze":  # per layer: key and value embeddings of each offset
            from hrmkit.models.attention import grid_offsets

            layers += (cfg.H_layers + cfg.L_layers) * 2 * len(grid_offsets(cfg.attn_radius)) * D
    else:
        assert isinstance(model, TRM)
        mix = cfg.seq_len + cfg.prefix_len if cfg.mlp_t else 0
        layers = cfg.L_layers * block_params(D, cfg.expansion, attention=not cfg.mlp_t, mix_len=mix)
    assert model.num_parameters() == layers + heads
    assert model.config == cfg


def test_trm_presets_have_the_papers_sizes():
    sizes = {}
    for name in ("trm-sudoku-mlp", "trm-maze", "trm-arc"):
        with torch.device("meta"):
            sizes[name] = build(ModelConfig.from_name(name)).num_parameters()
    assert 4.9e6 < sizes["trm-sudoku-mlp"] < 5.1e6  # "5M" in the TRM paper
    assert 6.7e6 < sizes["trm-maze"] < 7.0e6 and 6.7e6 < sizes["trm-arc"] < 7.0e6  # "7M"


def test_trunc_normal_has_the_requested_std_and_bounds():
    torch.manual_seed(0)
    x = trunc_normal_(torch.empty(200_000), std=0.5)
    assert abs(x.std().item() - 0.5) < 0.005  # the std asked for, after truncation (JAX convention)
    bound = 2 * 0.5 / 0.8796256610342398  # +-2 std of the underlying normal (truncation shrinks std by 0.8796)
    assert bound - 0.01 < x.abs().max().item() <= bound + 1e-6


# ---- configs -----------------------------------------------------------------------------------------------
def test_config_from_name_overrides_and_round_trips_through_dict():
    cfg = ModelConfig.from_name("paper-sudoku", halt_max_steps=8, expansion=2)
    assert isinstance(cfg, HRMConfig) and cfg.halt_max_steps == 8 and cfg.expansion == 2.0
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["arch"] == "hrm_act_v1"
    assert isinstance(ModelConfig.from_name("trm-arc"), TRMConfig)


def test_config_from_yaml_file_over_a_preset(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("preset: demo\nhidden_size: 256\nnum_heads: 8\n")
    cfg = ModelConfig.from_file(path, halt_max_steps=3)
    assert (cfg.hidden_size, cfg.num_heads, cfg.halt_max_steps, cfg.H_layers) == (256, 8, 3, 1)


@pytest.mark.parametrize("text, needle", [
    ("preset: demo\nhiden_size: 3\n", "hiden_size"),
    ("preset: demo\nnum_heads: 5\n", "num_heads"),
    ("preset: demo\npos_encodings: alibi\n", "pos_encodings"),
    ("preset: nope\n", "nope"),
    ("arch: gpt\n", "arch"),
    ("preset: demo\nseq_len: 8.5\n", "seq_len"),
    ("a: [1,\n", "m.yaml:"),
])
def test_bad_config_files_raise_one_clear_error(tmp_path, text, needle):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(HrmkitError, match=needle.replace(".", r"\.")):
        ModelConfig.from_file(path)


def test_config_of_the_wrong_arch_is_refused():
    with pytest.raises(HrmkitError, match="not 'trm'"):
        TRMConfig.from_dict(ModelConfig.from_name("tiny").to_dict())


# ---- trace and the ACT API ---------------------------------------------------------------------------------
def test_trace_shapes_and_eval_mode_equivalence():
    model = tiny().eval()
    batch = sudoku_batch()
    out = model.trace(batch["inputs"], batch["puzzle_identifiers"], steps=3)
    assert out["logits"].shape == (3, 3, 81, 11)
    assert out["q_halt_logits"].shape == out["q_continue_logits"].shape == (3, 3)
    carry = model.initial_carry(batch)
    with torch.no_grad():
        for step in range(3):  # the ACT forward in eval mode computes the same segments
            carry, o = model(carry, batch)
            torch.testing.assert_close(o["logits"], out["logits"][step], rtol=0, atol=0)
    assert carry.steps.tolist() == [3, 3, 3] and not carry.halted.any()


def test_trace_rejects_bad_inputs():
    model = tiny()
    with pytest.raises(HrmkitError, match="81"):
        model.trace(torch.ones(2, 80, dtype=torch.long))
    with pytest.raises(HrmkitError, match="token ids"):
        model.trace(torch.full((2, 81), 11))


def test_training_step_hrm_backpropagates_and_bootstraps_q_continue():
    model = tiny().train()
    batch = sudoku_batch()
    carry = model.initial_carry(batch)
    carry, out = model(carry, batch)
    assert set(out) == {"logits", "q_halt_logits", "q_continue_logits", "target_q_continue"}
    assert not carry.z_H.requires_grad and not carry.z_L.requires_grad  # detached between segments
    assert ((out["target_q_continue"] > 0) & (out["target_q_continue"] < 1)).all()
    loss, metrics = act_loss(carry, out)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.inner.lm_head.weight.grad.abs().sum() > 0
    assert model.inner.L_level.layers[0].mlp.down_proj.weight.grad.abs().sum() > 0


def test_halting_rules_in_training():
    batch = sudoku_batch()
    model = tiny(halt_exploration_prob=0.0).train()
    carry = model.initial_carry(batch)
    carry, _ = model(carry, batch)  # q head starts at (-5, -5): q_halt > q_continue is false
    assert not carry.halted.any()
    with torch.no_grad():
        model.inner.q_head.bias.copy_(torch.tensor([1.0, -1.0]))  # now q_halt > q_continue everywhere
    carry, _ = model(carry, batch)
    assert carry.halted.all() and carry.steps.tolist() == [2, 2, 2]
    # exploration with probability 1 forces a minimum of 2..halt_max_steps steps: never a halt at step 1
    model = tiny(halt_exploration_prob=1.0).train()
    with torch.no_grad():
        model.inner.q_head.bias.copy_(torch.tensor([1.0, -1.0]))
    for seed in range(5):
        torch.manual_seed(seed)
        carry, _ = model(model.initial_carry(batch), batch)
        assert not carry.halted.any()
    # eval: halts exactly at halt_max_steps
    model.eval()
    carry = model.initial_carry(batch)
    with torch.no_grad():
        for step in range(1, model.config.halt_max_steps + 1):
            carry, _ = model(carry, batch)
            assert carry.halted.all() == (step == model.config.halt_max_steps)


def test_halted_rows_take_the_next_batch_and_reset_the_state():
    model = tiny().eval()
    first, second = sudoku_batch(seed=1), sudoku_batch(seed=2)
    carry = model.initial_carry(first)
    with torch.no_grad():
        carry, _ = model(carry, first)
        carry.halted = torch.tensor([True, False, True])
        kept = carry.z_H[1].clone()
        carry, out = model(carry, second)
    assert torch.equal(carry.current_data["inputs"][0], second["inputs"][0])
    assert torch.equal(carry.current_data["inputs"][1], first["inputs"][1])
    assert carry.steps.tolist() == [1, 2, 1]
    # a reset row computes what a fresh trace of that puzzle computes at step 1
    ref = model.trace(second["inputs"][:1], steps=1)["logits"][0, 0]
    torch.testing.assert_close(out["logits"][0], ref)
    assert not torch.equal(carry.z_H[1], kept)


def test_trm_trains_on_q_halt_alone_and_mlp_variant_runs():
    for mlp_t in (False, True):
        model = tiny_trm(mlp_t=mlp_t, pos_encodings="none" if mlp_t else "rope").train()
        batch = sudoku_batch()
        batch["puzzle_identifiers"] = torch.tensor([0, 2, 2], dtype=torch.int32)
        carry, out = model(model.initial_carry(batch), batch)
        assert "target_q_continue" not in out  # no extra forward
        loss, metrics = act_loss(carry, out)
        assert "q_continue_loss" not in metrics
        loss.backward()
        assert model.puzzle_emb.local_weights.grad.abs().sum() > 0
        out = model.eval().trace(batch["inputs"], batch["puzzle_identifiers"], steps=2)
        assert out["logits"].shape == (2, 3, 81, 11)
    with torch.no_grad():  # halting rule: q_halt > 0, whatever q_continue says
        model.inner.q_head.bias.copy_(torch.tensor([0.5, 9.0]))
    model = model.train()
    model.config.halt_exploration_prob = 0.0
    carry, _ = model(model.initial_carry(batch), batch)
    assert carry.halted.all()


def test_learned_positions_and_puzzle_embedding_variant():
    model = tiny(pos_encodings="learned", puzzle_emb_ndim=96, num_puzzle_identifiers=5)
    assert model.inner.prefix_len == 2  # ceil(96 / 64) positions
    batch = sudoku_batch()
    out = model.trace(batch["inputs"], torch.tensor([0, 4, 4]), steps=2)
    assert out["logits"].shape == (2, 3, 81, 11)
    with pytest.raises(HrmkitError, match="puzzle_identifiers"):
        model.trace(batch["inputs"], torch.tensor([0, 5, 1]))


def test_puzzle_embedding_sign_sgd_updates_only_the_rows_of_the_batch():
    emb = PuzzleEmbedding(5, 4).train()
    with torch.no_grad():
        emb.weights.fill_(1.0)
    out = emb(torch.tensor([3, 1, 3]), torch.float32)
    (out * torch.tensor([[1.0], [-1.0], [2.0]])).sum().backward()  # row 3: grad 1 + 2, row 1: grad -1
    emb.sign_sgd_step(lr=0.1, weight_decay=0.5)
    expected = torch.ones(5, 4)
    expected[3] = 1.0 * (1 - 0.05) - 0.1
    expected[1] = 1.0 * (1 - 0.05) + 0.1
    torch.testing.assert_close(emb.weights, expected)
    with torch.no_grad():  # forwards without gradient do not touch the training copy
        before = emb.local_weights
        emb(torch.tensor([0]), torch.float32)
    assert emb.local_weights is before


# ---- attention ---------------------------------------------------------------------------------------------
def test_sdpa_agrees_with_plain_attention():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 37, 4, 16) for _ in range(3))
    torch.testing.assert_close(attend(q, k, v, "sdpa"), reference_attention(q, k, v), rtol=1e-5, atol=1e-5)


def test_backend_choice_on_cpu_is_sdpa_and_logged(caplog):
    resolve_backend.cache_clear()
    with caplog.at_level(logging.INFO, logger="hrmkit.models"):
        assert resolve_backend("auto", "cpu") == "sdpa"
    assert "attention backend: sdpa" in caplog.text
    with pytest.raises(HrmkitError, match="xformers"):
        resolve_backend("xformers", "cpu")
    with pytest.raises(HrmkitError, match="attention"):
        ModelConfig.from_name("tiny", attention="flash")


@pytest.mark.gpu
def test_xformers_and_sdpa_agree_on_cuda():
    if not torch.cuda.is_available() or resolve_backend("auto", "cuda") != "xformers":
        pytest.skip("needs CUDA and xformers")
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 82, 8, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    ref = reference_attention(q, k, v)
    for backend in ("xformers", "sdpa"):
        torch.testing.assert_close(attend(q, k, v, backend).float(), ref, rtol=2e-2, atol=2e-2)


def test_bfloat16_forward_runs_and_stays_close_to_float32():
    batch = sudoku_batch()
    ref = tiny().trace(batch["inputs"], steps=1)
    bf16 = tiny(forward_dtype="bfloat16").trace(batch["inputs"], steps=1)
    assert (bf16["logits"] - ref["logits"]).abs().max() < 0.1 * ref["logits"].abs().max()


# ---- checkpoints -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [tiny, tiny_trm])
def test_save_and_load_round_trip(tmp_path, make):
    model = make()
    with torch.no_grad():  # make the puzzle table non-trivial, it is a buffer and must be saved too
        if model.puzzle_emb is not None:
            model.puzzle_emb.weights.normal_()
    model.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config == model.config.to_dict() and config["arch"] == model.config.arch
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = from_pretrained(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config and not loaded.training
    batch = sudoku_batch()
    ids = torch.tensor([0, 1, 2]) if model.puzzle_emb is not None else None
    a, b = model.trace(batch["inputs"], ids, steps=2), loaded.trace(batch["inputs"], ids, steps=2)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_saved_weights_are_the_same_bytes_in_every_process(tmp_path):
    """A saved model's sha256 is its identity (registry pins, dvc.lock, model cards): saving the same weights in
    separate processes must give the same file. (safetensors orders metadata keys by a per-process hash.)"""
    import hashlib
    import subprocess
    import sys

    tiny().save_pretrained(tmp_path / "m")
    script = ("import sys, torch; from hrmkit.models import from_pretrained; "
              "from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2])")
    digests = set()
    for i in range(4):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / "m"), str(tmp_path / f"copy{i}")], check=True)
        digests.add(hashlib.sha256((tmp_path / f"copy{i}" / "model.safetensors").read_bytes()).hexdigest())
    assert digests == {hashlib.sha256((tmp_path / "m" / "model.safetensors").read_bytes()).hexdigest()}


def test_loading_broken_folders_raises_one_clear_error(tmp_path):
    model = tiny()
    model.save_pretrained(tmp_path / "m")
    with pytest.raises(HrmkitError, match="config.json"):
        from_pretrained(tmp_path)  # no config.json there
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "hidden_size": 32}))
    with pytest.raises(HrmkitError, match="shape"):
        from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "H_layers": 2}))
    with pytest.raises(HrmkitError, match="missing inner.H_level.layers.1"):
        from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    (tmp_path / "m" / "model.safetensors").write_text("not weights")
    with pytest.raises(HrmkitError, match="safetensors"):
        from_pretrained(tmp_path / "m")


def test_hrmkit_load_reads_a_folder_and_explains_a_file(tmp_path):
    from hrmkit.api import load

    tiny().save_pretrained(tmp_path / "m")
    model = load(tmp_path / "m")
    assert isinstance(model, HRM) and model.config.arch == "hrm_act_v1" and not model.training
    with pytest.raises(HrmkitError, match="convert official"):
        load(tmp_path / "m" / "model.safetensors")


# ---- losses ------------------------------------------------------------------------------------------------
def test_stablemax_cross_entropy_matches_its_definition():
    logits = torch.tensor([[[2.0, -1.0, 0.0], [-3.0, 0.5, 4.0]]])
    labels = torch.tensor([[0, -100]])
    s = torch.tensor([3.0, 0.5, 1.0])
    expected = -torch.log(s[0] / s.sum())
    loss = stablemax_cross_entropy(logits, labels)
    assert loss.dtype == torch.float64
    torch.testing.assert_close(loss[0, 0], expected.double())
    assert loss[0, 1] == 0  # ignored position
    soft = softmax_cross_entropy(logits, labels)
    torch.testing.assert_close(soft[0, 0], -torch.log_softmax(logits[0, 0], -1)[0])
    big = torch.tensor([[[1e4, -1e4, 0.0]]], requires_grad=True)
    stablemax_cross_entropy(big, torch.tensor([[1]])).sum().backward()
    assert torch.isfinite(big.grad).all()
