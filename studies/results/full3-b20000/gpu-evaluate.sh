#!/usr/bin/env bash
# full3-b20000's test evaluation on one leased GPU, as the device tool ran it: `pareto --evaluate
# --reseed 3` for the members that decide the goals, every retraining at once (--jobs = their
# count), capped at CAP seconds so the lease is never overrun; the study comes back in OUT.
#
#   bash studies/results/full3-b20000/gpu-evaluate.sh OUT MNIST_ROOT TRIALS [CAP] [DEVICE]
#
# STUDY_DIR (default studies/results) and EXTRA (more pareto flags) serve a dry run on the CPU:
#   STUDY_DIR=/tmp/copy EXTRA="--epochs 1 --train-subset 300" bash ... /tmp/o ROOT 0,1 60 cpu
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=$1 data=$(cd "$2" && pwd) trials=$3 cap=${4:-500} dev=${5:-cuda}
dir=${STUDY_DIR:-studies/results} reseed=${RESEED:-3}
n=$(($(tr ',' '\n' <<<"$trials" | grep -c .) * reseed))
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
    nproc
    python3 -m search.cli --version
} >"$out/machine.log" 2>&1
(sleep 150; nvidia-smi >"$out/nvidia-smi-150s.log" 2>&1) &
start=$SECONDS
# shellcheck disable=SC2086
timeout -k 10 "$cap" python3 -m search.cli pareto --study full3-b20000 --study-dir "$dir" \
    --evaluate --reseed "$reseed" --trials "$trials" --jobs "$n" --device "$dev" \
    --data-dir "$data" ${EXTRA:-} >"$out/evaluate.log" 2>&1
echo "rc $? in $((SECONDS - start)) s; $n retrainings, all at once" | tee -a "$out/evaluate.log"
cp "$dir/full3-b20000.db" "$out/"
