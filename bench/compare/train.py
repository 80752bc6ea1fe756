#!/usr/bin/env python3
"""The side-by-side workloads trained with PyTorch, as the peers of nabla_compare (train.cpp).

mlp: Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10);
cnn: Conv2d(1, 32, 3) -> ReLU -> MaxPool2d(2) -> Conv2d(32, 64, 3) -> ReLU -> MaxPool2d(2) ->
     Flatten -> Linear(1600, 128) -> ReLU -> Linear(128, 10);
lstm: the 28 image rows as a sequence -> nn.LSTM(28, 128) -> last hidden state -> Linear(128, 10)
      (--hidden N: nn.LSTM(28, N));
Adam(lr=1e-3); CrossEntropyLoss (from logits); Fashion-MNIST preloaded in memory as float tensors
in [0, 1], or with --uint8-data as bytes converted to f32 / 255 batch by batch (the representation
nabla's default uses); shuffled batches taken by indexing the preloaded tensors (PyTorch's fastest way: a DataLoader over a TensorDataset collates
sample by sample and is several times slower). Prints one JSON object on stdout: seconds per
epoch (median of the epochs), samples/s, test accuracy after the last epoch and peak RSS.
--limit N trains and tests on the first N samples of each set.

Run it with OPENBLAS_NUM_THREADS=1, MALLOC_MMAP_THRESHOLD_=268435456 and
MALLOC_TRIM_THRESHOLD_=536870912, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
(bench/compare/compare.py does): PyTorch's best configuration here. The script itself sets
torch.set_flush_denormal(True) (nabla flushes denormals), torch.set_num_threads(--threads) and
torch.set_num_interop_threads(1).
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import struct
import time

import numpy as np
import torch

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """Reads an unsigned-byte IDX file, plain or gzip, into a numpy array."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack(">I", raw[:4])[0]
    if magic >> 8 != 0x08:
        raise SystemExit(f"train.py: {path}: not an unsigned-byte IDX file (magic {magic:#x})")
    ndim = magic & 0xFF
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(data_dir, uint8, limit):
    def images(name):
        raw = read_idx(os.path.join(data_dir, name))
        if limit:
            raw = raw[:limit]
        if uint8:
            return torch.from_numpy(raw.copy())  # bytes; scaled per batch by to_input()
        pixels = raw.astype(np.float32)
        pixels /= 255.0  # in place: no second float copy of the data set
        return torch.from_numpy(pixels)

    def labels(name):
        raw = read_idx(os.path.join(data_dir, name))
        return torch.from_numpy((raw[:limit] if limit else raw).astype(np.int64))

    return (images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte"),
            images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte"))


class LSTMClassifier(torch.nn.Module):
    """The 28 image rows as a sequence: nn.LSTM(28, 128), its last hidden state, Linear(128, 10)."""

    def __init__(self, hidden):
        super().__init__()
        self.lstm = torch.nn.LSTM(28, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 10)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "cnn", "lstm"], default="mlp")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--hidden", type=int, default=128, help="the LSTM's hidden size")
    parser.add_argument("--limit", type=int, default=0,
                        help="only the first N samples of the training and test sets")
    parser.add_argument("--uint8-data", action="store_true",
                        help="keep the images as bytes, converted to f32 / 255 per batch")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    flush_denormal = torch.set_flush_denormal(True)  # False where the CPU cannot
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load(args.data, args.uint8_data, args.limit)

    def to_input(batch):
        return batch.float().mul_(1.0 / 255) if args.uint8_data else batch

    nn = torch.nn
    if args.model == "cnn":
        x_train, x_test = x_train.unsqueeze(1), x_test.unsqueeze(1)  # [N, 1, 28, 28]
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    elif args.model == "lstm":
        model = LSTMClassifier(args.hidden)
    else:
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    n = x_train.shape[0]
    epoch_seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n)
        loss_sum = 0.0
        for first in range(0, n, args.batch_size):
            index = order[first:first + args.batch_size]
            inputs, targets = x_train[index], y_train[index]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(to_input(inputs)), targets)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(index)
        epoch_seconds.append(time.perf_counter() - start)

    model.eval()
    with torch.no_grad():
        correct = sum(int((model(to_input(x_test[i:i + 1000])).argmax(1) == y_test[i:i + 1000]).sum())
                      for i in range(0, x_test.shape[0], 1000))

    seconds = statistics.median(epoch_seconds)
    print(json.dumps({
        "framework": "pytorch " + torch.__version__ +
                     (" (images as bytes, f32 per batch)" if args.uint8_data else " (images as f32)"),
        "model": args.model,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "flush_denormal": flush_denormal,
        "hidden": args.hidden,
        "train_size": n,
        "epochs": args.epochs,
        "epoch_seconds": [round(s, 4) for s in epoch_seconds],
        "s_per_epoch": seconds,
        "samples_per_s": n / seconds,
        "test_accuracy": correct / x_test.shape[0],
        "final_loss": loss_sum / n,  # mean training loss of the last epoch
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
