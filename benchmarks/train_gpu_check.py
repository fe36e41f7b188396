"""GPU check of hrmkit.train on one CUDA device (run by hand or by a session lent a GPU).

1. `hrmkit.train.bench.run` for paper-sudoku and trm-sudoku-mlp at batch 384 (the authors' one-GPU batch):
   bf16 matmul peak, training samples/s and MFU, inference puzzles/s (16 segments); optionally torch.compile.
2. The training loop on CUDA in bfloat16 (forward_dtype auto): 30 steps of paper-sudoku on a random
   Sudoku-shaped data set, a checkpoint, an interrupted run resumed; reports losses and the resume difference
   (CUDA kernels are not bit-deterministic, so this is a figure, not an equality).
Writes one JSON per part into OUT (argv[1], default .).

    python benchmarks/train_gpu_check.py OUT [--compile]
    python benchmarks/train_gpu_check.py OUT --quick    # paper-sudoku only, shorter timings
    python benchmarks/train_gpu_check.py OUT --dry      # on CPU, tiny sizes: checks the script itself
"""

import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hrmkit.data.format import Family, SplitArrays, write_dataset  # noqa: E402
from hrmkit.train.bench import run  # noqa: E402
from hrmkit.train.config import TrainConfig  # noqa: E402
from hrmkit.train.loop import train  # noqa: E402

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
out.mkdir(parents=True, exist_ok=True)
DRY = "--dry" in sys.argv
assert DRY or torch.cuda.is_available(), "no CUDA device"
DEVICE = "cpu" if DRY else "cuda"
BATCH = 8 if DRY else 384
SMALL = dict(hidden_size=32, num_heads=2, halt_max_steps=2) if DRY else {}


def dump(name, obj):
    (out / name).write_text(json.dumps(obj, indent=1, default=str))
    print(name, json.dumps(obj, default=str)[:1500], flush=True)


QUICK = "--quick" in sys.argv  # paper-sudoku only, shorter timings
for preset in ("paper-sudoku",) if QUICK else ("paper-sudoku", "trm-sudoku-mlp"):
    t = time.time()
    try:
        r = run(preset, batch_size=BATCH, seconds=0.1 if DRY else (1.5 if QUICK else 3.0), device=DEVICE,
                overrides=SMALL)
    except Exception:
        r = {"error": traceback.format_exc()}
    r["wall_seconds"] = time.time() - t
    dump(f"bench-{preset}.json", r)

# the loop on CUDA
rng = np.random.default_rng(0)
fam = Family(name="sudoku", seq_len=81, vocab_size=11, grid=(9, 9), augmentation_layout="sudoku-v1")
splits = {}
for split, n in (("train", 4096), ("test", 512)):
    labels = rng.integers(2, 11, size=(n, 81)).astype(np.uint8)
    inputs = np.where(rng.random((n, 81)) < 0.3, 1, labels).astype(np.uint8)
    splits[split] = SplitArrays(inputs=inputs, labels=labels, puzzle_identifiers=np.zeros(n, np.int32),
                                puzzle_indices=np.arange(n + 1, dtype=np.int32),
                                group_indices=np.arange(n + 1, dtype=np.int32))
import shutil  # noqa: E402

for d in ("/tmp/run-full", "/tmp/run-cut"):
    shutil.rmtree(d, ignore_errors=True)
data = write_dataset(Path("/tmp/gpu-data"), fam, splits, ["<blank>"], {"family": "sudoku"}, overwrite=True)
cfg = TrainConfig(global_batch_size=BATCH, steps=30, warmup_steps=5, lr=1e-4, weight_decay=1.0, log_every=5,
                  checkpoint_every=10, device=DEVICE, eval_every=10, eval_batches=1)
kw = dict(preset="paper-sudoku", config=cfg, model_overrides=SMALL, live_dir=None, progress=False)
res = {}
try:
    t = time.time()
    m = train("/tmp/run-full", data, **kw)
    res["full"] = {"seconds": time.time() - t, **m}

    class Stop(Exception):
        pass

    def stop(step, metrics):
        if step == 15:
            raise Stop()

    try:
        train("/tmp/run-cut", data, callback=stop, **kw)
    except Stop:
        pass
    m2 = train("/tmp/run-cut", data, resume=True, **kw)
    res["resumed"] = m2
    a, b = load_file("/tmp/run-full/model.safetensors"), load_file("/tmp/run-cut/model.safetensors")
    res["resume_max_abs_weight_diff"] = max(float((a[k] - b[k]).abs().max()) for k in a)
    if not DRY:
        res["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
except Exception:
    res["error"] = traceback.format_exc()
dump("loop-cuda.json", res)

if "--compile" in sys.argv:
    t = time.time()
    try:
        r = run("paper-sudoku", batch_size=BATCH, seconds=3.0, bf16=False, compile=True, device=DEVICE,
                overrides=SMALL)
    except Exception:
        r = {"error": traceback.format_exc()}
    r["wall_seconds"] = time.time() - t
    dump("bench-paper-sudoku-compiled.json", r)
