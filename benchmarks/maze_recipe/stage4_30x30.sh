#!/bin/bash
# Run R8 of RESULTS.md: a fourth curriculum stage on 30x30 Maze-Hard-like mazes (1,000, shortest path >= 110, seed 7,
# another stream than the test mazes' seed 2) from the pipeline model's weights, then the first 64 held-out test
# mazes at 64 segments. Needs the pipeline's outputs (dvc repro pipelines/maze-hard-cpu/dvc.yaml).
#   benchmarks/maze_recipe/stage4_30x30.sh [WORKDIR] [STEPS]        (about 15 minutes at 300 steps)
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-/tmp/maze-stage4}; STEPS=${2:-300}
P=pipelines/maze-hard-cpu
export HF_HUB_OFFLINE=1 DVC_NO_ANALYTICS=1
mkdir -p "$W"
[ -d "$W/mz30train" ] || hrmkit data build maze --source generate --count 1000 --size 30 --min-length 110 \
  --style obstacles --test-source generate --test-count 64 --seed 7 --out "$W/mz30train" > /dev/null
hrmkit train --config $P/params.yaml:train --data "$W/mz30train" --init $P/runs/maze-hard-cpu --out "$W/r8" \
  --live-dir "$W/r8live" steps=$STEPS eval_every=0 lr=0.0005 > "$W/r8.log" 2>&1
hrmkit eval "$W/r8" --data $P/data/maze-hard-cpu --out "$W/r8_eval" --steps 64 --batch-size 64 --max-batches 1 \
  --no-baselines > /dev/null
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); \
print('R8 first 64 test mazes:', ' '.join(f'{k}:{m[f\"exact_accuracy_step_{k}\"]:.3f}' for k in (16, 32, 48, 64)))" \
  "$W/r8_eval/metrics.json"
