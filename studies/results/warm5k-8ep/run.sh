#!/usr/bin/env bash
# onepool_sep at the 4.4k start's size and at ~5.0k, 8 epochs, the training seeds that the 4.4k
# start (trial 2) got in cpu30one-b10000 (seed 0 + 2) and cpu30one-b10000-s1 (seed 1 + 2); two at
# a time, one thread each, in this order (rows.jsonl). At 42b273e, AVX2 host, nothing else running.
set -euo pipefail
run() { OMP_NUM_THREADS=1 nas-mnist bench shapes --data-dir "${MNIST:?MNIST root}" --shape onepool_sep "$@"; }
run --sizes 4400 --seed 2 & run --sizes 5000 --seed 2 & wait
run --sizes 4400 --seed 3 & run --sizes 5000 --seed 3 & wait
