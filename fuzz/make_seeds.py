#!/usr/bin/env python3
"""Writes the committed seed corpora in fuzz/corpus/ (run from anywhere; stdlib only).

Each seed is a small valid input of its reader, so that the fuzzer starts from the formats'
structure rather than from random bytes. The model JSON target also reads models/*.json.
"""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


# ---- IDX: magic 0 0 <type> <rank>, big-endian u32 dims, big-endian values ----
def idx(type_code, fmt, dims, values):
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return header + b"".join(struct.pack(">" + fmt, v) for v in values)


images = idx(0x08, "B", [2, 3, 3], list(range(18)))
put("idx", "u8_images.idx", images)
put("idx", "u8_labels.idx", idx(0x08, "B", [5], [0, 1, 2, 9, 4]))
put("idx", "i8.idx", idx(0x09, "b", [2, 2], [-1, 2, -3, 4]))
put("idx", "i16.idx", idx(0x0B, "h", [3], [-300, 0, 300]))
put("idx", "i32.idx", idx(0x0C, "i", [2, 2], [1, -2, 3, -4]))
put("idx", "f32.idx", idx(0x0D, "f", [2, 2], [0.5, -1.5, 2.0, 1e-3]))
put("idx", "f64.idx", idx(0x0E, "d", [3], [0.25, -2.0, 8.0]))
put("idx", "u8_images.idx.gz", gzip.compress(images, mtime=0))


# ---- images: binary PGM and PNG ----
put("image", "gray.pgm", b"P5\n# a comment\n3 2\n255\n" + bytes([0, 64, 128, 192, 255, 7]))
put("image", "gray16.pgm", b"P5\n2 1\n65535\n" + struct.pack(">HH", 1000, 65535))


def png(width, height, color_type, bit_depth, rows, extra_chunks=()):
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    body = [chunk(b"IHDR", ihdr)] + [chunk(k, v) for k, v in extra_chunks]
    body += [chunk(b"IDAT", zlib.compress(raw)), chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(body)


put("image", "gray8.png", png(3, 2, 0, 8, [bytes([0, 128, 255]), bytes([1, 2, 3])]))
put("image", "gray16.png", png(2, 1, 0, 16, [struct.pack(">HH", 1, 65535)]))
put("image", "rgb8.png", png(2, 2, 2, 8, [bytes(range(6)), bytes(range(6, 12))]))
put("image", "rgba8.png", png(1, 2, 6, 8, [bytes([1, 2, 3, 255]), bytes([4, 5, 6, 0])]))
put("image", "palette.png", png(2, 1, 3, 8, [bytes([0, 1])],
                                [(b"PLTE", bytes([255, 0, 0, 0, 0, 255]))]))
put("image", "gray1.png", png(8, 1, 0, 1, [bytes([0b10110010])]))


# ---- CSV: the first byte picks the options (see fuzz_csv.cpp) ----
put("csv", "header.csv", b"\x00sepal_length,sepal_width,label\n5.1,3.5,0\n4.9,3.0,0\n6.3,2.9,2\n")
put("csv", "no_header.csv", b"\x04" + b"1,2,3\n4,5,6\n\n7,8,9\n")
put("csv", "semicolon_f64.csv", b"\x09a;b\n1e-3;-2.5\n\"3\";4\n")
put("csv", "quoted.csv", b"\x02\"x\",\"y\"\n\"1.5\",\"2\"\r\n3,4\r\n")


# ---- the tokenizer's JSON (data::Tokenizer::to_json) ----
put("tokenizer", "char.json", json.dumps(
    {"level": "char", "lowercase": False, "max_vocab": 0, "min_count": 1,
     "vocabulary": ["<pad>", "<unk>", "e", "t", " ", "\u00e9", "\u4e2d"]}))
put("tokenizer", "word.json", json.dumps(
    {"level": "word", "lowercase": True, "max_vocab": 100, "min_count": 2,
     "vocabulary": ["<pad>", "<unk>", "the", "and", "don't", ".", ","]}))


# ---- safetensors: a plain state dict and a checkpoint with its model spec ----
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in sorted(tensors.items()):
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(values):
    return struct.pack("<%df" % len(values), *values)


put("safetensors", "dtypes.safetensors", safetensors({
    "a": ("F32", [2, 2], f32([1, 2, 3, 4])),
    "b": ("F64", [1], struct.pack("<d", 0.5)),
    "c": ("I64", [2], struct.pack("<qq", -1, 7)),
    "d": ("U8", [3], bytes([0, 1, 255])),
    "e": ("BOOL", [2], bytes([0, 1])),
    "scalar": ("F32", [], f32([3.0])),
}, {"format": "pt"}))
tiny_spec = {"name": "tiny", "input_shape": [4],
             "layers": [{"type": "Dense", "units": 3, "activation": "softmax"}]}
put("safetensors", "checkpoint.safetensors", safetensors({
    "0.weight": ("F32", [3, 4], f32([0.1 * i for i in range(12)])),
    "0.bias": ("F32", [3], f32([0, 0.5, -0.5])),
}, {"format": "pt", "nabla.model_spec": json.dumps(tiny_spec),
    "nabla.class_names": json.dumps(["a", "b", "c"])}))

# A full checkpoint (Model::save_checkpoint) of the same model compiled with Adam: the optimizer's
# state as "optimizer/" tensors and the training state as JSON. Without the checksum that nabla
# writes, so that mutations reach the training state's reader instead of failing the CRC.
trained_spec = dict(tiny_spec, training={
    "optimizer": "adam", "lr": 0.01, "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"], "batch_size": 8, "epochs": 3})
