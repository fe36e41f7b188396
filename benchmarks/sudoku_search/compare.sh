#!/bin/bash
# The same data, about the same wall-time budget: the search recipe from scratch, the demo recipe and the paper
# recipe (HRM paper's 27M-parameter model and training preset at batch 64), beside the pipeline's curriculum.
#   benchmarks/sudoku_search/compare.sh DATA STEPS     (DATA: pipelines/sudoku-search-cpu/data/sudoku-search)
# One run at a time on an otherwise idle machine; results: $RUNS/compare-*.{log,eval/metrics.json}.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$1; steps=$2
runs=${RUNS:-/tmp/sudoku_search}
here=benchmarks/sudoku_search
evaluate() {  # NAME [eval options]: the test split, model alone, fixed segments
  local name=$1; shift
  .venv/bin/hrmkit eval "$runs/$name" --data "$data" --out "$runs/$name.eval" --device cpu --no-baselines "$@" \
    > "$runs/$name.eval.log" 2>&1
  .venv/bin/python -c "import json,sys; m=json.load(open(sys.argv[1])); print(sys.argv[2], 'exact', m['exact_accuracy'], 'token', m['token_accuracy'], 'n', m['num_examples'])" \
    "$runs/$name.eval/metrics.json" "$name"
}
$here/run.sh compare-search "$data" "$steps" halt_max_steps=16
evaluate compare-search --steps 32
$here/run.sh compare-demo "$data" "$steps"          # the demo preset as it is: 4 segments
evaluate compare-demo --steps 32
# the paper recipe: its model and training presets (lr 1e-4, weight decay 1.0, stablemax, ACT halting), batch 64;
# it runs at ~3.9 segment-samples/s on this CPU (16 s per step of 64), so ~20 steps fit the others' ~5 minutes
rm -rf "${runs:?}/compare-paper"
/usr/bin/time -f "compare-paper wall %e s cpu %U+%S" .venv/bin/hrmkit train --preset paper-sudoku --data "$data" \
  --steps "${PAPER_STEPS:-20}" --no-progress --out "$runs/compare-paper" global_batch_size=64 warmup_steps=10 \
  log_every=10 > "$runs/compare-paper.log" 2>&1
evaluate compare-paper --steps 16 --max-batches 1 --batch-size 100
grep -h wall "$runs"/compare-*.log
