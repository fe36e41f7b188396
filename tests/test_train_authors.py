"""The authors' run from hrmkit: their all_config.yaml, their batch order, their Adam-atan2 rounding, --init,
--stop-at; checked against shared/reference/official-hrm-train-tiny (their pretrain.py run on CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from conftest import REPO, SHARED
from hrmkit.cli import app

CASE = SHARED / "reference" / "official-hrm-train-tiny"
TINY = CASE / "train-tiny"
DATA = CASE / "data" / "sudoku-tiny"
# One torch thread (fast beside other jobs). The reference was recorded with 2; there, 2 threads give its bits
# exactly and 1 thread ends 8.9e-08 away (config.json). Other CPUs round float32 kernels differently anyway.
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def ref() -> Path:
    if not TINY.is_dir():
        pytest.skip(f"training reference not found at {CASE} (set HRMKIT_SHARED)")
    return TINY


def train_cli(*args: str, ok: bool = True):
    result = CliRunner().invoke(app, ["train", *args, "--no-live", "--no-progress"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if ok:
        assert result.exit_code == 0, result.output
    return result


def authors_run(out: Path, *extra: str, config: Path | None = None, ok: bool = True):
    return train_cli("--config", str(config or TINY / "all_config.yaml"), "--data", str(DATA),
                     "--init", str(TINY / "step_0"), "--out", str(out), *extra, ok=ok)


def steps_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "steps.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def full_run(ref, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("authors") / "run"
    authors_run(out, "--stop-at", "12")
    return out


# ---------------------------------------------------------------- the parity case
def test_twelve_steps_end_at_the_authors_weights_and_losses(full_run, ref):
    from hrmkit.zoo.official import read_checkpoint

    want, got = read_checkpoint(ref / "step_12"), load_file(str(full_run / "model.safetensors"))
    assert set(want) == set(got)
    diff = max((want[k].float() - got[k]).abs().max().item() for k in want)
    # float32 kernels (GEMM, SDPA) of another CPU round differently from step 1 on: the authors' own code run on
    # this project's machine gives hrmkit's bits, 2.4e-07 from the recorded step_12 (benchmarks/RESULTS-authors-run.md)
    assert diff <= 1e-6, diff
    steps = json.loads((ref / "metrics.json").read_text())["steps"]
    logged = steps_log(full_run)
    assert [r["step"] for r in logged] == list(range(1, 13))
    assert [r["lr"] for r in logged] == [s["lr"] for s in steps]  # schedule: exactly theirs
    assert [r["loss"] for r in logged] == pytest.approx([s["loss"] for s in steps], rel=1e-7, abs=0)


def test_stop_at_then_resume_equals_the_uninterrupted_run(full_run, tmp_path):
    out = tmp_path / "run"
    authors_run(out, "--stop-at", "5")
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 5 and state["total_steps"] == 12  # the schedule keeps its length
    assert [r["lr"] for r in steps_log(out)] == [r["lr"] for r in steps_log(full_run)][:5]
    authors_run(out, "--resume")
    a, b = load_file(str(out / "model.safetensors")), load_file(str(full_run / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in b)
    assert steps_log(out) == steps_log(full_run)


# ---------------------------------------------------------------- batch order and carry
def test_authors_sampler_draws_the_reference_batches(ref):
    from hrmkit.data.loader import AuthorsSampler, PuzzleDataset

    ds = PuzzleDataset(DATA, "train")
    batches = load_file(str(ref / "batches.safetensors"))
    drawn = [ds.batch(index) for index in AuthorsSampler(ds, 16, seed=0, epochs_per_iter=3, iterations=1)]
    assert len(drawn) == 12  # 3 epochs x 64 groups / 16
    for k, got in enumerate(drawn, 1):
        labels = np.where(got["labels"] == ds.meta.ignore_label_id, -100, got["labels"])  # their collate
        assert (batches[f"inputs_{k}"].numpy() == got["inputs"]).all()
        assert (batches[f"labels_{k}"].numpy() == labels).all()
        assert (batches[f"puzzle_identifiers_{k}"].numpy() == got["puzzle_identifiers"]).all()


def test_only_halted_rows_take_new_data(ref):
    """carry_trace: after step k, the data each sequence worked on, halted and steps."""
    from hrmkit.models import ModelConfig, build
    from hrmkit.zoo.official import read_arch, read_checkpoint

    _, fields = read_arch(ref / "all_config.yaml")
    model = build(ModelConfig.from_dict(dict(fields, arch="hrm_act_v1", vocab_size=11, seq_len=81,
                                             num_puzzle_identifiers=1, forward_dtype="float32")))
    model.load_state_dict(read_checkpoint(ref / "step_0"))
    model.train()
    batches, trace = load_file(str(ref / "batches.safetensors")), load_file(str(ref / "carry_trace.safetensors"))
    carry = None
    with torch.no_grad():
        for k in range(1, 13):
            batch = {n: batches[f"{n}_{k}"] for n in ("inputs", "labels", "puzzle_identifiers")}
            carry = model.initial_carry(batch) if carry is None else carry
            carry, _ = model(carry, batch)
            for n in ("inputs", "labels", "puzzle_identifiers"):
                assert torch.equal(carry.current_data[n], trace[f"current_{n}_{k}"]), (k, n)
            assert torch.equal(carry.halted, trace[f"halted_{k}"].bool()), k
            assert torch.equal(carry.steps, trace[f"steps_{k}"].to(carry.steps.dtype)), k


def _multi_example_dataset():
    from hrmkit.data.loader import PuzzleDataset

    class Fake(PuzzleDataset):  # 7 groups of 1-3 puzzles of 1-4 examples
        def __init__(self):
            rng = np.random.default_rng(5)
            self.group_indices = np.concatenate([[0], np.cumsum(rng.integers(1, 4, 7))])
            sizes = rng.integers(1, 5, self.group_indices[-1])
            self.puzzle_indices = np.concatenate([[0], np.cumsum(sizes)])
            self.meta = type("M", (), {"mean_puzzle_examples": float(sizes.mean())})()

    return Fake()


def test_authors_sampler_multi_example_batches_and_exact_resume():
    from hrmkit.data.loader import AuthorsSampler

    ds = _multi_example_dataset()
    make = lambda: AuthorsSampler(ds, 5, seed=3, epochs_per_iter=2, iterations=3, example_state=[1, 2, 3, 4])  # noqa: E731
    full = list(make())
    assert full and all(len(b) == 5 for b in full)
    for b in full:  # no example twice from one puzzle within a batch
        assert len(set(b.tolist())) == len(b)
    first = make()
    it = iter(first)
    head = [next(it) for _ in range(len(full) // 2)]
    resumed = make()
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert all((a == b).all() for a, b in zip(head + list(resumed), full, strict=True))


def test_worker_seed_is_torchs():
    from torch.utils.data._utils.worker import _generate_state

    from hrmkit.data.loader import worker_numpy_seed

    for base in (0, 1, 2**40 + 7, 2**63 - 1):
        assert worker_numpy_seed(base) == _generate_state(base, 0)


# ---------------------------------------------------------------- Adam-atan2 rounding
def test_fma_f32_is_correctly_rounded():
    from hrmkit.train.optim import fma_f32

    g = torch.Generator().manual_seed(0)
    n = 3000
    a = torch.randn(n, generator=g) * torch.exp(3 * torch.randn(n, generator=g))
    b = torch.randn(n, generator=g) * torch.exp(3 * torch.randn(n, generator=g))
    c = torch.randn(n, generator=g)
    c[: n // 2] = -(a * b)[: n // 2] * (1 + 1e-6 * torch.randn(n // 2, generator=g))  # cancellation
    got = fma_f32(a, b, c)
    for x, y, z, r in zip(a.tolist(), b.tolist(), c.tolist(), got.tolist()):
        exact = Fraction(x) * Fraction(y) + Fraction(z)
        below = float(np.nextafter(np.float32(r), np.float32(-np.inf)))
        above = float(np.nextafter(np.float32(r), np.float32(np.inf)))
        err = abs(Fraction(r) - exact)
        assert err <= abs(Fraction(below) - exact) and err <= abs(Fraction(above) - exact)


def test_kernel_rounding_stays_next_to_torch_rounding():
    from hrmkit.train.optim import AdamATan2

    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(64, 32, generator=g)
    params = [torch.nn.Parameter(w0.clone()) for _ in range(2)]
    opts = [AdamATan2([p], lr=1e-3, weight_decay=0.1, rounding=r) for p, r in zip(params, ("torch", "kernel"))]
    for _ in range(20):
        grad = torch.randn(64, 32, generator=g)
        for p, opt in zip(params, opts):
            p.grad = grad.clone()
            opt.step()
    diff = (params[0] - params[1]).abs().max().item()
    assert 0 < diff < 1e-6


# ---------------------------------------------------------------- config, --init, errors
def test_reads_the_authors_config(ref):
    from hrmkit.models.config import HRMConfig, TRMConfig
    from hrmkit.train.config import resolve_run

    names = set(HRMConfig.__dataclass_fields__) | set(TRMConfig.__dataclass_fields__)
    r = resolve_run(None, str(ref / "all_config.yaml"), [], names)
    cfg = r.train
    assert (cfg.lr, cfg.lr_min_ratio, cfg.warmup_steps, cfg.weight_decay, cfg.global_batch_size, cfg.epochs) == \
        (1e-3, 0.1, 4, 1.0, 16, 3)
    assert (cfg.sampler, cfg.adam_rounding, cfg.loss, cfg.epochs_per_iter) == ("authors", "kernel", "stablemax", 0)
    assert r.model_overrides["arch"] == "hrm_act_v1" and r.model_overrides["hidden_size"] == 64
    assert r.data_path == "data/sudoku-tiny" and "project_name" in r.notes[0]


def _edited_config(tmp_path: Path, ref: Path, **changes) -> Path:
    data = yaml.safe_load((ref / "all_config.yaml").read_text())
    for key, value in changes.items():
        section = data
        *parents, last = key.split(".")
        for p in parents:
            section = section[p]
        section[last] = value
    path = tmp_path / "all_config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_unknown_key_is_one_error_line(tmp_path, ref):
    config = _edited_config(tmp_path, ref, learning_rate=1e-3)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "hrmkit", "train", "--config", str(config), "--data", str(DATA),
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "learning_rate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_init_shape_mismatch_names_file_and_tensor(tmp_path, ref):
    config = _edited_config(tmp_path, ref, **{"arch.hidden_size": 128})
    result = authors_run(tmp_path / "run", "--stop-at", "1", config=config, ok=False)
    assert result.exit_code == 1
    assert "error: --init" in result.output and "step_0: inner.H_init has shape [64]" in result.output


def test_init_from_an_hrmkit_folder_equals_init_from_the_file(tmp_path, ref):
    from hrmkit.models import ModelConfig, build
    from hrmkit.train.loop import load_init
    from hrmkit.zoo.official import convert_official

    folder = convert_official(ref / "step_0", tmp_path / "model", task="sudoku")
    cfg = ModelConfig.from_checkpoint(folder)
    a, b = build(cfg), build(cfg)
    load_init(a, ref / "step_0")
    load_init(b, folder)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_puzzle_embedding_trains_with_scheduled_sign_sgd(tmp_path, ref):
    config = _edited_config(tmp_path, ref, **{"arch.puzzle_emb_ndim": 64, "puzzle_emb_lr": 0.01})
    out = tmp_path / "run"
    train_cli("--config", str(config), "--data", str(DATA), "--out", str(out), "--stop-at", "3")
    rows = steps_log(out)
    assert [r["puzzle_emb_lr"] for r in rows] == pytest.approx([0.01 * r["lr"] / 1e-3 for r in rows])
    table = load_file(str(out / "model.safetensors"))["inner.puzzle_emb.weights"]
    assert table.abs().max() > 0  # zero-initialised, moved by sign-SGD
