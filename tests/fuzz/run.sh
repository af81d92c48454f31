#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in a build of their own and runs them briefly over
# their committed corpora (CI runs this through ctest: the tests fuzz_build and fuzz_<name>).
#
#   tests/fuzz/run.sh build DIR               configure and build every target into DIR
#   tests/fuzz/run.sh run DIR NAME [SECONDS]  fuzz NAME for SECONDS (default $CRUNET_FUZZ_SECONDS,
#                                             else 15) from tests/fuzz/corpus/NAME
#   tests/fuzz/run.sh all DIR [SECONDS]       both, for every target
#
# The build: clang++-14 (Debian clang-14, libclang-rt-14-dev, libomp-14-dev; tools/setup.sh
# installs them), the library compiled with -fsanitize=fuzzer-no-link,address,undefined, UBSan
# findings fatal, and none of CUDA, oneDNN, OpenCV or MPI (no parser needs them). A finding fails
# the run; its input is saved as DIR/artifacts/NAME-crash-* (or -leak-, -timeout-, -oom-), and
# `DIR/tests/fuzz/fuzz_NAME FILE` replays it. New inputs that widen coverage go to DIR/corpus/NAME;
# the committed corpus is only read.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command="${1:?usage: run.sh build|run|all DIR [NAME] [SECONDS]}"
dir="${2:?usage: run.sh build|run|all DIR [NAME] [SECONDS]}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# UBSan: a report is fatal, with its stack. LSan: the suppressions for the libraries we do not
# build (each entry says why).
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0"

build() {
  local cxx="${CRUNET_FUZZ_CXX:-clang++-14}"
  if ! command -v "$cxx" > /dev/null; then
    echo "run.sh: $cxx not found (tools/setup.sh installs clang-14 and libclang-rt-14-dev)" >&2
    exit 1
  fi
  local flags="-O1 -g1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined"
  flags+=" -fno-sanitize-recover=all"
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCRUNET_CUDA=OFF -DCRUNET_ONEDNN=OFF -DCRUNET_OPENCV=OFF -DCRUNET_MPI=OFF \
    -DCRUNET_BUILD_TESTS=OFF -DCRUNET_BUILD_BENCHMARKS=OFF -DCRUNET_BUILD_FUZZERS=ON > /dev/null
  cmake --build "$dir" --target crunet_fuzzers --parallel "$(nproc)"
}

# The longest input each target may get (CIFAR records are 3073 or 3074 bytes).
max_len() {
  case "$1" in
    cifar) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

fuzz() {
  local name="$1" seconds="${2:-${CRUNET_FUZZ_SECONDS:-15}}"
  local program="$dir/tests/fuzz/fuzz_$name"
  if [[ ! -x "$program" ]]; then
    echo "run.sh: $program is not built (run.sh build $dir)" >&2
    exit 1
  fi
  local corpus="$root/tests/fuzz/corpus/$name"
  local work="$dir/corpus/$name"
  mkdir -p "$work" "$dir/artifacts"
  local extra=()
  if [[ -f "$root/tests/fuzz/$name.dict" ]]; then extra+=("-dict=$root/tests/fuzz/$name.dict"); fi
  # Scratch files of the targets go to a folder of this run, removed afterwards.
  local scratch
  scratch="$(mktemp -d)"
  local status=0
  TMPDIR="$scratch" "$program" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(max_len "$name")" -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/$name-" "${extra[@]}" "$work" "$corpus" || status=$?
  rm -rf "$scratch"
  if ((status != 0)); then
    echo "run.sh: fuzz_$name found a problem (status $status); the input is in $dir/artifacts/" >&2
    exit "$status"
  fi
}

case "$command" in
  build) build ;;
  run) fuzz "${3:?run.sh run DIR NAME [SECONDS]}" "${4:-}" ;;
  all)
    build
    for name in $(sed -n 's/^set(CRUNET_FUZZERS \(.*\))$/\1/p' "$root/tests/fuzz/fuzzers.cmake"); do
      fuzz "$name" "${3:-}"
    done
    ;;
  *) echo "run.sh: unknown command '$command' (build, run or all)" >&2; exit 2 ;;
esac
