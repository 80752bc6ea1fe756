#!/usr/bin/env bash
# Usage: check_generate_stream.sh NABLA CHECKPOINT
# nabla generate prints each token as it is drawn. Read through a pipe that closes after 40
# bytes, a run of 100000 tokens ends (on SIGPIPE) as soon as those bytes are out: sooner than a
# whole run of 20000 tokens. A generator that printed only at the end would first draw all 100000.
# Both times scale with the machine's speed, so the comparison holds on any machine.
set -u
nabla=$1
checkpoint=$2
now_ms() { echo $(($(date +%s%N) / 1000000)); }
args=(generate --checkpoint "$checkpoint" --prompt "And God" --threads 1)
start=$(now_ms)
text=$(timeout 20 "$nabla" "${args[@]}" --length 100000 | head -c 40)
first_ms=$(($(now_ms) - start))
[[ ${#text} -eq 40 && $text == "And God"* ]] ||
  { echo "FAIL: expected 40 characters starting with 'And God', got '$text'" >&2; exit 1; }
start=$(now_ms)
"$nabla" "${args[@]}" --length 20000 >/dev/null || { echo "FAIL: generate failed" >&2; exit 1; }
whole_ms=$(($(now_ms) - start))
[[ $first_ms -lt $whole_ms ]] || {
  echo "FAIL: the first 40 bytes of 100000 tokens took $first_ms ms, 20000 tokens $whole_ms ms" >&2
  exit 1
}
echo "ok: '$text' after $first_ms ms (20000 tokens: $whole_ms ms)"
