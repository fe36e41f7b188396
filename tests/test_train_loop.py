"""The training loop: determinism, exact resume, non-finite guard, early stop, CLI; all on tiny CPU runs."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from _helpers import TINY, make_dataset, tiny_config
from hrmkit.errors import HrmkitError
from hrmkit.train.loop import train


def weights(run: Path) -> dict:
    return load_file(str(run / "model.safetensors"))


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "sudoku-tiny")


@pytest.fixture(scope="module")
def data_ids(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "sudoku-ids", puzzle_ids=True)


def _train(run, data, cfg, **kw):
    over = kw.pop("model", TINY)
    return train(run, data, preset="tiny", config=cfg, model_overrides=over, live_dir=None, progress=False, **kw)


def test_same_seed_same_weights_and_different_seed_differs(tmp_path, data_ids):
    over = dict(TINY, puzzle_emb_ndim=32)
    _train(tmp_path / "a", data_ids, tiny_config(), model=over)
    _train(tmp_path / "b", data_ids, tiny_config(), model=over)
    _train(tmp_path / "c", data_ids, tiny_config(seed=1), model=over)
    a, b, c = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["inner.lm_head.weight"], c["inner.lm_head.weight"])
    # the puzzle embedding was trained (rows of the batches moved by sign-SGD), but not the blank row 0
    table = a["inner.puzzle_emb.weights"]
    assert table[1:].abs().sum() > 0 and table[0].abs().sum() == 0


def test_resume_is_exact(tmp_path, data_ids):
    over = dict(TINY, puzzle_emb_ndim=32)
    cfg = tiny_config(steps=7, checkpoint_every=3, ema=True, ema_rate=0.9)
    _train(tmp_path / "full", data_ids, cfg, model=over)

    class Crash(Exception):
        pass

    def crash_at_5(step, metrics):
        if step == 5:  # steps 4 and 5 are lost: the resume restarts from the checkpoint of step 3
            raise Crash()

    with pytest.raises(Crash):
        _train(tmp_path / "cut", data_ids, cfg, model=over, callback=crash_at_5)
    state = json.loads((tmp_path / "cut" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 3
    _train(tmp_path / "cut", data_ids, cfg, model=over, resume=True)
    full, cut = weights(tmp_path / "full"), weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full), [k for k in full if not torch.equal(full[k], cut[k])]
    ema_full = load_file(str(tmp_path / "full" / "ema.safetensors"))
    ema_cut = load_file(str(tmp_path / "cut" / "ema.safetensors"))
    assert all(torch.equal(ema_full[k], ema_cut[k]) for k in ema_full)
    assert not torch.equal(ema_full["inner.lm_head.weight"], full["inner.lm_head.weight"])


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, data):
    def poison(step, metrics):
        if step == 2:  # after the checkpoint of step 2, make the next forward produce NaN
            poison.model_param.data.fill_(float("nan"))

    # reach the live model: wrap hrmkit.models.build to capture it
    import hrmkit.models as models

    real_build = models.build

    def capture(cfg):
        m = real_build(cfg)
        poison.model_param = m.inner.lm_head.weight
        return m

    models.build = capture
    try:
        with pytest.raises(HrmkitError, match=r"step 3: the loss is not finite.*last good checkpoint \(step 2\)"):
            _train(tmp_path / "run", data, tiny_config(checkpoint_every=2), callback=poison)
    finally:
        models.build = real_build
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2
    w = weights(tmp_path / "run")
    assert all(torch.isfinite(v).all() for v in w.values())


def test_refuses_to_overwrite_and_resume_needs_checkpoint(tmp_path, data):
    with pytest.raises(HrmkitError, match="no checkpoint"):
        _train(tmp_path / "new", data, tiny_config(steps=1), resume=True)
    _train(tmp_path / "run", data, tiny_config(steps=1))
    with pytest.raises(HrmkitError, match="--resume"):
        _train(tmp_path / "run", data, tiny_config(steps=1))
    with pytest.raises(HrmkitError, match="lr=0.5 differs"):
        _train(tmp_path / "run", data, tiny_config(steps=2, lr=0.5), resume=True)


def test_early_stop_on_train_exact_accuracy(tmp_path):
    copy = make_dataset(tmp_path / "copy", blank_frac=0.0)  # labels == inputs: learnable in a few steps
    m = _train(tmp_path / "run", copy, tiny_config(steps=200, early_stop_exact=0.5, lr=1e-2))
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert m.get("train/early_stopped") == 1.0, m
    assert state["step"] < 200 and m["train/exact_accuracy"] >= 0.5


def test_exploration_is_drawn_for_the_global_batch():
    """Each rank's exploration rows are its slice of one draw made from (seed, step): N processes explore as one
    process does, and the draw does not depend on anything a resume would have to restore."""
    from types import SimpleNamespace

    from hrmkit.models import ModelConfig
    from hrmkit.train.loop import exploration

    cfg = ModelConfig.from_name("tiny", halt_max_steps=5, halt_exploration_prob=0.5)

    def rows(rank, world, step=7, seed=3):
        sampler = SimpleNamespace(global_batch_size=64, rank=rank, local_batch_size=64 // world)
        return exploration(cfg, seed, step, sampler, "cpu")

    one = rows(0, 1)
    assert torch.equal(torch.cat([rows(0, 2), rows(1, 2)]), one)
    assert torch.equal(torch.cat([rows(r, 4) for r in range(4)]), one)
    assert torch.equal(rows(0, 1), one)  # the same again: a function of (seed, step)
    assert not torch.equal(rows(0, 1, step=8), one) and not torch.equal(rows(0, 1, seed=4), one)
    explored = one[one > 0]
    assert 16 < len(explored) < 48 and explored.min() >= 2 and explored.max() <= 5  # ~half, in 2..halt_max_steps
    for off in (ModelConfig.from_name("tiny", halt_exploration_prob=0.0), ModelConfig.from_name("tiny", halting="fixed")):
        sampler = SimpleNamespace(global_batch_size=8, rank=0, local_batch_size=8)
        assert exploration(off, 3, 7, sampler, "cpu") is None
