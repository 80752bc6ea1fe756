#!/usr/bin/env bash
# Usage: check_int8.sh NABLA CHECKPOINT LAYERS MAX_DROP
# Post-training int8 quantization from the command line: `nabla evaluate --int8 --json` exits 0,
# names LAYERS int8 layers, and its test accuracy is within MAX_DROP of the fp32 evaluation of
# the same checkpoint (and not far above it either); the fp32 evaluation names none.
set -u
nabla=$1
checkpoint=$2
layers=$3
max_drop=$4
fail() {
  echo "FAIL: $1" >&2
  exit 1
}
fp32=$("$nabla" evaluate --checkpoint "$checkpoint" --threads 1 --json) ||
  fail "nabla evaluate (fp32) exited with status $?"
int8=$("$nabla" evaluate --checkpoint "$checkpoint" --threads 1 --json --int8) ||
  fail "nabla evaluate --int8 exited with status $?"
python3 - "$fp32" "$int8" "$layers" "$max_drop" <<'PY' || exit 1
import json, sys
fp32, int8 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
layers, max_drop = int(sys.argv[3]), float(sys.argv[4])
a, b = fp32["metrics"]["accuracy"], int8["metrics"]["accuracy"]
print(f"fp32 accuracy {a:.4f}, int8 {b:.4f} ({len(int8['int8_layers'])} int8 layers)")
if fp32["int8_layers"]:
    sys.exit(f"FAIL: the fp32 evaluation ran int8 layers {fp32['int8_layers']}")
if len(int8["int8_layers"]) != layers:
    sys.exit(f"FAIL: expected {layers} int8 layers, got {int8['int8_layers']}")
if abs(a - b) > max_drop:
    sys.exit(f"FAIL: int8 accuracy {b} is more than {max_drop} from fp32's {a}")
PY
