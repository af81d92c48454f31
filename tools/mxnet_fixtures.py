#!/usr/bin/env python3
"""Fixtures from MXNet itself for crunet's MXNet import tests (tests/models/mxnet_import_test.cpp,
tests/data/recordio_test.cpp). Run by hand; the tests never need Python:

    python3 tools/mxnet_fixtures.py            # makes the venv on first use, then runs in it
    python3 tools/mxnet_fixtures.py --output tests/fixtures/mxnet

It needs PyPI mxnet 1.9.1, which needs an old numpy: the script creates a virtual environment
under /root/.cache/crunet-mxnet (`pip install mxnet==1.9.1 'numpy<1.24'`) and re-runs itself there.

What it writes:
* The CRU-Net symbols of DESIGN.md section 3 built in MXNet, in the naming style of the authors'
  public MXNet code (cypw/DPNs settings/symbol_basic.py: BN_AC_Conv names "<name>__bn__bn_gamma",
  "<name>__conv_weight"; units "conv<block>_x__<unit>_c1x1-a", ...). The names are what
  configs/maps/mxnet_crunet.map maps onto crunet's state-dict names.
* For CRU-Net-56 and CRU-Net-116 at full size: only the names and shapes of every argument and
  auxiliary state (<model>_shapes.txt, from MXNet's infer_shape at 224x224, 1000 classes), so that
  a test checks the name map against the real-size graphs without 100-170 MB of weights.
* For reduced-width variants with the same topology (the same unit counts, strides, share groups
  and unit kinds, widths divided by 16; tests/fixtures/mxnet/<model>_tiny.yaml holds the crunet
  spec): random weights and BN statistics, saved as MXNet checkpoints (<model>_tiny-symbol.json,
  <model>_tiny-0000.params), an input batch and MXNet's eval-mode logits
  (<model>_tiny_golden.safetensors).
* small.rec / small.idx written with mxnet.recordio.MXIndexedRecordIO: PNG images, single and
  multi-label headers, one record whose payload holds the record magic so that MXNet splits it into
  a multi-part record; small_golden.safetensors holds the labels and the decoded pixels.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

VENV = "/root/.cache/crunet-mxnet"


def ensure_venv():
    """Re-runs this script inside the venv with mxnet 1.9.1, creating it the first time."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([python, "-m", "pip", "install", "mxnet==1.9.1", "numpy<1.24"])
    os.execv(python, [python] + sys.argv)


# --- the symbols, in the style of cypw/DPNs settings/symbol_basic.py ------------------------------

def build_symbol(mx, spec):
    """spec: {"stem": width, "stages": [(unit, units, width, bottleneck, groups, share, stride)],
    "classes": n}. Returns the symbol ending in SoftmaxOutput, as the authors' checkpoints do."""
    sym = mx.symbol

    def bn(data, name):
        # The authors' BN: fix_gamma False, default eps (1e-3), momentum 0.9.
        return sym.BatchNorm(data=data, fix_gamma=False, momentum=0.9, name=name + "__bn")

    def bn_ac(data, name):
        return sym.Activation(data=bn(data, name), act_type="relu", name=name + "__relu")

    def conv(data, name, filters, kernel, stride=1, groups=1, weight=None):
        pad = (kernel - 1) // 2
        args = dict(data=data, num_filter=filters, kernel=(kernel, kernel), stride=(stride, stride),
                    pad=(pad, pad), num_group=groups, no_bias=True, name=name + "__conv")
        if weight is not None:
            args["weight"] = weight
        return sym.Convolution(**args)

    def bn_ac_conv(data, name, filters, kernel, stride=1, groups=1, weight=None):
        return conv(bn_ac(data, name + "__bn"), name, filters, kernel, stride, groups, weight)

    def residual_unit(data, name, first, width, bottleneck, groups, stride):
        shortcut = data
        if first:
            shortcut = bn_ac_conv(data, "%s_c1x1-w(s/%d)" % (name, stride), width, 1, stride)
        a = bn_ac_conv(data, name + "_c1x1-a", bottleneck, 1)
        b = bn_ac_conv(a, name + "_c3x3-b", bottleneck, 3, stride, groups)
        c = bn_ac_conv(b, name + "_c1x1-c", width, 1)
        return sym.ElementWiseSum(shortcut, c, name=name + "_sum")

    def collective_unit(data, name, first, width, bottleneck, stride, w1, w3):
        data_o = shortcut = data
        if first:
            wp = sym.Variable(name + "_c1x1-w_weight")
            data_o = bn_ac_conv(data, name + "_c1x1-w(s/1)", width, 1, 1, weight=wp)
            shortcut = data_o
            if stride > 1:
                shortcut = bn_ac_conv(data, "%s_c1x1-w(s/%d)" % (name, stride), width, 1, stride,
                                      weight=wp)
        a = bn_ac_conv(data_o, name + "_c1x1-a", bottleneck, 1, weight=w1)
        b3 = conv(a, name + "_c3x3-b", bottleneck, 3, stride, bottleneck, weight=w3)
        b = bn_ac_conv(b3, name + "_c1x1-b", bottleneck, 1)
        c = bn_ac_conv(b, name + "_c1x1-c", width, 1)
        return sym.ElementWiseSum(shortcut, c, name=name + "_sum")

    x = sym.Variable("data")
    x = sym.Convolution(data=x, num_filter=spec["stem"], kernel=(7, 7), stride=(2, 2), pad=(3, 3),
                        no_bias=True, name="conv1_x_1__conv")
    x = bn_ac(x, "conv1_x_1__relu-sp")
    x = sym.Pooling(data=x, pool_type="max", kernel=(3, 3), stride=(2, 2), pad=(1, 1), name="pool1")
    for s, (unit, units, width, bottleneck, groups, share, stride) in enumerate(spec["stages"]):
        block = s + 2
        w1 = w3 = None
        for u in range(1, units + 1):
            name = "conv%d_x__%d" % (block, u)
            first = u == 1
            unit_stride = stride if first else 1
            if unit == "res":
                x = residual_unit(x, name, first, width, bottleneck, groups, unit_stride)
            else:
                if (u - 1) % share == 0:
                    group = (u - 1) // share + 1
                    w1 = sym.Variable("conv%d_x__share%d_c1x1-a_weight" % (block, group))
                    w3 = sym.Variable("conv%d_x__share%d_c3x3-b_weight" % (block, group))
                x = collective_unit(x, name, first, width, bottleneck, unit_stride, w1, w3)
    x = bn_ac(x, "conv%d_x_x__relu-sp" % (len(spec["stages"]) + 1))
    x = sym.Pooling(data=x, pool_type="avg", global_pool=True, kernel=(1, 1), name="pool5")
    x = sym.Flatten(data=x, name="flatten")
    x = sym.FullyConnected(data=x, num_hidden=spec["classes"], name="fc6")
    return sym.SoftmaxOutput(data=x, name="softmax")


