#!/usr/bin/env bash
# Usage: check_tensorboard.sh NABLA PRINT_EVENTS LOG_DIR
# Trains briefly with --tensorboard, checks that LOG_DIR/train and LOG_DIR/validation each hold
# one event file, and prints both through print_events (nabla's reader: every CRC verified), for
# expect_output.sh to check the values.
set -eu
nabla=$1
print_events=$2
log_dir=$3
rm -rf "$log_dir"
"$nabla" train --limit 500 --epochs 1 --validation-split 0.2 --verbose 0 --threads 1 \
  --tensorboard "$log_dir"
for part in train validation; do
  files=("$log_dir/$part"/events.out.tfevents.*)
  [[ ${#files[@]} -eq 1 && -s ${files[0]} ]] ||
    { echo "FAIL: expected one event file in $log_dir/$part, found: ${files[*]}" >&2; exit 1; }
  "$print_events" "${files[0]}"
done
