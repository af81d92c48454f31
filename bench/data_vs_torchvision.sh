#!/usr/bin/env bash
# The training input pipeline side by side: crunet-bench-data against the same pipeline in
# torchvision (bench/torchvision_data_bench.py: ImageFolder + RandomResizedCrop + ColorJitter +
# flip + ToTensor + Normalize + DataLoader), on the same folder of generated 500x375 JPEGs, with
# the same number of workers. Runs the two in turn, several rounds, and prints the median rates
# and their ratio. The goal (issue 4) is crunet >= 1.5x torchvision.
#
#   bench/data_vs_torchvision.sh [--workers N] [--folder DIR] [--batches N] [--rounds N]
#                                [--bench PATH/crunet-bench-data] [--no-hsl]
#
# Needs a build of crunet-bench-data (ninja -C build crunet-bench-data) and Debian's
# python3-torchvision (run by /usr/bin/python3, where Debian installs it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
workers=$(nproc)
folder=/tmp/crunet_bench_jpegs
batches=40
rounds=3
bench=""
extra=()
python=/usr/bin/python3

while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    --folder) folder=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --no-hsl) extra+=(--no-hsl); shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "data_vs_torchvision.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ -z "$bench" ]]; then
  for candidate in "$root"/build/tools/crunet-bench-data "$root"/build-*/tools/crunet-bench-data; do
    if [[ -x "$candidate" ]]; then bench=$candidate; break; fi
  done
fi
if [[ -z "$bench" || ! -x "$bench" ]]; then
  echo "data_vs_torchvision.sh: no crunet-bench-data; build it (ninja -C build crunet-bench-data)" \
       "or pass --bench PATH" >&2
  exit 2
fi
if ! "$python" -c "import torchvision" 2>/dev/null; then
  echo "data_vs_torchvision.sh: $python cannot import torchvision (apt-get install python3-torchvision)" >&2
  exit 2
fi
if [[ ! -d "$folder" ]]; then
  "$python" "$here/make_jpegs.py" "$folder" --classes 4 --per-class 128
fi

rate() { "$python" -c 'import json, sys; print("%.1f" % json.loads(sys.stdin.read().strip().splitlines()[-1])["images_per_second"])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "folder $folder, $workers workers, batch 32, $batches batches timed per run, $rounds rounds"
crunet_rates=()
torch_rates=()
for ((round = 1; round <= rounds; ++round)); do
  c=$("$bench" --folder "$folder" --workers "$workers" --batches "$batches" --json "${extra[@]}" | rate)
  t=$("$python" "$here/torchvision_data_bench.py" --folder "$folder" --workers "$workers" \
        --batches "$batches" --json "${extra[@]}" | rate)
  echo "round $round: crunet $c images/s, torchvision $t images/s"
  crunet_rates+=("$c")
  torch_rates+=("$t")
done
c=$(median "${crunet_rates[@]}")
t=$(median "${torch_rates[@]}")
echo "crunet       $c images/s (median)"
echo "torchvision  $t images/s (median)"
awk -v c="$c" -v t="$t" 'BEGIN { printf "ratio        %.2fx crunet / torchvision\n", c / t }'
