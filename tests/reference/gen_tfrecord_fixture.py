#!/usr/bin/python3
"""A TFRecord fixture written independently of nabla: tf.train.Example records encoded by
Debian's python3-protobuf (classes compiled by protoc from src/data/tf_example.proto, whose
field numbers are TensorFlow's), framed with Python's struct and a bitwise CRC-32C written here
(not nabla's table-driven one), the second file gzip-compressed by Python's gzip module.

Run by hand: /usr/bin/python3 tests/reference/gen_tfrecord_fixture.py
Writes tests/reference/data/tfrecord/examples.tfrecord, examples.tfrecord.gz (the same records)
and examples.json (what each record holds, for the C++ test to compare with). Deterministic.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import google.protobuf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "data", "tfrecord")

with tempfile.TemporaryDirectory() as build:
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "src", "data"), "--python_out", build,
                    "tf_example.proto"], check=True)
    sys.path.insert(0, build)
    import tf_example_pb2 as pb


def crc32c(data):
    """Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record):
    length = struct.pack("<Q", len(record))
    return (length + struct.pack("<I", masked(crc32c(length))) + record +
            struct.pack("<I", masked(crc32c(record))))


# A 2x2 RGB PNG made by hand (zlib + CRC-32 from Python's zlib), so no image library is needed.
def tiny_png():
    import zlib
    raw = b"".join(b"\x00" + bytes(row) for row in
                   [[255, 0, 0, 0, 255, 0], [0, 0, 255, 255, 255, 255]])
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


samples = [
    {"label": [3], "features": [0.5, -1.25, 3.0e-8], "class_name": [b"three"]},
    {"label": [0], "features": [1.0, 2.0, 1e30], "class_name": [b"zero"]},
    {"label": [-7, 9007199254740993], "features": [], "image": [tiny_png()]},
    {"label": [2], "features": [-0.0, 0.1, 65504.0], "class_name": [b"\xc3\xa9t\xc3\xa9"]},
]
records = []
for s in samples:
    example = pb.Example()
    for key, values in s.items():
        feature = example.features.feature[key]
        if key in ("label",):
            feature.int64_list.value.extend(values)
        elif key == "features":
            feature.float_list.value.extend(values)
            if not values:
                feature.float_list.SetInParent()
        else:
            feature.bytes_list.value.extend(values)
    # deterministic: map entries sorted by key, as nabla writes them, so the bytes can be compared.
    records.append(example.SerializeToString(deterministic=True))

os.makedirs(OUT, exist_ok=True)
data = b"".join(frame(r) for r in records)
with open(os.path.join(OUT, "examples.tfrecord"), "wb") as f:
    f.write(data)
with open(os.path.join(OUT, "examples.tfrecord.gz"), "wb") as f:
    f.write(gzip.compress(data, mtime=0))
expected = []
for s in samples:
    entry = {}
    for key, values in s.items():
        if key == "features":
            # Each float as float32 reads it back, bit pattern included.
            entry[key] = [struct.unpack("<I", struct.pack("<f", v))[0] for v in values]
        elif key == "label":
            entry[key] = values
        else:
            entry[key] = [v.hex() for v in values]
    expected.append(entry)
with open(os.path.join(OUT, "examples.json"), "w") as f:
    json.dump({"__meta__": {"protobuf": google.protobuf.__version__,
                            "generator": os.path.basename(__file__)}, "records": expected}, f,
              indent=1)
print(f"wrote {len(records)} records to {OUT}")
