#!/usr/bin/env bash
# Usage: expect_output.sh [CHECK...] -- COMMAND [ARGS...]
# Passes when COMMAND succeeds (exit status 0, no signal) and its output (stdout and stderr
# together) passes every CHECK:
#   --match REGEX         the output matches REGEX (bash's extended regex; '.' also matches a
#                         newline, so one pattern can span lines; '^' and '$' anchor at the
#                         start and the end of the whole output, its last newline included)
#   --min LABEL BOUND     the number right after the first LABEL (a literal string) is >= BOUND
#   --max LABEL BOUND     the number right after the first LABEL is <= BOUND
# CTest's PASS_REGULAR_EXPRESSION ignores the exit status; this script does not, and a figure is
# checked as a number against a bound, not only as a pattern.
set -u
usage() {
  echo "usage: expect_output.sh [--match REGEX | --min LABEL BOUND | --max LABEL BOUND]..." \
    "-- COMMAND [ARGS...]" >&2
  exit 2
}
checks=()
while [[ $# -gt 0 && $1 != "--" ]]; do
  case $1 in
    --match) [[ $# -ge 2 ]] || usage; checks+=("match" "$2" ""); shift 2 ;;
    --min | --max) [[ $# -ge 3 ]] || usage; checks+=("${1#--}" "$2" "$3"); shift 3 ;;
    *) usage ;;
  esac
done
[[ $# -ge 2 && ${#checks[@]} -gt 0 ]] || usage
shift
command=("$@")

output_file=$(mktemp)
trap 'rm -f "$output_file"' EXIT
"$@" >"$output_file" 2>&1
status=$?
# Exactly as printed: $(...) alone would drop trailing newlines.
output=$(cat "$output_file" && printf x)
output=${output%x}

fail() {
  echo "FAIL: $1" >&2
  echo "command: ${command[*]}" >&2
  echo "exit status: $status" >&2
  echo "output:" >&2
  echo "$output" >&2
  exit 1
}
[[ $status -lt 128 ]] || fail "the command crashed (killed by signal $((status - 128)))"
[[ $status -eq 0 ]] || fail "expected exit status 0"

number='^[[:space:]]*(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)'
for ((i = 0; i < ${#checks[@]}; i += 3)); do
  kind=${checks[i]} pattern=${checks[i + 1]} bound=${checks[i + 2]}
  if [[ $kind == match ]]; then
    [[ $output =~ $pattern ]] || fail "the output does not match '$pattern'"
    continue
  fi
  [[ $output == *"$pattern"* ]] || fail "the output holds no '$pattern'"
  after=${output#*"$pattern"}
  [[ $after =~ $number ]] || fail "no number after '$pattern'"
  value=${BASH_REMATCH[1]}
  if [[ $kind == min ]]; then
    awk -v v="$value" -v b="$bound" 'BEGIN { exit !(v + 0 >= b + 0) }' ||
      fail "'$pattern' $value is below the bound $bound"
    echo "ok: $pattern $value >= $bound"
  else
    awk -v v="$value" -v b="$bound" 'BEGIN { exit !(v + 0 <= b + 0) }' ||
      fail "'$pattern' $value is above the bound $bound"
    echo "ok: $pattern $value <= $bound"
  fi
done
echo "ok: exit status 0, $((${#checks[@]} / 3)) checks passed"
