#!/usr/bin/env bash
# The training input pipeline on the same JPEGs read two ways: an image folder (one file per image)
# against an MXNet RecordIO file (.rec + .idx, the bytes of the same files, made by
# bench/make_rec.py). Both through crunet-bench-data (the paper's augmentation, the threaded
# loader), in turn, several rounds; prints the date, the CPU, the median rates and their ratio.
#
#   bench/data_rec_vs_folder.sh [--workers N] [--folder DIR] [--batches N] [--rounds N]
#                               [--bench PATH/crunet-bench-data] [--no-hsl]
#
# The folder is made by bench/make_jpegs.py if missing (numpy, PIL); the .rec goes beside it in
# DIR.rec/ and is remade when the folder is newer.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
workers=$(nproc)
folder=/tmp/crunet_bench_jpegs
batches=40
rounds=3
bench=""
extra=()
python=${PYTHON:-/usr/bin/python3}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    --folder) folder=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --no-hsl) extra+=(--no-hsl); shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "data_rec_vs_folder.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ -z "$bench" ]]; then
  for candidate in "$root"/build/tools/crunet-bench-data "$root"/build-*/tools/crunet-bench-data; do
    if [[ -x "$candidate" ]]; then bench=$candidate; break; fi
  done
fi
if [[ -z "$bench" || ! -x "$bench" ]]; then
  echo "data_rec_vs_folder.sh: no crunet-bench-data; build it (ninja -C build crunet-bench-data)" \
       "or pass --bench PATH" >&2
  exit 2
fi
if [[ ! -d "$folder" ]]; then
  "$python" "$here/make_jpegs.py" "$folder" --classes 4 --per-class 128
fi
rec="$folder.rec/images.rec"
if [[ ! -f "$rec" || "$folder" -nt "$rec" ]]; then
  mkdir -p "$folder.rec"
  python3 "$here/make_rec.py" "$folder" "${rec%.rec}"
fi

rate() { python3 -c 'import json, sys; print("%.1f" % json.loads(sys.stdin.read().strip().splitlines()[-1])["images_per_second"])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

date -u '+%Y-%m-%d %H:%M UTC'
lscpu | grep 'Model name' || true
echo "folder $folder, $rec; $workers workers, batch 32, $batches batches timed per run, $rounds rounds"
folder_rates=()
rec_rates=()
for ((round = 1; round <= rounds; ++round)); do
  f=$("$bench" --folder "$folder" --workers "$workers" --batches "$batches" --json "${extra[@]}" | rate)
  r=$("$bench" --rec "$rec" --workers "$workers" --batches "$batches" --json "${extra[@]}" | rate)
  echo "round $round: image folder $f images/s, RecordIO $r images/s"
  folder_rates+=("$f")
  rec_rates+=("$r")
done
f=$(median "${folder_rates[@]}")
r=$(median "${rec_rates[@]}")
echo "image folder  $f images/s (median)"
echo "RecordIO      $r images/s (median)"
awk -v f="$f" -v r="$r" 'BEGIN { printf "ratio         %.2fx RecordIO / image folder\n", r / f }'
