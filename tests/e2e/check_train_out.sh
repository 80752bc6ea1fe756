#!/usr/bin/env bash
# Usage: check_train_out.sh NABLA OUT_DIR
# Trains on a small subset with --out and checks its test accuracy and the files it must leave
# there.
set -eu
nabla=$1
out=$2
rm -rf "$out"
output=$("$nabla" train --limit 2000 --epochs 1 --validation-split 0.1 --out "$out")
echo "$output"
# 0.6923 to 0.7372 over seeds 0 to 3 (this run: seed 0); chance is 0.1.
accuracy=$(sed -n 's/^Test accuracy: \([0-9.]*\)$/\1/p' <<<"$output")
[[ -n $accuracy ]] || { echo "FAIL: no 'Test accuracy: X' line" >&2; exit 1; }
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.6) }' ||
  { echo "FAIL: test accuracy $accuracy is below 0.6" >&2; exit 1; }
for file in model.safetensors model.json metrics.csv; do
  [[ -s "$out/$file" ]] || { echo "FAIL: $out/$file is missing or empty" >&2; exit 1; }
done
header=$(head -n 1 "$out/metrics.csv")
[[ $header == "epoch,accuracy,loss,val_accuracy,val_loss" ]] ||
  { echo "FAIL: metrics.csv header is '$header'" >&2; exit 1; }
rows=$(($(grep -c '' "$out/metrics.csv") - 1))
[[ $rows -eq 1 ]] || { echo "FAIL: metrics.csv holds $rows rows, expected 1" >&2; exit 1; }
grep -q '"name": "mlp"' "$out/model.json" || { echo "FAIL: model.json has no name" >&2; exit 1; }
leftovers=$(find "$out" -name '*.tmp*' | wc -l)
[[ $leftovers -eq 0 ]] || { echo "FAIL: temporary files left in $out" >&2; exit 1; }
echo "ok: $out holds model.safetensors, model.json and metrics.csv"
