#!/bin/bash
# Runs the real source of kernels/{depthwise,grouped}_conv2d.cu, conv2d_bias.cu, linear.cu on the
# CPU: launches become loops over blocks, each block's threads real std::threads with a barrier
# for __syncthreads and an exchange array for __shfl_*; ASan/UBSan catch out-of-bounds accesses.
# Compares against a double-precision reference, float32 and bfloat16. Usage: run.sh [repo]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=${1:-$(cd "$here/../.." && pwd)}; out=$(mktemp -d)
for f in depthwise_conv2d grouped_conv2d conv2d_bias linear; do
  python3 "$here/transform.py" "$repo/kernels/$f.cu" "$out/$f.cpp"; done
python3 "$here/transform.py" "$repo/kernels/conv3x3_filter.cuh" "$out/conv3x3_filter.cuh"
flags="-std=c++20 -O1 -g -fsanitize=address,undefined -pthread -include $here/harness.h -I$out -I$repo/kernels -I$repo/src -I$repo/include -I/usr/local/cuda/include"
g++ $flags "$here/driver.cpp" "$out/depthwise_conv2d.cpp" "$out/grouped_conv2d.cpp" "$out/conv2d_bias.cpp" -o "$out/conv"
g++ $flags "$here/driver_linear.cpp" "$out/linear.cpp" -o "$out/linear"
"$out/conv" && "$out/linear"
