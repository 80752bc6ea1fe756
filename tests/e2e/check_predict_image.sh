#!/usr/bin/env bash
# Usage: check_predict_image.sh NABLA CHECKPOINT WORK_DIR
# Writes test image 0 of Fashion-MNIST as a binary PGM and checks that `predict --image` on it
# prints the same probabilities as `predict --index 0`: both paths view an image [28, 28] as the
# model's input shape ([1, 28, 28] for a CNN), so the numbers must agree to the last digit.
set -eu
nabla=$1
checkpoint=$2
work=$3
images=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
mkdir -p "$work"
pgm="$work/test0.pgm"
# The IDX header is 16 bytes; the first image follows, 28 x 28 bytes.
{ printf 'P5\n28 28\n255\n'; gzip -dc "$images" | tail -c +17 | head -c 784; } >"$pgm"
[[ $(wc -c <"$pgm") -eq $((13 + 784)) ]] || { echo "FAIL: $pgm is not 797 bytes" >&2; exit 1; }
by_image=$("$nabla" predict --checkpoint "$checkpoint" --image "$pgm")
by_index=$("$nabla" predict --checkpoint "$checkpoint" --index 0)
echo "$by_image"
[[ $(sed -n 2p <<<"$by_image") == "$(sed -n 2p <<<"$by_index")" ]] ||
  { echo "FAIL: --image and --index 0 differ; --index 0 printed:" >&2; echo "$by_index" >&2; exit 1; }
[[ $(sed -n 1p <<<"$by_image") == "$pgm: "* ]] || { echo "FAIL: no '$pgm: ' line" >&2; exit 1; }
echo "ok: --image $pgm prints the probabilities of --index 0"
