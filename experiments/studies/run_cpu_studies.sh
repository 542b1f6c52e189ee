#!/usr/bin/env bash
# Run the 100-class glyphs study on a CPU: one shard per core, one thread each, logging to
# runs/studies/NAME.*.log, then the report and the figure. Resumable: run it again after an
# interruption and only unfinished runs train. SHARDS=3 on a machine with 3 free cores;
# CONFIG=experiments/studies/cpu_glyphs_more.toml runs the follow-up (its report pools both studies).
#   nohup experiments/studies/run_cpu_studies.sh &
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
SHARDS=${SHARDS:-2}
CONFIG=${CONFIG:-experiments/studies/cpu_glyphs.toml}
NAME=$(basename "$CONFIG" .toml | tr _ -)     # the config's study.name (its out is runs/studies/NAME)
OUT=runs/studies/$NAME
if [ "$NAME" != cpu-glyphs-more ]; then POOL=""               # the follow-up's report pools the first study
elif [ -f runs/studies/cpu-glyphs/results.csv ]; then POOL=runs/studies/cpu-glyphs/results.csv
else POOL=experiments/studies/results/cpu-glyphs.csv; fi
mkdir -p runs/studies
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
"$BIN/spherecode" study --config "$CONFIG" --dry-run > /dev/null || exit 1
for i in $(seq 1 "$SHARDS"); do
    "$BIN/spherecode" study --config "$CONFIG" --shard "$i/$SHARDS" >> "runs/studies/$NAME.$i.log" 2>&1 &
done
wait
"$BIN/spherecode" study --config "$CONFIG" > /dev/null   # rebuild results.csv from every run folder
# shellcheck disable=SC2086  # POOL: empty or one path
"$BIN/spherecode" study report $POOL "$OUT/results.csv" > "runs/studies/$NAME.report.txt"
"$BIN/spherecode" plot study "$OUT/results.csv" -o "runs/studies/$NAME.png" --force
