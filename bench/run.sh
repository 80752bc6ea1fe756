#!/usr/bin/env bash
# Runs nabla's benchmarks from a build folder (`make bench` builds nabla_bench, nabla and
# nabla_compare first; this script builds nothing):
#   1. kernel microbenchmarks (GEMM against the measured FMA peak, elementwise, softmax
#      cross-entropy, MLP training step), 3 repetitions, medians;
#   2. the side-by-side comparison with PyTorch (bench/compare/: MLP, CNN and LSTM; 3 runs per
#      configuration, GFLOP/s against the FMA limit; tables also as markdown);
#   2a. inference throughput (bench/compare/inference.py): Model::predict at batch 1 and 256 in
#       fp32 and post-training int8, against PyTorch's inference_mode and its FX int8;
#   2b. word2vec (skip-gram) on the KJV against fastText: words/s and the word-pair mean rank;
#   2c. data-parallel scaling over MPI (bench/dist/scaling.py), when the build has MPI;
#   2d. input pipelines: decode + augment + batch against PyTorch's DataLoader with PIL, and the
#       cnn preset trained from streamed TFRecord shards (bench/pipeline/compare.py);
#   3. the compile time of a program including <nabla/nabla.hpp> and the size of libnabla.so.
# Usage: bench/run.sh [BUILD_DIR]   (default: build). PYTHON selects the python3 that has torch.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
python=${PYTHON:-/usr/bin/python3}
results="$build/bench-results"
mkdir -p "$results"

for exe in bench/nabla_bench bench/nabla_compare bench/nabla_predict_compare; do
  [[ -x "$build/$exe" ]] || { echo "bench: $build/$exe not found; run 'make bench'" >&2; exit 1; }
done

# Timings on a shared machine are only as good as its idleness: say how busy it was.
read -r load1 _ < /proc/loadavg
echo "bench: $(nproc) cores, load average $load1 at start$(awk -v l="$load1" \
  'BEGIN { if (l > 0.5) printf " (busy: other processes will distort the timings)" }')"

echo "== Kernels (nabla_bench; results in $results/kernels.json) =="
"$build/bench/nabla_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$results/kernels.json" --benchmark_out_format=json
"$python" "$root/bench/summary.py" "$results/kernels.json"

echo
echo "== nabla vs PyTorch (bench/compare; results in $results/compare.json and compare.md) =="
# NABLA_BENCH_SCALING=1 adds the scaling table (batch 16-1024, LSTM hidden 64-512; minutes more).
"$python" "$root/bench/compare/compare.py" --build "$build" --python "$python" \
  --out "$results/compare.json" --markdown "$results/compare.md" \
  $([[ "${NABLA_BENCH_SCALING:-0}" == 1 ]] && echo --scaling)

echo
echo "== Inference: nabla vs PyTorch, fp32 and int8 (bench/compare/inference.py; $results/inference.md) =="
"$python" "$root/bench/compare/inference.py" --build "$build" --python "$python" \
  --markdown "$results/inference.md"

echo
echo "== word2vec: nabla vs fastText (bench/compare/word2vec.py; results in $results/word2vec.json) =="
[[ -x "$build/nabla" ]] || { echo "bench: $build/nabla not found; run 'make bench'" >&2; exit 1; }
"$python" "$root/bench/compare/word2vec.py" --build "$build" --out "$results/word2vec.json"

if [[ -x "$build/bench/nabla_dist_scaling" ]]; then
  echo
  echo "== Data-parallel scaling over MPI (bench/dist/scaling.py) =="
  "$python" "$root/bench/dist/scaling.py" "$build"
fi

if [[ -x "$build/bench/nabla_pipeline_bench" ]]; then
  echo
  echo "== Input pipelines: nabla vs PyTorch's DataLoader (bench/pipeline/compare.py) =="
  "$python" "$root/bench/pipeline/compare.py" --build "$build" --python "$python" \
    --out "$results/pipeline.json"
fi

echo
echo "== Build footprint =="
# A one-line program against the public headers, compiled without ccache, median of 3.
program="$results/include_nabla.cpp"
echo '#include <nabla/nabla.hpp>
int main() { return static_cast<int>(nabla::ones({2, 2}).sum().item()); }' > "$program"
# One untimed compile first: shows any error plainly and warms the file cache.
g++ -std=c++20 -I "$root/include" -c "$program" -o "$results/include_nabla.o"
# bash's `time` gives wall and CPU seconds; CPU time is the steadier figure on a busy machine.
TIMEFORMAT='%R %U %S'
timings=()
for _ in 1 2 3; do
  timings+=("$( { time g++ -std=c++20 -I "$root/include" -c "$program" \
                  -o "$results/include_nabla.o" ; } 2>&1 )")
done
printf '%s\n' "${timings[@]}" | "$python" -c '
import statistics, sys
rows = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
wall = statistics.median(r[0] for r in rows)
cpu = statistics.median(r[1] + r[2] for r in rows)
print(f"compile time of a program including <nabla/nabla.hpp> (g++ -std=c++20 -c, median of 3): "
      f"{wall:.2f} s wall, {cpu:.2f} s CPU")'
library=$(readlink -f "$build/src/libnabla.so")
awk -v bytes="$(stat -c %s "$library")" -v path="$library" \
  'BEGIN { printf "libnabla.so: %.2f MB (%s)\n", bytes / 1048576, path }'
