#!/usr/bin/env bash
# gpu-check.sh: the one script to run on a machine with a GPU (issue 6). It says where CUDA,
# cuDNN, cuBLAS and NCCL are, prints the card, uses the build carried from a build machine
# (tools/make-gpu-build.sh; docs/testing.md "GPU check") or builds one, runs the GPU suite, then
# the benchmarks (crunet_bench_gpu_conv, crunet-bench and the PyTorch reference), and prints one
# table last (tools/gpu-check-table.py). Every step has a timeout inside one overall budget, so
# the table comes out even when a step fails or runs out of time. Everything it prints also goes
# to $OUT/gpu-check.log when $OUT is set (the device tool's output folder), with the steps' raw
# outputs in $OUT/gpu-check-results.tar.gz (for --table-from on another machine).
#
# usage: tools/gpu-check.sh [--build-dir DIR] [--rebuild] [--no-bench] [--batch N] [--budget S]
#        tools/gpu-check.sh --table-from DIR
#   --build-dir DIR   build to use or make (default: build-gpu/carry, the staged carried build,
#                     where it holds tests/test_gpu, else build-gpu); used as is when it holds
#                     tests/test_gpu
#   --rebuild         configure and build even if DIR already holds a build
#   --no-bench        only the tests
#   --batch N         benchmark batch size (default 64)
#   --budget S        seconds for everything (default 450: the check must end inside 8 minutes)
#   --table-from DIR  only print the table from the step outputs in DIR (no GPU needed)
# environment:
#   CUDNN_ROOT              where cudnn.h / libcudnn.so.9 are, if the search below misses them
#   CRUNET_GPU_CMAKE_ARGS   extra arguments for the configure step
#   CRUNET_CARRIED_LIBS     shared libraries carried with the build (default: DIR/carried-libs,
#                           else build-gpu/carried-libs, where it exists)
#   CRUNET_TORCH_BENCH      path of torch_gpu_step.py (default: DIR/torch-bench, then
#                           ../shared/bench)
# exit status: that of the GPU tests (0 when they pass), 2 on a usage error, 3 when no GPU.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

build_dir=""
rebuild=0
bench=1
batch=64
budget=450
table_from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=${2:?--build-dir needs a folder}; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --no-bench) bench=0; shift ;;
    --batch) batch=${2:?--batch needs a number}; shift 2 ;;
    --budget) budget=${2:?--budget needs seconds}; shift 2 ;;
    --table-from) table_from=${2:?--table-from needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "gpu-check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$batch$budget" in *[!0-9]*) echo "gpu-check.sh: --batch and --budget take numbers" >&2; exit 2 ;; esac

