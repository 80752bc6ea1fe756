"""Shared by the generators of PyTorch reference data (tests/reference/gen_*.py): tensors as JSON,
and writing tests/reference/data/<name>.json with the PyTorch version that produced it.

A tensor is {"shape": [...], "dtype": "f32"|"f64"|"i64"|"bool", "data": [...]} (row-major), the
format tests/support/reference.cpp reads. A data file is an object of named cases plus
"__meta__": {"torch": <torch.__version__>, "generator": <script>}, which the C++ reader skips.
The layout of a case that tests/support/op_test.hpp replays is described there.
"""
import json
import os
import sys

import numpy as np
import torch

DTYPES = {torch.float32: "f32", torch.float64: "f64", torch.int64: "i64", torch.bool: "bool"}
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def tensor(t, digits=None):
    """`t` as JSON. Floats are exact (f32 in the shortest decimal that reads back as the same
    float32, f64 as Python's repr) unless `digits` rounds them to that many significant digits,
    to keep a file small where no test needs more."""
    t = t.detach()
    values = t.reshape(-1).tolist()
    if digits is not None and t.is_floating_point():
        values = [float(f"{v:.{digits}g}") for v in values]
    elif t.dtype == torch.float32:
        values = [float(repr(np.float32(v))) for v in values]
    return {"shape": list(t.shape), "dtype": DTYPES[t.dtype], "data": values}


def write(name, cases):
    """Writes data/<name>.json: the cases after a "__meta__" entry naming the PyTorch version."""
    generator = os.path.basename(sys.argv[0])
    data = {"__meta__": {"torch": torch.__version__, "generator": generator}}
    data.update(cases)
    path = os.path.join(DATA_DIR, name + ".json")
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    print(f"wrote {len(cases)} entries to {path} ({os.path.getsize(path)} bytes)")
