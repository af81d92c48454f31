#!/usr/bin/env bash
# The main job: trains the small CRU-Net of configs/small/fashion_crunet.yaml on Fashion-MNIST on
# the CPU, then evaluates the saved weights with crunet-eval. Extra arguments go to crunet-train
# (e.g. --resume auto, --set train.epochs=2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${CRUNET_BUILD_DIR:-$root/build}"
config="$root/configs/small/fashion_crunet.yaml"
run_dir="${CRUNET_RUN_DIR:-$root/runs/fashion_crunet}"

"$build_dir/tools/crunet-train" --config "$config" --output "$run_dir" "$@"
"$build_dir/tools/crunet-eval" --config "$config" --weights "$run_dir/model.safetensors" \
  --json "$run_dir/eval.json"
echo "main job: run folder $run_dir (curves.svg, metrics.jsonl, train.log, eval.json)"
