#!/usr/bin/env python3
"""Side-by-side: workloads on Fashion-MNIST in nabla and in PyTorch, on this machine, now.

Workloads: the classic MLP at batch 32 and 256 (5 epochs), the small CNN at batch 64 (2 epochs)
and the LSTM(128) at batch 64 (2 epochs): the same models, optimizer, loss and settings on both
sides (bench/compare/train.cpp, binary nabla_compare, and bench/compare/train.py).

Five sides: two data representations, each on both frameworks, and nabla in bf16:
  nabla-f32  images preloaded as f32 in [0, 1] (nabla_compare --f32-data)
  torch-f32  the same in PyTorch (train.py)
  nabla-u8   images kept as bytes, a Rescaling(1/255) layer first (as `nabla train` runs)
  torch-u8   images kept as bytes, converted to f32 / 255 batch by batch (train.py --uint8-data)
  nabla-bf16 as nabla-f32, in bf16 mixed precision (nabla_compare --precision bf16)
The headline compares nabla-f32 with torch-f32; the second table nabla-u8 with torch-u8; the third
nabla-bf16 with nabla-f32 (bf16's speed-up and accuracy). Every ratio and memory comparison is
between sides with the same representation.

Each configuration (side, workload, thread count) runs --repeats times (default 3), one process per
run, the runs of all configurations interleaved so that a drift of the machine's speed touches all
alike. A run's figure is its s/epoch (the median of its epochs); a configuration's is the median of
its runs, printed with their range (min-max). Each side's best thread count is the one with the
lowest median; ratios are nabla/PyTorch of those medians.

PyTorch's environment is the best one found on this machine: OPENBLAS_NUM_THREADS=1 (OpenBLAS must
not fight torch's OpenMP threads), OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS
autodetects), MALLOC_MMAP_THRESHOLD_=268435456 and MALLOC_TRIM_THRESHOLD_=536870912 (large buffers
reused from the heap, no page faults on fresh ones); train.py sets torch.set_flush_denormal(True)
(nabla flushes denormals), torch.set_num_threads(threads) and torch.set_num_interop_threads(1).
nabla runs in the environment it is given.

The fp32 FMA limit is measured in the same run, before and after the workloads, by nabla_bench's
BM_PeakFma (bench/bench_kernels.cpp; the best of both measurements, since other processes can
only lower it), at 1 and 2 threads. Every workload's achieved GFLOP/s is its FLOPs per epoch
(flops_per_sample below, times the training samples) over its s/epoch, with its share of the limit
at the thread count it ran with.

--scaling adds a scaling table (MLP and CNN at batch 16 to 1024, LSTM hidden 64 to 512 at batch
64; nabla-f32 against torch-f32 at the largest --threads): each point trains a fixed number of
steps (--scaling-steps, on the first steps x batch training samples) for 3 epochs in one process,
the first epoch a warm-up; s/step = the median of the other two epochs / steps. --quick: 4 steps per
point and one run per configuration, to check the harness in minutes, not to measure.
--markdown FILE writes the tables with the machine, date and software versions.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TRAIN_SIZE = 60000
SIDES = ("nabla-f32", "torch-f32", "nabla-u8", "torch-u8", "nabla-bf16")
REPRESENTATION = {
    "nabla-f32": "images preloaded as f32 in [0, 1]",
    "torch-f32": "images preloaded as f32 in [0, 1]",
    "nabla-u8": "images as bytes, Rescaling(1/255) layer first",
    "torch-u8": "images as bytes, converted to f32 / 255 per batch",
    "nabla-bf16": "images preloaded as f32 in [0, 1]; bf16 mixed precision",
}
PYTORCH_ENV = {"OPENBLAS_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "268435456",
               "MALLOC_TRIM_THRESHOLD_": "536870912"}
PYTORCH_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SCALING_BATCHES = (16, 32, 64, 128, 256, 512, 1024)
SCALING_HIDDEN = (64, 128, 256, 512)

FLOP_FORMULA = """\
FLOPs per training step = batch x flops_per_sample; only the matmul and convolution multiply-adds
are counted (2 FLOPs each), elementwise work, pooling, the loss and Adam are not. Per sample:
forward 2 x MACs, weight gradients 2 x MACs, input gradients 2 x MACs of every layer but the first
(whose input is the data, which needs no gradient): 3x forward less the first
layer's input gradient.
  mlp:  MACs 784x128 + 128x10; flops = 6 x MACs - 2 x 784x128
  cnn:  conv1 26x26x32x(1x3x3), conv2 11x11x64x(32x3x3), dense 1600x128, 128x10;
        flops = 6 x MACs - 2 x conv1
  lstm(H): per row 4H x (28 + H) (input and recurrent gate GEMMs), 28 rows, head H x 10;
        flops = 6 x MACs - 2 x 28 x 4H x 28 (the input gradient of the data)
