#!/bin/bash
# The trained search model on the hardest public collections (../shared/data/sudoku, tdoku's files): 1,000
# forum-hardest puzzles (the train split of this data set; SPLITS="train test" also evaluates its test split, 1,000
# magictour top1465 puzzles), model alone at 32 segments, then 8 views with the checker.
#   benchmarks/sudoku_search/hardest.sh [MODEL]   (default pipelines/sudoku-search-cpu/runs/sudoku-search-cpu)
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-pipelines/sudoku-search-cpu/runs/sudoku-search-cpu}
runs=${RUNS:-/tmp/sudoku_search}
shared=${SHARED_DATA:-../shared/data}
mkdir -p "$runs"
[ -d "$runs/hardest" ] || .venv/bin/hrmkit data build sudoku --source "$shared/sudoku/forum_hardest_1905_11plus.txt" \
  --subsample 1000 --test-source "$shared/sudoku/magictour_top1465.txt" --test-subsample 1000 --seed 0 --out "$runs/hardest"
for split in ${SPLITS:-train}; do
  .venv/bin/hrmkit eval "$model" --data "$runs/hardest" --split $split --out "$runs/hardest-eval-$split" --device cpu \
    --steps 32 --batch-size 250 --views 8 --halt-on verified --no-baselines > "$runs/hardest-eval-$split.log" 2>&1
  .venv/bin/python - "$runs/hardest-eval-$split/metrics.json" $split <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
keys = ("num_examples", "exact_accuracy", "token_accuracy", "views_exact_accuracy", "views_verified", "givens_mean")
print(sys.argv[2], {k: m.get(k) for k in keys})
PY
done
