#!/usr/bin/env bash
# The installed package, as a user outside the repository sees it:
#   1. `cmake --install BUILD --prefix P` into a temporary prefix; the layout (versioned library
#      with its SONAME, exactly the public headers, tools, zoo, small configs, CMake package,
#      crunet.pc);
#   2. examples/ configured and built against P alone (CMAKE_PREFIX_PATH=P, no package registry),
#      and nothing of the source or build tree on its compile lines;
#   3. run_model: crunet56 on a 1x3x64x64 tensor, its logits, the zoo found inside P;
#   4. weights for the small Fashion-MNIST model: trained for a moment by the installed
#      crunet-train when Debian's dataset-fashion-mnist is there, else the fresh weights that
#      run_model writes; classify on a gray PGM image this script writes; the top-5 printed;
#   5. train_custom: a hand-written loop whose loss falls;
#   6. pkg-config --cflags --libs crunet, and the first program of docs/api.md compiled with
#      nothing but those flags: crunet56 on a 1x3x64x64 tensor, its logits.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR   (ctest runs it: the test install_examples, e2e)
set -euo pipefail

build_dir="$(cd "$1" && pwd)"
source_dir="$(cd "$2" && pwd)"
cmake="${CMAKE:-cmake}"
generator="${CMAKE_GENERATOR:-Ninja}"
fashion="${CRUNET_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"  # Debian's dataset-fashion-mnist

work="$(mktemp -d "${TMPDIR:-/tmp}/crunet-install-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
step() { printf '\n== %s (%ds)\n' "$1" "$SECONDS"; }
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

step "install into $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" > "$work/install.log"
libdir="$(dirname "$(find "$prefix" -name 'libcrunet.so' -print -quit)")"
[[ -d "$libdir" ]] || fail "no libcrunet.so under $prefix"
(cd "$prefix" && find . -type f | sed 's|^\./||' | sort) > "$work/files"
echo "$(wc -l < "$work/files") files; outside include/:"
grep -v '^include/' "$work/files" | sed 's/^/  /'

