#!/bin/bash
# One research run of benchmarks/sudoku_search/RESULTS.md: `hrmkit train` with the demo preset's training
# recipe and the given overrides, evaluated during training on 4 batches (256 puzzles) of the test split.
#   benchmarks/sudoku_search/run.sh NAME DATA STEPS [key=value | --init RUN ...]
# writes runs into $RUNS (default /tmp/sudoku_search): NAME/ (model, live/ curves), NAME.log (with wall and CPU time).
# Data sets of the log (built with hrmkit data build; see RESULTS.md for the commands):
#   sx50k:   --source generate --count 50000 --test-source generate --test-count 1000 --rating 1-100000 --seed 11
#   easy30k: --source generate --count 30000 --test-source generate --test-count 200 --givens 30-45 --seed 21
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1; data=$2; steps=$3; shift 3
runs=${RUNS:-/tmp/sudoku_search}
mkdir -p "$runs"; rm -rf "${runs:?}/$name"
export HF_HUB_OFFLINE=1 DVC_NO_ANALYTICS=1
/usr/bin/time -f "$name wall %e s cpu %U+%S" .venv/bin/hrmkit train --preset demo --data "$data" --steps "$steps" \
  --no-progress --out "$runs/$name" lr=1e-3 lr_min_ratio=0.1 warmup_steps=100 loss=softmax q_loss_weight=0.1 \
  global_batch_size=64 log_every=100 eval_every=1000 eval_batches=4 "$@" > "$runs/$name.log" 2>&1
