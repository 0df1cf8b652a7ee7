#!/bin/bash
# 15-epoch recipe measurements for issue 24: two queues, one per core, pairs side by side.
cd /work/wt/s1 && . /work/main/.venv/bin/activate && export PYTHONPATH=/work/wt/s1
export OMP_NUM_THREADS=1 NAS_MNIST_DATA=/work/shared/data
O=/work/wt/recipes
S="nas-mnist bench shapes --epochs 15 --data-dir /work/shared/data"
OP="--shape onepool --sizes 1500,4500,9900"
NA="--shape narrow28 --sizes 3974"
qa() {
  $S $OP --seed 0 >> $O/a.jsonl
  $S $NA --seed 0 >> $O/a.jsonl
  $S $OP --seed 0 --set log2_batch=5 --set ema=true --set ema_epochs=0.5 >> $O/a.jsonl
  $S $NA --seed 1 >> $O/a.jsonl
  $S $OP --seed 1 >> $O/a.jsonl
}
qb() {
  $S $OP --seed 0 --set log2_batch=5 >> $O/b.jsonl
  $S $NA --seed 0 --set log2_batch=5 >> $O/b.jsonl
  $S $OP --seed 0 --set log2_batch=5 --set scale=0.1 >> $O/b.jsonl
  $S $NA --seed 1 --set log2_batch=5 >> $O/b.jsonl
  $S $OP --seed 1 --set log2_batch=5 >> $O/b.jsonl
}
qa 2> $O/a.err & qb 2> $O/b.err & wait
date > $O/done
