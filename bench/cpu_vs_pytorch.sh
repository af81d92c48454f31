#!/usr/bin/env bash
# crunet against PyTorch on the CPU, side by side in one run: the same architectures (built from the
# same YAML specs, bench/torch_models.py), the same batch, the same number of threads.
# Rows: crunet56 and resnext50_32x4d at 224x224, batch 8 (training and inference); the main job's
# Fashion-MNIST CRU-Net at batch 128 (training).
# usage: bench/cpu_vs_pytorch.sh [--bench build/tools/crunet-bench] [--threads N] [--steps N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/build/tools/crunet-bench"
threads="$(nproc)"
steps=5
while (($#)); do
  case "$1" in
    --bench) bench="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
python=/usr/bin/python3
export OMP_NUM_THREADS="$threads"

field() { "$python" -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

printf '%-18s %-6s %5s %12s %12s %7s %12s %12s\n' model pass batch crunet pytorch ratio "crunet MiB" "torch MiB"
run_row() {  # spec batch mode(train|infer|both)
  local spec="$1" batch="$2" mode="$3" flags=()
  [[ "$mode" == train ]] && flags=(--train-only)
  local ours theirs
  ours="$("$bench" --config "$spec" --batch "$batch" --steps "$steps" --threads "$threads" --json "${flags[@]}")"
  theirs="$("$python" "$root/bench/torch_cpu_step.py" "$spec" "$batch" "$steps" "$threads")"
  for pass in train infer; do
    [[ "$mode" == train && "$pass" == infer ]] && continue
    local a b
    a="$(field "$ours" "${pass}_img_per_s")"
    b="$(field "$theirs" "${pass}_img_per_s")"
    printf '%-18s %-6s %5s %12.2f %12.2f %6.2fx %12.0f %12.0f\n' "$(field "$ours" model)" "$pass" "$batch" \
      "$a" "$b" "$("$python" -c "print($a / $b)")" \
      "$("$python" -c "print($(field "$ours" peak_rss_bytes) / 2**20)")" \
      "$("$python" -c "print($(field "$theirs" peak_rss_bytes) / 2**20)")"
  done
}
run_row crunet56 8 both
run_row resnext50_32x4d 8 both
run_row "$root/configs/small/fashion_crunet.yaml" 128 train
echo "crunet: $("$bench" --config crunet56 --batch 1 --steps 1 --warmup 0 --infer-only --json | "$python" -c "import json,sys; print(json.load(sys.stdin)['threads'])") threads; $("$python" -c "import torch; print('pytorch', torch.__version__, '(oneDNN', torch.backends.mkldnn.version() if hasattr(torch.backends.mkldnn, 'version') else '', ')')")"
