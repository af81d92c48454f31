#!/usr/bin/env bash
# make-gpu-build.sh: makes, on a build machine without a GPU, the "GPU check" build that
# tools/gpu-check.sh runs on a lent GPU machine (issue 6). That machine has CUDA, cuDNN and cuBLAS
# but none of our Debian libraries and no package registry, so the build is made here and carried.
#
#   1. configures build-gpu: Release, CUDA for sm_90 only, no oneDNN / OpenCV / MPI; GoogleTest
#      linked statically (Debian ships only its .a files), yaml-cpp too where its .a links into a
#      shared library (bookworm's is not position-independent: then libyaml-cpp.so is carried);
#      build RPATHs relative to $ORIGIN;
#   2. builds only libcrunet, tests/test_gpu, tools/crunet-bench and bench/crunet_bench_gpu_conv
#      (nice -n 19, -j2 by default: another engineer may be timing the CPU);
#   3. stages what must travel in build-gpu/carry, laid out like a build folder:
#        src/libcrunet.so.<soname>  tests/test_gpu  tools/crunet-bench  bench/crunet_bench_gpu_conv
#        carried-libs/  the shared libraries the GPU machine lacks (spdlog, fmt, libgomp, zlib,
#                       the CUDA runtime ...): all that ldd finds outside glibc, libstdc++/libgcc
#                       and cuDNN / cuBLAS / NCCL / the driver, which gpu-check.sh finds there
#        torch-bench/   ../shared/bench/torch_gpu_step.py and torch_ref_models.py (../shared
#                       does not travel with the working tree)
#      stripped (--strip-unneeded), each binary's RUNPATH $ORIGIN/../src:$ORIGIN/../carried-libs;
#   4. checks it: ldd of every staged file, test_gpu --gtest_list_tests, test_gpu (all skip here),
#      the size of build-gpu/carry (the one path to name in the device tool's `carry`).
#
# usage: tools/make-gpu-build.sh [--jobs N] [--build-dir DIR] [--no-check]
# environment: CRUNET_GPU_CMAKE_ARGS (extra configure arguments)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

build_dir="$root/build-gpu"
jobs=2
check=1
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --build-dir) build_dir=$(realpath -m "${2:?--build-dir needs a folder}"); shift 2 ;;
    --no-check) check=0; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "make-gpu-build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
carry_dir="$build_dir/carry"
libdir=/usr/lib/x86_64-linux-gnu
step() { echo; echo "== $*"; }

# --- configure --------------------------------------------------------------------------------
step "configure ${build_dir}"
mkdir -p "$build_dir"
static_args=()
# libcrunet is a shared library, so yaml-cpp's archive must be position-independent to go into it;
# bookworm's libyaml-cpp.a is not. Use the archive where it links into a shared object, else the
# shared library, carried.
probe_dir=$(mktemp -d)
if [ -f "$libdir/libyaml-cpp.a" ] &&
   c++ -shared -o "$probe_dir/probe.so" -Wl,--whole-archive "$libdir/libyaml-cpp.a" \
       -Wl,--no-whole-archive >/dev/null 2>&1; then
  # Debian's yaml-cpp package config imports the shared library only: a config of our own, named
  # with yaml-cpp_DIR, imports the static one instead (src/CMakeLists.txt links the target
  # `yaml-cpp`).
  mkdir -p "$build_dir/static-yaml-cpp"
  cat >"$build_dir/static-yaml-cpp/yaml-cpp-config.cmake" <<EOF
# Written by tools/make-gpu-build.sh: yaml-cpp as the static library, for a build that is carried
# to a machine without yaml-cpp.
if(NOT TARGET yaml-cpp)
  add_library(yaml-cpp STATIC IMPORTED)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION "$libdir/libyaml-cpp.a")
endif()
set(YAML_CPP_INCLUDE_DIR "")
set(YAML_CPP_LIBRARIES yaml-cpp)
EOF
  static_args+=("-Dyaml-cpp_DIR=$build_dir/static-yaml-cpp")
  echo "yaml-cpp: static ($libdir/libyaml-cpp.a)"
else
  rm -rf "$build_dir/static-yaml-cpp"
  static_args+=("-Uyaml-cpp_DIR")
  echo "yaml-cpp: shared and carried ($libdir/libyaml-cpp.a does not link into a shared library)"
fi
rm -rf "$probe_dir"
if ! ls "$libdir"/libgtest.a >/dev/null 2>&1; then
  echo "note: no $libdir/libgtest.a: GoogleTest is linked as CMake finds it (carried if shared)"
fi
# The build RPATHs: the folders inside the build relative to $ORIGIN (every program sits one
# folder down: src/, tests/, tools/, bench/), and the carried libraries beside them.
# shellcheck disable=SC2086,SC2016
nice -n 19 cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCRUNET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCRUNET_ONEDNN=OFF -DCRUNET_OPENCV=OFF -DCRUNET_MPI=OFF \
  -DCRUNET_BUILD_TESTS=ON -DCRUNET_BUILD_BENCHMARKS=ON -DCRUNET_TEST_OTHER_BUILDS=OFF \
  -DCMAKE_BUILD_RPATH_USE_ORIGIN=ON '-DCMAKE_BUILD_RPATH=$ORIGIN/../carried-libs' \
  "${static_args[@]}" ${CRUNET_GPU_CMAKE_ARGS:-}

