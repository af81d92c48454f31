#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<name>/ (committed; run again
only to change the seeds). Each seed is a small valid input, or a near miss that reaches deep into
the parser; libFuzzer mutates from there. Input layouts are described in each <name>_fuzz.cpp."""
import gzip
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(name, seed, data):
    folder = os.path.join(CORPUS, name)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, seed), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, bytes)."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    body = b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        body += data
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + body


def checkpoint():
    tensors = [("model.fc.weight", "F32", [2, 2], struct.pack("<4f", 0.5, -1.0, 2.0, 0.25)),
               ("model.fc.bias", "F32", [2], struct.pack("<2f", 0.0, 1.0)),
               ("model.bn.num_batches_tracked", "I64", [], struct.pack("<q", 7)),
               ("optim.momentum.fc.weight", "F32", [2, 2], struct.pack("<4f", 0, 0, 0, 0))]
    crc = 0
    for name, _, _, data in tensors:
        crc = zlib.crc32(data, zlib.crc32(name.encode(), crc))
    trainer = {"epoch": 1, "step_in_epoch": 3, "global_step": 13, "epoch_loss_sum": 4.5,
               "epoch_correct": 20, "epoch_seen": 30, "epoch_seconds": 1.5,
               "generator_state": "1 2 3", "schedule_state": "", "history": [
                   {"epoch": 1, "train_loss": 1.0, "train_top1": 0.5, "val_loss": 1.1,
                    "val_top1": 0.4, "val_top5": 0.9, "lr": 0.1, "images_per_s": 100.0,
                    "seconds": 2.0}]}
    metadata = {"format": "crunet-checkpoint", "trainer": json.dumps(trainer),
                "config": "model: tiny\n", "crc32": str(crc)}
    return safetensors(tensors, metadata)


def idx_pair(images, labels, classes=0, gz=False):
    if gz:
        images, labels = gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)
    return bytes([classes]) + struct.pack("<H", len(images)) + images + labels


def idx_images(count, rows, cols):
    return struct.pack(">IIII", 0x803, count, rows, cols) + bytes(range(count * rows * cols))


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def cifar_record(labels, seed):
    return bytes(labels) + bytes((seed + i) % 256 for i in range(3072))


RECORD_MAGIC = 0xCED7230A


def rec_parts(record):
    """A record as dmlc-core's writer lays it out: split at every aligned magic word (dropped)."""
    out, begin = b"", 0

    def part(cflag, end):
        body = record[begin:end]
        return (struct.pack("<II", RECORD_MAGIC, cflag << 29 | len(body)) + body +
                b"\x00" * ((4 - len(body) % 4) % 4))
    for i in range(0, len(record) - 3, 4):
        if struct.unpack_from("<I", record, i)[0] == RECORD_MAGIC:
            out += part(1 if begin == 0 else 2, i)
            begin = i + 4
    return out + part(0 if begin == 0 else 3, len(record))


def image_record(labels, key, image):
    """IRHeader {flag, label, id, id2}, the labels when there are several, the image bytes."""
    if len(labels) == 1:
        return struct.pack("<IfQQ", 0, labels[0], key, 0) + image
    return struct.pack("<IfQQ", len(labels), 0.0, key, 0) + struct.pack("<%df" % len(labels), *labels) + image


def recordio(classes, records, idx=None):
    """Input of fuzz_recordio: classes byte, u16 .idx length, .idx text, .rec bytes."""
    rec, lines = b"", []
    for key, record in enumerate(records):
        lines.append("%d\t%d\n" % (key, len(rec)))
        rec += rec_parts(record)
    text = ("".join(lines) if idx is None else idx).encode()
    return bytes([classes]) + struct.pack("<H", len(text)) + text + rec


def nd_array(shape, values, type_flag=0, version=0xF993FAC9):
    """One NDArray as mx.nd.save writes it (v2: magic, storage 0, ndim, i64 dims, cpu 1/0)."""
    fmt = {0: "f", 1: "d", 2: "e"}[type_flag]
    head = struct.pack("<I", version)
    if version != 0xF993FAC8:
        head += struct.pack("<i", 0)
    head += struct.pack("<I", len(shape)) + struct.pack("<%dq" % len(shape), *shape)
    return head + struct.pack("<iii", 1, 0, type_flag) + struct.pack("<%d%s" % (len(values), fmt), *values)