training_state = {
    "version": 1, "epoch": 1, "step": 2, "global_step": 9, "seen": 16, "loss_sum": 17.25,
    "output_sums": [0.0], "metrics": [[[9.0, 16.0]]],
    "history": {"epoch": [0], "logs": {"accuracy": [0.5], "loss": [1.25], "lr": ["nan"]}},
    "generator": [0, 1, 2, 3, 4, 0, 0],
    "callbacks": [{}, {"best": 1.25}]}
put("safetensors", "full_checkpoint.safetensors", safetensors({
    "0.weight": ("F32", [3, 4], f32([0.1 * i for i in range(12)])),
    "0.bias": ("F32", [3], f32([0, 0.5, -0.5])),
    "optimizer/0.exp_avg": ("F32", [3, 4], f32([0.01] * 12)),
    "optimizer/0.exp_avg_sq": ("F32", [3, 4], f32([0.001] * 12)),
    "optimizer/1.exp_avg": ("F32", [3], f32([0.02] * 3)),
    "optimizer/1.exp_avg_sq": ("F32", [3], f32([0.002] * 3)),
    "optimizer/step": ("F64", [], struct.pack("<d", 9.0)),
    "optimizer/lr": ("F64", [], struct.pack("<d", 0.01)),
}, {"format": "pt", "nabla.model_spec": json.dumps(trained_spec),
    "nabla.training_state": json.dumps(training_state)}))


# ---- the JSON model format (models/*.json are read as seeds too) ----
def model(name, spec):
    put("model_json", name + ".json", json.dumps(spec, indent=1))


model("wide_deep", {
    "name": "wide_deep",
    "inputs": [{"name": "wide", "shape": [13]}, {"name": "deep", "shape": [8]}],
    "layers": [
        {"name": "hidden", "type": "Dense", "units": 32, "activation": "relu", "inputs": ["deep"]},
        {"name": "joined", "type": "Concatenate", "inputs": ["wide", "hidden"]},
        {"name": "price", "type": "Dense", "units": 1, "inputs": ["joined"]}],
    "outputs": ["price"],
    "training": {"optimizer": "adam", "lr": 0.01, "loss": "mse", "epochs": 3}})
model("unet", {
    "name": "unet", "inputs": [{"name": "image", "shape": [1, 8, 8]}],
    "layers": [
        {"name": "c1", "type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same",
         "activation": "relu", "inputs": ["image"]},
        {"name": "p1", "type": "MaxPooling2D", "pool_size": 2, "inputs": ["c1"]},
        {"name": "c2", "type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same",
         "inputs": ["p1"]},
        {"name": "u1", "type": "Conv2DTranspose", "filters": 4, "kernel_size": 2, "strides": 2,
         "inputs": ["c2"]},
        {"name": "skip", "type": "Concatenate", "axis": 1, "inputs": ["u1", "c1"]},
        {"name": "mask", "type": "Conv2D", "filters": 1, "kernel_size": 1,
         "activation": "sigmoid", "inputs": ["skip"]}],
    "outputs": ["mask"]})
model("siamese", {
    "name": "siamese", "inputs": [{"name": "a", "shape": [6]}, {"name": "b", "shape": [6]}],
    "layers": [
        {"name": "tower", "type": "Dense", "units": 4, "inputs": ["a"]},
        {"name": "tower_b", "shared": "tower", "inputs": ["b"]},
        {"name": "diff", "type": "Subtract", "inputs": ["tower", "tower_b"]},
        {"name": "score", "type": "Dense", "units": 1, "activation": "sigmoid",
         "inputs": ["diff"]}],
    "outputs": ["score"]})
model("tokens", {
    "name": "tokens", "input_shape": [12], "description": "ids in, classes out",
    "data": {"type": "fortunes", "categories": ["art", "science"], "max_length": 12},
    "layers": [
        {"type": "Embedding", "input_dim": 50, "output_dim": 8, "mask_zero": True},
        {"type": "LSTM", "units": 6, "return_sequences": True},
        {"type": "GlobalAveragePooling1D"},
        {"type": "Dense", "units": 2, "activation": "softmax"}]})
