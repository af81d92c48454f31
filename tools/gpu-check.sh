#!/usr/bin/env bash
# gpu-check.sh: the one script to run on a machine with a GPU (issue 6). It says where CUDA,
# cuDNN and NCCL are, prints the card, builds the GPU test suite (or reuses a carried build),
# runs `ctest -L gpu`, then the benchmarks that exist. Meant to finish well inside 8 minutes on
# one H100; everything it prints also goes to $OUT/gpu-check.log when $OUT is set (the device
# tool's output folder).
#
# usage: tools/gpu-check.sh [--build-dir DIR] [--rebuild] [--no-bench] [--batch N]
#   --build-dir DIR  build folder to use or make (default: build-gpu); a carried build made
#                    elsewhere is used as is when it already holds tests/test_gpu
#   --rebuild        configure and build even if DIR already holds a build
#   --no-bench       only the tests
#   --batch N        benchmark batch size (default 64)
# environment:
#   CUDNN_ROOT              where cudnn.h / libcudnn.so.9 are, if the search below misses them
#   CRUNET_GPU_CMAKE_ARGS   extra arguments for the configure step
#   CRUNET_CARRIED_LIBS     folder of shared libraries carried with the build (spdlog, fmt, ...)
#   CRUNET_TORCH_BENCH      path of torch_gpu_step.py (default: ../shared/bench, then bench/torch)
# exit status: that of the GPU tests (0 when they pass), 2 on a usage error, 3 when no GPU.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

build_dir=build-gpu
rebuild=0
bench=1
batch=64
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=${2:?--build-dir needs a folder}; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --no-bench) bench=0; shift ;;
    --batch) batch=${2:?--batch needs a number}; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "gpu-check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then
  exec > >(tee "${OUT}/gpu-check.log") 2>&1
fi
started=$(date +%s)
section() { echo; echo "== $* ($(( $(date +%s) - started )) s)"; }

