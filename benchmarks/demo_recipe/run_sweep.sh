#!/bin/bash
# The sample-efficiency sweep: every line of configs_sweep.txt trained in parallel for the same number of
# segment-samples (600k, batch 64 -> 9375 optimiser steps), evaluated every 25k on 500 held-out puzzles.
# Run on the H200 device machine (python3 with CUDA torch): bash benchmarks/demo_recipe/run_sweep.sh cuda
# It also runs on CPU (device=cpu), slowly. Records: $WORK/runs/*.json, merged into $OUT/results.json.
set -e
HERE="$(cd "$(dirname "$0")" && pwd)"; DEVICE="${1:-cuda}"; OUT="${OUT:-$HERE/data}"
WORK="${WORK:-$(git -C "$HERE" rev-parse --show-toplevel)/scratch/demo_recipe}"; mkdir -p "$WORK" && cd "$WORK"
export PYTHONUNBUFFERED=1 PYTHONPATH="$HERE"
[ "$DEVICE" = cuda ] && nvidia-cuda-mps-control -d 2>/dev/null && echo "MPS on"
while read -r name rest; do
  [ -z "$name" ] && continue
  python3 "$HERE/train_sudoku.py" --name "$name" --device "$DEVICE" --threads 1 --budget_samples 600000 \
     --eval_every_samples 25000 --wall_cap 350 --n_train 20000 --n_test 500 --eval_segments 16 $rest > "runs_$name.log" 2>&1 &
done < "$HERE/configs_sweep.txt"
wait
python3 - "$OUT/sweep_h200.json" <<'PY'
import json, glob, os, sys
res = {os.path.basename(f)[:-5]: json.load(open(f)) for f in glob.glob("runs/*.json") if "bench" not in f}
json.dump(res, open(sys.argv[1], "w"))
for k, r in sorted(res.items()): print(f"{k:14s} exact_full {r['exact']:.3f} blank {r['blank']:.3f} steps {r['steps']} puzzles {r['samples']}")
PY
