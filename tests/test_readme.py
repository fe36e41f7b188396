"""Every `hrmkit` command in README.md runs, as written, with only these documented substitutions:
sizes scaled down (so the test is fast), a local checkpoint for `path/to/step_N`, `--to DIR` for `publish` (no
upload), the runs trained here for `runs/demo` and the maze and search pipelines' models, and `pull` offline (the real Hub protocol is covered by
tests/test_hub_olah.py). `make demo` and `make test` are exercised by tests/test_pipelines.py and by CI itself.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()

# Scaled-down sizes: (pattern, replacement)
MAZE_MODEL = "pipelines/maze-hard-cpu/runs/maze-hard-cpu"  # made by that pipeline; here the README's maze run
SEARCH_MODEL = "pipelines/sudoku-search-cpu/runs/sudoku-search-cpu"  # likewise: here the README's search run
SMALLER = [("--count 1000", "--count 48"), ("--test-count 200", "--test-count 8"), ("--steps 500", "--steps 2")]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def test_readme_lists_only_known_commands():
    for line in readme_commands():
        assert line.startswith((".venv/bin/hrmkit ", "make ")), line


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hrmkit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_every_readme_command_runs(tmp_path, reference_dir):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(REPO / "zoo", tmp_path / "zoo")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HRMKIT_HOME=str(tmp_path / "home"), HF_HUB_CACHE=str(tmp_path / "hub"),
               OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    ran = []
    # The model-solving example needs a trained run: run it after the README's training commands.
    for line in sorted(readme_commands(), key=lambda line: "runs/demo" in line or MAZE_MODEL in line
                       or SEARCH_MODEL in line):
        if line.startswith("make "):
            continue
        for old, new in SMALLER:
            line = line.replace(old, new)
        args = shlex.split(line)[1:]  # drop .venv/bin/hrmkit
        if args[:2] == ["convert", "official"]:
            args[2] = str(reference_dir / "step_0")
        if "path/to/all_config.yaml" in args:  # the authors' training run: the shared training reference
            train_ref = reference_dir.parent / "official-hrm-train-tiny"
            if not train_ref.is_dir():
                continue
            swap = {"path/to/all_config.yaml": train_ref / "train-tiny" / "all_config.yaml",
                    "path/to/data": train_ref / "data" / "sudoku-tiny", "path/to/step_0": train_ref / "train-tiny" / "step_0"}
            args = [str(swap.get(a, a)) for a in args]
        if args[0] == "publish":
            args += ["--to", str(tmp_path / "published")]
        if args[0] == "solve" and "runs/demo" in args:
            args[args.index("runs/demo")] = "runs/mine"  # the run the README's training commands made above
        if args[0] == "solve" and MAZE_MODEL in args:
            args[args.index(MAZE_MODEL)] = "runs/mazes"  # the maze run the README's commands made above
        if args[0] == "solve" and SEARCH_MODEL in args:
            args[args.index(SEARCH_MODEL)] = "runs/search"  # the search run the README's commands made above
        result = _run(args, tmp_path, env)
        if args[0] == "pull":
            # No network in tests: one clear line and a non-zero exit (the protocol itself: test_hub_olah.py).
            assert result.returncode == 1, result.stderr
            assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr, result.stderr
        else:
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        ran.append(args[0])
    assert {"solve", "zoo", "pull", "convert", "data", "train", "eval", "publish"} <= set(ran)

    # The Python snippet: load a model folder and trace it.
    import hrmkit
    import torch

    model = hrmkit.load(str(tmp_path / "my-model"))
    inputs = torch.ones(2, model.config.seq_len, dtype=torch.int32)
    out = model.trace(inputs, steps=3)
    assert out["logits"].shape == (3, 2, model.config.seq_len, model.config.vocab_size)
    assert out["q_halt_logits"].shape == out["q_continue_logits"].shape == (3, 2)
