#!/bin/bash
# Throughput measurements of issue 21, one after the other on the otherwise quiet 2-core box.
set -x
cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1
D=/work/shared/data
R=studies/results/bench-speed-cpu
mkdir -p $R
date
git rev-parse HEAD
nas-mnist bench speed --device cpu --data-dir $D --speeds plain,default --rounds 2 --out $R 2>/tmp/meas/a.err
date
nas-mnist bench speed --device cpu --data-dir $D --plan levers --speeds plain,default,compile,nchw,eval1024 --out $R/levers 2>/tmp/meas/b.err
date
nas-mnist bench speed --device cpu --data-dir $D --profile narrow28@4.0k --batch 32 > $R/profile-narrow28-b32.txt 2>/dev/null
nas-mnist bench speed --device cpu --data-dir $D --profile narrow28@4.0k --batch 128 > $R/profile-narrow28-b128.txt 2>/dev/null
date
# thread layout: one 2-thread process against two 1-thread processes side by side
OMP_NUM_THREADS=2 nas-mnist bench speed --device cpu --data-dir $D --plan levers --out $R/threads-1x2 2>/dev/null
(nas-mnist bench speed --device cpu --data-dir $D --plan levers --out $R/threads-2x1-a 2>/dev/null &
 nas-mnist bench speed --device cpu --data-dir $D --plan levers --out $R/threads-2x1-b 2>/dev/null; wait)
date
# 15 epochs, same seed: the switches must not move the accuracy (two 1-thread processes side by side)
(NAS_MNIST_SPEED=plain nas-mnist train --config /tmp/meas/narrow28.json --device cpu --data-dir $D --seed 0 > $R/train15-narrow28-plain.txt 2>&1 &
 nas-mnist train --config /tmp/meas/narrow28.json --device cpu --data-dir $D --seed 0 > $R/train15-narrow28-default.txt 2>&1; wait)
date
echo DONE
date
nas-mnist bench speed --device cpu --data-dir $D --plan levers --speeds plain,pages,foreach,default --rounds 2 --out $R/switches 2>/tmp/meas/c.err
