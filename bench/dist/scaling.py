#!/usr/bin/env python3
"""Data-parallel scaling of nabla on this machine, and a model of it on a cluster.

Part 1 runs build/bench/nabla_dist_scaling under mpirun for the mlp and cnn presets (batch 32 per
process): one process on one core, one process on two cores (nabla's threads), and two processes
of one core each (data-parallel, communication overlapped with backward or not), and the
parameter server (two workers and a server, synchronous and with staleness 2); three runs each,
medians with ranges. It prints samples/s, the step time, the share of it the training thread
waited for communication (all-reduce: reductions still in flight after backward; parameter
server: pushing gradients and pulling weights), and the share the communication thread spent in
MPI_Allreduce.

Part 2 models N nodes, each like this machine (one process on two cores, batch 32): the step's
compute T_c is measured in part 1, the gradient bytes S are the model's; a ring all-reduce takes
2(N-1)/N * S / bandwidth + 2(N-1) * latency. Without overlap a step takes T_c + T_ar; with perfect
overlap max(T_c, T_c/3 + T_ar) (the reduction can only start once backward, about two thirds of
the step, produces gradients). Efficiency is T_c over the step time.
Usage: bench/dist/scaling.py [BUILD_DIR]. Standard library only.
"""
import json
import os
import statistics
import subprocess
import sys

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
EXE = os.path.join(BUILD, "bench", "nabla_dist_scaling")
STEPS = {"mlp": 900, "cnn": 300}
BATCH = 32
RUNS = 3
# (name, bytes/s, latency in s) of the networks the model assumes.
NETWORKS = [("10 Gb/s Ethernet", 1.25e9, 30e-6), ("100 Gb/s InfiniBand", 12.5e9, 2e-6)]
NODES = [1, 2, 8, 16, 32, 64]


def run(model, processes, threads, overlap, strategy="allreduce", staleness=0):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", str(processes), EXE,
               "--model", model, "--batch", str(BATCH), "--steps", str(STEPS[model]),
               "--threads", str(threads), "--overlap", "1" if overlap else "0",
               "--strategy", strategy, "--staleness", str(staleness)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def median_range(values, scale=1.0, digits=1):
    values = [v * scale for v in values]
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


def main():
    if not os.access(EXE, os.X_OK):
        sys.exit(f"scaling.py: {EXE} not found; build nabla_dist_scaling (needs MPI)")
    configs = [("1 process, 1 thread", 1, 1, True), ("1 process, 2 threads", 1, 2, True),
               ("2 processes x 1 thread, overlap", 2, 1, True),
               ("2 processes x 1 thread, no overlap", 2, 1, False),
               ("parameter server: 2 workers + 1 server, synchronous", 3, 1, True,
                "parameter-server", 0),
               ("parameter server: 2 workers + 1 server, staleness 2", 3, 1, True,
                "parameter-server", 2)]
    measured = {}
    print(f"== Data-parallel on this machine ({os.cpu_count()} cores), batch {BATCH} per "
          f"process, medians of {RUNS} (ranges) ==")
    print("| model | configuration | samples/s | step ms | waiting for communication "
          "| in all-reduce |")
    print("|---|---|---|---|---|---|")
    for model in STEPS:
        for name, *config in configs:
            rows = [run(model, *config) for _ in range(RUNS)]
            measured[(model, name)] = rows
            print(f"| {model} | {name} | {median_range([r['samples_per_s'] for r in rows], 1, 0)} "
                  f"| {median_range([r['step_ms'] for r in rows], 1, 2)} "
                  f"| {median_range([r['wait_share'] for r in rows], 100, 1)}% "
                  f"| {median_range([r['reduce_share'] for r in rows], 100, 1)}% |")
    print()
    print("== Model: N nodes like this one (1 process x 2 threads, batch 32 each), ring all-reduce ==")
    print("| model | network | N | all-reduce ms | efficiency, no overlap | efficiency, overlap "
          "| samples/s, overlap |")
    print("|---|---|---|---|---|---|---|")
    for model in STEPS:
        compute = statistics.median(r["step_ms"] for r in measured[(model, configs[1][0])]) / 1e3
        size = statistics.median(
            r["bytes_per_step"] for r in measured[(model, configs[2][0])])
        for network, bandwidth, latency in NETWORKS:
            for n in NODES:
                reduce = 0 if n == 1 else 2 * (n - 1) / n * size / bandwidth + 2 * (n - 1) * latency
                plain = compute / (compute + reduce)
                hidden_step = max(compute, compute / 3 + reduce)
                print(f"| {model} | {network} | {n} | {reduce * 1e3:.3f} | {plain:.2f} "
                      f"| {compute / hidden_step:.2f} | {n * BATCH / hidden_step:.0f} |")
    print()
    print(f"gradient bytes per step: " + ", ".join(
        f"{m} {statistics.median(r['bytes_per_step'] for r in measured[(m, configs[2][0])])}"
        for m in STEPS))


if __name__ == "__main__":
    main()
