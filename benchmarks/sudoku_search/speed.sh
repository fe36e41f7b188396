#!/bin/bash
# Training speed of the sudoku-search recipe four ways (benchmarks/sudoku_search/RESULTS.md, "Speed of training"):
# before (the first recipe: 16 segments, eager), the preset without torch.compile, the preset as it runs by
# default (4 segments, torch.compile), and the default under torchrun with 2 processes x 1 thread.
# 500 steps each, one after the other; prints the mean segment-samples/s of the last 5 logging windows (50 steps
# each), so start-up and compilation are left out. Run on an otherwise idle machine.
#   benchmarks/sudoku_search/speed.sh DATA       (any Sudoku data set, e.g. the sx50k set of RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$1
runs=${RUNS:-/tmp/sudoku_search}
mkdir -p "$runs"
export HF_HUB_OFFLINE=1 DVC_NO_ANALYTICS=1
common="--preset sudoku-search --data $data --steps 500 --no-progress log_every=50"
sps() { tail -n 5 "$runs/$1/live/plots/metrics/train/samples_per_s.tsv" | awk -v n="$1" '{s+=$2} END {printf "%s: %.1f segment-samples/s\n", n, s/NR}'; }
while IFS='|' read -r name cmd extra; do
  rm -rf "${runs:?}/$name"
  # shellcheck disable=SC2086
  $cmd $common $extra --out "$runs/$name" > "$runs/$name.log" 2>&1
  sps "$name"
done <<'LIST'
speed-before|.venv/bin/hrmkit train|compile=false halt_max_steps=16
speed-eager|.venv/bin/hrmkit train|compile=false
speed-default|.venv/bin/hrmkit train|
speed-ddp2|env OMP_NUM_THREADS=1 .venv/bin/torchrun --standalone --nproc-per-node 2 -m hrmkit train|
LIST
