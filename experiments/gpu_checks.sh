#!/usr/bin/env bash
# The GPU checks of the training issues, in one go (about 6 minutes on one H200):
#   1. our supervised loop vs a plain PyTorch loop (ResNet-18, 32x32, batch 512, bf16, channels_last);
#   2. the self-supervised input pipeline (per-sample vs batched multi-crop) and the k-NN at CIFAR scale;
#   3. a 2-epoch run of each CIFAR recipe (prototype, linear, Hypersolid) on CIFAR-sized synthetic data,
#      images/s from each run's metrics.jsonl;
#   4. the CUDA-only tests.
# Run from the repository root:  bash experiments/gpu_checks.sh [OUTDIR]
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
OUT=${1:-${OUT:-runs/gpu-checks}}
mkdir -p "$OUT"
DATA=${DATA:-"synthetic:classes=100,per_class=500,test_per_class=100,image_size=32"}
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-8}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"

echo "== 1. supervised loop vs plain loop"
timeout 240 $PY experiments/bench_loop_gpu.py --with-workers "$WORKERS" 2>&1 | tee "$OUT/bench_loop_gpu.txt"

echo "== 2. self-supervised pipeline and k-NN"
timeout 150 $PY experiments/bench_ssl_pipeline.py --device cuda --workers "$WORKERS" --threads 8 2>&1 | tee "$OUT/bench_ssl_pipeline.txt"

echo "== 3. each CIFAR recipe, 2 epochs on synthetic CIFAR-sized data"
$PY -m spherecode generate -n 100 -d 64 -o "$OUT/cb.npz" --force
for recipe in prototype linear; do
  timeout 150 $PY -m spherecode train --config "experiments/configs/cifar100_resnet18_$recipe.toml" --data "$DATA" \
      --codebook "$OUT/cb.npz" --epochs 2 --workers "$WORKERS" --device "$DEVICE" --out "$OUT/$recipe" 2>&1 | tail -4
done
timeout 200 $PY -m spherecode pretrain --config experiments/configs/cifar100_resnet18_hypersolid.toml --data "$DATA" \
    --epochs 2 --warmup-epochs 0 --workers "$WORKERS" --device "$DEVICE" --out "$OUT/hypersolid" 2>&1 | tail -4
$PY - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
print("| recipe | epoch | images/s | loss | val top-1 |")
print("|---|---:|---:|---:|---:|")
for run in ("prototype", "linear", "hypersolid"):
    path = Path(sys.argv[1]) / run / "metrics.jsonl"
    if not path.exists():
        print(f"| {run} | - | (no metrics) | | |")
        continue
    for line in path.read_text().splitlines():
        r = json.loads(line)
        print(f"| {run} | {r.get('epoch')} | {r.get('images_per_s', float('nan')):,.0f} | {r.get('loss', float('nan')):.3f} | {r.get('val_top1', float('nan'))} |")
PYEOF

echo "== 4. CUDA tests"
timeout 120 $PY -m pytest -q -p no:cacheprovider -m gpu tests/test_train.py tests/test_relabel.py tests/test_randaugment.py 2>&1 | tail -5