def nd_list(arrays, names):
    out = struct.pack("<QQQ", 0x112, 0, len(arrays)) + b"".join(arrays)
    out += struct.pack("<Q", len(names))
    for name in names:
        out += struct.pack("<Q", len(name)) + name.encode()
    return out


def main():
    # Seeds are (re)written by name; files named finding_* are inputs that once found a bug, kept
    # as regression seeds, and left alone.

    # safetensors: a weights file, a checkpoint whose CRC verifies, the empty header, near misses.
    write("safetensors", "weights", safetensors(
        [("conv.weight", "F32", [2, 1, 1, 1], struct.pack("<2f", 1.0, 2.0)),
         ("bn.num_batches_tracked", "I64", [], struct.pack("<q", 3)),
         ("half", "F16", [2], b"\x00\x3c\x00\xc0"), ("bf", "BF16", [1], b"\x80\x3f"),
         ("index", "I32", [1, 0], b"")], {"format": "crunet-weights"}))
    write("safetensors", "checkpoint", checkpoint())
    write("safetensors", "empty_header", safetensors([]))
    write("safetensors", "overlap", safetensors(
        [("a", "F32", [1], b"\x00" * 4)]).replace(b"[0,4]", b"[0,8]") + b"\x00" * 4)
    write("safetensors", "truncated", checkpoint()[:-5])
    write("safetensors", "empty_tensor_huge_extents",
          safetensors([("e", "F32", [0, 1 << 62, 1 << 62], b"")]))

    # IDX: a raw and a gzipped pair, labels out of range for the classes asked, counts that differ.
    write("idx", "raw", idx_pair(idx_images(3, 2, 2), idx_labels([0, 1, 2])))
    write("idx", "gzip", idx_pair(idx_images(2, 3, 1), idx_labels([4, 0]), gz=True))
    write("idx", "label_out_of_range", idx_pair(idx_images(2, 1, 1), idx_labels([0, 5]), classes=3))
    write("idx", "count_mismatch", idx_pair(idx_images(2, 1, 1), idx_labels([0, 1, 1])))

    # CIFAR: byte 0 picks CIFAR-10 (0), CIFAR-100 fine (1) or coarse (2).
    write("cifar", "cifar10_two", bytes([0]) + cifar_record([3], 0) + cifar_record([9], 7))
    write("cifar", "cifar100_fine", bytes([1]) + cifar_record([19, 99], 1))
    write("cifar", "cifar100_coarse", bytes([2]) + cifar_record([5, 42], 2))
    write("cifar", "truncated", bytes([0]) + cifar_record([1], 3)[:-1])

    # List files: byte 0 is `classes` (0: inferred).
    write("list_file", "plain", b"\x00" + b"0\t1\tcat/1.jpg\n1\t0\tdog/2.png\n2\t1\t/abs/3.jpg\n")
    write("list_file", "im2rec_floats_crlf", b"\x00" + b"5\t3.000000\ta.jpg\r\n\r\n6\t0.000000\tb.jpg\r\n")
    write("list_file", "classes", b"\x04" + b"0\t3\tx.png\n  \n1\t2\ty.png\n")
    write("list_file", "bad_line", b"\x00" + b"0\t1\n1\t-2\tz.jpg\n2\t1\t2\tw.jpg\n")
    write("list_file", "huge_label", b"\x00" + b"0\t9223372036854775807\ta.jpg\n")

    # RecordIO: MXNet's own small.rec / small.idx (PNG records, a two-part record), a record of
    # three parts, a truncated file, a bad .idx line. Byte 0 is `classes` (0: counted).
    fixtures = os.path.join(ROOT, "tests", "fixtures", "mxnet")
    with open(os.path.join(fixtures, "small.idx"), "rb") as f:
        idx_text = f.read()
    with open(os.path.join(fixtures, "small.rec"), "rb") as f:
        rec_bytes = f.read()
    write("recordio", "mxnet_small", b"\x00" + struct.pack("<H", len(idx_text)) + idx_text + rec_bytes)
    magic = struct.unpack("<f", struct.pack("<I", RECORD_MAGIC))[0]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 9
    write("recordio", "three_parts", recordio(5, [image_record([1.0, magic, magic, 4.0], 0, png),
                                                  image_record([3.0], 1, png)]))
    write("recordio", "truncated", recordio(0, [image_record([2.0], 0, png),
                                                image_record([1.0], 1, png * 4)])[:-9])
    write("recordio", "bad_idx", recordio(0, [image_record([0.0], 0, png)], idx="0\t0\n1\tx\n"))

    # MXNet .params: float32 / float16 / float64 arrays with arg: and aux: names (v2), a v1 and a
    # legacy array, a v3 array of unknown shape, a truncated file.
    write("mxnet_params", "v2_three_types", nd_list(
        [nd_array([2, 1, 1, 1], [1.0, -2.0]), nd_array([3], [0.5, 1.0, 2.0], 2),
         nd_array([1, 2], [3.0, 4.0], 1)],
        ["arg:conv1_x__conv_weight", "arg:fc6_bias", "aux:conv1_x__bn__bn_moving_var"]))
    legacy = struct.pack("<III", 2, 1, 2) + struct.pack("<iii", 1, 0, 0) + struct.pack("<2f", 1, 2)
    write("mxnet_params", "v1_and_legacy", nd_list(
        [nd_array([2], [1.0, 2.0], 0, 0xF993FAC8), legacy], ["arg:a", "aux:b"]))
    write("mxnet_params", "v3_unknown_shape", nd_list(
        [struct.pack("<Iii", 0xF993FACA, 0, -1)], ["arg:x"]))
    write("mxnet_params", "truncated", nd_list([nd_array([4], [1, 2, 3, 4])], ["arg:w"])[:-14])

    # Model specs: zoo files and a small spec.
    for name in ("crunet56", "resnext50_32x4d", "resnet50"):
        with open(os.path.join(ROOT, "configs", "models", name + ".yaml"), "rb") as f:
            write("model_spec", name, f.read())
    write("model_spec", "small", """name: tiny
input: {channels: 1, size: 28}
classes: 10
stem: {type: small, width: 8, stride: 2}
stages:
  - {unit: res, units: 1, width: 16, bottleneck: 8, groups: 2, stride: 1}
  - {unit: cru, units: 2, width: 32, bottleneck: 16, share: 2, groups: 16, stride: 2}
""")

    # Training configs: the main job's, one naming a zoo model with every section, overrides.
    with open(os.path.join(ROOT, "configs", "small", "fashion_crunet.yaml"), "rb") as f:
        write("train_config", "fashion_crunet", f.read())
    write("train_config", "every_key", """model: crunet56
data:
  format: image_folder
  root: /data/imagenet
  train: train
  val: [val]
  classes: 1000
  channels: 3
  cifar100_labels: fine
  batch_size: 32
  eval_batch_size: 0
  workers: 4
  prefetch_batches: 2
  train_limit: 0
  val_limit: 0
  max_bad_fraction: 0.01
  pin_memory: true
  normalize: {mean: [124, 117, 104], scale: 0.0167}
  augment:
    crop: random_area
    area: [0.08, 1]
    aspect: [0.75, 1.333]
    attempts: 10
    pad: 0
    fill: 0
    flip: 0.5
    hsl: {hue: 10, saturation: 20, lightness: 30}
    size: 224
    interpolation: cubic
  eval: {resize: 256, size: 224, interpolation: linear}
optim: {lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.0005, decay: weights_and_gammas}
schedule:
  type: multistep
  warmup_epochs: 1
  warmup_start: 0.1
  step_epochs: 30
  gamma: 0.1
  milestones: [30, 60, 90]
  min_lr: 0
  patience: 2
  threshold: 0.001
train:
  epochs: 100
  accumulate: 1
  seed: 0
  device: cuda:1
  precision: bf16
  threads: 0
  label_smoothing: 0.1
  log_every: 50
  eval_every: 1
  checkpoint_every: 0
  keep_checkpoints: 3
output: {dir: runs/x}
""")
    write("train_config", "overrides", """model: resnet50
data: {format: cifar10, root: /data/cifar}
#set optim.lr=0.05
#set data.augment={crop: pad_random, pad: 4}
#set train.epochs=3
""")
    write("train_config", "mistakes", """model:
  name: t
  classes: 0
  stages: [{unit: cru, units: 3, width: 8, bottleneck: 4, share: 2}]
data: {format: list, root: /x, batch_size: 0, batch_size: 2}
schedule: {type: cosin}
train: {epoks: 1}
""")


if __name__ == "__main__":
    main()
