#!/usr/bin/env bash
# Usage: check_fine_tune.sh NABLA WORK_DIR
# Fine-tuning from the command line (issue 13): the mlp preset learns all ten classes, then a new
# head learns classes 5-9 alone on its frozen hidden layer. The second run must load the first's
# weights (its frozen layer ends bit-identical to the first run's), train only the head, and
# reach an accuracy a frozen random layer does not (measured: 0.905 fine-tuned, 0.716 on a frozen
# random layer, 0.914 trained from scratch). The features of the mlp's hidden layer trained on
# classes 0-4 only transfer badly to 5-9 (tops versus shoes and bags: 0.53); the cnn's
# convolutions do better, see examples/fine_tune.cpp.
set -u
nabla=$1
work=$2
fail() {
  echo "FAIL: $1" >&2
  exit 1
}
rm -rf "$work"
mkdir -p "$work"
common=(--limit 2000 --epochs 2 --verbose 0 --threads 1)
"$nabla" train "${common[@]}" --out "$work/first" >"$work/first.log" 2>&1 ||
  fail "the first run failed: $(cat "$work/first.log")"
"$nabla" train "${common[@]}" --classes 5-9 --init-from "$work/first" --new-head \
  --freeze dense --out "$work/second" >"$work/second.log" 2>&1 ||
  fail "the fine-tuning run failed: $(cat "$work/second.log")"
grep -q "^Classes: 5, 6, 7, 8, 9 (the others left out)" "$work/second.log" ||
  fail "the run did not say which classes"
grep -q "^Frozen: dense (100480 parameters)" "$work/second.log" ||
  fail "the run did not say what it froze"
accuracy=$(sed -n 's/^Test accuracy: //p' "$work/second.log")
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.85) }' ||
  fail "fine-tuned test accuracy on classes 5-9 is $accuracy, expected >= 0.85"
# The frozen layer: the first run's weights, byte for byte (the head's differ).
/usr/bin/python3 - "$work/first/model.safetensors" "$work/second/model.safetensors" <<'PY' ||
import json, struct, sys
def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    return {k: body[v["data_offsets"][0]:v["data_offsets"][1]]
            for k, v in header.items() if k != "__metadata__"}
first, second = tensors(sys.argv[1]), tensors(sys.argv[2])
frozen = [k for k in first if k.startswith("2.")]
assert frozen, "no tensor of the frozen layer (2.)"
for k in frozen:
    assert first[k] == second[k], k + " changed though frozen"
assert first["3.weight"] != second["3.weight"], "the head did not change"
PY
  fail "the frozen layer changed, or the head did not"
echo "ok: fine-tuned accuracy on classes 5-9 $accuracy"
