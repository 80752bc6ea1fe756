#!/usr/bin/env python3
"""Side-by-side inference: nabla's Model::predict against PyTorch in torch.inference_mode(), fp32 and int8.

The MLP and the CNN of the training comparison (workloads.hpp, train.py), each trained one epoch,
then timed on the Fashion-MNIST test images at batch 1 (one call per image, the first 2000) and
batch 256 (the whole test set), in fp32 and after post-training int8 quantization calibrated on
2048 training images: nabla's quantize_int8 (nabla_predict_compare, bench/compare/predict.cpp)
against PyTorch's FX static quantization on its 'onednn' engine (bench/compare/predict.py). Both
sides take f32 images in [0, 1].

Each configuration (side, model, thread count) runs --repeats times (default 3), one process per
run, interleaved; a run's figure is the median of 3 timed passes after an untimed one; a
configuration's is the median of its runs with their range. Each side's best thread count is
picked per model, batch size and precision. PyTorch runs in compare.py's environment (its best
found here). --markdown FILE writes the tables with the machine and software.
"""
import argparse
import datetime
import os
import statistics
import sys

import compare

HERE = os.path.dirname(os.path.abspath(__file__))
SIDES = ("nabla", "torch")
BATCHES = ("1", "256")
PRECISIONS = ("fp32", "int8")


def command(args, side, model, threads):
    common = ["--model", model, "--threads", str(threads)] + (
        ["--data", args.data] if args.data else [])
    if side == "nabla":
        return [os.path.join(args.build, "bench", "nabla_predict_compare")] + common, dict(
            os.environ)
    return [args.python, os.path.join(HERE, "predict.py")] + common, compare.pytorch_env()


def run_all(args, configs):
    results = {c: [] for c in configs}
    total, done = len(configs) * args.repeats, 0
    for repeat in range(args.repeats):
        for config in configs:
            done += 1
            side, model, threads = config
            print(f"inference: [{done}/{total}] {side} {model}, {threads} thread(s), run "
                  f"{repeat + 1} ...", file=sys.stderr, flush=True)
            results[config].append(compare.run_json(*command(args, *config)))
    return results


def best(results, side, model, precision, batch, threads_list):
    """The thread count with the highest median images/s, and its figures."""
    options = []
    for threads in threads_list:
        runs = results.get((side, model, threads), [])
        if runs:
            rate = compare.spread([r[precision]["images_per_s"][batch] for r in runs])
            accuracy = statistics.median(r[precision]["test_accuracy"] for r in runs)
            options.append((rate["median"], threads, rate, accuracy))
    return max(options) if options else None


def table(results, models, threads_list):
    rows = [["workload", "precision", "nabla images/s [threads]", "PyTorch images/s [threads]",
             "nabla / PyTorch", "nabla acc", "PyTorch acc"]]
    for model in models:
        for batch in BATCHES:
            for precision in PRECISIONS:
                n = best(results, "nabla", model, precision, batch, threads_list)
                t = best(results, "torch", model, precision, batch, threads_list)
                if not n or not t:
                    continue
                rows.append([f"{model} batch {batch}", precision,
                             f"{compare.fmt_spread(n[2], 0)} [{n[1]}]",
                             f"{compare.fmt_spread(t[2], 0)} [{t[1]}]",
                             f"{n[0] / t[0]:.2f}x", f"{n[3]:.4f}", f"{t[3]:.4f}"])
    return rows


def int8_table(results, models, threads_list):
    """Each side's int8 against its own fp32."""
    rows = [["workload", "nabla int8 / fp32", "PyTorch int8 / fp32", "nabla acc fp32 -> int8",
             "PyTorch acc fp32 -> int8"]]
    for model in models:
        for batch in BATCHES:
            cells = [f"{model} batch {batch}"]
            accuracy = []
            for side in SIDES:
                f = best(results, side, model, "fp32", batch, threads_list)
                q = best(results, side, model, "int8", batch, threads_list)
                cells.append(f"{q[0] / f[0]:.2f}x")
                accuracy.append(f"{f[3]:.4f} -> {q[3]:.4f}")
            rows.append(cells + accuracy)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="nabla's build folder")
    parser.add_argument("--python", default=sys.executable, help="a python3 with torch")
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default="", help="folder of the four IDX files")
    parser.add_argument("--markdown", help="also write the tables as markdown here")
    args = parser.parse_args()
    exe = os.path.join(args.build, "bench", "nabla_predict_compare")
    if not os.access(exe, os.X_OK):
        sys.exit(f"inference: {exe} not found; build it first (make bench)")

    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = compare.load_average()
    machine = compare.machine_info()
    nabla = compare.nabla_version(args.build)
    pt = compare.probe_pytorch(args.python)
    configs = [(side, model, threads) for model in args.models for threads in args.threads
               for side in SIDES]
    results = run_all(args, configs)
    load_end = compare.load_average()

    main_rows = table(results, args.models, args.threads)
    int8_rows = int8_table(results, args.models, args.threads)
    explain = (f"images/s: median of {args.repeats} run(s) (min-max), each run's figure the "
               "median of 3 timed passes; [threads]: the side's best thread count for that row; "
               "batch 1: one call per image over the first 2000 test images, batch 256: the "
               "10000 test images; acc: test accuracy of the model timed (trained one epoch; "
               "int8 calibrated on 2048 training images).")
    print(f"\n{machine['cpu']}, {machine['cores']} cores; load average {load_start:.2f} at start, "
          f"{load_end:.2f} at end; nabla {nabla['commit']}, PyTorch {pt['torch']}")
    compare.print_table(main_rows)
    print()
    compare.print_table(int8_rows)
    print(explain)
    if args.markdown:
        lines = [
            f"## Inference: nabla vs PyTorch on Fashion-MNIST ({started:%Y-%m-%d %H:%M} UTC)", "",
            f"- Machine: {machine['cpu']}, {machine['cores']} cores, flags: "
            f"{', '.join(machine['flags'])}; load average {load_start:.2f} at start, "
            f"{load_end:.2f} at end.",
            f"- nabla {nabla['commit']}, {nabla['compiler']}; PyTorch {pt['torch']} (int8: FX "
            "post-training static quantization, 'onednn' engine, its default qconfig mapping).",
            f"- Command: `{' '.join([os.path.basename(sys.argv[0])] + sys.argv[1:])}`", "",
            "### Throughput", "", compare.markdown_table(main_rows), "",
            "### int8 against fp32, each side", "", compare.markdown_table(int8_rows), "",
            explain, ""]
        tmp = args.markdown + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines))
        os.replace(tmp, args.markdown)


if __name__ == "__main__":
    main()
