#!/usr/bin/env bash
# Usage: check_predict_npy.sh NABLA CHECKPOINT NPY_DIR WORK_DIR
# `predict --input NPY_DIR/x.npy` (test images 0-2, make_npy_inputs.sh) must print the
# probabilities of `predict --index 0,1,2` to the last digit (both feed the model the same bytes
# viewed as its input shape), and --output must write the same numbers: y.csv three rows of ten,
# y.json the same rows as arrays, y.npy NumPy's float32 [3, 10] layout.
set -eu
nabla=$1
checkpoint=$2
x=$3/x.npy
work=$4
mkdir -p "$work"
fail() { echo "FAIL: $1" >&2; exit 1; }

by_input=$("$nabla" predict --checkpoint "$checkpoint" --input "$x")
by_index=$("$nabla" predict --checkpoint "$checkpoint" --index 0,1,2)
echo "$by_input"
# Lines 2, 4 and 6 hold the probabilities of samples 0, 1 and 2.
probabilities() { sed -n '2p;4p;6p' <<<"$1"; }
[[ $(probabilities "$by_input") == "$(probabilities "$by_index")" ]] ||
  { echo "$by_index" >&2; fail "--input and --index 0,1,2 print different probabilities"; }
[[ $(sed -n 1p <<<"$by_input") == "$x[0]: "* ]] || fail "no '$x[0]: ' line"
# The printed probabilities, four decimals each, one sample per line.
printed=$(probabilities "$by_input" | grep -o '[0-9]\.[0-9]\{4\}' | paste -sd' ' | fold -w 70)
four_decimals() { awk '{ for (i = 1; i <= NF; i++) printf "%.4f%s", $i, (i < NF ? " " : "\n") }'; }

"$nabla" predict --checkpoint "$checkpoint" --input "$x" --output "$work/y.csv" | grep -q "Wrote the outputs \[3, 10\] (f32) for 3 samples of $x to $work/y.csv" ||
  fail "no 'Wrote the outputs' line for y.csv"
[[ $(wc -l <"$work/y.csv") -eq 3 ]] || fail "y.csv does not hold 3 rows"
[[ $(tr ',' ' ' <"$work/y.csv" | four_decimals | paste -sd' ' | fold -w 70) == "$printed" ]] ||
  fail "y.csv does not hold the printed probabilities: $(cat "$work/y.csv")"

"$nabla" predict --checkpoint "$checkpoint" --input "$x" --output "$work/y.json" >/dev/null
json=$(cat "$work/y.json")
[[ $json =~ ^\[\[[^][]+\],\ \[[^][]+\],\ \[[^][]+\]\]$ ]] || fail "y.json is not three arrays: $json"
# The JSON rows hold the same text as the CSV rows.
[[ $(sed 's/^\[\[//; s/\]\]$//; s/\], \[/\n/g; s/, /,/g' <<<"$json") == "$(cat "$work/y.csv")" ]] ||
  fail "y.json and y.csv hold different values"

"$nabla" predict --checkpoint "$checkpoint" --input "$x" --output "$work/y.npy" >/dev/null
[[ $(wc -c <"$work/y.npy") -eq $((128 + 3 * 10 * 4)) ]] || fail "y.npy is not 248 bytes"
head -c 128 "$work/y.npy" | grep -q "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 10), }" ||
  fail "y.npy does not have NumPy's header for float32 [3, 10]"
[[ $(tail -c 120 "$work/y.npy" | od -An -v -tf4 | four_decimals | paste -sd' ' | fold -w 70) == "$printed" ]] ||
  fail "y.npy does not hold the printed probabilities"
echo "ok: --input prints the probabilities of --index 0,1,2; --output writes them as .csv, .json and .npy"
