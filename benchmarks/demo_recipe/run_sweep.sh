#!/bin/bash
# The sample-efficiency sweep of RESULTS.md through the package: every line of configs_sweep.txt is one
# `hrmkit train` over the `demo` preset, for the same 600k segment-samples (batch 64: 9,375 optimiser steps; batch
# 256: 2,344), evaluated every 25k segment-samples (390 steps) with 16 segments, then `hrmkit eval --steps 16`.
#   bash benchmarks/demo_recipe/run_sweep.sh cuda        # all configs in parallel (the H200 machine)
#   STEPS=2 COUNT=64 TEST_COUNT=16 ONLY="A A_trm" bash benchmarks/demo_recipe/run_sweep.sh cpu   # a quick check
# Outputs under $WORK (default <repo>/scratch/demo_recipe_sweep): data/, runs/NAME, reports/NAME/metrics.json.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; DEVICE="${1:-cuda}"
WORK="${WORK:-$(git -C "$HERE" rev-parse --show-toplevel)/scratch/demo_recipe_sweep}"; mkdir -p "$WORK" && cd "$WORK"
HRMKIT="${HRMKIT:-hrmkit}"; COUNT="${COUNT:-20000}"; TEST_COUNT="${TEST_COUNT:-500}"; JOBS="${JOBS:-32}"
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
PAPER="pos_encodings=rope attn_mask=none grad_cycles=0 loss_on=all halting=act halt_rule=q_continue halt_max_steps=8 loss=stablemax warmup_steps=2000 weight_decay=1.0 lr_min_ratio=1.0 q_loss_weight=0.5"
A="attn_mask=none halting=act halt_rule=threshold halt_max_steps=8 lr_min_ratio=1.0 q_loss_weight=0.5"

build() {  # build NAME GIVENS TEST_GIVENS
  [ -d "data/$1" ] || $HRMKIT data build sudoku --source generate --count "$COUNT" --test-source generate \
    --test-count "$TEST_COUNT" --givens "$2" --test-givens "$3" --seed 0 --out "data/$1"
}
build std 50-55 50-55
build hard 45-55 45-50

train() {  # train NAME DATA [--init RUN] SETTINGS... (the `demo` preset unless SETTINGS start with --preset)
  local name="$1" data="$2"; shift 2
  local init=(); if [ "${1:-}" = --init ]; then init=(--init "$2"); shift 2; fi
  local preset=(--preset demo); if [ "${1:-}" = --preset ]; then preset=(--preset "$2"); shift 2; fi
  local steps=9375; for kv in "$@"; do [ "$kv" = global_batch_size=256 ] && steps=2344; done
  [ -n "${STEPS:-}" ] && steps="$STEPS"
  $HRMKIT train "${preset[@]}" "${init[@]}" --data "data/$data" --out "runs/$name" --no-live --no-progress --overwrite \
    "$@" device="$DEVICE" steps="$steps" eval_every=390 eval_steps=16 log_every=100 > "train_$name.log" 2>&1
  $HRMKIT eval "runs/$name" --data "data/$data" --out "reports/$name" --steps 16 --device "$DEVICE" > "eval_$name.log" 2>&1
  echo "$name done"
}
wanted() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

[ "$DEVICE" = cuda ] && nvidia-cuda-mps-control -d 2>/dev/null && echo "MPS on"
while read -r name data rest; do
  case "$name" in ''|'#'*) continue;; esac
  wanted "$name" || continue
  eval "set -- $rest"  # expands $PAPER / $A
  train "$name" "$data" "$@" &
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
done < "$HERE/configs_sweep.txt"
# A_cur: the givens curriculum as three chained runs (58-62 givens for 15% of the samples, 55-58 for 20%, then
# 50-55); each stage starts from the last one's weights with a fresh optimiser (the fork kept one optimiser).
if wanted A_cur; then (
  build cur1 58-62 50-55; build cur2 55-58 50-55
  S1="${STEPS:-1406}"; S2="${STEPS:-1875}"; S3="${STEPS:-6094}"
  STEPS=$S1 train A_cur1 cur1 $A && STEPS=$S2 train A_cur2 cur2 --init runs/A_cur1 $A && STEPS=$S3 train A_cur std --init runs/A_cur2 $A
) & fi
wait
for f in reports/*/metrics.json; do echo "$f: $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print({k: round(v, 4) for k, v in m.items() if k in ("exact_accuracy", "token_accuracy_blanks", "exact_accuracy_at_halt")})' "$f")"; done
