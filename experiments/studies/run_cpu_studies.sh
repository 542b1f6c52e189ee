#!/usr/bin/env bash
# Run the two CPU studies side by side (one process per core, one thread each), logging to
# runs/studies/*.log. Resumable: run it again after an interruption and only unfinished runs train.
#   nohup experiments/studies/run_cpu_studies.sh &
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
mkdir -p runs/studies
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for s in cpu_synthetic cpu_digits; do
    "$BIN/spherecode" study --config "experiments/studies/$s.toml" >> "runs/studies/$s.log" 2>&1 &
done
wait
for s in cpu-synthetic cpu-digits; do
    "$BIN/spherecode" plot study "runs/studies/$s/results.csv" -o "runs/studies/$s.png" --force >> runs/studies/plots.log 2>&1
done
