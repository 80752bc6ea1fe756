#!/usr/bin/python3
"""Test RMSE of least squares, wide, deep and wide&deep on the Boston house prices over seeds.

Runs `nabla train --model PRESET --seed S --json` for the presets wide, deep and wide_deep and the
seeds 0..N-1 (each seed draws its own 80/20 split and initial weights; the four models of one seed
see the same split), and prints the Markdown table of docs/guide.md: mean +- standard deviation
(sample, n-1) over the seeds and each seed's figure. The least-squares figure is the closed-form
fit every run computes on its split; the three runs of a seed must agree on it.

Usage: python3 scripts/wide_deep_seeds.py [--seeds 5] [--nabla build/nabla] [--threads 1]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS = ["wide", "deep", "wide_deep"]


def figures(nabla, preset, seed, threads):
    args = [nabla, "train", "--model", preset, "--seed", str(seed), "--json", "--threads",
            str(threads)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"wide_deep_seeds: {' '.join(args)} failed (exit {done.returncode}):\n"
                 f"{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])["figures"]


def cell(values):
    mean = statistics.mean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3f} ± {std:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--nabla", default=os.path.join(ROOT, "build", "nabla"))
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args()
    rmse = {name: [] for name in ["least squares"] + PRESETS}
    start = time.monotonic()
    for seed in range(options.seeds):
        baseline = None
        for preset in PRESETS:
            f = figures(options.nabla, preset, seed, options.threads)
            rmse[preset].append(f["test_rmse"])
            if baseline is None:
                baseline = f["least_squares_rmse"]
                rmse["least squares"].append(baseline)
            elif abs(baseline - f["least_squares_rmse"]) > 1e-9:
                sys.exit(f"wide_deep_seeds: seed {seed}: least squares differs between runs")
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rmse.items()),
              flush=True)
    wall = time.monotonic() - start
    seeds = ", ".join(str(s) for s in range(options.seeds))
    print()
    print(f"| model | test RMSE, mean ± std over seeds {seeds} | per seed |")
    print("|---|---|---|")
    for name, values in rmse.items():
        print(f"| {name} | {cell(values)} | {', '.join(f'{v:.3f}' for v in values)} |")
    ls = statistics.mean(rmse["least squares"])
    wd = statistics.mean(rmse["wide_deep"])
    print()
    print(f"wide_deep against least squares: {100 * (1 - wd / ls):.1f}% lower RMSE "
          f"({options.seeds} seeds, {wall:.0f} s in all)")


if __name__ == "__main__":
    main()
