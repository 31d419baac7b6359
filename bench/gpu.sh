#!/usr/bin/env bash
# The GPU path measured in under five minutes on a CUDA machine (see bench/gpu.py): every model family in bf16,
# astromer2 pretraining throughput and MFU, default-classifier inference throughput. Run from the repository root:
#   bash bench/gpu.sh [extra bench/gpu.py arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 290 python bench/gpu.py "$@"
