#!/usr/bin/env bash
# The main job. Until the trainer lands this is a smoke run of a built tool.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${CRUNET_BUILD_DIR:-$root/build}"
"$build_dir/bench/crunet_bench_conv2d" --benchmark_min_time=0.05
