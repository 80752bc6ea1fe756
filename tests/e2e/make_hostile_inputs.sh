#!/usr/bin/env bash
# Usage: make_hostile_inputs.sh DIR
# Writes the inputs of issue 12's rows into DIR: JSON nested 100,000 deep, a checkpoint whose
# safetensors header or stored spec is nested as deep, IDX headers claiming exabytes, a PGM header
# of 99999999 x 99999999. Generated at test time rather than committed: the deep files are
# hundreds of kilobytes of brackets, and the binary ones are easier to read here than as bytes.
set -euo pipefail
dir=$1
mkdir -p "$dir"

repeat() { # repeat CHARACTER COUNT
  head -c "$2" /dev/zero | tr '\0' "$1"
}
deep_open=$(repeat '[' 100000)
deep_close=$(repeat ']' 100000)
deep="$deep_open$deep_close"

# Row 1: a model spec nested 100,000 deep in each place a value can go.
printf '{"name": "deep", "input_shape": [4], "layers": %s}\n' "$deep" >"$dir/deep_layers.json"
printf '{"name": "deep", "input_shape": [4], "layers": [{"type": "Dense", "units": %s}]}\n' \
  "$deep" >"$dir/deep_units.json"
printf '{"name": "deep", "input_shape": %s, "layers": [{"type": "Dense", "units": 2}]}\n' \
  "$deep" >"$dir/deep_input_shape.json"
printf '{"name": "deep", "input_shape": [4], "layers": [{"type": "Dense", "units": 2}], "training": {"metrics": %s}}\n' \
  "$deep" >"$dir/deep_training.json"

# The bytes of integer VALUE, COUNT of them, most significant first unless LITTLE is set.
int_bytes() { # int_bytes VALUE COUNT [LITTLE]
  local escapes='' i shift
  for ((i = 0; i < $2; i++)); do
    shift=$((8 * (${3:-0} ? i : $2 - 1 - i)))
    escapes+=$(printf '\\x%02x' $((($1 >> shift) & 255)))
  done
  printf "$escapes"
}

# An 8-byte little-endian length, then the header: a safetensors file without tensors.
safetensors() { # safetensors HEADER FILE
  { int_bytes ${#1} 8 1; printf '%s' "$1"; } >"$2"
}
# Row 2: a checkpoint whose header is nested deep, and one whose stored spec is.
mkdir -p "$dir/deep_header_run" "$dir/deep_spec_run"
safetensors "{\"__metadata__\": {\"format\": \"pt\"}, \"x\": $deep}" \
  "$dir/deep_header_run/model.safetensors"
safetensors "{\"__metadata__\": {\"nabla.model_spec\": \"{\\\"layers\\\": $deep}\"}}" \
  "$dir/deep_spec_run/model.safetensors"

# Rows 5 and 6: train images claiming 1 x 1531578832 x 2801924005 bytes (4.3 EB; 784 when
# multiplied in 32 bits) over 784 real ones, and one valid label.
mkdir -p "$dir/huge_idx"
{
  printf '\x00\x00\x08\x03'
  int_bytes 1 4
  int_bytes 1531578832 4
  int_bytes 2801924005 4
  head -c 784 /dev/zero
} >"$dir/huge_idx/train-images-idx3-ubyte"
{ printf '\x00\x00\x08\x01'; int_bytes 1 4; printf '\x03'; } >"$dir/huge_idx/train-labels-idx1-ubyte"

# Row 9: a PGM header of 99999999 x 99999999 over a few pixels.
printf 'P5\n99999999 99999999\n255\nabcdefgh' >"$dir/huge.pgm"
