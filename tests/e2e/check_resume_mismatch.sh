#!/usr/bin/env bash
# Usage: check_resume_mismatch.sh NABLA EXPECT_ERROR OUT_DIR
# `--resume` with settings other than the checkpoint's is one error naming the first difference
# (never a silent continuation of another run), and leaves the checkpoints in place.
set -u
nabla=$1
expect_error=$2
out=$3
rm -rf "$out"
"$nabla" train --limit 64 --epochs 1 --verbose 0 --threads 1 --out "$out" >/dev/null ||
  { echo "FAIL: the first run failed" >&2; exit 1; }
before=$(ls "$out/checkpoints")
[[ -n $before ]] || { echo "FAIL: the first run left no checkpoint" >&2; exit 1; }
"$expect_error" --status 1 "/seed is 0 there, 1 here" \
  "$nabla" train --limit 64 --epochs 1 --verbose 0 --threads 1 --seed 1 --out "$out" --resume ||
  exit 1
"$expect_error" --status 1 "/spec/training/lr is 0.001 there, 0.01 here" \
  "$nabla" train --limit 64 --epochs 1 --verbose 0 --threads 1 --lr 0.01 --out "$out" --resume ||
  exit 1
[[ $(ls "$out/checkpoints") == "$before" ]] || { echo "FAIL: the checkpoints changed" >&2; exit 1; }
# Training longer is allowed: epochs may differ.
"$nabla" train --limit 64 --epochs 2 --verbose 0 --threads 1 --out "$out" --resume >"$out.log" ||
  { echo "FAIL: resuming with more epochs failed" >&2; cat "$out.log" >&2; exit 1; }
grep -q "Resuming from .*epoch-001-step-00000002.safetensors: epoch 2, 0 of its batches done" \
  "$out.log" || { echo "FAIL: did not resume at epoch 2" >&2; cat "$out.log" >&2; exit 1; }
echo "ok"
