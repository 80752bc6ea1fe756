#!/usr/bin/env python3
"""Input pipelines side by side: images per second of decode (PNG) + augment (random crop with
padding 4, horizontal flip) + batch, nabla's data::Pipeline (nabla_pipeline_bench throughput)
against PyTorch's DataLoader with PIL decoding (bench/pipeline/torch_loader.py), on the same
files, at the same worker counts; then the cnn preset trained from streamed TFRecord shards (the
share of the training time spent waiting for data, and resident memory along the run).

Usage: compare.py --build BUILD [--images N] [--size S] [--workers 0,1,2] [--records N,...]
                  [--stream-records N,...]
Images are generated once under --work (default BUILD/bench-pipeline). Each pass is one full read
of the images; 3 passes per run; medians with their ranges.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"pipeline bench: {' '.join(command)} failed ({result.returncode}):\n"
                 f"{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--python", default="/usr/bin/python3")
    parser.add_argument("--work", default="")
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--records", default="50000,200000",
                        help="TFRecord data set sizes for the streamed cnn runs ('' for none)")
    parser.add_argument("--stream-records", default="1000000",
                        help="TFRecord data set sizes read through the same pipeline without "
                             "training ('' for none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    bench = os.path.join(args.build, "bench", "nabla_pipeline_bench")
    work = args.work or os.path.join(args.build, "bench-pipeline")
    folder = os.path.join(work, f"png-{args.images}-{args.size}")
    if not os.path.isdir(os.path.join(folder, "train")):
        print(run_json([bench, "generate", folder, str(args.images), str(args.size), "3"]))
    results = {"images": args.images, "size": args.size, "batch": args.batch, "throughput": [],
               "streamed_cnn": [], "streamed_read": []}
    print(f"decode + augment + batch of {args.images} PNG images {args.size}x{args.size} RGB, "
          f"batch {args.batch}: images/s, median of 3 passes [min, max]")
    print(f"{'workers':>7}  {'nabla':>24}  {'PyTorch DataLoader + PIL':>24}  ratio")
    for workers in [int(w) for w in args.workers.split(",")]:
        row = {"workers": workers}
        for side, command in (
                ("nabla", [bench, "throughput", folder, str(workers), str(args.batch), "3"]),
                ("pytorch", [args.python, os.path.join(HERE, "torch_loader.py"), folder,
                             str(workers), str(args.batch), "3"])):
            rates = run_json(command)["images_per_s"]
            row[side] = {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}
        results["throughput"].append(row)
        cells = [f"{row[s]['median']:>8.0f} [{row[s]['min']:.0f}, {row[s]['max']:.0f}]"
                 for s in ("nabla", "pytorch")]
        print(f"{workers:>7}  {cells[0]:>24}  {cells[1]:>24}  "
              f"{row['nabla']['median'] / row['pytorch']['median']:.2f}x")
    for count in [int(n) for n in args.records.split(",") if n]:
        shards = os.path.join(work, f"records-{count}")
        if not os.path.isdir(shards):
            print(run_json([bench, "records", shards, str(count), str(max(1, count // 25000))]))
        run = run_json([bench, "train", shards, "1", str(args.threads), "1"])
        run["records"] = count
        results["streamed_cnn"].append(run)
        trace = run["rss_every_100_batches_mib"]
        print(f"cnn preset, {count} streamed records, 1 epoch, {args.threads} threads, 1 worker: "
              f"{run['seconds']:.0f} s, data wait {100 * run['data_wait_share']:.1f}% of the "
              f"training time, RSS {run['rss_before_fit_mib']:.0f} MiB before the fit, "
              f"{min(trace) if trace else 0:.0f}-{max(trace) if trace else 0:.0f} MiB along it, "
              f"peak {run['peak_rss_mib']:.0f} MiB")
    for count in [int(n) for n in args.stream_records.split(",") if n]:
        shards = os.path.join(work, f"records-{count}")
        if not os.path.isdir(shards):
            print(run_json([bench, "records", shards, str(count), str(max(1, count // 25000))]))
        run = run_json([bench, "stream", shards, "1"])
        run["records"] = count
        results["streamed_read"].append(run)
        trace = run["rss_every_1000_batches_mib"]
        print(f"{count} records streamed without training (interleave, decode, shuffle 10000, "
              f"batch 64, prefetch 2), 1 worker: {run['images_per_s']:.0f} images/s, RSS "
              f"{min(trace) if trace else 0:.0f}-{max(trace) if trace else 0:.0f} MiB every "
              f"1000 batches, peak {run['peak_rss_mib']:.0f} MiB")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
