#!/usr/bin/env python3
"""Side-by-side: workloads on Fashion-MNIST in nabla and in PyTorch, on this machine, now.

Workloads: the classic MLP at batch 32 and 256 (5 epochs) and the small CNN at batch 64 (2 epochs).
For each, runs nabla_compare (bench/compare/train.cpp) and bench/compare/train.py at each thread
count, one process per run, and compares the fastest configuration of each side.
nabla runs as `nabla train` does (images kept as bytes, a Rescaling(1/255) layer first) and, for
reference, with the images preloaded as f32 like PyTorch's ("nabla-f32"). Compared:
seconds per epoch (the median of the epochs of a run), samples/s, test accuracy after the last
epoch and peak resident memory. PyTorch runs in its best configuration here: OPENBLAS_NUM_THREADS=1
(OpenBLAS must not fight torch's OpenMP threads), MALLOC_MMAP_THRESHOLD_=268435456 (no page
faults on fresh large buffers), OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(command, env):
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"compare: {' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def pytorch_env():
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["MALLOC_MMAP_THRESHOLD_"] = "268435456"
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(name, None)
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="nabla's build folder")
    parser.add_argument("--python", default=sys.executable, help="a python3 with torch")
    parser.add_argument("--workloads", nargs="+", default=["mlp:32:5", "mlp:256:5", "cnn:64:2", "lstm:64:2"],
                        help="MODEL:BATCH:EPOCHS items")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data", default="", help="folder of the four IDX files")
    parser.add_argument("--out", help="also write all results as JSON here")
    args = parser.parse_args()

    nabla_exe = os.path.join(args.build, "bench", "nabla_compare")
    if not os.access(nabla_exe, os.X_OK):
        sys.exit(f"compare: {nabla_exe} not found; build it first (make bench)")
    data = ["--data", args.data] if args.data else []
    workloads = []
    for item in args.workloads:
        model, batch, epochs = item.split(":")
        workloads.append((model, int(batch), int(epochs)))

    runs = []
    for model, batch, epochs in workloads:
        for threads in args.threads:
            size = ["--model", model, "--batch-size", str(batch), "--epochs", str(epochs),
                    "--threads", str(threads)] + data
            for side, command, env in (
                    ("nabla", [nabla_exe] + size, dict(os.environ)),
                    ("nabla-f32", [nabla_exe] + size + ["--f32-data"], dict(os.environ)),
                    ("pytorch", [args.python, os.path.join(HERE, "train.py")] + size,
                     pytorch_env())):
                print(f"compare: {side} {model} batch {batch}, {threads} thread(s) ...",
                      file=sys.stderr, flush=True)
                result = run_json(command, env)
                result["side"] = side
                runs.append(result)

    print("\nAll runs (s/epoch = median of the epochs of one run):")
    print(f"{'side':9} {'model':5} {'batch':>5} {'threads':>7} {'s/epoch':>8} {'samples/s':>10} "
          f"{'test acc':>8} {'peak MB':>8}  epochs (s)")
    for r in runs:
        print(f"{r['side']:9} {r['model']:5} {r['batch_size']:>5} {r['threads']:>7} {r['s_per_epoch']:>8.3f} "
              f"{r['samples_per_s']:>10.0f} {r['test_accuracy']:>8.4f} {r['peak_rss_mb']:>8.0f}  "
              f"{' '.join(f'{s:.3f}' for s in r['epoch_seconds'])}")

    rows = []
    for model, batch, epochs in workloads:
        best = {side: min((r for r in runs if r["side"] == side and r["model"] == model
                           and r["batch_size"] == batch), key=lambda r: r["s_per_epoch"])
                for side in ("nabla", "nabla-f32", "pytorch")}
        rows.append((f"{model} batch {batch}", epochs, best["nabla"], best["pytorch"],
                     best["nabla-f32"]))

    print("\nFashion-MNIST; each side at its fastest thread count (in brackets):")
    header = (f"{'workload':14} {'epochs':>6} {'nabla s/ep':>11} {'torch s/ep':>11} {'ratio':>6} "
              f"{'nabla smp/s':>11} {'torch smp/s':>11} {'nabla acc':>9} {'torch acc':>9} "
              f"{'nabla MB':>8} {'torch MB':>8} {'mem ratio':>9}")
    print(header)
    print("-" * len(header))
    for name, epochs, n, t, _ in rows:
        print(f"{name:14} {epochs:>6} "
              f"{n['s_per_epoch']:>7.3f} [{n['threads']}] "
              f"{t['s_per_epoch']:>7.3f} [{t['threads']}] "
              f"{n['s_per_epoch'] / t['s_per_epoch']:>6.2f} "
              f"{n['samples_per_s']:>11.0f} {t['samples_per_s']:>11.0f} "
              f"{n['test_accuracy']:>9.4f} {t['test_accuracy']:>9.4f} "
              f"{n['peak_rss_mb']:>8.0f} {t['peak_rss_mb']:>8.0f} "
              f"{n['peak_rss_mb'] / t['peak_rss_mb']:>9.2f}")
    print("ratio = nabla s/epoch / PyTorch s/epoch (below 1: nabla is faster); "
          "mem ratio = nabla peak MB / PyTorch peak MB")
    print("nabla holds the images as bytes + a Rescaling layer (as `nabla train`), PyTorch as f32;")
    print("nabla with f32 images, as PyTorch:")
    for name, _, _, t, f in rows:
        print(f"  {name}: {f['s_per_epoch']:.3f} s/epoch [{f['threads']}] "
              f"(ratio {f['s_per_epoch'] / t['s_per_epoch']:.2f}), test acc "
              f"{f['test_accuracy']:.4f}, peak {f['peak_rss_mb']:.0f} MB "
              f"(mem ratio {f['peak_rss_mb'] / t['peak_rss_mb']:.2f})")

    if args.out:
        with open(args.out, "w") as f:
            json.dump({"runs": runs, "versus": [
                {"workload": name, "epochs": e, "nabla": n, "pytorch": t, "nabla_f32": f32}
                for name, e, n, t, f32 in rows]}, f, indent=1)


if __name__ == "__main__":
    main()
