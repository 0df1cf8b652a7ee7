#!/bin/bash
# Issue 24 piece 2: separable 3x3 convs against plain ones at <=1.5k and <=4k params, 15 epochs,
# the warm starts' recipe (FAST_RECIPE, batch 32), two shapes, seeds 0 and 1. Two queues, one per
# core: plain (a) beside separable (b), the same net size and seed at the same time.
cd /work/wt/sep && . /work/main/.venv/bin/activate && export PYTHONPATH=/work/wt/sep
export OMP_NUM_THREADS=1
O=/work/wt/sepout
S="nas-mnist bench shapes --epochs 15 --data-dir /work/shared/data"
OSEP="--set sep1=true --set sep2=true --set sep3=true"
NSEP="--set sep1=true --set sep2=true --set sep3=true --set sep4=true --set sep5=true --set sep6=true --set sep7=true --set sep8=true"
qa() {
  for seed in 0 1; do
    $S --shape onepool --sizes 1500 --seed $seed >> $O/a.jsonl
    $S --shape narrow28 --sizes 1500 --seed $seed >> $O/a.jsonl
  done
  for seed in 0 1; do
    $S --shape onepool --sizes 4000 --seed $seed >> $O/a.jsonl
    $S --shape narrow28 --sizes 4000 --seed $seed >> $O/a.jsonl
  done
}
qb() {
  for seed in 0 1; do
    $S --shape onepool --sizes 1500 --seed $seed $OSEP >> $O/b.jsonl
    $S --shape narrow28 --sizes 1500 --seed $seed $NSEP >> $O/b.jsonl
  done
  for seed in 0 1; do
    $S --shape onepool --sizes 4000 --seed $seed $OSEP >> $O/b.jsonl
    $S --shape narrow28 --sizes 4000 --seed $seed $NSEP >> $O/b.jsonl
  done
}
date > $O/start
qa 2> $O/a.err & qb 2> $O/b.err & wait
date > $O/done
