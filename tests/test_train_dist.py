"""torchrun: two Gloo processes with global batch B follow the loss trajectory of one process with batch B."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from _helpers import make_dataset

ARGS = ["--preset", "tiny", "--steps", "5", "--seed", "3", "--no-progress", "global_batch_size=8", "lr=0.003",
        "warmup_steps=1", "log_every=1", "device=cpu", "hidden_size=32", "num_heads=2", "halt_max_steps=3",
        # exploration on and decisive: with halt_threshold 0.001 the Q head halts every sequence after one segment
        # unless exploration sets a minimum; drawn for the global batch, so the two set-ups still agree
        "halt_exploration_prob=0.5", "halt_threshold=0.001", "puzzle_emb_ndim=32", "puzzle_emb_lr=0.01"]


def _run(cmd, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def _losses(run: Path) -> list[float]:
    with open(run / "live" / "plots" / "metrics" / "train" / "loss.tsv") as fh:
        return [float(row["loss"]) for row in csv.DictReader(fh, delimiter="\t")]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    data = make_dataset(tmp_path / "data", n_train=40, puzzle_ids=True)
    common = ["train", "--data", str(data)] + ARGS
    hrmkit = str(Path(sys.executable).parent / "hrmkit")  # the console script
    _run([hrmkit, *common, "--out", str(tmp_path / "one")], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--no-python",
          hrmkit, *common, "--out", str(tmp_path / "two")], tmp_path)
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one) == len(two) == 5
    assert one[0] != one[-1]  # it trained
    torch.testing.assert_close(torch.tensor(two), torch.tensor(one), rtol=1e-4, atol=1e-5)
    w1, w2 = load_file(str(tmp_path / "one" / "model.safetensors")), load_file(str(tmp_path / "two" / "model.safetensors"))
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=1e-3, atol=1e-4, msg=k)
    assert w1["inner.puzzle_emb.weights"].abs().sum() > 0  # the all-gathered sparse update happened
    # each rank saved its own carry and RNG state
    assert {p.name for p in (tmp_path / "two" / "checkpoint").glob("rank-*")} == {"rank-0.safetensors",
                                                                                 "rank-1.safetensors"}
