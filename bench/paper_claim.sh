#!/usr/bin/env bash
# The paper's claim at laptop scale (issue 16): CRU-Net against a ResNeXt of the same number of
# parameters, at two sizes, several seeds, one recipe, on Fashion-MNIST (Debian's
# dataset-fashion-mnist). Trains every (model, seed) run, then writes a table (mean +- std of the
# test top-1, parameters, multiply-adds, training time) and a picture (test top-1 against
# parameters, one point per run) from the runs' own metrics.jsonl.
#
# The four models, matched by crunet-info (parameters within 2%, multiply-adds within 20%):
#   configs/small/fashion_crunet.yaml       fashion_resnext.yaml
#   configs/small/fashion_crunet_wide.yaml  fashion_resnext_wide.yaml
# The recipe is each config's (SGD Nesterov, cosine, batch 128) with train.epochs, train.seed,
# train.threads, train.precision=fp32 and the augmentation (pad-2 random crop + flip) set here for
# every run: the results do not depend on whether the CPU has bf16, and all four models share one
# recipe even where a config's own differs (the main job's fashion_crunet.yaml trains 9 epochs
# without the crop, its best recipe for a 10-minute run).
#
# Resumable: a run whose result.txt exists is done and is not trained again; a run cut short
# continues from its newest checkpoint (crunet-train --resume auto); so the same command, run
# again, finishes a half-done sweep. For a seed and thread count the runs are deterministic.
#
# usage: bench/paper_claim.sh [--epochs N] [--seeds "1 2 3"] [--threads N] [--jobs N]
#                             [--out DIR] [--doc docs/paper_claim.md] [--models "a b"]
#                             [--train-limit N]
#   --jobs: runs trained at once (each with --threads threads); default 1 run of all cores.
#   --train-limit: train on the first N training images only (a quick try of the sweep).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
train="$root/build/tools/crunet-train"
info="$root/build/tools/crunet-info"
epochs=3
seeds="1 2 3"
threads="$(nproc)"
jobs=1
out="$root/runs/paper_claim"
doc="$root/docs/paper_claim.md"
models="fashion_crunet fashion_resnext fashion_crunet_wide fashion_resnext_wide"
limit=()
limit_text="all 60,000 training images"
limit_flag=""
while (($#)); do
  case "$1" in
    --epochs) epochs="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --doc) doc="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --train-limit) limit=(--set "data.train_limit=$2"); limit_text="the first $2 of the 60,000 training images"; limit_flag=" --train-limit $2"; shift 2 ;;
    *) echo "paper_claim.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in "$train" "$info"; do
  [[ -x "$tool" ]] || { echo "paper_claim.sh: $tool not built (run ./tools/setup.sh)" >&2; exit 2; }
done
mkdir -p "$out"

# The last validation top-1 and the summed epoch times of a run, each epoch counted once (a
# resumed run may have recorded an epoch twice: the later record wins).
summarise_run() {  # metrics.jsonl -> "top1 top5 seconds epochs"
  sed -n 's/.*"kind":"epoch".*/&/p' "$1" | awk '
    { match($0, /"epoch":[0-9]+/); e = substr($0, RSTART + 8, RLENGTH - 8) + 0
      match($0, /"val_top1":[-0-9.e+]+/); top1[e] = substr($0, RSTART + 11, RLENGTH - 11)
      match($0, /"val_top5":[-0-9.e+]+/); top5[e] = substr($0, RSTART + 11, RLENGTH - 11)
      match($0, /"time":[-0-9.e+]+/); secs[e] = substr($0, RSTART + 7, RLENGTH - 7)
      if (e > last) last = e }
    END { total = 0; for (k in secs) total += secs[k]
          printf "%.2f %.2f %.1f %d\n", 100 * top1[last], 100 * top5[last], total, last }'
}

run_one() {  # model seed
  local model="$1" seed="$2" dir="$out/$1/seed$2"
  [[ -f "$dir/result.txt" ]] && return 0
  local resume=()
  compgen -G "$dir/checkpoints/checkpoint-*.safetensors" >/dev/null && resume=(--resume auto)
  echo "paper_claim: training $model seed $seed (${resume[*]:-fresh})" >&2
  if ! "$train" --config "$root/configs/small/$model.yaml" --output "$dir" "${resume[@]}" \
      --set "train.epochs=$epochs" --set "train.seed=$seed" --set "train.threads=$threads" \
      --set train.precision=fp32 --set data.augment.crop=pad_random --set data.augment.pad=2 \
      --set data.augment.flip=true "${limit[@]}" > "$dir.log" 2>&1; then
    echo "paper_claim: $model seed $seed failed; see $dir.log" >&2
    return 1
  fi
  local summary
  summary="$(summarise_run "$dir/metrics.jsonl")"
  [[ "${summary##* }" == "$epochs" ]] || { echo "paper_claim: $dir has no epoch $epochs" >&2; return 1; }
  echo "$summary" > "$dir/result.txt"
}

