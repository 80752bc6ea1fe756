#!/usr/bin/env bash
# Prepares the text corpora nabla's sequence presets train on (never committed): the King James
# Bible from Debian's bible-kjv package as plain text, one verse a line without its reference
# ("Ge1:1 In the beginning..." -> "In the beginning..."), in the folder nabla reads corpora from
# ($NABLA_DATA_DIR, else $XDG_CACHE_HOME/nabla, else ~/.cache/nabla). Idempotent and quiet when
# the file is there. The fortunes are read where Debian's fortunes package puts them.
set -euo pipefail

dir="${NABLA_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nabla}"
out="$dir/kjv.txt"
[[ -s "$out" ]] && exit 0
if ! command -v bible >/dev/null; then
  echo "prepare-corpora: the 'bible' program is missing; install Debian's bible-kjv package" >&2
  exit 1
fi
mkdir -p "$dir"
tmp=$(mktemp "$dir/kjv.txt.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# Book abbreviations may start with a digit (1Co13:4); the reference ends at the first space.
bible -f "gen1:1-rev22:21" | sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //' >"$tmp"
lines=$(wc -l <"$tmp")
if [[ "$lines" -lt 31000 ]]; then
  echo "prepare-corpora: expected the 31102 verses of the KJV, got $lines lines" >&2
  exit 1
fi
mv "$tmp" "$out"
trap - EXIT
echo "prepare-corpora: wrote $out ($lines verses)"
