#!/bin/bash
# The CPU runs of RESULTS.md (R1-R6) through the package: generated data (`hrmkit data build`), `hrmkit train` over
# the `demo` preset with key=value overrides, `hrmkit eval` on the 500 held-out puzzles. One thread per run
# (OMP_NUM_THREADS=1). The removed fork budgeted 600 CPU-seconds; the package counts optimiser steps, so each run
# gets the step count its fork run reached in 600 CPU-s (R3: in 180 s, where it was stopped).
#   bash benchmarks/demo_recipe/run_cpu.sh                          # all six, four then two at once
#   STEPS=2 COUNT=64 TEST_COUNT=16 ONLY=R6_recipe_fixed4 bash benchmarks/demo_recipe/run_cpu.sh   # a quick check
# Outputs under $WORK (default <repo>/scratch/demo_recipe): data/, runs/NAME, reports/NAME/metrics.json (exact
# after every segment: exact_accuracy_step_K; blanks: token_accuracy_blanks; ACT halting: exact_accuracy_at_halt).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${WORK:-$(git -C "$HERE" rev-parse --show-toplevel)/scratch/demo_recipe}"; mkdir -p "$WORK" && cd "$WORK"
HRMKIT="${HRMKIT:-hrmkit}"; COUNT="${COUNT:-20000}"; TEST_COUNT="${TEST_COUNT:-500}"
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1

build() {  # build NAME GIVENS TEST_GIVENS
  [ -d "data/$1" ] || $HRMKIT data build sudoku --source generate --count "$COUNT" --test-source generate \
    --test-count "$TEST_COUNT" --givens "$2" --test-givens "$3" --seed 0 --out "data/$1"
}
build std 50-55 50-55     # train 20,000 and test 500 puzzles, 50-55 givens
build hard 45-55 45-50    # R5: train 45-55, test 45-50 givens

run() {  # run NAME DATA STEPS SEGMENTS [--preset P] SETTINGS...: train over the `demo` preset, then evaluate
  local name="$1" data="$2" steps="${STEPS:-$3}" segments="$4"; shift 4
  local preset=(--preset demo); if [ "${1:-}" = --preset ]; then preset=(--preset "$2"); shift 2; fi
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  $HRMKIT train "${preset[@]}" --data "data/$data" --out "runs/$name" --no-progress --overwrite "$@" \
    device=cpu steps="$steps" eval_every=250 eval_steps="$segments" > "train_$name.log" 2>&1
  $HRMKIT eval "runs/$name" --data "data/$data" --out "reports/$name" --steps "$segments" --device cpu \
    > "eval_$name.log" 2>&1
  echo "$name: $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(", ".join(f"{k} {m[k]:.4f}" for k in ("exact_accuracy", "token_accuracy_blanks", "exact_accuracy_at_halt") if k in m))' "reports/$name/metrics.json")"
}
# ACT halting as the fork's `--act trm` (halt when q_halt > 0, exploration 0.1, Q loss weight 0.5); the package's
# HRM still trains a q_continue target with one extra forward, which the fork did not.
ACT="halting=act halt_rule=threshold q_loss_weight=0.5"
PAPER="pos_encodings=rope attn_mask=none grad_cycles=0 loss_on=all halting=act halt_rule=q_continue halt_max_steps=8 loss=stablemax warmup_steps=2000 weight_decay=1.0 lr_min_ratio=1.0 q_loss_weight=0.5"

run R1_recipe std 2659 8 $ACT halt_max_steps=8 &
run R2_paper std 2197 8 $PAPER &
run R3_trm_peers std 832 8 --preset trm-sudoku-mlp mlp_t=false hidden_size=64 num_heads=4 L_layers=1 H_cycles=2 \
  L_cycles=2 halt_max_steps=8 pos_encodings=sudoku_rcb attn_mask=sudoku_peers loss_on=blanks puzzle_emb_ndim=0 \
  puzzle_emb_len=0 lr=1e-3 lr_min_ratio=0.1 warmup_steps=100 weight_decay=0.1 puzzle_emb_weight_decay=0.1 \
  loss=softmax q_loss_weight=0.5 ema=false global_batch_size=64 &
run R4_recipe_seg4 std 2542 4 $ACT &
wait
run R5_recipe_hard hard 2598 4 $ACT &
run R6_recipe_fixed4 std 2527 4 q_loss_weight=0 &   # the recipe: the demo preset, no Q head trained (as R6)
wait
