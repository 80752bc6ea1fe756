#!/usr/bin/env python3
"""Summarizes nabla_bench's JSON output (medians of the repetitions) as the headline figures:
the measured FMA peak, GEMM GFLOP/s and % of that peak, the CNN workload's convolutions, the LSTM
layer and the MLP training-step time."""
import json
import re
import sys


def medians(path):
    with open(path) as f:
        report = json.load(f)
    rows = {}
    for b in report["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        rows[b["run_name"]] = b
    return rows


def args_of(run_name):
    return {k: int(v) for k, v in re.findall(r"(\w+):(\d+)", run_name)}


def main():
    rows = medians(sys.argv[1] if len(sys.argv) > 1 else "kernels.json")
    by_kind = {}
    for name, b in rows.items():
        by_kind.setdefault(name.split("/")[0], []).append((args_of(name), b))

    # Interference from other processes only lowers a peak measurement, so the peak is the best
    # one taken during the run (the standalone FMA benchmark or the re-measure before each GEMM).
    peak = {}
    for a, b in by_kind.get("BM_PeakFma", []):
        peak[a["threads"]] = max(peak.get(a["threads"], 0), b["GFLOPs"])
    for a, b in by_kind.get("BM_Gemm", []):
        peak[a["threads"]] = max(peak.get(a["threads"], 0), b["peak_GFLOPs"])
    isa = next((b["label"] for _, b in by_kind.get("BM_PeakFma", [])), "")

    print("\nSummary (medians of the repetitions):")
    for threads in sorted(peak):
        print(f"  measured fp32 FMA peak ({isa}), {threads} thread(s): {peak[threads]:.1f} GFLOP/s")
    print(f"  {'GEMM (oneDNN sgemm)':32} {'threads':>7} {'GFLOP/s':>8} {'% of peak':>9}")
    for a, b in sorted(by_kind.get("BM_Gemm", []), key=lambda x: (x[0]["shape"], x[0]["threads"])):
        pct = 100 * b["GFLOPs"] / peak[a["threads"]]
        print(f"  {b['label']:32} {a['threads']:>7} {b['GFLOPs']:>8.1f} {pct:>8.1f}%")
    for kind, what in (("BM_Add", "add"), ("BM_Relu", "relu")):
        for a, b in by_kind.get(kind, []):
            print(f"  {what} on 1M floats, {a['threads']} thread(s): "
                  f"{b['bytes_per_s'] / 1e9:.1f} GB/s")
    for a, b in by_kind.get("BM_SoftmaxCrossEntropy", []):
        print(f"  softmax cross-entropy fwd+bwd [{a['rows']}, {a['classes']}], {a['threads']} "
              f"thread(s): {b['real_time']:.1f} {b['time_unit']}")
    for kind, what in (("BM_Conv2dForward", "forward"),
                       ("BM_Conv2dForwardBackward", "forward+backward")):
        for a, b in sorted(by_kind.get(kind, []), key=lambda x: (x[0]["shape"], x[0]["threads"])):
            ms = b["real_time"] / (1000 if b["time_unit"] == "us" else 1)
            print(f"  conv2d {b['label']}, {what}, {a['threads']} thread(s): {ms:.2f} ms "
                  f"({b['GFLOPs']:.1f} GFLOP/s)")
    for a, b in by_kind.get("BM_LstmForwardBackward", []):
        ms = b["real_time"] / (1000 if b["time_unit"] == "us" else 1)
        print(f"  LSTM(128) fwd+bwd, 28 steps x batch 64 x 28 features, {a['threads']} thread(s): "
              f"{ms:.2f} ms")
    for a, b in by_kind.get("BM_MlpTrainStep", []):
        us = b["real_time"] if b["time_unit"] == "us" else b["real_time"] / 1000
        print(f"  MLP 784-128-10 train step (fwd+bwd+Adam), batch {a['batch']}, "
              f"{a['threads']} thread(s): {us:.1f} us/step")


if __name__ == "__main__":
    main()
