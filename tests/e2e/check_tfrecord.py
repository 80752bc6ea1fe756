#!/usr/bin/env python3
"""Usage: check_tfrecord.py PATH...
Checks TFRecord files (a folder: its *.tfrecord and *.tfrecord.gz files) independently of nabla,
with nothing but Python's standard library: gzip-compressed files are decompressed by Python's
gzip, every record's length and data are checked against their masked CRC-32C (a CRC written
here), and every record is walked as a tf.train.Example in protobuf's wire format
(Example.features = 1, Features.feature = 1: map entries of key = 1 and Feature = 2). Prints
"FILE: N records, features a, b, c" per file and "checked N records in M files"; exits 1 with
the file, record and what is wrong otherwise.
"""
import gzip
import os
import struct
import sys


def crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


CRC_TABLE = crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), a byte at a time."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(data, at):
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("bad varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def fields(data):
    """(field number, wire type, value bytes or int) of a message, checking every length."""
    at, out = 0, []
    while at < len(data):
        key, at = varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 2:
            length, at = varint(data, at)
            value, at = data[at:at + length], at + length
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        else:
            raise ValueError(f"wire type {wire}")
        if at > len(data):
            raise ValueError("field runs past the message")
        out.append((number, wire, value))
    return out


def feature_names(record):
    names = []
    for number, wire, features in fields(record):
        if number != 1 or wire != 2:
            raise ValueError(f"Example field {number} (wire {wire})")
        for number2, wire2, entry in fields(features):
            if number2 != 1 or wire2 != 2:
                raise ValueError(f"Features field {number2}")
            entry_fields = dict((n, v) for n, _, v in fields(entry))
            fields(entry_fields.get(2, b""))  # the Feature: a oneof of the three lists
            names.append(entry_fields.get(1, b"").decode("utf-8"))
    return sorted(names)


def check(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    at, count, names = 0, 0, set()
    while at < len(data):
        where = f"{path}: record {count} (byte offset {at})"
        if len(data) - at < 12:
            sys.exit(f"{where}: truncated header")
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        if masked(crc32c(header)) != length_crc:
            sys.exit(f"{where}: the CRC of the length does not match")
        record = data[at + 12:at + 12 + length]
        if len(record) != length or len(data) < at + 16 + length:
            sys.exit(f"{where}: truncated data")
        (data_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        if masked(crc32c(record)) != data_crc:
            sys.exit(f"{where}: the CRC of the data does not match")
        try:
            names.update(feature_names(record))
        except (ValueError, UnicodeDecodeError) as e:
            sys.exit(f"{where}: not a tf.train.Example: {e}")
        at += 16 + length
        count += 1
    print(f"{path}: {count} records, features {', '.join(sorted(names))}")
    return count


files = []
for arg in sys.argv[1:]:
    if os.path.isdir(arg):
        files += sorted(os.path.join(arg, n) for n in os.listdir(arg)
                        if n.endswith(".tfrecord") or n.endswith(".tfrecord.gz"))
    else:
        files.append(arg)
if not files:
    sys.exit("check_tfrecord.py: no TFRecord files given")
total = sum(check(f) for f in files)
print(f"checked {total} records in {len(files)} files")
