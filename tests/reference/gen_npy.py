#!/usr/bin/python3
"""Reference .npy and .npz files written by NumPy, for tests/io/test_npy.cpp.

Run by hand (Debian's python3-numpy): /usr/bin/python3 tests/reference/gen_npy.py
Writes tests/reference/data/npy/: one small file per case (every dtype nabla reads, big-endian
data, Fortran order, a 0-d and an empty array, format versions 2.0 and 3.0, np.savez and
np.savez_compressed) and expected.json, which gives for each file (and each .npz member) the
dtype nabla should make of it, the shape and the values in C order. Deterministic: fixed values,
no random numbers (NumPy dates every .npz entry 1980-01-01), so a rerun writes the same bytes.
The .npz members' local headers carry Zip64 extra fields (np.savez asks zipfile for them).
Unlike the op generators it needs NumPy only, not PyTorch, so it does not use refdata.py.
"""
import io
import json
import os

import numpy as np
from numpy.lib import format as npy_format

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "npy")

# The nabla dtype each NumPy kind of item becomes.
NABLA_DTYPES = {"f2": "f32", "f4": "f32", "f8": "f64", "i1": "i64", "i2": "i64", "i4": "i64",
                "i8": "i64", "u1": "u8", "u2": "i64", "u4": "i64", "b1": "bool"}


def expected(array):
    kind = array.dtype.str[1:]
    values = array.astype(np.float64 if kind[0] == "f" else object).ravel(order="C").tolist()
    return {"dtype": NABLA_DTYPES[kind], "shape": list(array.shape), "values": values}


def arrays():
    f4 = np.array([[1.5, -2.25, 3e-8], [0.0, -0.0, 65504.0]], dtype="<f4")
    return {
        "f4": f4,
        "f8": np.array([np.pi, -1e300, 5e-324], dtype="<f8"),
        "i8": np.array([[np.iinfo(np.int64).min, -1], [0, np.iinfo(np.int64).max]], dtype="<i8"),
        "u1": np.array([[0, 1, 127], [128, 254, 255]], dtype="|u1"),
        "b1": np.array([True, False, False, True, True], dtype="|b1"),
        "i4": np.array([7, -3, 0, np.iinfo(np.int32).min, np.iinfo(np.int32).max], dtype="<i4"),
        "i2": np.array([-32768, 32767, -1], dtype="<i2"),
        "i1": np.array([-128, 127, 0], dtype="|i1"),
        "u2": np.array([0, 65535], dtype="<u2"),
        "u4": np.array([0, 4294967295], dtype="<u4"),
        # 2^-24 is float16's smallest subnormal; 65504 its largest finite value.
        "f2": np.array([1.0, -0.5, 2.0 ** -24, 65504.0, 0.333251953125], dtype="<f2"),
        "f8_big_endian": np.array([[1.0, -2.5], [np.pi, 1e-310]], dtype=">f8"),
        "i4_big_endian": np.array([1, -2, 70000], dtype=">i4"),
        "f2_big_endian": np.array([1.5, -0.25], dtype=">f2"),
        "fortran": np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4)),
        "fortran_i8": np.asfortranarray(np.arange(6, dtype="<i8").reshape(2, 3)),
        "scalar": np.array(2.5, dtype="<f8"),
        "empty": np.zeros((0, 3), dtype="<f4"),
    }


def main():
    os.makedirs(DATA_DIR, exist_ok=True)
    cases = {}
    for name, array in arrays().items():
        np.save(os.path.join(DATA_DIR, name + ".npy"), array)
        cases[name + ".npy"] = expected(array)
    # Versions 2.0 (a 4-byte header length) and 3.0 (a UTF-8 header), which np.save writes only
    # for huge headers, written explicitly.
    for version in [(2, 0), (3, 0)]:
        array = np.array([[1, 2, 3]], dtype="<i8")
        name = f"version{version[0]}.npy"
        buffer = io.BytesIO()
        npy_format.write_array(buffer, array, version=version)
        with open(os.path.join(DATA_DIR, name), "wb") as f:
            f.write(buffer.getvalue())
        cases[name] = expected(array)
    members = {"x": arrays()["f4"], "labels": arrays()["i4"], "mask": arrays()["b1"],
               "scalar": arrays()["scalar"]}
    np.savez(os.path.join(DATA_DIR, "savez.npz"), **members)
    np.savez_compressed(os.path.join(DATA_DIR, "savez_compressed.npz"), **members)
    for name in ["savez.npz", "savez_compressed.npz"]:
        cases[name] = {key: expected(array) for key, array in members.items()}
    # The generator reads everything back through NumPy, so a mistake here cannot pass as data.
    for name, case in cases.items():
        loaded = np.load(os.path.join(DATA_DIR, name))
        if name.endswith(".npz"):
            assert sorted(loaded.files) == sorted(case), name
            for key in case:
                assert expected(loaded[key]) == case[key], (name, key)
        else:
            assert expected(loaded) == case, name
    path = os.path.join(DATA_DIR, "expected.json")
    entries = {"__meta__": {"numpy": np.__version__, "generator": "gen_npy.py"}, **cases}
    with open(path, "w") as f:  # one file per line
        f.write("{\n" + ",\n".join(json.dumps(key) + ": " + json.dumps(value, allow_nan=False)
                                    for key, value in entries.items()) + "\n}\n")
    print(f"wrote {len(cases)} files and {path}")


if __name__ == "__main__":
    main()
