#!/bin/bash
# Runs the real source of the kernels in kernels/ on the CPU: launches become loops over blocks,
# each block's threads real std::threads with a barrier for __syncthreads and, per warp, an
# exchange array for __shfl_*; ASan/UBSan catch out-of-bounds accesses. Each driver compares
# against a double-precision reference (float32 and bfloat16) and prints one pass/fail line; the
# exit status is non-zero if any driver fails (or hangs: a divergent barrier deadlocks here).
# KE_SANITIZE=thread run.sh builds with ThreadSanitizer instead: a missing __syncthreads (or a
# warp-synchronous read without a shuffle) between threads of a block is then reported as a data
# race, and the driver fails (exit 66). Usage: [KE_SANITIZE=thread] run.sh [repo]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=${1:-$(cd "$here/../.." && pwd)}; out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/bin"  # binaries apart from the include directory (a binary named "random" shadows <random>)
transform() { python3 "$here/transform.py" "$@" 2>/dev/null || { echo "FAIL transform $1"; exit 1; }; }
for f in depthwise_conv2d grouped_conv2d conv2d_bias linear batch_norm pool2d; do
  transform "$repo/kernels/$f.cu" "$out/$f.cpp"; done
transform "$repo/kernels/conv3x3_filter.cuh" "$out/conv3x3_filter.cuh"
# These files' host entries take Tensors: keep their kernels; the drivers launch them as the entries do.
for f in cast random relu add sgd_update global_avg_pool cross_entropy; do
  transform "$repo/kernels/$f.cu" "$out/$f.cpp" --kernels-only; done
sanitize=${KE_SANITIZE:-address,undefined}
flags="-std=c++20 -O1 -g -fsanitize=$sanitize -pthread -include $here/harness.h -I$here -I$out -I$repo/kernels -I$repo/src -I$repo/include -I/usr/local/cuda/include"
# driver name: the driver source, then the transformed sources it links
drivers=(
  "conv:driver.cpp depthwise_conv2d.cpp grouped_conv2d.cpp conv2d_bias.cpp"
  "linear:driver_linear.cpp linear.cpp"
  "batch_norm:driver_batch_norm.cpp"
  "pool2d:driver_pool2d.cpp pool2d.cpp"
  "cast:driver_cast.cpp"
  "random:driver_random.cpp"
  "elementwise:driver_elementwise.cpp"
  "global_avg_pool:driver_global_avg_pool.cpp"
  "cross_entropy:driver_cross_entropy.cpp"
)
status=0
for d in "${drivers[@]}"; do
  name=${d%%:*}; files=(${d#*:}); srcs=("$here/${files[0]}")
  for f in "${files[@]:1}"; do srcs+=("$out/$f"); done
  if ! g++ $flags "${srcs[@]}" -o "$out/bin/$name" >"$out/$name.build" 2>&1; then
    echo "FAIL $name: does not compile"; sed -n 1,20p "$out/$name.build"; status=1; continue; fi
  timeout 900 "$out/bin/$name" >"$out/$name.log" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then echo "pass $name: $(tail -n 1 "$out/$name.log")"
  else
    echo "FAIL $name (exit $rc$([ $rc -eq 124 ] && echo ', timed out: a deadlock?')): $(tail -n 1 "$out/$name.log")"
    grep -E "FAIL|ERROR|runtime error|WARNING: ThreadSanitizer|^case" "$out/$name.log" | grep -B1 -E "FAIL|ERROR|runtime error|WARNING" | head -40
    status=1
  fi
done
exit $status
