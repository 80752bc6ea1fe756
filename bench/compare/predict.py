#!/usr/bin/env python3
"""Inference throughput of the side-by-side MLP and CNN with PyTorch, the peer of nabla_predict_compare.

The model (train.py's, ending in logits) is first trained one epoch (Adam 1e-3, batch 64, f32 images
in [0, 1]), then, in fp32 under torch.inference_mode() and after PyTorch's FX post-training static
quantization (prepare_fx / calibrate / convert_fx with the default qconfig mapping of the 'onednn'
quantized engine: per-channel int8 weights, u8 activations; calibrated on the first 2048 training
images; 'onednn' is the fastest engine of this build here, measured against 'qnnpack'):
  - its test accuracy on the 10000 test images;
  - images per second at batch 1 (the first --batch1-images test images, one call each) and at
    batch 256 (the whole test set): the median of --passes timed passes after one untimed pass.
Prints one JSON object on stdout. Run it in PyTorch's best environment (bench/compare/compare.py's:
OPENBLAS_NUM_THREADS=1, the malloc thresholds, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset).
"""
import argparse
import json
import statistics
import time

import torch
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

from train import DEFAULT_DATA, load


def network(model):
    nn = torch.nn
    if model == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def accuracy(model, x, y):
    with torch.inference_mode():
        correct = sum(int((model(x[i:i + 256]).argmax(1) == y[i:i + 256]).sum())
                      for i in range(0, x.shape[0], 256))
    return correct / x.shape[0]


def images_per_second(model, x, batch_size, passes):
    def one_pass():
        with torch.inference_mode():
            for i in range(0, x.shape[0], batch_size):
                model(x[i:i + batch_size])

    one_pass()
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        one_pass()
        rates.append(x.shape[0] / (time.perf_counter() - start))
    return statistics.median(rates)


def measure(model, x_test, y_test, args):
    return {"test_accuracy": accuracy(model, x_test, y_test),
            "images_per_s": {"1": images_per_second(model, x_test[:args.batch1_images], 1,
                                                    args.passes),
                             "256": images_per_second(model, x_test, 256, args.passes)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--batch1-images", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--engine", default="onednn", help="PyTorch's quantized engine")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    torch.backends.quantized.engine = args.engine
    x_train, y_train, x_test, y_test = load(args.data, False, 0)
    if args.model == "cnn":
        x_train, x_test = x_train.unsqueeze(1), x_test.unsqueeze(1)
    model = network(args.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    order = torch.randperm(x_train.shape[0])
    for first in range(0, x_train.shape[0], 64):
        index = order[first:first + 64]
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x_train[index]), y_train[index]).backward()
        optimizer.step()
    model.eval()
    fp32 = measure(model, x_test, y_test, args)

    start = time.perf_counter()
    prepared = prepare_fx(model, get_default_qconfig_mapping(args.engine),
                          example_inputs=(x_train[:1],))
    with torch.inference_mode():
        for first in range(0, 2048, 256):
            prepared(x_train[first:first + 256])
    quantized = convert_fx(prepared)
    calibration_seconds = time.perf_counter() - start
    int8 = measure(quantized, x_test, y_test, args)
    print(json.dumps({"framework": f"pytorch {torch.__version__} ({args.engine})",
                      "model": args.model, "threads": torch.get_num_threads(), "fp32": fp32,
                      "int8": int8, "calibration_seconds": round(calibration_seconds, 3)}))


if __name__ == "__main__":
    main()
