#!/usr/bin/env bash
# Usage: check_outputs.sh NABLA OUT_DIR FILES TRAIN_ARGS...
# Runs `nabla train TRAIN_ARGS... --out OUT_DIR`, prints its output (for expect_output.sh to check
# the figures) and checks that it wrote each of FILES (comma-separated names in OUT_DIR): a .png
# by its signature, an .svg by its <svg element.
set -eu
nabla=$1
out=$2
files=$3
shift 3
rm -rf "$out"
"$nabla" train "$@" --out "$out"
IFS=, read -ra names <<<"$files"
for name in "${names[@]}"; do
  file="$out/$name"
  [[ -s $file ]] || { echo "FAIL: $file is missing or empty" >&2; exit 1; }
  case $name in
    *.png)
      signature=$(head -c 8 "$file" | od -An -tx1 | tr -d ' \n')
      [[ $signature == 89504e470d0a1a0a ]] ||
        { echo "FAIL: $file is not a PNG (it starts with $signature)" >&2; exit 1; } ;;
    *.svg)
      grep -q '<svg' "$file" || { echo "FAIL: $file holds no <svg> element" >&2; exit 1; } ;;
  esac
  echo "ok: $file"
done
