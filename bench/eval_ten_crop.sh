#!/usr/bin/env bash
# 10-crop evaluation speed of two crunet-eval builds on the same generated image folder, in turn,
# several rounds (docs/benchmarks.md, issue 15): before (one image at a time, decoded on the main
# thread) and after (the threaded loader in batches). A reduced CRU-Net at 224x224 (--model
# reduced: stem 16, res 32 / cru 64 / res 128; 41,908 parameters, 0.064 G multiply-adds a crop),
# or its first stage alone (--model stem: 4,564 parameters, 0.035 G), so that a small machine
# measures the pipeline, not only the convolutions; JPEGs of 256x256, resize 256, crops of 224.
#
#   bench/eval_ten_crop.sh --before PATH --after PATH [--images N] [--rounds N] [--folder DIR]
#                          [--model reduced|stem] [--after-args "ARGS"]
#
# --after-args: extra crunet-eval arguments for the after build only (e.g. "--workers 1 --set
# train.threads=1").
# PATH: a crunet-eval binary (run with LD_LIBRARY_PATH=$(dirname PATH)/lib when that exists, for a
# copy saved with its libcrunet). Needs build/bench/crunet_write_jpegs and build/tools/crunet-train.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
before="" after="" images=320 rounds=3 folder=/tmp/crunet_eval_bench model=reduced after_args=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --before) before=$2; shift 2 ;;
    --after) after=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --folder) folder=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --after-args) after_args=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "eval_ten_crop.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -x "$before" && -x "$after" ]] || { echo "eval_ten_crop.sh: --before and --after name crunet-eval binaries" >&2; exit 2; }

classes=4
if [[ ! -d "$folder/images/val" ]]; then
  "$root/build/bench/crunet_write_jpegs" "$folder/images/val" "$classes" $((images / classes)) 256 1
fi
case "$model" in
  reduced) more_stages="    - {unit: cru, units: 2, width: 64, bottleneck: 32, share: 2, stride: 2}
    - {unit: res, units: 1, width: 128, bottleneck: 64, groups: 8, stride: 2}" ;;
  stem) more_stages="" ;;
  *) echo "eval_ten_crop.sh: --model is reduced or stem, not '$model'" >&2; exit 2 ;;
esac
config=$folder/$model.yaml
cat > "$config" <<YAML
model:
  name: eval_bench_crunet
  input: {channels: 3, size: 224}
  classes: $classes
  stem: {type: imagenet, width: 16}
  stages:
    - {unit: res, units: 1, width: 32, bottleneck: 16, groups: 4, stride: 1}
$more_stages
data:
  root: $folder/images
  train: val
  train_limit: 16
  batch_size: 8
  eval_batch_size: 40
  workers: 2
  eval: {resize: 256, size: 224}
train: {epochs: 1, precision: fp32, log_every: 100}
output: {dir: $folder/run_$model}
YAML
if [[ ! -f "$folder/run_$model/model.safetensors" ]]; then
  "$root/build/tools/crunet-train" --config "$config" > "$folder/train_$model.log" 2>&1
fi

run() {  # binary -> images/s
  local binary=$1 lib extra=()
  lib=$(dirname "$binary")/lib
  # shellcheck disable=SC2206  # the extra arguments are words
  [[ "$binary" == "$after" ]] && extra=($after_args)
  LD_LIBRARY_PATH=$([[ -d "$lib" ]] && echo "$lib" || true) "$binary" --config "$config" \
    --weights "$folder/run_$model/model.safetensors" --ten-crop --json "$folder/out.json" "${extra[@]}" > /dev/null
  sed -n 's/.*"images_per_s": \([0-9.]*\).*/\1/p' "$folder/out.json"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

b=() a=()
for ((r = 0; r < rounds; ++r)); do
  b+=("$(run "$before")")
  a+=("$(run "$after")")
  echo "round $((r + 1)): before ${b[-1]} images/s, after ${a[-1]} images/s"
done
mb=$(printf '%s\n' "${b[@]}" | median)
ma=$(printf '%s\n' "${a[@]}" | median)
echo "10-crop, model $model, $images images of 256x256${after_args:+ (after: $after_args)}: before $mb images/s, after $ma images/s (median of $rounds), x$(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.2f", a / b}')"
