#!/bin/bash
# Issue 24: deeper separable shapes against onepool_sep at <= 4,000 params (budget 4,000, as the
# warm start of a budget-4000 search), 15 epochs, the warm starts' recipe (FAST_RECIPE, batch 32).
# Two queues, one per core: seed 0 (a) beside seed 1 (b), the same shape at the same time.
#   twoconv: a second conv (separable) at full resolution before the pool
#   deep_p1: padded convs at 13x13, a second pool, two more separable convs at 6x6
cd "$(dirname "$0")/../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
O=studies/results/deepsep-15ep
S="nas-mnist bench shapes --shape onepool_sep --budget 4000 --sizes 4000 --epochs 15 --data-dir ${DATA:-/work/shared/data}"
TWOCONV="--set convs0=2 --set w0=0.5 --set w1=0.64 --set w2=0.73 --set w3=0.82 --set w4=1.0 --set sep4=true"
DEEP="--set stages=3 --set convs2=2 --set pad1=1 --set pad2=0 --set trans2=false --set w4=1.0 --set w5=1.0 --set sep4=true --set sep5=true"
q() {  # seed, output
  $S --seed $1 | sed "s/^{/{\"seed\": $1, \"variant\": \"onepool_sep\", /" >> $2
  $S --seed $1 $TWOCONV | sed "s/^{/{\"seed\": $1, \"variant\": \"twoconv\", /" >> $2
  $S --seed $1 $DEEP | sed "s/^{/{\"seed\": $1, \"variant\": \"deep_p1\", /" >> $2
}
date -u > $O/start
q 0 $O/a.jsonl 2> $O/a.err & q 1 $O/b.jsonl 2> $O/b.err & wait
date -u > $O/done
