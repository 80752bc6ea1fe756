#!/usr/bin/env bash
# Usage: check_resume.sh NABLA WORK_DIR NAME TRAIN_ARGS...
# Exact resume (issue 13): `nabla train TRAIN_ARGS --out DIR` killed with SIGKILL at several
# moments -- before its first checkpoint, right after one appears (often inside the next write),
# and later -- and continued each time with --resume, ends with model.safetensors, model.json,
# metrics.csv and norms.csv byte-identical to those of an uninterrupted run. Before the last resume the newest
# checkpoint is damaged (one byte flipped) and a stale temporary file is planted: the run must
# warn naming the damaged file, skip it, remove the temporary file and still end identical.
set -u
nabla=$1
work=$2
name=$3
shift 3
args=("$@" --verbose 0)
ref=$work/$name-ref
run=$work/$name-run
log=$work/$name.log
fail() {
  echo "FAIL ($name): $1" >&2
  [[ -f $log ]] && tail -n 20 "$log" >&2
  exit 1
}
rm -rf "$ref" "$run" "$log"
mkdir -p "$work"

"$nabla" train "${args[@]}" --out "$ref" >"$log" 2>&1 || fail "the uninterrupted run failed"

# The highest step count among the run's checkpoints (0 when there is none).
newest_step() {
  local newest=0 file step
  for file in "$run"/checkpoints/epoch-*-step-*.safetensors; do
    [[ -e $file ]] || continue
    step=${file##*-step-}
    step=$((10#${step%.safetensors}))
    ((step > newest)) && newest=$step
  done
  echo "$newest"
}

kills=0
# Starts a (resumed) run and kills it once `condition` holds, or lets it finish.
run_and_kill() {
  local condition=$1 pid status
  "$nabla" train "${args[@]}" --out "$run" --resume >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 3000); do
    kill -0 "$pid" 2>/dev/null || break
    eval "$condition" && break
    sleep 0.01
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  status=$?
  if [[ $status -eq 137 ]]; then
    kills=$((kills + 1))
  elif [[ $status -ne 0 ]]; then
    fail "a resumed run failed with status $status"
  fi
}

# 1: killed while loading data or training, before its first checkpoint.
run_and_kill 'ls -A "$run" 2>/dev/null | grep -q "^\.nabla-run-"'
# 2: as soon as a checkpoint appears; the next write is usually under way.
run_and_kill '[[ $(newest_step) -gt 0 ]]'
# 3: a few steps further on.
start=$(newest_step)
run_and_kill '[[ $(newest_step) -gt $((start + 3)) ]]'
# 4: as soon as the resumed run has written one more.
start=$(newest_step)
run_and_kill '[[ $(newest_step) -gt $start ]]'
[[ $kills -ge 3 ]] || fail "only $kills of the runs were killed before they ended; the test needs longer runs"

# The newest checkpoint damaged, and the temporary file of a killed write left behind.
newest=$(ls "$run"/checkpoints/epoch-*-step-*.safetensors 2>/dev/null | sort | tail -n 1)
damaged=""
if [[ -n $newest ]]; then
  size=$(stat -c %s "$newest")
  byte=$(od -An -tu1 -j $((size - 5)) -N1 "$newest" | tr -d ' ')
  printf "$(printf '\\%03o' $(((byte + 1) % 256)))" |
    dd of="$newest" bs=1 seek=$((size - 5)) conv=notrunc status=none
  damaged=$newest
fi
touch "$run/checkpoints/epoch-999-step-99999999.safetensors.tmp-Ab12Cd"

"$nabla" train "${args[@]}" --out "$run" --resume >"$log.last" 2>&1 ||
  { cat "$log.last" >>"$log"; fail "the last resumed run failed"; }
cat "$log.last" >>"$log"
if [[ -n $damaged ]]; then
  grep -q "skipping the damaged checkpoint $damaged" "$log.last" ||
    fail "no warning naming the damaged checkpoint $damaged"
fi
[[ ! -e $run/checkpoints/epoch-999-step-99999999.safetensors.tmp-Ab12Cd ]] ||
  fail "the stale temporary file was not removed"
for file in model.safetensors model.json metrics.csv norms.csv; do
  cmp -s "$ref/$file" "$run/$file" || fail "$file differs from the uninterrupted run's"
done
echo "ok ($name): $kills kills, damaged checkpoint ${damaged:-none}; outputs identical"
