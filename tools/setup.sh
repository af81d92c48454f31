#!/usr/bin/env bash
# Sets up a fresh Debian machine for crunet and builds it in Release:
#   1. installs every Debian package the build, the tests and the main job need (idempotent:
#      nothing is downloaded when all are present; `apt-get update` runs once otherwise);
#   2. configures (CMake + Ninja) and builds into ./build.
# Options: --fixtures also installs python3-torch, needed only to regenerate tests/fixtures.
# Environment: CRUNET_BUILD_DIR (default build), CRUNET_CMAKE_ARGS (extra configure arguments).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${CRUNET_BUILD_DIR:-$root/build}"

packages=(
  cmake ninja-build g++ pkg-config            # toolchain
  libdnnl-dev ocl-icd-opencl-dev opencl-headers  # oneDNN; its CMake package requires OpenCL
  libopencv-dev                               # image decoding and transforms
  libyaml-cpp-dev                             # configs
  libspdlog-dev libfmt-dev                    # logging
  nlohmann-json3-dev                          # safetensors headers, JSON output
  libcli11-dev                                # command lines
  libopenmpi-dev openmpi-bin                  # data-parallel launch and CPU all-reduce
  zlib1g-dev                                  # gzip'd IDX files
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  clang-14 libclang-rt-14-dev libomp-14-dev   # libFuzzer build of the parsers (tests/fuzz/run.sh)
  dataset-fashion-mnist                       # the main job's data set
)
if [[ "${1:-}" == "--fixtures" ]]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# shellcheck disable=SC2086  # CRUNET_CMAKE_ARGS is a list of arguments
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CRUNET_CMAKE_ARGS:-}
cmake --build "$build_dir" --parallel "$(nproc)"