model("small_mlp", {
    "name": "small", "input_shape": [2, 3],
    "training": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 4,
                 "lr_schedule": {"type": "step", "step_size": 2, "gamma": 0.5}},
    "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 5, "activation": "relu"},
               {"type": "Dropout", "rate": 0.2}, {"type": "BatchNormalization"},
               {"type": "Dense", "units": 2}]})


# Every preset (models/*.json), scaled down: the same layer types and sections, but widths of at
# most 16 and images of 12 x 12, so that building one takes milliseconds rather than the seconds
# (at -O0 under ASan) that would leave the fuzzer no time for mutations.
def scaled_down(value, key=None):
    widths = {"units", "filters", "out_channels", "input_dim", "output_dim", "hidden_size",
              "embedding_dim", "dim_feedforward", "growth_rate", "max_vocab"}
    if isinstance(value, dict):
        return {k: scaled_down(v, k) for k, v in value.items() if k != "description"}
    if isinstance(value, list):
        if key in ("input_shape", "shape"):
            return [12 if d in (28, 64, 128) else d for d in value]
        return [scaled_down(v) for v in value]
    if key in widths and isinstance(value, int) and value > 16:
        return 16
    if key == "sequence_length" and value in (64, 128):
        return 12
    if key in ("train_samples", "test_samples") and isinstance(value, int):
        return min(value, 64)
    return value


models_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
for preset in sorted(os.listdir(models_dir)):
    with open(os.path.join(models_dir, preset)) as f:
        model("preset_" + preset[:-len(".json")], scaled_down(json.load(f)))


# ---- the model JSON dictionary: every quoted word of the spec readers (keys, types, values) ----
def write_dictionary():
    import glob
    import re
    io_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "io")
    words = set()
    for path in glob.glob(os.path.join(io_dir, "*spec*.cpp")) + \
            glob.glob(os.path.join(io_dir, "lr_schedule.cpp")):
        with open(path) as f:
            words.update(re.findall(r'"([A-Za-z_0-9]+)"', f.read()))
    lines = ["# Generated by fuzz/make_seeds.py from the quoted words of src/io's spec readers."]
    lines += ['"\\"%s\\""' % w for w in sorted(words)]
    lines += ['"{"', '"}"', '"["', '"]"', '":"', '","', '"true"', '"false"', '"null"', '"-1"',
              '"1e400"', '"0.5"']
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_json.dict"),
              "w") as f:
        f.write("\n".join(lines) + "\n")


write_dictionary()


# ---- TFRecord files of TensorBoard events (protobuf wire format by hand; TensorFlow's numbers) ----
def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def tfrecord(records):
    def masked(data):
        crc = crc32c(data)
        return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)
    out = b""
    for record in records:
        length = struct.pack("<Q", len(record))
        out += length + masked(length) + record + masked(record)
    return out


def varint(n):
    out = b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def field(number, value):  # bytes: length-delimited; int: varint; ("d"|"f", x): fixed64/32
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | (1 if value[0] == "d" else 5)) + struct.pack("<" + value[0],
                                                                              value[1])


def event(step, summary_value=None, file_version=None):
    body = field(1, ("d", 1.7e9 + step)) + field(2, step)
    if file_version is not None:
        body += field(3, file_version.encode())
    if summary_value is not None:
        body += field(5, field(1, summary_value))
    return body


version = event(0, file_version="brain.Event:2")
scalar = event(1, field(1, b"epoch_loss") + field(2, ("f", 0.5)))
histogram = event(1, field(1, b"0.weight/histogram") + field(5, b"".join([
    field(1, ("d", -1.0)), field(2, ("d", 2.0)), field(3, ("d", 3.0)), field(4, ("d", 1.5)),
    field(5, ("d", 5.25)), field(6, struct.pack("<3d", -0.9, 0.5, 2.1)),
    field(7, struct.pack("<3d", 0.0, 2.0, 1.0))])))
image = event(2, field(1, b"samples") + field(4, field(1, 2) + field(2, 3) + field(3, 1) + field(
    4, png(3, 2, 0, 8, [bytes([0, 128, 255]), bytes([10, 20, 30])]))))
text = event(3, field(1, b"notes/text_summary") + field(9, field(1, field(1, b"text"))) + field(
    8, field(1, 7) + field(2, field(2, field(1, 1))) + field(8, b"hello")))
put("tfrecord", "scalars.tfevents", tfrecord([version, scalar]))
put("tfrecord", "histogram_image_text.tfevents", tfrecord([version, histogram, image, text]))
put("tfrecord", "plain_records.tfrecord", tfrecord([b"", b"not an event", b"\x08\x96\x01"]))