These are the direct algorithms' counts, whatever a side computes: on AVX-512 nabla runs the CNN's
second convolution forward and its weight gradient with Winograd F(4x4, 3x3), which needs 2.25x
fewer multiplies, so its CNN GFLOP/s there are direct-convolution-equivalent, and the share of the
limit is the time against what the direct algorithm would need at the limit, not FMA utilization."""


def flops_per_sample(model, hidden=128):
    """Training FLOPs per sample (see FLOP_FORMULA): forward, weight and input gradients."""
    if model == "mlp":
        first, rest = 784 * 128, 128 * 10
    elif model == "cnn":
        first = 26 * 26 * 32 * (1 * 3 * 3)
        rest = 11 * 11 * 64 * (32 * 3 * 3) + 1600 * 128 + 128 * 10
    elif model == "lstm":
        first = 28 * 4 * hidden * 28  # the input-to-gates GEMM of the 28 rows
        rest = 28 * 4 * hidden * hidden + hidden * 10
    else:
        raise ValueError(model)
    return 6 * (first + rest) - 2 * first


def run_json(command, env):
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"compare: {' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def pytorch_env():
    env = dict(os.environ)
    env.update(PYTORCH_ENV)
    for name in PYTORCH_UNSET:
        env.pop(name, None)
    return env


PROBE = r"""
import json, os, numpy, torch
torch.set_num_interop_threads(1)
torch.ones(64, 64) @ torch.ones(64, 64)  # loads the BLAS library
config = torch.__config__.show()
blas = sorted({os.path.realpath(line.split()[-1]) for line in open("/proc/self/maps")
               if re.search(r"lib(open)?blas|libmkl|blis", line.split()[-1] if line.split() else "")})
print(json.dumps({
    "torch": torch.__version__, "numpy": numpy.__version__,
    "blas_info": (re.search(r"BLAS_INFO=([^,]*)", config) or [None, "?"])[1],
    "cpu_capability": (re.search(r"CPU capability usage: (\S+)", config) or [None, "?"])[1],
    "mkldnn": torch.backends.mkldnn.is_available(), "openmp": torch.backends.openmp.is_available(),
    "mkl": torch.backends.mkl.is_available(), "blas_libraries": blas,
    "flush_denormal": torch.set_flush_denormal(True)}))
