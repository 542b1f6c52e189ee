#!/usr/bin/env bash
# Run the 100-class glyphs study on a CPU: one shard per core, one thread each, logging to
# runs/studies/cpu-glyphs.*.log, then the report and the figure. Resumable: run it again after an
# interruption and only unfinished runs train. SHARDS=3 on a machine with 3 free cores.
#   nohup experiments/studies/run_cpu_studies.sh &
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
SHARDS=${SHARDS:-2}
CONFIG=experiments/studies/cpu_glyphs.toml
OUT=runs/studies/cpu-glyphs
mkdir -p runs/studies
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
"$BIN/spherecode" study --config "$CONFIG" --dry-run > /dev/null || exit 1
for i in $(seq 1 "$SHARDS"); do
    "$BIN/spherecode" study --config "$CONFIG" --shard "$i/$SHARDS" >> "runs/studies/cpu-glyphs.$i.log" 2>&1 &
done
wait
"$BIN/spherecode" study --config "$CONFIG" > /dev/null   # rebuild results.csv from every run folder
"$BIN/spherecode" study report "$OUT/results.csv" > runs/studies/cpu-glyphs.report.txt
"$BIN/spherecode" plot study "$OUT/results.csv" -o runs/studies/cpu-glyphs.png --force
