#!/usr/bin/env bash
# crunet against the PyTorch users install today (the latest torch from PyPI), on the CPU, side by
# side in one run: the same architectures (bench/torch_models.py builds them from the same YAML
# specs), the same batch, the same threads, one process per measurement (so each peak resident
# memory is that process's own).
#
# Rows: crunet56 and resnext50_32x4d at 224x224, batch 8, training step (forward, cross-entropy,
# backward, SGD Nesterov) and inference; the main job's Fashion-MNIST CRU-Net at batch 128.
# Columns: crunet fp32 and (where the CPU has avx512_bf16 / AMX) bf16; PyTorch eager NCHW, eager
# channels-last and torch.compile (inductor, channels-last) in fp32, and bf16 autocast in eager
# channels-last and compile (both bf16 sides only where the CPU has bf16). Ratios: crunet fp32
# over the best PyTorch fp32 mode, crunet bf16 over the best PyTorch bf16 mode.
#
# The virtual environment is made once, outside the repository (pip install torch torchvision
# pyyaml), at $CRUNET_TORCH2_VENV (default ~/.cache/crunet-bench/torch2).
# usage: bench/cpu_vs_pytorch2.sh [--bench build/tools/crunet-bench] [--threads N] [--steps N]
#                                 [--rows crunet56,resnext50_32x4d,fashion] [--no-compile]
#                                 [--json-out FILE]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/build/tools/crunet-bench"
threads="$(nproc)"
steps=5
rows="crunet56,resnext50_32x4d,fashion"
compile=1
json_out=""
while (($#)); do
  case "$1" in
    --bench) bench="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --rows) rows="$2"; shift 2 ;;
    --no-compile) compile=0; shift ;;
    --json-out) json_out="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
venv="${CRUNET_TORCH2_VENV:-$HOME/.cache/crunet-bench/torch2}"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import torch, torchvision, yaml" 2>/dev/null; then
  echo "making the PyTorch virtual environment in $venv (once)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch torchvision pyyaml
fi
torch_python="$venv/bin/python"
export OMP_NUM_THREADS="$threads"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

# One JSON line per measurement, tagged with the row and the column.
record() {  # row pass column json
  python3 -c 'import json,sys; d=json.loads(sys.argv[4]); d.update(row=sys.argv[1], pass_=sys.argv[2], column=sys.argv[3]); print(json.dumps(d))' \
    "$1" "$2" "$3" "$4" >> "$results"
}

bf16_ok=0
if "$bench" --config crunet56 --input-size 32 --batch 1 --steps 1 --warmup 0 --infer-only \
     --precision bf16 --json >/dev/null 2>&1; then
  bf16_ok=1
fi

measure_row() {  # row spec batch passes(both|train)
  local row="$1" spec="$2" batch="$3" passes="$4"
  local flags=() precisions=(fp32)
  [[ "$passes" == train ]] && flags=(--train-only)
  ((bf16_ok)) && precisions+=(bf16)
  for pass in train infer; do
    [[ "$passes" == train && "$pass" == infer ]] && continue
    local pass_flag=(--train-only)
    [[ "$pass" == infer ]] && pass_flag=(--infer-only)
    for precision in "${precisions[@]}"; do
      echo "  $row $pass crunet $precision" >&2
      record "$row" "$pass" "crunet $precision" "$("$bench" --config "$spec" --batch "$batch" \
        --steps "$steps" --threads "$threads" --precision "$precision" --json "${pass_flag[@]}")"
    done
    # PyTorch's bf16 columns only where crunet has bf16 too: elsewhere (no avx512_bf16 / AMX)
    # both would be emulations nobody trains with.
    local modes=("eager fp32" "cl fp32")
    ((compile)) && modes+=("compile fp32")
    ((bf16_ok)) && modes+=("cl bf16")
    ((bf16_ok && compile)) && modes+=("compile bf16")
    for column in "${modes[@]}"; do
      read -r mode precision <<<"$column"
      echo "  $row $pass torch $column" >&2
      record "$row" "$pass" "torch $column" "$("$torch_python" "$root/bench/torch2_cpu_step.py" \
        "$spec" "$batch" "$steps" "$threads" "$mode" "$precision" "$pass")"
    done
  done
}

echo "$(lscpu | sed -n 's/^Model name: *//p'); $(lscpu | grep -o 'avx512_bf16\|amx_bf16\|avx512f' | sort -u | tr '\n' ' ')"
echo "$threads threads, $steps timed steps; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -r -a row_list <<<"$rows"
for row in "${row_list[@]}"; do
  case "$row" in
    crunet56) measure_row crunet56 crunet56 8 both ;;
    resnext50_32x4d) measure_row resnext50_32x4d resnext50_32x4d 8 both ;;
    fashion) measure_row fashion_crunet "$root/configs/small/fashion_crunet.yaml" 128 both ;;
    *) echo "unknown row $row" >&2; exit 2 ;;
  esac
done
[[ -n "$json_out" ]] && cp "$results" "$json_out"

# The table: images/s per column, the two ratios, and peak resident memory (MiB) per process.
python3 - "$results" <<'EOF'
import collections, json, sys
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    d = json.loads(line)
    rows.setdefault((d['row'], d['pass_']), {})[d['column']] = d
columns = ['crunet fp32', 'crunet bf16', 'torch eager fp32', 'torch cl fp32', 'torch compile fp32',
           'torch cl bf16', 'torch compile bf16']
present = [c for c in columns if any(c in r for r in rows.values())]
torch_version = next((d.get('torch') for r in rows.values() for d in r.values() if 'torch' in d), '?')
onednn = next((d.get('onednn') for r in rows.values() for d in r.values() if d.get('onednn')), '?')
print(f'PyTorch {torch_version} (oneDNN {onednn}); img/s, and peak resident MiB per process')
print('| row | pass | ' + ' | '.join(present) + ' | fp32 ratio | bf16 ratio |')
print('|---|---|' + '---|' * (len(present) + 2))
def rate(r, c, p):
    return r[c][p + '_img_per_s'] if c in r else None
for (row, p), r in rows.items():
    cells = []
    for c in present:
        if c in r:
            cells.append(f"{rate(r, c, p):.2f} ({r[c]['peak_rss_bytes'] / 2**20:.0f})")
        else:
            cells.append('-')
    best32 = max((rate(r, c, p) for c in present if c.startswith('torch') and 'fp32' in c and c in r), default=None)
    best16 = max((rate(r, c, p) for c in present if c.startswith('torch') and 'bf16' in c and c in r), default=None)
    r32 = f"{rate(r, 'crunet fp32', p) / best32:.2f}x" if best32 and 'crunet fp32' in r else '-'
    r16 = f"{rate(r, 'crunet bf16', p) / best16:.2f}x" if best16 and 'crunet bf16' in r else '-'
    print(f'| {row} | {p} | ' + ' | '.join(cells) + f' | {r32} | {r16} |')
EOF
