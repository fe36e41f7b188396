"""`hrmkit bench`: FLOP counting by hand, and the CLI's table + JSON on a tiny preset."""

import json

import torch
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.train.bench import count_flops


def test_count_flops_of_a_matmul_by_hand():
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    assert count_flops(lambda: a @ b) == 2 * 8 * 16 * 4


def test_bench_cli_writes_json(tmp_path):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = CliRunner().invoke(app, ["bench", "--preset", "tiny", "--batch-size", "4", "--seconds", "0.05",
                                     "--no-bf16", "--device", "cpu", "--out", str(tmp_path / "b.json"),
                                     "hidden_size=32", "num_heads=2", "halt_max_steps=2"])
    finally:
        torch.set_num_threads(n)
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "b.json").read_text())
    assert min(res["matmul_gflops_float32"].values()) > 0
    assert res["train_samples_per_s"] > 0 and res["inference_puzzles_per_s"] > 0
    assert res["train_flops_per_sample"] > 0 and 0 < res["train_mfu"] < 1.5
    assert "matmul_gflops_bfloat16" not in res and "MFU" in r.output
