#!/usr/bin/env python3
"""Side-by-side: word2vec on the King James Bible in nabla and in fastText, on this machine, now.

Both train skip-gram with negative sampling on the same words, with the same settings: dimension
100, window 5, 5 negatives, 5 epochs, min count 5, subsampling 1e-4, lr 0.05 decaying linearly,
2 threads (Hogwild), no subwords (fastText's -minn 0 -maxn 0, so it is word2vec). nabla reads the
KJV and tokenizes it itself (lowercase, runs of letters and apostrophes); fastText reads the same
words, written one verse a line by this script, and the vocabularies are checked to match.
Compared, medians of `--repeats` runs alternating the two: words per second of the whole command
(corpus words x epochs / wall seconds: reading, training and writing the vectors), words per second
of training alone as each reports it, and the word-pair mean rank of the vectors (the word2vec
task's judged figure, computed for both by `nabla embed --score`; lower is better). Standard
library only; fastText is Debian's `fasttext` package (scripts/install-deps.sh with
NABLA_WITH_BENCH=1).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

EPOCHS = 5


def corpus_path(explicit):
    if explicit:
        return explicit
    folder = os.environ.get("NABLA_DATA_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nabla")
    return os.path.join(folder, "kjv.txt")


def write_words(source, target):
    """nabla's tokenization (word2vec::tokenize), one line per line; returns the word count."""
    words = 0
    with open(source, encoding="utf-8", errors="replace") as f, open(target, "w") as out:
        for line in f:
            tokens = [t.strip("'").lower() for t in re.findall(r"[A-Za-z']+", line)]
            tokens = [t for t in tokens if t]
            words += len(tokens)
            out.write(" ".join(tokens) + "\n")
    return words


def timed(command):
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"word2vec bench: {' '.join(command)} failed ({done.returncode}):\n"
                 f"{done.stderr[-2000:]}")
    return wall, done.stdout, done.stderr


def mean_rank(nabla, vectors):
    _, out, _ = timed([nabla, "embed", "--vectors", vectors, "--score"])
    match = re.search(r"Word-pair mean rank: ([0-9.]+) \((\d+) of", out)
    if not match:
        sys.exit(f"word2vec bench: no score in: {out}")
    return float(match.group(1)), int(match.group(2))


def run_nabla(nabla, corpus, out, threads, seed):
    # --data takes the folder; the preset reads kjv.txt there.
    wall, stdout, _ = timed([nabla, "train", "--model", "word2vec", "--data",
                             os.path.dirname(os.path.abspath(corpus)), "--threads",
                             str(threads), "--seed", str(seed), "--json", "--out", out])
    figures = json.loads(stdout.strip().splitlines()[-1])["figures"]
    rank, pairs = mean_rank(nabla, os.path.join(out, "vectors.txt"))
    return {"wall_s": wall, "train_words_per_s": figures["words_per_second"],
            "vocabulary": int(figures["vocabulary_size"]), "mean_rank": rank, "pairs": pairs}


def run_fasttext(fasttext, nabla, words_file, out, threads, seed):
    command = [fasttext, "skipgram", "-input", words_file, "-output", out, "-dim", "100",
               "-ws", "5", "-neg", "5", "-epoch", str(EPOCHS), "-minCount", "5", "-thread",
               str(threads), "-minn", "0", "-maxn", "0", "-t", "1e-4", "-lr", "0.05",
               "-verbose", "2"]
    command += ["-seed", str(seed)]
    wall, stdout, stderr = timed(command)
    log = (stdout + stderr).replace("\r", "\n")
    rates = re.findall(r"words/sec/thread:\s*([0-9]+)", log)
    vocabulary = re.search(r"Number of words:\s*([0-9]+)", log)
    rank, pairs = mean_rank(nabla, out + ".vec")
    return {"wall_s": wall,
            "train_words_per_s": float(rates[-1]) * threads if rates else float("nan"),
            # fastText counts its end-of-line token </s> as a word.
            "vocabulary": int(vocabulary.group(1)) - 1 if vocabulary else -1,
            "mean_rank": rank, "pairs": pairs}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="nabla's build folder")
    parser.add_argument("--corpus", default="", help="the KJV text (default: prepare-corpora's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="also write all results as JSON here")
    args = parser.parse_args()

    nabla = os.path.join(args.build, "nabla")
    fasttext = shutil.which("fasttext")
    if not os.access(nabla, os.X_OK):
        sys.exit(f"word2vec bench: {nabla} not found; build it first (make bench)")
    if not fasttext:
        sys.exit("word2vec bench: fasttext not found; NABLA_WITH_BENCH=1 scripts/install-deps.sh "
                 "installs Debian's fasttext")
    corpus = corpus_path(args.corpus)
    if not os.path.exists(corpus) or os.path.basename(corpus) != "kjv.txt":
        sys.exit(f"word2vec bench: {corpus} not found (or not named kjv.txt, the file the "
                 "word2vec preset reads); run scripts/prepare-corpora.sh")

    runs = {"nabla": [], "fasttext": []}
    with tempfile.TemporaryDirectory(prefix="nabla-w2v-bench-") as tmp:
        words_file = os.path.join(tmp, "kjv-words.txt")
        words = write_words(corpus, words_file)
        for repeat in range(args.repeats):
            runs["nabla"].append(run_nabla(nabla, corpus, os.path.join(tmp, "nabla"),
                                           args.threads, repeat))
            runs["fasttext"].append(run_fasttext(fasttext, nabla, words_file,
                                                 os.path.join(tmp, "fasttext"), args.threads,
                                                 repeat))
    for tool in runs:
        for run in runs[tool]:
            run["words_per_s"] = words * EPOCHS / run["wall_s"]
    if runs["nabla"][0]["vocabulary"] != runs["fasttext"][0]["vocabulary"]:
        print(f"word2vec bench: warning: the vocabularies differ (nabla "
              f"{runs['nabla'][0]['vocabulary']}, fastText {runs['fasttext'][0]['vocabulary']})")

    def median(tool, key):
        return statistics.median(run[key] for run in runs[tool])

    print(f"KJV: {words} words, vocabulary {runs['nabla'][0]['vocabulary']} (min count 5); "
          f"skip-gram, dim 100, window 5, 5 negatives, {EPOCHS} epochs, {args.threads} threads; "
          f"medians of {args.repeats} runs")
    print(f"{'':10} {'words/s (whole command)':>24} {'words/s (training)':>19} "
          f"{'wall s':>7} {'word-pair mean rank':>20}")
    for tool, label in (("nabla", "nabla"), ("fasttext", "fastText")):
        print(f"{label:10} {median(tool, 'words_per_s'):>24,.0f} "
              f"{median(tool, 'train_words_per_s'):>19,.0f} {median(tool, 'wall_s'):>7.2f} "
              f"{median(tool, 'mean_rank'):>20.1f}")
    speed = median("nabla", "words_per_s") / median("fasttext", "words_per_s")
    quality = median("nabla", "mean_rank") / median("fasttext", "mean_rank")
    print(f"nabla / fastText: {speed:.2f}x the words per second; mean rank {quality:.2f}x "
          f"fastText's (below 1 is better, 1.10 the bar)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"words": words, "threads": args.threads, "runs": runs,
                       "speed_ratio": speed, "mean_rank_ratio": quality}, f, indent=2)


if __name__ == "__main__":
    main()
