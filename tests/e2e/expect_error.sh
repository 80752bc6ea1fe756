#!/usr/bin/env bash
# Usage: expect_error.sh [--status N] EXPECTED_SUBSTRING COMMAND [ARGS...]
# Passes when COMMAND fails cleanly: a non-zero exit that is not a crash (no signal), exactly N
# when --status is given (nabla: 2 for a mistake on the command line, 1 otherwise), and stderr
# holding exactly one line, "nabla: error: ...", that contains EXPECTED_SUBSTRING.
set -u
usage() {
  echo "usage: expect_error.sh [--status N] EXPECTED_SUBSTRING COMMAND [ARGS...]" >&2
  exit 2
}
expected_status=""
if [[ $# -ge 1 && $1 == "--status" ]]; then
  [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage
  expected_status=$2
  shift 2
fi
[[ $# -ge 2 ]] || usage
expected=$1
shift
command=("$@")
stderr_file=$(mktemp)
trap 'rm -f "$stderr_file"' EXIT
"$@" >/dev/null 2>"$stderr_file"
status=$?
stderr_text=$(cat "$stderr_file")
lines=$(grep -c '' "$stderr_file")

fail() {
  echo "FAIL: $1" >&2
  echo "command: ${command[*]}" >&2
  echo "exit status: $status" >&2
  echo "stderr:" >&2
  echo "$stderr_text" >&2
  exit 1
}
[[ $status -ne 0 ]] || fail "expected a non-zero exit status"
[[ $status -lt 128 ]] || fail "the command crashed (killed by signal $((status - 128)))"
[[ -z $expected_status || $status -eq $expected_status ]] ||
  fail "expected exit status $expected_status"
[[ $lines -eq 1 ]] || fail "expected exactly one line on stderr, got $lines"
[[ $stderr_text == "nabla: error: "* ]] || fail "stderr does not start with 'nabla: error: '"
[[ $stderr_text == *"$expected"* ]] || fail "stderr does not contain '$expected'"
echo "ok: $stderr_text"
