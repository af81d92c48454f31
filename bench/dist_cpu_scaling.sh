#!/usr/bin/env bash
# Data-parallel throughput on the CPU: one process against two MPI ranks on the same machine,
# training the main job's CRU-Net (configs/small/fashion_crunet.yaml) for one epoch on the first
# N Fashion-MNIST images. Prints the training images per second each run's metrics.jsonl reports
# (validation excluded). Usage: bench/dist_cpu_scaling.sh [BUILD_DIR] [TRAIN_IMAGES] [REPEATS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
images="${2:-6400}"
repeats="${3:-2}"
train="$build/tools/crunet-train"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_WAIT_POLICY=passive
common=(--config "$root/configs/small/fashion_crunet.yaml" --set train.epochs=1
        --set "data.train_limit=$images" --set data.val_limit=500 --set train.log_every=1000
        --set data.workers=1)

rate() { grep '"kind":"epoch"' "$1/metrics.jsonl" | sed 's/.*"images_per_s":\([0-9.]*\).*/\1/' | cut -d. -f1; }

run() {  # name, then the command's words
  local name=$1; shift
  for ((i = 0; i < repeats; i++)); do
    rm -rf "$out/$name"
    "$@" --output "$out/$name" > "$out/$name.log" 2>&1 || { cat "$out/$name.log"; exit 1; }
    printf '%-44s %6s images/s\n' "$name" "$(rate "$out/$name")"
  done
}

echo "$(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $images training images, one epoch"
run "1 process, 2 threads, batch 128"        "$train" "${common[@]}" --set train.threads=2 --set data.batch_size=128
run "1 process, 1 thread, batch 64"          "$train" "${common[@]}" --set train.threads=1 --set data.batch_size=64
run "2 ranks x 1 thread, batch 64 each"      mpirun -np 2 "$train" "${common[@]}" --set train.threads=1 --set data.batch_size=64
run "2 ranks x 1 thread, batch 64, SyncBN"   mpirun -np 2 "$train" "${common[@]}" --set train.threads=1 --set data.batch_size=64 --set train.sync_bn=true