# The versioned library: libcrunet.so -> libcrunet.so.X.Y -> libcrunet.so.X.Y.Z, SONAME X.Y.
real="$(readlink -f "$libdir/libcrunet.so")"
[[ "$(basename "$real")" =~ ^libcrunet\.so\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "not versioned: $real"
soname="$(objdump -p "$real" | awk '$1 == "SONAME" {print $2}')"
[[ "$soname" =~ ^libcrunet\.so\.[0-9]+\.[0-9]+$ ]] || fail "SONAME '$soname'"
[[ -e "$libdir/$soname" ]] || fail "no $soname link"
echo "library $(basename "$real"), SONAME $soname"

# Exactly the public headers: the same files as include/crunet/ of the source, nothing from src/.
(cd "$source_dir/include" && find crunet -name '*.h' | sort) > "$work/headers.expected"
(cd "$prefix/include" && find . -type f | sed 's|^\./||' | sort) > "$work/headers.installed"
diff -u "$work/headers.expected" "$work/headers.installed" || fail "installed headers differ from include/crunet"
echo "$(wc -l < "$work/headers.installed") headers, all public"

for file in bin/crunet-train bin/crunet-eval bin/crunet-info \
            share/crunet/configs/models/crunet56.yaml share/crunet/configs/small/fashion_crunet.yaml \
            "${libdir#"$prefix"/}/cmake/crunet/crunetConfig.cmake" \
            "${libdir#"$prefix"/}/cmake/crunet/crunetConfigVersion.cmake" \
            "${libdir#"$prefix"/}/cmake/crunet/crunetTargets.cmake" \
            "${libdir#"$prefix"/}/pkgconfig/crunet.pc"; do
  [[ -f "$prefix/$file" ]] || fail "missing $file"
done

step "configure and build examples/ against the prefix alone"
"$cmake" -S "$source_dir/examples" -B "$work/examples" -G "$generator" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$work/configure.log" || { cat "$work/configure.log"; fail "configure"; }
grep -q "crunet [0-9.]*: $libdir/cmake/crunet" "$work/configure.log" ||
  { cat "$work/configure.log"; fail "find_package(crunet) did not use $prefix"; }
"$cmake" --build "$work/examples" --parallel 2 > "$work/build.log" || { cat "$work/build.log"; fail "build"; }
if grep -e "$source_dir/include" -e "$source_dir/src" -e "$build_dir" "$work/examples/compile_commands.json"; then
  fail "the examples were compiled against the source or build tree"
fi
ldd "$work/examples/run_model" | grep -q "$libdir/libcrunet.so" ||
  { ldd "$work/examples/run_model"; fail "run_model does not load the installed libcrunet"; }
echo "built: classify run_model train_custom, linked to $libdir/$soname"

step "run_model: crunet56 on a 1x3x64x64 tensor"
"$work/examples/run_model" crunet56 --size 64 | tee "$work/run_model.log"
grep -q "crunet56 ($prefix/share/crunet/configs/models/crunet56.yaml): 25609384 parameters" \
  "$work/run_model.log" || fail "crunet56 not built from the installed zoo"
grep -q "input \[1, 3, 64, 64\] -> logits \[1, 1000\]" "$work/run_model.log" || fail "no logits"

small_config="$prefix/share/crunet/configs/small/fashion_crunet.yaml"
if [[ -f "$fashion/train-images-idx3-ubyte.gz" || -f "$fashion/train-images-idx3-ubyte" ]]; then
  step "installed crunet-train: the small Fashion-MNIST model, 256 images"
  "$prefix/bin/crunet-train" --config "$small_config" --output "$work/run" \
    --set train.epochs=1 --set data.train_limit=256 --set data.val_limit=100 \
    --set train.threads=1 --set train.log_every=1 > "$work/train.log" 2>&1 ||
    { cat "$work/train.log"; fail "crunet-train"; }
  tail -n 2 "$work/train.log"
  weights="$work/run/model.safetensors"
else
  step "no Fashion-MNIST at $fashion: fresh weights of the small model from run_model"
  weights="$work/fashion_crunet.safetensors"
  "$work/examples/run_model" "$small_config" --save-weights "$weights"
fi
[[ -f "$weights" ]] || fail "no weights at $weights"

step "classify: a 28x28 gray image"
# A binary PGM: a header and 784 bytes, a bright square on a dark ground.
{
  printf 'P5\n28 28\n255\n'
  for ((y = 0; y < 28; ++y)); do
    for ((x = 0; x < 28; ++x)); do
      if ((y >= 6 && y < 22 && x >= 8 && x < 20)); then printf '\310'; else printf '\020'; fi
    done
  done
} > "$work/image.pgm"
printf '%s\n' T-shirt Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot" > "$work/labels.txt"
"$work/examples/classify" --config "$small_config" --weights "$weights" \
  --labels "$work/labels.txt" "$work/image.pgm" | tee "$work/classify.log"
[[ "$(grep -cE '^  [1-5]\. class +[0-9]+  [01]\.[0-9]{4}' "$work/classify.log")" == 5 ]] ||
  fail "classify did not print five classes"

step "train_custom: a hand-written loop"
"$work/examples/train_custom" --steps 30 | tee "$work/train_custom.log" | tail -n 3
grep -q ": falling" "$work/train_custom.log" || fail "train_custom's loss did not fall"

step "pkg-config"
pc_dir="$libdir/pkgconfig"
flags="$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs crunet)" || fail "pkg-config crunet"
echo "pkg-config --cflags --libs crunet: $flags"
[[ "$(PKG_CONFIG_PATH="$pc_dir" pkg-config --modversion crunet)" == "$(basename "$real" | sed 's/^libcrunet\.so\.//')" ]] ||
  fail "crunet.pc's version differs from the library's"
# The first program of docs/api.md, compiled with nothing but pkg-config's flags: a program written
# from the documentation alone builds crunet56, runs it on a tensor and reads the logits.
awk '/^## A first program/ {on = 1} on && /^```cpp/ {code = 1; next} code && /^```/ {exit} code' \
  "$source_dir/docs/api.md" > "$work/first.cpp"
[[ -s "$work/first.cpp" ]] || fail "no C++ block under '## A first program' in docs/api.md"
# shellcheck disable=SC2086  # $flags is a list of flags
"${CXX:-c++}" -std=c++17 "$work/first.cpp" -o "$work/first" $flags
LD_LIBRARY_PATH="$libdir" "$work/first" | tee "$work/first.log"
grep -q "^\[1, 1000\] " "$work/first.log" || fail "docs/api.md's first program printed no [1, 1000] logits"

step "done"
