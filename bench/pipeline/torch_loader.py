#!/usr/bin/env python3
"""The PyTorch peer of `nabla_pipeline_bench throughput`: PyTorch's DataLoader over the same PNG
files (DIR/train/CLASS/*.png), decoded by PIL (Debian's python3-pil), randomly cropped with
4 pixels of zero padding and flipped left-right with probability 0.5 (torchvision's
RandomCrop(size, padding=4) and RandomHorizontalFlip, written with numpy since torchvision is not
packaged here), as uint8 [C, H, W] tensors, batched by the default collate.

Usage: torch_loader.py DIR WORKERS BATCH REPEATS. Prints one JSON object.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch
from PIL import Image


class PngFolder(torch.utils.data.Dataset):
    def __init__(self, root):
        classes = sorted(os.listdir(root))
        self.items = []
        for label, name in enumerate(classes):
            folder = os.path.join(root, name)
            for file in sorted(os.listdir(folder)):
                self.items.append((os.path.join(folder, file), label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        path, label = self.items[index]
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB" if image.mode != "L" else "L"))
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        height, width = pixels.shape[:2]
        padded = np.pad(pixels, ((4, 4), (4, 4), (0, 0)))
        top = int(torch.randint(0, 9, (1,)))
        left = int(torch.randint(0, 9, (1,)))
        crop = padded[top:top + height, left:left + width]
        if torch.rand(1).item() < 0.5:
            crop = crop[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))), label


def main():
    root, workers, batch, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.manual_seed(1)
    torch.set_num_threads(1)  # the work is in the loader; no intra-op threads to compete with
    dataset = PngFolder(os.path.join(root, "train"))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch, shuffle=False, num_workers=workers,
        prefetch_factor=2)
    rates = []
    images = 0
    for _ in range(repeats):
        start = time.perf_counter()
        images = 0
        for inputs, _labels in loader:
            images += inputs.shape[0]
        rates.append(images / (time.perf_counter() - start))
    print(json.dumps({"side": "pytorch", "workers": workers, "batch": batch, "images": images,
                      "images_per_s": [round(r, 1) for r in rates],
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                            / 1024, 1)}))


if __name__ == "__main__":
    main()