FULL = {
    "crunet56": {"stem": 64, "classes": 1000, "stages": [
        ("res", 3, 256, 128, 32, 0, 1), ("res", 4, 512, 256, 32, 0, 2),
        ("cru", 6, 1024, 640, 640, 6, 2), ("res", 3, 2048, 1024, 32, 0, 2)]},
    "crunet116": {"stem": 64, "classes": 1000, "stages": [
        ("res", 3, 256, 128, 32, 0, 1), ("cru", 6, 512, 352, 352, 6, 2),
        ("cru", 18, 1024, 704, 704, 6, 2), ("res", 3, 2048, 1024, 32, 0, 2)]},
}

# The same topology with widths / 16 (groups 4 for the grouped 3x3 of the residual stages).
TINY = {
    "crunet56": {"stem": 8, "classes": 10, "stages": [
        ("res", 3, 16, 8, 4, 0, 1), ("res", 4, 32, 16, 4, 0, 2),
        ("cru", 6, 64, 40, 40, 6, 2), ("res", 3, 128, 64, 4, 0, 2)]},
    "crunet116": {"stem": 8, "classes": 10, "stages": [
        ("res", 3, 16, 8, 4, 0, 1), ("cru", 6, 32, 22, 22, 6, 2),
        ("cru", 18, 64, 44, 44, 6, 2), ("res", 3, 128, 64, 4, 0, 2)]},
}
TINY_INPUT = 64
TINY_BATCH = 2


def crunet_yaml(name, spec):
    lines = ["# %s with every width / 16: the same units, strides and share groups, written by" % name,
             "# tools/mxnet_fixtures.py beside the MXNet checkpoint of the same topology.",
             "name: %s_tiny" % name,
             "input: {channels: 3, size: %d}" % TINY_INPUT,
             "classes: %d" % spec["classes"],
             "stem: {type: imagenet, width: %d}" % spec["stem"],
             "stages:"]
    for unit, units, width, bottleneck, groups, share, _ in spec["stages"]:
        if unit == "res":
            lines.append("  - {unit: res, units: %d, width: %d, bottleneck: %d, groups: %d}" %
                         (units, width, bottleneck, groups))
        else:
            lines.append("  - {unit: cru, units: %d, width: %d, bottleneck: %d, share: %d}" %
                         (units, width, bottleneck, share))
    return "\n".join(lines) + "\n"


