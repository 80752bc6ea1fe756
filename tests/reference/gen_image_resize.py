#!/usr/bin/python3
"""Reference pixels for image folders: PIL's antialiased bilinear resize, its RGB -> L
conversion and its JPEG decoding (Debian's python3-pil, on the same libjpeg-turbo as nabla).

Run by hand: /usr/bin/python3 tests/reference/gen_image_resize.py
Writes tests/reference/data/image_resize.json. Deterministic: a fixed NumPy seed. Each case holds
the input image "x" (u8 values as i64, [H, W] grey or [3, H, W] channels first, as nabla holds
images), and:
  resize/<name>: "height", "width" and "out" = Image.resize((width, height), Image.BILINEAR)
  grey/<name>: "out" = Image.convert("L") of an RGB image
  jpeg/<name>: "bytes" (the JPEG file as hex, written by PIL) and "out" = its decoded pixels
"""
import io
import json
import os

import numpy as np
import PIL
from PIL import Image

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "image_resize.json")
rng = np.random.default_rng(18)


def tensor(a):
    return {"shape": list(a.shape), "dtype": "i64", "data": [int(v) for v in a.reshape(-1)]}


def pil_image(chw):
    """A PIL image from [H, W] or [3, H, W] u8."""
    if chw.ndim == 2:
        return Image.fromarray(chw, "L")
    return Image.fromarray(np.ascontiguousarray(chw.transpose(1, 2, 0)), "RGB")


def chw(image):
    a = np.asarray(image)
    return a if a.ndim == 2 else a.transpose(2, 0, 1)


def smooth_image(channels, height, width):
    """Random but smooth pixels (a gradient plus noise), so that resizing has structure to keep."""
    y, x = np.mgrid[0:height, 0:width]
    base = (x * 255 / max(width - 1, 1) + y * 128 / max(height - 1, 1)) / 1.5
    shape = (height, width) if channels == 1 else (channels, height, width)
    noise = rng.integers(-40, 41, size=shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


cases = {}
for name, (channels, h, w, oh, ow) in {
    "grey_shrink": (1, 13, 17, 5, 7),
    "grey_enlarge": (1, 5, 6, 11, 9),
    "grey_mixed": (1, 12, 5, 4, 9),
    "grey_shrink_by_3": (1, 30, 30, 10, 10),
    "rgb_shrink": (3, 20, 30, 8, 8),
    "rgb_enlarge": (3, 4, 3, 7, 8),
    "rgb_odd_ratio": (3, 33, 47, 14, 19),
    "one_pixel_up": (1, 1, 1, 3, 2),
    "to_one_pixel": (3, 6, 9, 1, 1),
}.items():
    x = smooth_image(channels, h, w)
    out = chw(pil_image(x).resize((ow, oh), Image.BILINEAR))
    cases["resize/" + name] = {"x": tensor(x), "height": oh, "width": ow, "out": tensor(out)}

x = smooth_image(3, 6, 7)
cases["grey/rgb"] = {"x": tensor(x), "out": tensor(chw(pil_image(x).convert("L")))}

for name, channels in {"rgb": 3, "grey": 1}.items():
    x = smooth_image(channels, 12, 10)
    buffer = io.BytesIO()
    pil_image(x).save(buffer, format="JPEG", quality=90)
    decoded = chw(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB" if channels == 3 else "L"))
    cases["jpeg/" + name] = {"bytes": buffer.getvalue().hex(), "out": tensor(decoded)}

data = {"__meta__": {"pil": PIL.__version__, "generator": os.path.basename(__file__)}}
data.update(cases)
with open(DATA, "w") as f:
    json.dump(data, f, separators=(",", ":"))
print(f"wrote {len(cases)} entries to {DATA} ({os.path.getsize(DATA)} bytes)")