"""


def probe_pytorch(python):
    return run_json([python, "-c", "import re\n" + PROBE], pytorch_env())


def measure_fma_limit(bench_exe):
    """GFLOP/s of the fp32 FMA loop by thread count (nabla_bench's BM_PeakFma)."""
    result = subprocess.run([bench_exe, "--benchmark_filter=^BM_PeakFma", "--benchmark_format=json"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"compare: {bench_exe} failed ({result.returncode}):\n{result.stderr}")
    report = json.loads(result.stdout)
    limit = {}
    for b in report["benchmarks"]:
        threads = int(re.search(r"threads:(\d+)", b["run_name"])[1])
        limit[threads] = max(limit.get(threads, 0.0), b["GFLOPs"])
    isa = next((b.get("label", "") for b in report["benchmarks"]), "")
    return limit, isa


def machine_info():
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "?":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16",
              "amx_int8")
    return {"cpu": model, "cores": os.cpu_count(), "flags": [f for f in wanted if f in flags],
            "kernel": platform.release()}


def nabla_version(build):
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "?"
    compiler = "?"
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            cxx = next(line.split("=", 1)[1].strip() for line in f
                       if line.startswith("CMAKE_CXX_COMPILER:"))
        compiler = subprocess.run([cxx, "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0]
    except (OSError, StopIteration, IndexError):
        pass
    return {"commit": commit, "compiler": compiler}


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Harness:
    def __init__(self, args):
        self.args = args
        self.nabla_exe = os.path.join(args.build, "bench", "nabla_compare")
        self.data = ["--data", args.data] if args.data else []

    def command(self, side, model, batch, epochs, threads, hidden, limit):
        size = ["--model", model, "--batch-size", str(batch), "--epochs", str(epochs),
                "--threads", str(threads), "--hidden", str(hidden)] + self.data
        if limit:
            size += ["--limit", str(limit)]
        if side == "nabla-f32":
            return [self.nabla_exe] + size + ["--f32-data"], dict(os.environ)
        if side == "nabla-u8":
            return [self.nabla_exe] + size, dict(os.environ)
        if side == "nabla-bf16":
            return [self.nabla_exe] + size + ["--f32-data", "--precision", "bf16"], dict(os.environ)
        train = [self.args.python, os.path.join(HERE, "train.py")] + size
        return train + (["--uint8-data"] if side == "torch-u8" else []), pytorch_env()

    def run_all(self, configs, repeats, label):
        """Runs every configuration `repeats` times, interleaved; returns {config: [results]}."""
        results = {c: [] for c in configs}
        total = len(configs) * repeats
        done = 0
        for repeat in range(repeats):
            for config in configs:
                done += 1
                side, model, batch, epochs, threads, hidden, limit = config
                what = f"{model} batch {batch}" + (f" hidden {hidden}" if model == "lstm" else "")
                print(f"compare: [{label} {done}/{total}] {side} {what}, {threads} thread(s), "
                      f"run {repeat + 1} ...", file=sys.stderr, flush=True)
                command, env = self.command(*config)
                result = run_json(command, env)
                result["side"] = side
                results[config].append(result)
        return results


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def fmt_spread(s, digits=3):
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def share(gflops, limit, threads):
    return 100 * gflops / limit[threads] if threads in limit else None


def fmt_share(pct):
    return f"{pct:.0f}%" if pct is not None else "n/a"


def summarize_main(results, workloads, threads_list, limit):
    """Per workload and side: the best thread count's figures (medians and ranges)."""
    rows = []
    for model, batch, epochs, hidden in workloads:
        row = {"workload": workload_name(model, batch, hidden), "model": model, "batch": batch,
               "hidden": hidden, "epochs": epochs, "sides": {}}
        for side in SIDES:
            per_threads = {}
            for threads in threads_list:
                runs = [r for c, rs in results.items() for r in rs
                        if c[0] == side and c[1] == model and c[2] == batch and c[4] == threads
                        and c[5] == hidden]
                if not runs:
                    continue
                seconds = spread([r["s_per_epoch"] for r in runs])
                train_size = runs[0]["train_size"]
                gflops = flops_per_sample(model, hidden) * train_size / seconds["median"] / 1e9
                per_threads[threads] = {
                    "threads": threads, "s_per_epoch": seconds, "train_size": train_size,
                    "gflops": gflops, "share_of_limit": share(gflops, limit, threads),
                    "test_accuracy": statistics.median(r["test_accuracy"] for r in runs),
                    "peak_rss_mb": spread([r["peak_rss_mb"] for r in runs]),
                    "representation": REPRESENTATION[side]}
            if per_threads:
                row["sides"][side] = min(per_threads.values(),
                                         key=lambda p: p["s_per_epoch"]["median"])
                row["sides"][side]["by_threads"] = {str(t): p["s_per_epoch"]
                                                    for t, p in per_threads.items()}
        rows.append(row)
    return rows


def workload_name(model, batch, hidden):
    return f"{model}{f'({hidden})' if model == 'lstm' else ''} batch {batch}"


def versus_table(rows, nabla_side, torch_side):
    """Markdown-style table rows (header first) of nabla_side against torch_side."""
    table = [["workload", "epochs", "nabla s/epoch [threads]", "PyTorch s/epoch [threads]",
              "ratio", "nabla GFLOP/s (limit)", "PyTorch GFLOP/s (limit)", "nabla acc",
              "PyTorch acc", "nabla MB", "PyTorch MB", "mem ratio"]]
    for row in rows:
        n, t = row["sides"].get(nabla_side), row["sides"].get(torch_side)
        if not n or not t:
            continue
        table.append([
            row["workload"], str(row["epochs"]),
            f"{fmt_spread(n['s_per_epoch'])} [{n['threads']}]",
            f"{fmt_spread(t['s_per_epoch'])} [{t['threads']}]",
            f"{n['s_per_epoch']['median'] / t['s_per_epoch']['median']:.2f}",
            f"{n['gflops']:.1f} ({fmt_share(n['share_of_limit'])})",
            f"{t['gflops']:.1f} ({fmt_share(t['share_of_limit'])})",
            f"{n['test_accuracy']:.4f}", f"{t['test_accuracy']:.4f}",
            f"{n['peak_rss_mb']['median']:.0f}", f"{t['peak_rss_mb']['median']:.0f}",
            f"{n['peak_rss_mb']['median'] / t['peak_rss_mb']['median']:.2f}"])
    return table


def precision_table(rows):
    """nabla in bf16 mixed precision against nabla in fp32 (both with f32 images)."""
    table = [["workload", "fp32 s/epoch [threads]", "bf16 s/epoch [threads]", "speed-up",
              "fp32 acc", "bf16 acc"]]
    for row in rows:
        f, b = row["sides"].get("nabla-f32"), row["sides"].get("nabla-bf16")
        if not f or not b:
            continue
        table.append([
            row["workload"], f"{fmt_spread(f['s_per_epoch'])} [{f['threads']}]",
            f"{fmt_spread(b['s_per_epoch'])} [{b['threads']}]",
            f"{f['s_per_epoch']['median'] / b['s_per_epoch']['median']:.2f}x",
            f"{f['test_accuracy']:.4f}", f"{b['test_accuracy']:.4f}"])
    return table


def scaling_points(steps):
    points = []
    for model in ("mlp", "cnn"):
        for batch in SCALING_BATCHES:
            points.append((model, batch, 128))
    for hidden in SCALING_HIDDEN:
        points.append(("lstm", 64, hidden))
    return [(model, batch, hidden, min(steps, TRAIN_SIZE // batch))
            for model, batch, hidden in points]


def summarize_scaling(results, points, threads, limit):
    rows = []
    for model, batch, hidden, steps in points:
        row = {"model": model, "batch": batch, "hidden": hidden, "steps": steps, "sides": {}}
        for side in ("nabla-f32", "torch-f32"):
            runs = results[(side, model, batch, 3, threads, hidden, steps * batch)]
            per_step = spread([statistics.median(r["epoch_seconds"][1:]) / steps for r in runs])
            gflops = flops_per_sample(model, hidden) * batch / per_step["median"] / 1e9
            row["sides"][side] = {"s_per_step": per_step, "gflops": gflops,
                                  "share_of_limit": share(gflops, limit, threads)}
        rows.append(row)
    return rows


def scaling_table(rows):
    table = [["workload", "steps", "MFLOP/step", "nabla ms/step", "PyTorch ms/step", "ratio",
              "nabla GFLOP/s (limit)", "PyTorch GFLOP/s (limit)"]]
    for row in rows:
        n, t = row["sides"]["nabla-f32"], row["sides"]["torch-f32"]
        ms = lambda s: {k: (v * 1e3 if k != "values" else v) for k, v in s.items()}
        table.append([
            workload_name(row["model"], row["batch"], row["hidden"]), str(row["steps"]),
            f"{flops_per_sample(row['model'], row['hidden']) * row['batch'] / 1e6:.1f}",
            fmt_spread(ms(n["s_per_step"]), 2), fmt_spread(ms(t["s_per_step"]), 2),
            f"{n['s_per_step']['median'] / t['s_per_step']['median']:.2f}",
            f"{n['gflops']:.1f} ({fmt_share(n['share_of_limit'])})",
            f"{t['gflops']:.1f} ({fmt_share(t['share_of_limit'])})"])
    return table


def print_table(table):
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    line = lambda row: "  ".join(cell.rjust(w) if i else cell.ljust(w)
                                 for i, (cell, w) in enumerate(zip(row, widths)))
    print(line(table[0]))
    print("-" * len(line(table[0])))
    for row in table[1:]:
        print(line(row))


def markdown_table(table):
    lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="nabla's build folder")
    parser.add_argument("--python", default=sys.executable, help="a python3 with torch")
    parser.add_argument("--workloads", nargs="+",
                        default=["mlp:32:5", "mlp:256:5", "cnn:64:2", "lstm:64:2"],
                        help="MODEL:BATCH:EPOCHS[:HIDDEN] items (HIDDEN: the LSTM's, 128)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration")
    parser.add_argument("--sides", nargs="+", default=list(SIDES), choices=SIDES)
    parser.add_argument("--data", default="", help="folder of the four IDX files")
    parser.add_argument("--limit", type=int, default=0,
                        help="train and test on the first N samples only (to check the harness)")
    parser.add_argument("--scaling", action="store_true", help="also the scaling table")
    parser.add_argument("--scaling-only", action="store_true",
                        help="only the scaling table (no workload comparison)")
    parser.add_argument("--scaling-steps", type=int, default=50,
                        help="training steps per epoch at each scaling point")
    parser.add_argument("--quick", action="store_true",
                        help="scaling: 4 steps per point, one run per configuration (a check)")
    parser.add_argument("--out", help="also write all results as JSON here")
    parser.add_argument("--markdown", help="also write the tables as markdown here")
    args = parser.parse_args()

    nabla_exe = os.path.join(args.build, "bench", "nabla_compare")
    bench_exe = os.path.join(args.build, "bench", "nabla_bench")
    for exe in (nabla_exe, bench_exe):
        if not os.access(exe, os.X_OK):
            sys.exit(f"compare: {exe} not found; build it first (make bench)")
    if args.repeats < 1 or args.scaling_steps < 2:
        sys.exit("compare: --repeats must be at least 1 and --scaling-steps at least 2")
    workloads = []
    for item in args.workloads:
        parts = item.split(":")
        if len(parts) not in (3, 4):
            sys.exit(f"compare: expected MODEL:BATCH:EPOCHS[:HIDDEN], got {item}")
        workloads.append((parts[0], int(parts[1]), int(parts[2]),
                          int(parts[3]) if len(parts) == 4 else 128))
    do_main = not args.scaling_only
    do_scaling = args.scaling or args.scaling_only

    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = load_average()
    machine = machine_info()
    software = {"python": platform.python_version(), "nabla": nabla_version(args.build),
                "pytorch": probe_pytorch(args.python)}
    env_shown = {k: v for k, v in PYTORCH_ENV.items()}
    env_shown.update({k: "(unset)" for k in PYTORCH_UNSET})
    nabla_env = {k: v for k, v in os.environ.items()
                 if k.startswith(("NABLA_", "OMP_", "MALLOC_", "OPENBLAS_", "MKL_", "DNNL_"))}

    pt = software["pytorch"]
    print(f"compare: {machine['cpu']}, {machine['cores']} cores, flags {' '.join(machine['flags'])}; "
          f"load average {load_start:.2f} at start"
          + (" (busy: other processes will distort the timings)" if load_start > 0.5 else ""))
    print(f"compare: nabla {software['nabla']['commit']} ({software['nabla']['compiler']}); "
          f"PyTorch {pt['torch']}, numpy {pt['numpy']}, python {software['python']}")
    print(f"compare: PyTorch environment: "
          + " ".join(f"{k}={v}" for k, v in env_shown.items())
          + "; set_flush_denormal(True), set_num_threads(threads), set_num_interop_threads(1)")
    print(f"compare: PyTorch config: BLAS_INFO={pt['blas_info']}, BLAS loaded: "
          f"{', '.join(pt['blas_libraries']) or 'none found'}, CPU capability {pt['cpu_capability']}, "
          f"mkldnn {pt['mkldnn']}, openmp {pt['openmp']}, mkl {pt['mkl']}, "
          f"flush_denormal supported {pt['flush_denormal']}")
    print(f"compare: nabla environment: "
          + (" ".join(f"{k}={v}" for k, v in nabla_env.items()) or "no NABLA_/OMP_/MALLOC_ settings")
          + "; threads set by --threads")
    if args.limit:
        print(f"compare: --limit {args.limit}: a check of the harness on a slice of the data, "
              "not a measurement")

    print("compare: measuring the fp32 FMA limit (nabla_bench BM_PeakFma) ...", file=sys.stderr,
          flush=True)
    limit, isa = measure_fma_limit(bench_exe)
    harness = Harness(args)
    results, scaling_results = {}, {}
    if do_main:
        configs = [(side, model, batch, epochs, threads, hidden, args.limit)
                   for model, batch, epochs, hidden in workloads for threads in args.threads
                   for side in args.sides]
        results = harness.run_all(configs, args.repeats, "workloads")
    scaling_threads = max(args.threads)
    scaling_repeats = 1 if args.quick else args.repeats
    steps = 4 if args.quick else args.scaling_steps
    points = scaling_points(steps)
    if do_scaling:
        configs = [(side, model, batch, 3, scaling_threads, hidden, point_steps * batch)
                   for model, batch, hidden, point_steps in points
                   for side in ("nabla-f32", "torch-f32")]
        scaling_results = harness.run_all(configs, scaling_repeats, "scaling")
    limit_end, _ = measure_fma_limit(bench_exe)
    for threads, gflops in limit_end.items():
        limit[threads] = max(limit.get(threads, 0.0), gflops)
    load_end = load_average()

    print()
    print(f"fp32 FMA limit ({isa}, nabla_bench BM_PeakFma, best of the measurements before and "
          f"after the workloads): "
          + ", ".join(f"{gflops:.1f} GFLOP/s at {threads} thread(s)"
                      for threads, gflops in sorted(limit.items())))
    print(f"load average {load_start:.2f} at start, {load_end:.2f} at end")

    markdown = []
    rows = []
    if do_main:
        print("\nAll runs (s/epoch = median of the epochs of one run):")
        print(f"{'side':9} {'model':5} {'batch':>5} {'hidden':>6} {'threads':>7} {'s/epoch':>8} "
              f"{'samples/s':>10} {'test acc':>8} {'peak MB':>8}  epochs (s)")
        for rs in results.values():
            for r in rs:
                print(f"{r['side']:9} {r['model']:5} {r['batch_size']:>5} {r['hidden']:>6} "
                      f"{r['threads']:>7} {r['s_per_epoch']:>8.3f} {r['samples_per_s']:>10.0f} "
                      f"{r['test_accuracy']:>8.4f} {r['peak_rss_mb']:>8.0f}  "
                      f"{' '.join(f'{s:.3f}' for s in r['epoch_seconds'])}")
        rows = summarize_main(results, workloads, args.threads, limit)
        explain = (f"s/epoch: median of {args.repeats} run(s) (min-max), each run's figure the "
                   "median of its epochs; [threads]: each side's thread count with the lowest "
                   "median; ratio = nabla / PyTorch median (below 1: nabla is faster); GFLOP/s = "
                   "FLOPs per epoch / s per epoch, (limit) its share of the FMA limit at that "
                   "thread count; MB: median peak resident memory; mem ratio = nabla / PyTorch.")
        for nabla_side, torch_side, title in (
                ("nabla-f32", "torch-f32", "Headline: both sides with the images preloaded as f32"),
                ("nabla-u8", "torch-u8", "Both sides with the images kept as bytes (nabla: a "
                 "Rescaling(1/255) layer; PyTorch: converted to f32 / 255 per batch)")):
            if nabla_side not in args.sides or torch_side not in args.sides:
                continue
            table = versus_table(rows, nabla_side, torch_side)
            print(f"\n{title}:")
            print_table(table)
            markdown += [f"### {title}", "", markdown_table(table), ""]
        print(explain)
        markdown += [explain, ""]
        if "nabla-f32" in args.sides and "nabla-bf16" in args.sides:
            title = ("bf16 mixed precision (nabla --precision bf16: products and convolutions in "
                     "bf16 with fp32 accumulation) against fp32, both with f32 images")
            table = precision_table(rows)
            print(f"\n{title}:")
            print_table(table)
            markdown += [f"### {title}", "", markdown_table(table), ""]

    scaling_rows = []
    if do_scaling:
        scaling_rows = summarize_scaling(scaling_results, points, scaling_threads, limit)
        table = scaling_table(scaling_rows)
        how = (f"Scaling, both sides with f32 images, {scaling_threads} thread(s): each point "
               f"trains STEPS steps (min({steps}, 60000 / batch), on the first STEPS x batch "
               f"training samples) for 3 epochs in one process; the first epoch is a warm-up, "
               f"ms/step = the median of the other two / STEPS; median of {scaling_repeats} "
               f"run(s) (min-max). GFLOP/s = FLOPs per step / s per step, (limit) its share of "
               f"the FMA limit at {scaling_threads} thread(s)."
               + (" --quick: a check of the harness, not a measurement." if args.quick else ""))
        print(f"\n{how}")
        print_table(table)
        markdown += ["### Scaling", "", how, "", markdown_table(table), ""]

    print(f"\nFLOPs (bench/compare/compare.py, flops_per_sample):\n{FLOP_FORMULA}")

    if args.markdown:
        flags = ", ".join(machine["flags"])
        head = [
            f"## nabla vs PyTorch on Fashion-MNIST ({started:%Y-%m-%d %H:%M} UTC)", "",
            f"- Machine: {machine['cpu']}, {machine['cores']} cores, flags: {flags}; "
            f"Linux {machine['kernel']}; load average {load_start:.2f} at start, "
            f"{load_end:.2f} at end.",
            f"- fp32 FMA limit ({isa}, nabla_bench BM_PeakFma, measured in this run): "
            + ", ".join(f"{g:.1f} GFLOP/s at {t} thread(s)" for t, g in sorted(limit.items())) + ".",
            f"- nabla {software['nabla']['commit']}, {software['nabla']['compiler']}; PyTorch "
            f"{pt['torch']} (BLAS_INFO={pt['blas_info']}, BLAS loaded: "
            f"{', '.join(pt['blas_libraries']) or 'none found'}, CPU capability "
            f"{pt['cpu_capability']}, mkldnn {pt['mkldnn']}), numpy {pt['numpy']}, "
            f"python {software['python']}.",
            "- PyTorch's environment: " + ", ".join(f"`{k}={v}`" for k, v in env_shown.items())
            + "; `torch.set_flush_denormal(True)`, `torch.set_num_threads(threads)`, "
            "`torch.set_num_interop_threads(1)`. nabla: "
            + (", ".join(f"`{k}={v}`" for k, v in nabla_env.items()) or "no settings")
            + ", threads by `--threads`.",
            f"- Command: `{' '.join([os.path.basename(sys.argv[0])] + sys.argv[1:])}`"
            + (f" (`--limit {args.limit}`: a check on a slice of the data, not a measurement)"
               if args.limit else ""), ""]
        tail = ["FLOPs counted (only matmul and convolution multiply-adds):", "", "```",
                FLOP_FORMULA, "```", ""]
        tmp = args.markdown + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(head + markdown + tail))
        os.replace(tmp, args.markdown)

    if args.out:
        report = {"date": started.isoformat(), "machine": machine, "software": software,
                  "pytorch_env": env_shown, "nabla_env": nabla_env, "load_average":
                  [load_start, load_end], "fma_limit_gflops": {str(t): g for t, g in limit.items()},
                  "fma_isa": isa, "repeats": args.repeats, "limit": args.limit,
                  "runs": [r for rs in results.values() for r in rs], "versus": rows,
                  "scaling": scaling_rows,
                  "scaling_runs": [r for rs in scaling_results.values() for r in rs]}
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