# --- build --------------------------------------------------------------------------------------
step "build (nice -n 19, -j${jobs})"
targets=(crunet test_gpu crunet-bench crunet_bench_gpu_conv)
nice -n 19 cmake --build "$build_dir" --target "${targets[@]}" -j "$jobs"

# --- stage what travels -------------------------------------------------------------------------
step "stage ${carry_dir}"
rm -rf "$carry_dir"
mkdir -p "$carry_dir"/{src,tests,tools,bench,carried-libs,torch-bench}
library=$(readlink -f "$build_dir/src/libcrunet.so")
soname=$(readelf -d "$library" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
cp "$library" "$carry_dir/src/$soname"
cp "$build_dir/tests/test_gpu" "$carry_dir/tests/"
cp "$build_dir/tools/crunet-bench" "$carry_dir/tools/"
cp "$build_dir/bench/crunet_bench_gpu_conv" "$carry_dir/bench/"
staged=("$carry_dir/src/$soname" "$carry_dir/tests/test_gpu" "$carry_dir/tools/crunet-bench"
        "$carry_dir/bench/crunet_bench_gpu_conv")
strip --strip-unneeded "${staged[@]}"

# Libraries the GPU machine has (or that must come from its driver): never carried.
#   glibc's, libstdc++ and libgcc_s (the machine's are the same or newer), the driver (libcuda),
#   cuDNN, cuBLAS and NCCL (there as the toolkit's or as wheels under PyTorch; gpu-check.sh finds
#   them). Everything else ldd resolves is copied under its SONAME.
machine_has() {
  case "$1" in
    linux-vdso.so.*|ld-linux*|libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*) return 0 ;;
    libstdc++.so.*|libgcc_s.so.*) return 0 ;;
    libcuda.so.*|libnvidia-*|libcudnn*|libcublas*|libnccl*) return 0 ;;
  esac
  return 1
}
export LD_LIBRARY_PATH="$carry_dir/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for file in "${staged[@]}"; do
  ldd "$file" | while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    machine_has "$name" && continue
    case "$path" in "$carry_dir"/*) continue ;; esac
    if [ "$path" = "not" ]; then echo "error: $file needs $name, which is not found here" >&2; exit 1; fi
    if [ ! -e "$carry_dir/carried-libs/$name" ]; then
      cp -L "$path" "$carry_dir/carried-libs/$name"
      echo "carried: $name ($path)"
    fi
  done
done
strip --strip-unneeded "$carry_dir"/carried-libs/* 2>/dev/null || true
cp ../shared/bench/torch_gpu_step.py ../shared/bench/torch_ref_models.py "$carry_dir/torch-bench/"
# Also beside the build, where the task names it (build-gpu/carried-libs): the same files.
rm -rf "$build_dir/carried-libs"
cp -r "$carry_dir/carried-libs" "$build_dir/carried-libs"

if [ "$check" = 0 ]; then
  du -sh "$carry_dir"
  exit 0
fi

# --- check it -----------------------------------------------------------------------------------
step "check: where each staged file's libraries resolve (LD_LIBRARY_PATH=carry/carried-libs)"
export LD_LIBRARY_PATH="$carry_dir/carried-libs"
status=0
for file in "${staged[@]}" "$carry_dir"/carried-libs/*; do
  echo "${file#"$root"/}:"
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    case "$path" in
      "$carry_dir"/*) where="carried" ;;
      not) where="NOT FOUND"; status=1 ;;
      *) if machine_has "$name"; then where="GPU machine's: $path"; else where="MISSING from carry: $path"; status=1; fi ;;
    esac
    printf '  %-28s %s\n' "$name" "$where"
  done < <(ldd "$file")
done
# The newest glibc / libstdc++ symbol versions the staged files ask for (the GPU machine's must be
# at least these).
echo "newest symbol versions needed:" \
  "$(objdump -T "${staged[@]}" "$carry_dir"/carried-libs/* 2>/dev/null \
     | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)" \
  "$(objdump -T "${staged[@]}" "$carry_dir"/carried-libs/* 2>/dev/null \
     | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1)"

step "check: tests/test_gpu --gtest_list_tests; tests/test_gpu (every test skips without a GPU)"
listing=$(nice -n 19 "$carry_dir/tests/test_gpu" --gtest_list_tests)
echo "test_gpu lists $(grep -c '^[^ ].*\.$' <<<"$listing") suites," \
     "$(grep -c '^  ' <<<"$listing") tests"
# Without a GPU, each test skips with the reason (the few that need no GPU pass).
nice -n 19 "$carry_dir/tests/test_gpu" --gtest_brief=1 | tail -5 || status=1

step "carry"
du -sh "$carry_dir" "$carry_dir"/*
echo "name in the device tool's carry: ${carry_dir#"$root"/}"
exit "$status"