# --- where things are -------------------------------------------------------------------------
section "toolchain"
export PATH="/usr/local/cuda/bin:${PATH}"
echo "nvcc:         $(command -v nvcc || echo 'not found') $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
echo "cmake:        $(command -v cmake || echo 'not found') $(cmake --version 2>/dev/null | head -1)"
echo "ninja:        $(command -v ninja || echo 'not found')"
python_site=$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null || true)
find_first() {  # find_first NAME DIR...: the first file called NAME under the folders
  local name=$1; shift
  for dir in "$@"; do
    [ -d "$dir" ] || continue
    local hit
    hit=$(find -L "$dir" -maxdepth 5 -name "$name" -print -quit 2>/dev/null)
    if [ -n "$hit" ]; then echo "$hit"; return 0; fi
  done
  return 1
}
search_dirs=("${CUDNN_ROOT:-/usr/local/cuda}" /usr/local/cuda /usr/include /usr/lib/x86_64-linux-gnu /usr/lib64)
for site_dir in $python_site; do search_dirs+=("$site_dir/nvidia"); done
cudnn_h=$(find_first cudnn.h "${search_dirs[@]}" || true)
cudnn_so=$(find_first 'libcudnn.so.9*' "${search_dirs[@]}" || true)
nccl_so=$(find_first 'libnccl.so.2*' "${search_dirs[@]}" || true)
echo "cudnn.h:      ${cudnn_h:-not found}"
echo "libcudnn.so.9 ${cudnn_so:-not found}"
echo "libnccl.so.2: ${nccl_so:-not found}"
if [ -z "${CUDNN_ROOT:-}" ] && [ -n "$cudnn_h" ] && [ -n "$cudnn_so" ]; then
  # A cuDNN outside the toolkit (the wheel under PyTorch): its root holds include/ and lib/.
  case "$cudnn_h" in
    /usr/local/cuda/*|/usr/include/*) ;;
    *) CUDNN_ROOT=$(dirname "$(dirname "$cudnn_h")"); export CUDNN_ROOT ;;
  esac
fi
for lib in "$cudnn_so" "$nccl_so"; do
  if [ -n "$lib" ]; then
    LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
done
export LD_LIBRARY_PATH
if [ -n "${CRUNET_CARRIED_LIBS:-}" ]; then
  export LD_LIBRARY_PATH="${CRUNET_CARRIED_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# --- the card -----------------------------------------------------------------------------------
section "GPU"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi; then
  echo "gpu-check.sh: no GPU here (nvidia-smi failed); nothing to check" >&2
  exit 3
fi
card=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader \
       | head -1)
echo "card: ${card}"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"

# --- build --------------------------------------------------------------------------------------
section "build (${build_dir})"
if [ "$rebuild" = 0 ] && [ -x "${build_dir}/tests/test_gpu" ]; then
  echo "using the existing build in ${build_dir}"
else
  # The "GPU check" configuration: CUDA for Hopper only, no optional CPU dependency.
  # shellcheck disable=SC2086
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCRUNET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCRUNET_ONEDNN=OFF -DCRUNET_MPI=OFF \
        -DCRUNET_BUILD_BENCHMARKS=OFF ${CUDNN_ROOT:+-DCUDNN_ROOT="$CUDNN_ROOT"} \
        ${CRUNET_GPU_CMAKE_ARGS:-} || { echo "gpu-check.sh: configure failed" >&2; exit 1; }
  targets=(test_gpu)
  targets+=(crunet-bench)
  cmake --build "$build_dir" --target "${targets[@]}" -j "$(nproc)" \
    || { echo "gpu-check.sh: build failed" >&2; exit 1; }
fi

# --- the GPU suite ------------------------------------------------------------------------------
section "GPU tests"
LD_LIBRARY_PATH="$(cd "$build_dir" && pwd)/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# ctest's files hold the absolute paths of the machine that configured the build; a build carried
# from elsewhere runs its test program directly instead.
configured_in=$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "${build_dir}/CMakeCache.txt" 2>/dev/null)
if [ "$configured_in" = "$(cd "$build_dir" && pwd)" ]; then
  timeout 420 ctest --test-dir "$build_dir" -L gpu --output-on-failure
else
  echo "(a build configured in ${configured_in:-another place}: running tests/test_gpu directly)"
  timeout 420 "${build_dir}/tests/test_gpu"
fi
tests_status=$?
echo "GPU tests exit status: ${tests_status}"

# --- benchmarks ---------------------------------------------------------------------------------
if [ "$bench" = 1 ]; then
  section "benchmarks (batch ${batch})"
  crunet_bench="${build_dir}/tools/crunet-bench"
  torch_bench=${CRUNET_TORCH_BENCH:-}
  for candidate in ../shared/bench/torch_gpu_step.py bench/torch/torch_gpu_step.py; do
    if [ -z "$torch_bench" ] && [ -f "$candidate" ]; then torch_bench=$candidate; fi
  done
  # torch_gpu_step.py's model name, then the zoo config of the same network.
  for pair in crunet56:crunet56 resnext50:resnext50_32x4d; do
    model=${pair%%:*}
    config=configs/models/${pair#*:}.yaml
    for precision in bf16 fp32; do
      if [ -x "$crunet_bench" ]; then
        timeout 120 "$crunet_bench" --config "$config" --batch "$batch" --device cuda \
          --precision "$precision" || echo "crunet-bench ${model} ${precision} failed"
      else
        echo "crunet-bench ${model} ${precision}: not built"
      fi
      if [ -n "$torch_bench" ] && python3 -c 'import torch' 2>/dev/null; then
        timeout 120 python3 "$torch_bench" "$model" "$batch" "$precision" \
          || echo "PyTorch reference ${model} ${precision} failed"
      else
        echo "PyTorch reference: torch_gpu_step.py or torch not found"
      fi
    done
  done
fi

section "done"
echo "card: ${card}; GPU tests exit status ${tests_status}"
exit "$tests_status"