# print_table DIR: the table, by tools/gpu-check-table.py; without python3, the raw result lines.
print_table() {
  if command -v python3 >/dev/null; then
    python3 tools/gpu-check-table.py "$1"
  else
    echo "(no python3: the raw result lines)"
    grep -h -e '^conv ' -e '^pytorch ' -e '^{' "$1"/*.out
  fi
}
if [ -n "$table_from" ]; then
  print_table "$table_from"
  exit $?
fi

if [ -z "$build_dir" ]; then
  if [ "$rebuild" = 0 ] && [ -f build-gpu/carry/tests/test_gpu ]; then
    build_dir=build-gpu/carry
  else
    build_dir=build-gpu
  fi
fi
if [ -f "${build_dir}/tests/test_gpu" ] && [ ! -x "${build_dir}/tests/test_gpu" ]; then
  chmod +x "${build_dir}"/tests/* "${build_dir}"/tools/* "${build_dir}"/bench/* 2>/dev/null  # a copy that lost them
fi
if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then
  exec > >(tee "${OUT}/gpu-check.log") 2>&1
fi
started=$(date +%s)
deadline=$((started + budget))
section() { echo; echo "== $* ($(( $(date +%s) - started )) s)"; }
results=$(mktemp -d /tmp/gpu-check.XXXXXX)
echo "batch=${batch}" >"$results/meta.txt"

# --- where things are -------------------------------------------------------------------------
section "toolchain"
# The PyTorch reference runs with the environment as found: our LD_LIBRARY_PATH below could hand
# it another cuDNN than its own.
original_ld_library_path=${LD_LIBRARY_PATH-}
export PATH="/usr/local/cuda/bin:${PATH}"
echo "nvcc:         $(command -v nvcc || echo 'not found') $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
echo "cmake:        $(command -v cmake || echo 'not found') $(cmake --version 2>/dev/null | head -1)"
echo "ninja:        $(command -v ninja || echo 'not found')"
echo "glibc:        $(ldd --version 2>/dev/null | head -1)"
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
cublas_so=$(find_first 'libcublas.so.13*' "${search_dirs[@]}" || true)
cublaslt_so=$(find_first 'libcublasLt.so.13*' "${search_dirs[@]}" || true)
cudart_so=$(find_first 'libcudart.so.13*' "${search_dirs[@]}" || true)
nccl_so=$(find_first 'libnccl.so.2*' "${search_dirs[@]}" || true)
echo "cudnn.h:            ${cudnn_h:-not found}"
echo "libcudnn.so.9:      ${cudnn_so:-not found}"
echo "libcublas.so.13:    ${cublas_so:-not found}"
echo "libcublasLt.so.13:  ${cublaslt_so:-not found}"
echo "libcudart.so.13:    ${cudart_so:-not found} (a carried one comes first)"
echo "libnccl.so.2:       ${nccl_so:-not found}"
if [ -z "${CUDNN_ROOT:-}" ] && [ -n "$cudnn_h" ] && [ -n "$cudnn_so" ]; then
  # A cuDNN outside the toolkit (the wheel under PyTorch): its root holds include/ and lib/.
  case "$cudnn_h" in
    /usr/local/cuda/*|/usr/include/*) ;;
    *) CUDNN_ROOT=$(dirname "$(dirname "$cudnn_h")"); export CUDNN_ROOT ;;
  esac
fi
prepend_library_path() {  # prepend_library_path DIR: DIR first on LD_LIBRARY_PATH, once
  case ":${LD_LIBRARY_PATH:-}:" in *":$1:"*) return ;; esac
  LD_LIBRARY_PATH="$1${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}
for lib in "$cudart_so" "$nccl_so" "$cublaslt_so" "$cublas_so" "$cudnn_so"; do
  if [ -n "$lib" ]; then prepend_library_path "$(dirname "$lib")"; fi
done
if [ -z "${CRUNET_CARRIED_LIBS:-}" ]; then
  for candidate in "${build_dir}/carried-libs" build-gpu/carried-libs; do
    if [ -d "$candidate" ]; then CRUNET_CARRIED_LIBS=$(cd "$candidate" && pwd); break; fi
  done
fi
if [ -n "${CRUNET_CARRIED_LIBS:-}" ]; then
  echo "carried libraries: ${CRUNET_CARRIED_LIBS} ($(ls "${CRUNET_CARRIED_LIBS}" | tr '\n' ' '))"
  prepend_library_path "${CRUNET_CARRIED_LIBS}"
fi
export LD_LIBRARY_PATH

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
{ echo "card=${card}"; echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"; } >>"$results/meta.txt"

# --- steps --------------------------------------------------------------------------------------
# run_step NAME CAP COMMAND...: runs COMMAND, its output shown and kept in $results/NAME.out, for
# at most CAP seconds or what the budget leaves (minus time for the table); NAME.status says ok,
# timeout, failed (exit N) or skipped. Returns COMMAND's exit status.
run_step() {
  local name=$1 cap=$2; shift 2
  local left=$(( deadline - $(date +%s) - 15 ))
  if [ "$left" -lt 20 ]; then
    echo "skipped (budget spent)" >"$results/$name.status"
    echo "-- ${name}: skipped, the ${budget} s budget is spent"
    return 1
  fi
  local limit=$(( cap < left ? cap : left ))
  echo "-- ${name} (limit ${limit} s, at $(( $(date +%s) - started )) s): $*"
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$results/$name.out"
  local rc=${PIPESTATUS[0]}
  case "$rc" in
    0) echo ok ;;
    124|137) echo "timeout (${limit} s)" ;;
    *) echo "failed (exit ${rc})" ;;
  esac >"$results/$name.status"
  echo "-- ${name}: $(cat "$results/$name.status")"
  return "$rc"
}
mark() { echo "$2" >"$results/$1.status"; }  # mark NAME STATUS: a step that could not start

# --- build --------------------------------------------------------------------------------------
section "build (${build_dir})"
if [ "$rebuild" = 0 ] && [ -x "${build_dir}/tests/test_gpu" ]; then
  echo "using the existing build in ${build_dir}"
else
  # The "GPU check" configuration: CUDA for Hopper only, no optional CPU dependency; the conv
  # benchmark where Google Benchmark is there (bench/ needs it).
  benchmarks=OFF
  if find /usr/lib /usr/local/lib /usr/lib64 -maxdepth 4 -name 'benchmarkConfig.cmake' 2>/dev/null \
       | grep -q .; then benchmarks=ON; fi
  targets=(test_gpu crunet-bench)
  if [ "$benchmarks" = ON ]; then targets+=(crunet_bench_gpu_conv); fi
  # shellcheck disable=SC2086
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCRUNET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCRUNET_ONEDNN=OFF -DCRUNET_OPENCV=OFF \
        -DCRUNET_MPI=OFF -DCRUNET_TEST_OTHER_BUILDS=OFF -DCRUNET_BUILD_BENCHMARKS=$benchmarks \
        ${CUDNN_ROOT:+-DCUDNN_ROOT="$CUDNN_ROOT"} ${CRUNET_GPU_CMAKE_ARGS:-} \
    && cmake --build "$build_dir" --target "${targets[@]}" -j "$(nproc)" \
    || echo "gpu-check.sh: configure or build failed" >&2
fi
build_path=$(cd "$build_dir" 2>/dev/null && pwd)
if [ -n "$build_path" ]; then prepend_library_path "${build_path}/src"; fi

# --- the GPU suite ------------------------------------------------------------------------------
section "GPU tests"
# ctest's files hold the absolute paths of the machine that configured the build; a build carried
# from elsewhere runs its test program directly instead.
configured_in=$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "${build_dir}/CMakeCache.txt" 2>/dev/null)
if [ ! -x "${build_dir}/tests/test_gpu" ]; then
  mark tests "not built"
  tests_status=1
elif [ "$configured_in" = "$build_path" ]; then
  run_step tests 200 ctest --test-dir "$build_dir" -L gpu --output-on-failure
  tests_status=$?
else
  echo "(a build configured in ${configured_in:-another place}: running tests/test_gpu directly)"
  run_step tests 200 "${build_dir}/tests/test_gpu"
  tests_status=$?
fi
echo "GPU tests exit status: ${tests_status}"

# --- benchmarks ---------------------------------------------------------------------------------
# Most wanted first (the issue's "must show"), so that a spent budget cuts the least: CRU-Net-56
# bf16 training against PyTorch, the custom conv kernels against cuDNN, then the rest.
if [ "$bench" = 1 ]; then
  section "benchmarks (batch ${batch})"
  crunet_bench="${build_dir}/tools/crunet-bench"
  conv_bench="${build_dir}/bench/crunet_bench_gpu_conv"
  torch_bench=${CRUNET_TORCH_BENCH:-}
  for candidate in "${build_dir}/torch-bench/torch_gpu_step.py" ../shared/bench/torch_gpu_step.py \
                   bench/torch/torch_gpu_step.py; do
    if [ -z "$torch_bench" ] && [ -f "$candidate" ]; then torch_bench=$candidate; fi
  done
  have_torch=0
  if [ -n "$torch_bench" ] && LD_LIBRARY_PATH=$original_ld_library_path python3 -c 'import torch' \
       2>/dev/null; then
    have_torch=1
  fi
  echo "PyTorch reference: ${torch_bench:-not found} (torch importable: ${have_torch})"

  conv() {  # conv DTYPE
    if [ -x "$conv_bench" ]; then
      run_step "conv-$1" 75 "$conv_bench" --dtype "$1" --batch "$batch"
    else
      mark "conv-$1" "not built"
    fi
  }
  model() {  # model NAME PRECISION: torch_gpu_step.py's model name, then crunet's zoo config
    local name=$1 precision=$2 config
    case "$name" in
      resnext50) config=configs/models/resnext50_32x4d.yaml ;;
      *) config=configs/models/${name}.yaml ;;
    esac
    if [ -x "$crunet_bench" ]; then
      run_step "crunet-${name}-${precision}" 90 "$crunet_bench" --config "$config" \
        --batch "$batch" --device cuda --precision "$precision" --steps 10 --warmup 3 --json
    else
      mark "crunet-${name}-${precision}" "not built"
    fi
    if [ "$have_torch" = 1 ]; then
      run_step "torch-${name}-${precision}" 90 env LD_LIBRARY_PATH="$original_ld_library_path" \
        PYTHONUNBUFFERED=1 python3 "$torch_bench" "$name" "$batch" "$precision"
    else
      mark "torch-${name}-${precision}" "not found"
    fi
  }
  model crunet56 bf16
  conv bf16
  conv fp32
  model crunet56 fp32
  model resnext50 bf16
  model resnext50 fp32
fi

# --- the table ----------------------------------------------------------------------------------
if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then
  tar -czf "${OUT}/gpu-check-results.tar.gz" -C "$results" . 2>/dev/null
fi
section "table"
print_table "$results"
echo
echo "card: ${card}; GPU tests exit status ${tests_status}; $(( $(date +%s) - started )) s in all"
exit "$tests_status"
