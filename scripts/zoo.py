#!/usr/bin/env python3
"""The model zoo page: runs the presets with `nabla train --json` and writes docs/model-zoo.md.

Each run's figures, wall time and peak memory go into docs/model-zoo.json (with the command, the
seed, the date and the machine), and the page is drawn from that file and the table below, so it
never drifts from the code: `make zoo` runs every preset (hours on two cores: resnet alone takes
about 37 minutes), `scripts/zoo.py --only mlp,cnn` runs some and keeps the others' rows,
`scripts/zoo.py --render` only redraws the page. Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "docs", "model-zoo.json")
PAGE = os.path.join(ROOT, "docs", "model-zoo.md")

# preset: (data, the figure it is judged by, how it reads, the honest baseline or published level
# beside it, extra arguments). A baseline given as a figure name is computed by the same run.
ZOO = {
    "linear": ("Fashion-MNIST", "test_accuracy", "test accuracy",
               "0.842 (logistic regression, Fashion-MNIST benchmark table)", []),
    "mlp": ("Fashion-MNIST", "test_accuracy", "test accuracy",
            "0.871-0.877 (MLPClassifier, Fashion-MNIST benchmark table)", []),
    "mlp_dropout": ("Fashion-MNIST", "test_accuracy", "test accuracy",
                    "0.871-0.877 (MLPClassifier, Fashion-MNIST benchmark table)", []),
    "lenet": ("Fashion-MNIST", "test_accuracy", "test accuracy",
              "0.876-0.925 (2-conv nets, Fashion-MNIST benchmark table)", []),
    "cnn": ("Fashion-MNIST", "test_accuracy", "test accuracy",
            "0.92-0.93 (2-conv nets with batch norm)", []),
    "resnet": ("Fashion-MNIST", "test_accuracy", "test accuracy", "0.949 (ResNet18)", []),
    "mobilenet": ("Fashion-MNIST", "test_accuracy", "test accuracy",
                  "0.950 (MobileNet with flips)", []),
    "densenet": ("Fashion-MNIST", "test_accuracy", "test accuracy",
                 "0.954 (DenseNet-BC 768K with crops and flips)", []),
    "lstm": ("Fashion-MNIST, rows as steps", "test_accuracy", "test accuracy", "", []),
    "textcnn": ("fortunes by category", "macro_f1", "test macro-F1", "bag_of_words_macro_f1", []),
    "bilstm": ("fortunes by category", "macro_f1", "test macro-F1", "bag_of_words_macro_f1", []),
    "charlm": ("KJV Bible, characters", "bits_per_character", "test bits per character", "", []),
    "seq2seq": ("generated digit strings, reversed", "exact_sequence_accuracy",
                "exact-sequence accuracy", "", []),
    "transformer": ("generated digit strings, reversed", "exact_sequence_accuracy",
                    "exact-sequence accuracy", "", []),
    "autoencoder": ("Fashion-MNIST", "test_reconstruction_mse", "test reconstruction MSE",
                    "pca_reconstruction_mse", []),
    "conv_autoencoder": ("Fashion-MNIST", "test_reconstruction_mse", "test reconstruction MSE",
                         "pca_reconstruction_mse", []),
    "denoising_autoencoder": ("Fashion-MNIST", "test_denoising_mse", "test denoising MSE",
                              "pca_denoising_mse", []),
    "word2vec": ("KJV Bible, words", "word_pair_mean_rank",
                 "word-pair mean rank (lower is better)",
                 "175.1 (fastText skip-gram, same settings, make bench)", []),
    "word2vec_cbow": ("KJV Bible, words", "word_pair_mean_rank",
                      "word-pair mean rank (lower is better)",
                      "175.1 (fastText skip-gram, same settings, make bench)", []),

    "vae": ("Fashion-MNIST", "test_negative_elbo", "test negative ELBO per image (nats)",
            "pixel_bernoulli_nll", ["--threads", "1"]),
    "dcgan": ("Fashion-MNIST", "frechet_distance",
              "Frechet distance of classifier features (generated vs test)",
              "frechet_distance_real", ["--threads", "1", "--out", "runs/dcgan"]),
    "cgan": ("Fashion-MNIST", "class_accuracy",
             "share of generated images classified as the class asked for",
             "0.10 (chance); at least 0.80 asked", ["--threads", "2", "--out", "runs/cgan"]),

    "highway": ("Fashion-MNIST", "test_accuracy", "test accuracy (30 highway layers)",
                "0.877 (the 2-layer mlp preset)", []),
    "plain_deep": ("Fashion-MNIST", "test_accuracy", "test accuracy (30 plain layers)",
                   "0.882 (the highway preset: same depth, width and initialization)", []),
    "hopfield": ("random +-1 patterns in 784 units; 10 binarized Fashion-MNIST images",
                 "hebbian_capacity", "P/N up to which half the patterns are recalled exactly "
                 "(Hebbian, 10% of the bits flipped)",
                 "0.138 (Amit et al. 1985: the Hebbian network's capacity)", []),
    "rbm": ("binarized Fashion-MNIST", "rbm_features_accuracy",
            "softmax classifier on the RBM's hidden features, test accuracy",
            "raw_pixels_accuracy", []),

    "wide_deep": ("Boston house prices (80/20 split by seed)", "test_rmse",
                  "test RMSE in $1000s (lower is better)", "least_squares_rmse",
                  ["--threads", "1"]),
    "wide": ("Boston house prices (80/20 split by seed)", "test_rmse",
             "test RMSE in $1000s, wide part alone", "least_squares_rmse", ["--threads", "1"]),
    "deep": ("Boston house prices (80/20 split by seed)", "test_rmse",
             "test RMSE in $1000s, deep part alone", "least_squares_rmse", ["--threads", "1"]),

    "triplet": ("Fashion-MNIST, test images searched among the training images",
                "test_recall_at_1", "recall@1 (semi-hard triplet loss, 64-d embedding)",
                "pixel_recall_at_1", []),
    "contrastive": ("Fashion-MNIST, test images searched among the training images",
                    "test_recall_at_1", "recall@1 (contrastive loss, Siamese, 64-d embedding)",
                    "pixel_recall_at_1", []),

    "unet": ("64x64 scenes of 1-4 Fashion-MNIST items, 11 pixel classes", "mean_iou",
             "test mean IoU over the 11 classes", "at least 0.80 asked", ["--out", "runs/unet"]),
}
FIGURE_LABELS = {
    "bag_of_words_macro_f1": "bag-of-words softmax classifier",
    "pca_reconstruction_mse": "PCA, same number of components as the code",
    "pca_denoising_mse": "PCA on the same corrupted inputs",
    "pixel_bernoulli_nll": "independent Bernoulli pixels, training pixel means",
    "frechet_distance_real": "real training vs test images",

    "raw_pixels_accuracy": "the same softmax classifier on the binarized pixels",

    "least_squares_rmse": "closed-form linear least squares, same split and features",

    "pixel_recall_at_1": "nearest neighbours on the raw pixels",
}


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def run(nabla, preset, seed):
    args = [nabla, "train", "--model", preset, "--json", "--seed", str(seed)] + ZOO[preset][4]
    # /usr/bin/time reports the peak resident memory (kilobytes) on stderr's last line.
    timed = ["/usr/bin/time", "-f", "%M"] + args
    start = time.monotonic()
    done = subprocess.run(timed, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"zoo: {preset} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    figures = lines[-1]["figures"]
    epochs = [line for line in lines if "epoch" in line]
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return {
        "command": " ".join(["nabla train --model", preset, "--seed", str(seed)] + ZOO[preset][4]),
        "figures": figures,
        "epochs": len(epochs),
        "wall_s": round(wall, 1),
        "peak_mb": round(peak_kb / 1024),
        "seed": seed,
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
    }


def render(results):
    out = [
        "# Model zoo",
        "",
        "Every preset, trained with `nabla train --model NAME` at its defaults (seed 0), judged by "
        "the figure its task reports on the test part, beside an honest baseline computed in the "
        "same run or the level the same architecture is published at. Generated by "
        "`scripts/zoo.py` (`make zoo`) from `docs/model-zoo.json`; do not edit by hand. Wall "
        "time is the whole command (data loading, training, evaluation, baselines); peak memory "
        "is the process's resident maximum.",
        "",
        "| preset | data | judged figure | baseline or published level | epochs | wall time | "
        "peak memory | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    missing = []
    for preset, (data, figure, label, baseline, _) in ZOO.items():
        result = results.get(preset)
        if result is None:
            missing.append(preset)
            continue
        value = result["figures"][figure]
        if baseline in result["figures"]:
            beside = f"{result['figures'][baseline]:.4f} ({FIGURE_LABELS[baseline]})"
        else:
            beside = baseline or "—"
        minutes, seconds = divmod(result["wall_s"], 60)
        wall = f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"
        out.append(f"| `{preset}` | {data} | {label} **{value:.4f}** | {beside} | "
                   f"{result['epochs']} | {wall} | {result['peak_mb']} MB | "
                   f"`{result['command']}` |")
    machines = sorted({r["machine"] for r in results.values()})
    dates = sorted({r["date"] for r in results.values()})
    out += ["", f"Measured on: {'; '.join(machines)} ({', '.join(dates)})."]
    if missing:
        out += ["", "Not run yet (`scripts/zoo.py --only " + ",".join(missing) + "`): " +
                ", ".join(f"`{p}`" for p in missing) + "."]
    return "\n".join(out) + "\n"


def write_atomically(path, text):
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nabla", default=os.path.join(ROOT, "build", "nabla"))
    parser.add_argument("--only", help="comma-separated presets to run (default: all)")
    parser.add_argument("--render", action="store_true", help="redraw the page, run nothing")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    results = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            results = json.load(f)
    if not options.render:
        presets = options.only.split(",") if options.only else list(ZOO)
        unknown = [p for p in presets if p not in ZOO]
        if unknown:
            sys.exit(f"zoo: unknown presets {unknown}; known: {', '.join(ZOO)}")
        for preset in presets:
            print(f"zoo: training {preset} ...", flush=True)
            results[preset] = run(options.nabla, preset, options.seed)
            figure = ZOO[preset][1]
            print(f"zoo: {preset}: {figure} {results[preset]['figures'][figure]:.4f}, "
                  f"{results[preset]['wall_s']} s", flush=True)
            # Saved after each preset, so that a long run interrupted keeps what it measured.
            write_atomically(RESULTS, json.dumps(results, indent=2, sort_keys=True) + "\n")
            write_atomically(PAGE, render(results))
    write_atomically(PAGE, render(results))
    print(f"zoo: wrote {PAGE}")


if __name__ == "__main__":
    main()
