#!/bin/bash
# Runs R6/R7 of RESULTS.md: does the Sudoku recipe's finding (4 segments per sample in training, many at test time)
# carry over to mazes? The maze pipeline's first stage (params.yaml:train_small) trained for 1,200 steps with
# halt_max_steps 4 and 16, then evaluated on held-out 10x10 (16 segments) and 15x15 (32 segments) mazes.
#   benchmarks/maze_recipe/segments_ab.sh [WORKDIR]      (about 12 minutes on the 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-/tmp/maze-segments-ab}
export HF_HUB_OFFLINE=1 DVC_NO_ANALYTICS=1
HRMKIT=${HRMKIT:-hrmkit}
mkdir -p "$W"
[ -d "$W/mz10" ] || $HRMKIT data build maze --source generate --count 6000 --size 10 --min-length 12 --style obstacles \
  --test-source generate --test-count 200 --out "$W/mz10" > /dev/null
[ -d "$W/mz15" ] || $HRMKIT data build maze --source generate --count 8 --size 15 --min-length 30 --style obstacles \
  --test-source generate --test-count 200 --seed 1 --out "$W/mz15" > /dev/null
for h in 4 16; do
  r="$W/h$h"
  $HRMKIT train --config pipelines/maze-hard-cpu/params.yaml:train_small --data "$W/mz10" --out "$r" \
    --live-dir "${r}live" steps=1200 halt_max_steps=$h > "$r.log" 2>&1
  $HRMKIT eval "$r" --data "$W/mz10" --out "${r}_e10" --steps 16 --batch-size 100 --no-baselines > /dev/null
  $HRMKIT eval "$r" --data "$W/mz15" --out "${r}_e15" --steps 32 --batch-size 100 --no-baselines > /dev/null
  for s in e10:16 e15:32; do
    python3 -c "import json,sys; m=json.load(open(sys.argv[1])); n=int(sys.argv[2]); \
print('halt_max_steps $h', sys.argv[1].split('_')[-1].split('/')[0], ' '.join(f'{k}:{m[f\"exact_accuracy_step_{k}\"]:.3f}' for k in (4, 8, 16, 24, 32) if k <= n))" \
      "${r}_${s%%:*}/metrics.json" "${s##*:}"
  done
done
