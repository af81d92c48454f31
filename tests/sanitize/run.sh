#!/usr/bin/env bash
# The unit suites under AddressSanitizer and UndefinedBehaviorSanitizer, in a build of their own
# (CI runs this through ctest: the test sanitize_unit).
#
#   tests/sanitize/run.sh [DIR]     configure, build the unit suites and run `ctest -L unit` in DIR
#                                   (default: build-sanitize)
#
# g++ (the project's compiler), -O1 -g1 to keep the build and the run short, every UBSan report
# fatal, no CUDA and no benchmarks; oneDNN, OpenCV and OpenMP as in the main build. The libraries
# we do not build can leak at exit; tests/sanitize/lsan.supp names each such entry and why. Nothing
# else is suppressed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${1:-$root/build-sanitize}"

flags="-O1 -g1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_COMPILER="${CXX:-g++}" \
  -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCRUNET_CUDA=OFF -DCRUNET_MPI=OFF -DCRUNET_BUILD_BENCHMARKS=OFF \
  -DCRUNET_TEST_OTHER_BUILDS=OFF > /dev/null
cmake --build "$dir" --target crunet_unit_suites --parallel "$(nproc)"

# detect_leaks is on by default; the suppressions cover only what the libraries underneath keep.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Tests run side by side, one per core: one OpenMP thread each, since OpenMP threads that spin-wait
# on a core another test holds make both crawl.
export OMP_NUM_THREADS=1
ctest --test-dir "$dir" -L unit --output-on-failure --parallel "$(nproc)"