def write_safetensors(path, tensors):
    """tensors: name -> float32 / int64 numpy array. The safetensors layout, by hand."""
    import numpy as np
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        dtype = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}[array.dtype]
        data = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def shapes_file(mx, name, out):
    symbol = build_symbol(mx, FULL[name])
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 224, 224))
    lines = ["# %s at 224x224, 1000 classes: every MXNet argument and auxiliary state with its" % name,
             "# shape, from MXNet 1.9.1's infer_shape (tools/mxnet_fixtures.py)."]
    for arg, shape in zip(symbol.list_arguments(), arg_shapes):
        if arg in ("data", "softmax_label"):
            continue
        lines.append("arg:%s %s" % (arg, "x".join(str(d) for d in shape)))
    for aux, shape in zip(symbol.list_auxiliary_states(), aux_shapes):
        lines.append("aux:%s %s" % (aux, "x".join(str(d) for d in shape)))
    with open(os.path.join(out, name + "_shapes.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def tiny_checkpoint(mx, np, name, out, seed):
    spec = TINY[name]
    symbol = build_symbol(mx, spec)
    shape = (TINY_BATCH, 3, TINY_INPUT, TINY_INPUT)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=shape)
    rng = np.random.RandomState(seed)
    args, aux = {}, {}
    for arg, s in zip(symbol.list_arguments(), arg_shapes):
        if arg in ("data", "softmax_label"):
            continue
        if arg.endswith("_gamma"):
            value = rng.uniform(0.5, 1.5, s)
        elif arg.endswith("_beta") or arg.endswith("_bias"):
            value = rng.normal(0.0, 0.1, s)
        else:  # convolution or fc weight: He-normal over the fan-in
            fan_in = int(np.prod(s[1:]))
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), s)
            if "_c1x1-c__" in arg:  # a residual body's last conv: keeps the sums from growing
                value *= 0.3
        args[arg] = mx.nd.array(value.astype(np.float32))
    for a, s in zip(symbol.list_auxiliary_states(), aux_shapes):
        value = rng.normal(0.0, 0.2, s) if a.endswith("_moving_mean") else rng.uniform(0.5, 2.0, s)
        aux[a] = mx.nd.array(value.astype(np.float32))
    prefix = os.path.join(out, name + "_tiny")
    # What Module.save_checkpoint writes: PREFIX-symbol.json and PREFIX-0000.params.
    mx.model.save_checkpoint(prefix, 0, symbol, args, aux)

    data = rng.normal(0.0, 1.0, shape).astype(np.float32)
    logits_symbol = symbol.get_internals()["fc6_output"]
    bound = dict(args)
    bound["data"] = mx.nd.array(data)
    executor = logits_symbol.bind(mx.cpu(), bound, aux_states=aux, grad_req="null")
    logits = executor.forward(is_train=False)[0].asnumpy()
    write_safetensors(prefix + "_golden.safetensors", {"input": data, "logits": logits})
    with open(prefix + ".yaml", "w") as f:
        f.write(crunet_yaml(name, spec))
    print("%s: %d arrays, logits %s, |logits| max %.3g" %
          (prefix, len(args) + len(aux), logits.shape, np.abs(logits).max()))


def png_bytes(rgb):
    """A plain RGB PNG (filter 0, zlib), written by hand: mxnet's pack_img needs opencv-python."""
    import zlib
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def small_rec(mx, np, out):
    """A few PNG records through MXNet's recordio writer, with the decoded pixels as golden."""
    rng = np.random.RandomState(7)
    prefix = os.path.join(out, "small")
    writer = mx.recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "w")
    labels, images = [], []
    magic = struct.unpack("<f", struct.pack("<I", 0xCED7230A))[0]
    sizes = [(12, 9), (7, 16), (10, 10), (5, 11), (16, 8)]
    for i, (h, w) in enumerate(sizes):
        rgb = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
        label = float(i % 3)
        if i == 2:  # several labels: flag 2; the second float is the record magic, at byte 28
            header = mx.recordio.IRHeader(0, np.array([label, magic], np.float32), i, 0)
        else:
            header = mx.recordio.IRHeader(0, label, i, 0)
        writer.write_idx(i, mx.recordio.pack(header, png_bytes(rgb)))
        labels.append(label)
        images.append(rgb)
    writer.close()
    # Read back through MXNet (its own OpenCV decoder), to be sure the pixels we keep are what
    # MXNet sees.
    reader = mx.recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "r")
    tensors = {"labels": np.array(labels, np.int64)}
    for i in range(len(sizes)):
        header, payload = mx.recordio.unpack(reader.read_idx(i))
        img = mx.image.imdecode(payload).asnumpy()  # RGB
        assert (img == images[i]).all(), "MXNet does not read back record %d" % i
        first = header.label if np.isscalar(header.label) else header.label[0]
        assert float(first) == labels[i]
        tensors["image%d" % i] = images[i].astype(np.float32)
    reader.close()
    write_safetensors(prefix + "_golden.safetensors", tensors)
    print("%s.rec: %d records, %d bytes" % (prefix, len(sizes), os.path.getsize(prefix + ".rec")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                         "fixtures", "mxnet"))
    args = parser.parse_args()
    ensure_venv()
    # MXNet's plain operators, not the oneDNN subgraph that fuses BN into convolutions.
    os.environ["MXNET_SUBGRAPH_BACKEND"] = "NONE"
    import mxnet as mx
    import numpy as np
    os.makedirs(args.output, exist_ok=True)
    print("mxnet", mx.__version__, "numpy", np.__version__)
    for seed, name in enumerate(["crunet56", "crunet116"]):
        shapes_file(mx, name, args.output)
        tiny_checkpoint(mx, np, name, args.output, seed + 1)
    small_rec(mx, np, args.output)


if __name__ == "__main__":
    main()