mkdir -p "$out"
for model in $models; do mkdir -p "$out/$model"; done
pending=()
for seed in $seeds; do for model in $models; do pending+=("$model:$seed"); done; done
failed=0
for ((i = 0; i < ${#pending[@]}; i += jobs)); do
  pids=()
  for ((j = i; j < i + jobs && j < ${#pending[@]}; ++j)); do
    run_one "${pending[j]%%:*}" "${pending[j]##*:}" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
done
((failed == 0)) || { echo "paper_claim: some runs failed; run the same command again" >&2; exit 1; }

# The table and the picture.
points="$out/points.txt"  # model params macs top1 seconds
: > "$points"
for model in $models; do
  read -r params macs < <("$info" --config "$root/configs/small/$model.yaml" --json |
    sed -E 's/,"stages".*//; s/.*"macs":([0-9]+).*"params":([0-9]+).*/\2 \1/')
  for seed in $seeds; do
    read -r top1 _ seconds _ < "$out/$model/seed$seed/result.txt"
    echo "$model $params $macs $top1 $seconds" >> "$points"
  done
done

cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
svg="${doc%.md}.svg"
{
  echo "# The paper's claim at small scale: CRU-Net against ResNeXt of the same size"
  echo
  echo "Written by \`bench/paper_claim.sh --epochs $epochs --seeds \"$seeds\" --threads $threads --jobs $jobs$limit_flag\`"
  echo "on $(date -u +%Y-%m-%d), $cpu, $(nproc) cores. Fashion-MNIST ($limit_text, the 10,000 test"
  echo "images), one recipe (each config's optimiser and schedule, pad-2 crop + flip) for $epochs epochs in fp32; one run per seed. Training time is the"
  echo "sum of the epochs' training times (validation excluded), $jobs run(s) at a time."
  echo
  echo "| model | parameters | multiply-adds per image | runs | test top-1, mean ± std | per seed | training time, mean |"
  echo "|---|---|---|---|---|---|---|"
  for model in $models; do
    awk -v m="$model" '$1 == m { n++; s += $4; q += $4 * $4; t += $5; p = $2; a = $3
                                  list = list (list == "" ? "" : ", ") sprintf("%.2f", $4) }
      END { mean = s / n; sd = n > 1 ? sqrt((q - n * mean * mean) / (n - 1)) : 0
            if (sd != sd) sd = 0
            printf "| %s | %d | %.1f M | %d | %.2f%% ± %.2f | %s | %.0f s |\n",
                   m, p, a / 1e6, n, mean, sd, list, t / n }' "$points"
  done
  echo
  echo "![test top-1 against parameters]($(basename "$svg"))"
} > "$doc"

# Test top-1 against parameters (log scale), one point per run: CRU-Nets blue, ResNeXts orange.
awk -v out="$svg" '
  { model[NR] = $1; p[NR] = log($2) / log(10); y[NR] = $4
    if (NR == 1 || p[NR] < pmin) pmin = p[NR]; if (NR == 1 || p[NR] > pmax) pmax = p[NR]
    if (NR == 1 || y[NR] < ymin) ymin = y[NR]; if (NR == 1 || y[NR] > ymax) ymax = y[NR] }
  END {
    pmin -= 0.1; pmax += 0.1; ymin -= 0.2; ymax += 0.2
    W = 560; H = 380; L = 70; R = 20; T = 30; B = 50
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H > out
    printf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H > out
    printf "<text x=\"%d\" y=\"18\">test top-1 (%%) against parameters, one point per run</text>\n", L > out
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - R, H - B > out
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, H - B > out
    for (k = 0; k <= 4; ++k) {
      v = ymin + (ymax - ymin) * k / 4; yy = H - B - (H - B - T) * k / 4
      printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", L - 6, yy + 4, v > out
      v = pmin + (pmax - pmin) * k / 4; xx = L + (W - L - R) * k / 4
      printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0fk</text>\n", xx, H - B + 18, 10 ^ v / 1000 > out
    }
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">parameters (log scale)</text>\n", (L + W - R) / 2, H - 10 > out
    for (i = 1; i <= NR; ++i) {
      xx = L + (W - L - R) * (p[i] - pmin) / (pmax - pmin)
      yy = H - B - (H - B - T) * (y[i] - ymin) / (ymax - ymin)
      color = model[i] ~ /crunet/ ? "#1f77b4" : "#ff7f0e"
      printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" fill-opacity=\"0.8\"><title>%s %.2f%%</title></circle>\n", xx, yy, color, model[i], y[i] > out
    }
    printf "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"#1f77b4\"/><text x=\"%d\" y=\"%d\">CRU-Net</text>\n", W - 130, T + 10, W - 122, T + 14 > out
    printf "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"#ff7f0e\"/><text x=\"%d\" y=\"%d\">ResNeXt</text>\n", W - 130, T + 28, W - 122, T + 32 > out
    print "</svg>" > out
  }' "$points"
echo "paper_claim: wrote $doc and $svg" >&2
