#!/usr/bin/env bash
# Usage: check_killed_run.sh NABLA OUT_DIR
# A run killed with SIGKILL during `nabla train --out DIR` leaves no half-written output, and the
# next run into DIR removes what it left (and the temporary files of older versions' killed
# writes), ending with exactly the run's outputs there (model.safetensors, model.json, metrics.csv,
# norms.csv, report.html and the checkpoints folder).
set -u
nabla=$1
out=$2
fail() { echo "FAIL: $1" >&2; ls -A "$out" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
# Leftovers of killed atomic writes: mkstemp's six characters, and the process id of older versions.
touch "$out/model.safetensors.tmp-Ab12Cd" "$out/model.json.tmp-4242" "$out/notes.txt"
# Killed once its staging folder exists, while it loads the data or trains (100 epochs of 2000
# images take far longer than the wait). Waiting for the folder rather than a fixed time keeps the
# test meaningful on a slow or instrumented (sanitizer) build.
"$nabla" train --limit 2000 --epochs 100 --verbose 0 --threads 1 --out "$out" &
pid=$!
for _ in $(seq 600); do
  LC_ALL=C ls -A "$out" | grep -q '^\.nabla-run-' && break
  sleep 0.05
done
sleep 0.2
kill -KILL "$pid"
wait "$pid" 2>/dev/null  # (the shell reports "Killed" on stderr)
status=$?
[[ $status -eq 137 ]] || fail "expected the run to be killed (status 137), got $status"
[[ ! -e $out/model.safetensors && ! -e $out/metrics.csv ]] || fail "the killed run left outputs"
LC_ALL=C ls -A "$out" | grep -q '^\.nabla-run-' || fail "expected the killed run's staging folder"
"$nabla" train --limit 100 --epochs 1 --verbose 0 --threads 1 --out "$out" >/dev/null ||
  fail "the run after the killed one failed"
left=$(LC_ALL=C ls -A "$out" | tr '\n' ' ')
[[ $left == "checkpoints metrics.csv model.json model.safetensors norms.csv notes.txt report.html " ]] ||
  fail "expected the run's outputs, its checkpoints and notes.txt, got: $left"
echo "ok: $out holds $left"
