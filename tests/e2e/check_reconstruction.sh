#!/usr/bin/env bash
# Usage: check_reconstruction.sh NABLA OUT_DIR TRAIN_ARGS...
# Runs `nabla train TRAIN_ARGS... --out OUT_DIR`, prints its output (for expect_output.sh to check
# the figures) and checks that it drew OUT_DIR/reconstructions.png: a PNG, by its signature.
set -eu
nabla=$1
out=$2
shift 2
rm -rf "$out"
"$nabla" train "$@" --out "$out"
picture="$out/reconstructions.png"
[[ -s $picture ]] || { echo "FAIL: $picture is missing or empty" >&2; exit 1; }
signature=$(head -c 8 "$picture" | od -An -tx1 | tr -d ' \n')
[[ $signature == 89504e470d0a1a0a ]] ||
  { echo "FAIL: $picture is not a PNG (it starts with $signature)" >&2; exit 1; }
echo "ok: $picture"
