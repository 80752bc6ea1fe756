#!/usr/bin/env bash
# Usage: check_pictures.sh NABLA OUT_DIR "PICTURE..." TRAIN_ARGS...
# Runs `nabla train TRAIN_ARGS... --out OUT_DIR`, prints its output (for expect_output.sh to check
# the figures) and checks that it drew each PICTURE (file names, space-separated) in OUT_DIR: a
# PNG, by its signature.
set -eu
nabla=$1
out=$2
pictures=$3
shift 3
rm -rf "$out"
"$nabla" train "$@" --out "$out"
for name in $pictures; do
  picture="$out/$name"
  [[ -s $picture ]] || { echo "FAIL: $picture is missing or empty" >&2; exit 1; }
  signature=$(head -c 8 "$picture" | od -An -tx1 | tr -d ' \n')
  [[ $signature == 89504e470d0a1a0a ]] ||
    { echo "FAIL: $picture is not a PNG (it starts with $signature)" >&2; exit 1; }
  echo "ok: $picture"
done
