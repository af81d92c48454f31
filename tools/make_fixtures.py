#!/usr/bin/python3
"""Golden tensors from PyTorch for crunet's tests (tests/ops/golden_test.cpp).

Run with Debian's python3-torch (no other package needed):

    /usr/bin/python3 tools/make_fixtures.py [--output tests/fixtures]

It writes small safetensors files: conv2d, batch_norm, pool2d, cross_entropy, linear, and one
whole unit of each kind of DESIGN.md section 3 (residual_unit, cru_unit), each with its inputs,
parameters, outputs, a fixed random upstream gradient ("upstream") and every gradient
("grad.<name>").

Inputs and parameters are drawn in float32 from fixed seeds; the reference results are computed in
float64 from those float32 values and rounded to float32 once, so that the goldens carry no float32
rounding of their own and a test's tolerance measures crunet's error alone. One thread and no
timestamps: re-running the script gives byte-identical files.
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int32: "I32", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata):
    """The safetensors format: 8-byte little-endian header length, JSON header padded with spaces to
    a multiple of 8, then the data. Larger elements first, so that every tensor is aligned."""
    items = [(name, t.detach().cpu().contiguous()) for name, t in tensors.items()]
    order = sorted(range(len(items)), key=lambda i: -items[i][1].element_size())
    blobs, offsets, offset = {}, {}, 0
    for i in order:
        name, t = items[i]
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes()  # host is little-endian
        blobs[name] = data
        offsets[name] = [offset, offset + len(data)]
        offset += len(data)
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(metadata[k]) for k in sorted(metadata)}
    for name, t in items:
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": offsets[name]}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    text += b" " * (-len(text) % 8)
    temp = path + ".tmp"
    with open(temp, "wb") as out:
        out.write(len(text).to_bytes(8, "little"))
        out.write(text)
        for i in order:
            out.write(blobs[items[i][0]])
    os.replace(temp, path)


class Draw:
    """Float32 random tensors from one seeded generator per fixture file."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)

    def normal(self, *shape, scale=1.0, shift=0.0):
        return torch.randn(*shape, generator=self.gen, dtype=torch.float32) * scale + shift

    def uniform(self, *shape, low=0.0, high=1.0):
        return torch.rand(*shape, generator=self.gen, dtype=torch.float32) * (high - low) + low

    def conv_weight(self, cout, cin_per_group, k):
        return self.normal(cout, cin_per_group, k, k, scale=(cin_per_group * k * k) ** -0.5)

    def distinct(self, *shape, spacing=0.05):
        """A permutation of distinct values centred on zero: max-pool never meets a tie."""
        n = 1
        for s in shape:
            n *= s
        perm = torch.randperm(n, generator=self.gen).to(torch.float32)
        return ((perm - (n - 1) / 2) * spacing).reshape(shape)

    def bn(self, prefix, channels, params):
        params[prefix + ".weight"] = self.uniform(channels, low=0.5, high=1.5)
        params[prefix + ".bias"] = self.normal(channels, scale=0.2)


def run_backward(inputs, forward, upstream=None):
    """Evaluates forward on float64 copies of the float32 inputs (dict name -> tensor; integer
    tensors pass through) and returns (outputs in float32, gradients in float32 by name)."""
    leaves = {}
    for name, t in inputs.items():
        if t.is_floating_point():
            leaves[name] = t.double().requires_grad_(True)
        else:
            leaves[name] = t
    out = forward(leaves)
    main = out[0] if isinstance(out, tuple) else out
    if upstream is None:
        main.backward()
    else:
        main.backward(upstream.double())
    grads = {name: leaf.grad.float() for name, leaf in leaves.items()
             if leaf.is_floating_point() and leaf.grad is not None}
    if isinstance(out, tuple):
        return tuple(o.detach().float() for o in out), grads
    return out.detach().float(), grads


def add_case(tensors, prefix, inputs, out, upstream, grads):
    for name, t in inputs.items():
        tensors[f"{prefix}.{name}"] = t
    tensors[f"{prefix}.out"] = out
    if upstream is not None:
        tensors[f"{prefix}.upstream"] = upstream
    for name, g in grads.items():
        tensors[f"{prefix}.grad.{name}"] = g


def conv2d_fixture():
    draw = Draw(101)
    # name, N, Cin, H(=W), Cout, kernel, stride, padding, groups, bias
    cases = [
        ("k3s1p1", 2, 4, 7, 6, 3, 1, 1, 1, True),
        ("k3s2g4", 2, 8, 9, 8, 3, 2, 1, 4, False),
        ("dw3x3", 2, 6, 8, 6, 3, 1, 1, 6, True),
        ("dw3x3s2", 2, 8, 9, 8, 3, 2, 1, 8, False),
        ("k7s2p3", 2, 3, 15, 8, 7, 2, 3, 1, False),
        ("k1s2", 2, 6, 9, 5, 1, 2, 0, 1, True),
    ]
    tensors, metadata = {}, {}
    for name, n, cin, hw, cout, k, s, p, g, bias in cases:
        inputs = {"x": draw.normal(n, cin, hw, hw), "weight": draw.conv_weight(cout, cin // g, k)}
        if bias:
            inputs["bias"] = draw.normal(cout, scale=0.5)
        ho = (hw + 2 * p - k) // s + 1
        upstream = draw.normal(n, cout, ho, ho)
        out, grads = run_backward(
            inputs, lambda t: F.conv2d(t["x"], t["weight"], t.get("bias"), stride=s, padding=p,
                                       groups=g), upstream)
        add_case(tensors, name, inputs, out, upstream, grads)
        metadata[name] = f"kernel={k} stride={s} padding={p} groups={g} bias={int(bias)}"
    return tensors, metadata


def batch_norm_fixture():
    draw = Draw(202)
    n, c, hw, momentum, eps = 3, 5, 4, 0.2, 1e-5
    tensors, metadata = {}, {"momentum": repr(momentum), "eps": repr(eps)}
    for mode in ("train", "eval"):
        training = mode == "train"
        inputs = {"x": draw.normal(n, c, hw, hw, scale=1.5, shift=0.7),
                  "weight": draw.uniform(c, low=0.5, high=1.5), "bias": draw.normal(c, scale=0.3)}
        running_mean = draw.normal(c, scale=0.5)
        running_var = draw.uniform(c, low=0.5, high=2.0)
        upstream = draw.normal(n, c, hw, hw)
        rm, rv = running_mean.double(), running_var.double()
        out, grads = run_backward(
            inputs, lambda t: F.batch_norm(t["x"], rm, rv, t["weight"], t["bias"],
                                           training=training, momentum=momentum, eps=eps),
            upstream)
        add_case(tensors, mode, inputs, out, upstream, grads)
        tensors[f"{mode}.running_mean"] = running_mean
        tensors[f"{mode}.running_var"] = running_var
        if training:
            tensors[f"{mode}.running_mean_after"] = rm.float()
            tensors[f"{mode}.running_var_after"] = rv.float()
    return tensors, metadata


def pool2d_fixture():
    draw = Draw(303)
    # name, kind, N, C, H(=W), kernel, stride, padding
    cases = [("max_k3s2p1", "max", 2, 3, 9, 3, 2, 1),
             ("max_k3s2p1_even", "max", 1, 4, 8, 3, 2, 1),
             ("avg_k3s2p1", "avg", 2, 3, 9, 3, 2, 1),
             ("avg_k2s2p0", "avg", 1, 4, 8, 2, 2, 0)]
    tensors, metadata = {}, {}
    for name, kind, n, c, hw, k, s, p in cases:
        inputs = {"x": draw.distinct(n, c, hw, hw)}
        ho = (hw + 2 * p - k) // s + 1
        upstream = draw.normal(n, c, ho, ho)
        if kind == "max":
            forward = lambda t: F.max_pool2d(t["x"], k, s, p)  # noqa: E731
        else:
            forward = lambda t: F.avg_pool2d(t["x"], k, s, p, count_include_pad=False)  # noqa: E731
        out, grads = run_backward(inputs, forward, upstream)
        add_case(tensors, name, inputs, out, upstream, grads)
        metadata[name] = f"kernel={k} stride={s} padding={p}" + \
            (" count_include_pad=0" if kind == "avg" else "")
    return tensors, metadata


def cross_entropy_fixture():
    draw = Draw(404)
    tensors, metadata = {}, {}
    for name, smoothing in (("plain", 0.0), ("smooth", 0.1)):
        n, classes = 6, 10
        inputs = {"logits": draw.normal(n, classes, scale=2.0),
                  "targets": torch.randint(0, classes, (n,), generator=draw.gen, dtype=torch.int64)}
        out, grads = run_backward(
            inputs, lambda t: F.cross_entropy(t["logits"], t["targets"], label_smoothing=smoothing))
        add_case(tensors, name, inputs, out, None, grads)
        metadata[name] = f"label_smoothing={smoothing}"
    return tensors, metadata


def linear_fixture():
    draw = Draw(505)
    inputs = {"x": draw.normal(4, 9), "weight": draw.normal(5, 9, scale=9 ** -0.5),
              "bias": draw.normal(5, scale=0.5)}
    upstream = draw.normal(4, 5)
    out, grads = run_backward(inputs, lambda t: F.linear(t["x"], t["weight"], t["bias"]), upstream)
    tensors = {}
    add_case(tensors, "case", inputs, out, upstream, grads)
    return tensors, {}


def bnac(x, t, prefix):
    """BatchNorm (train mode, batch statistics) followed by ReLU."""
    return F.relu(F.batch_norm(x, None, None, t[prefix + ".weight"], t[prefix + ".bias"],
                               training=True, momentum=0.1, eps=1e-5))


def residual_unit_fixture():
    """First residual unit of a stage: stride 2, R > 1 groups (a ResNeXt unit), DESIGN.md 3."""
    draw = Draw(606)
    n, cin, hw, bw, d, groups, stride = 2, 8, 7, 16, 8, 4, 2
    p = {"x": draw.normal(n, cin, hw, hw)}
    draw.bn("unit.shortcut.bn", cin, p)
    p["unit.shortcut.conv.weight"] = draw.conv_weight(bw, cin, 1)
    draw.bn("unit.a.bn", cin, p)
    p["unit.a.conv.weight"] = draw.conv_weight(d, cin, 1)
    draw.bn("unit.b.bn", d, p)
    p["unit.b.conv.weight"] = draw.conv_weight(d, d // groups, 3)
    draw.bn("unit.c.bn", d, p)
    p["unit.c.conv.weight"] = draw.conv_weight(bw, d, 1)
    ho = (hw + 2 - 3) // stride + 1
    upstream = draw.normal(n, bw, ho, ho)

    def forward(t):
        x = t["x"]
        shortcut = F.conv2d(bnac(x, t, "unit.shortcut.bn"), t["unit.shortcut.conv.weight"],
                            stride=stride)
        y = F.conv2d(bnac(x, t, "unit.a.bn"), t["unit.a.conv.weight"])
        y = F.conv2d(bnac(y, t, "unit.b.bn"), t["unit.b.conv.weight"], stride=stride, padding=1,
                     groups=groups)
        y = F.conv2d(bnac(y, t, "unit.c.bn"), t["unit.c.conv.weight"])
        return shortcut + y

    out, grads = run_backward(p, forward, upstream)
    tensors = dict(p)
    tensors["out"] = out
    tensors["upstream"] = upstream
    for name, g in grads.items():
        tensors["grad." + name] = g
    metadata = {"cin": cin, "bw": bw, "D": d, "R": groups, "stride": stride,
                "bn": "train mode, eps=1e-5"}
    return tensors, metadata


def cru_unit_fixture():
    """Two collective residual units of one share group, DESIGN.md 3: unit1 is the first of a stage
    (stride 2, owns the projection Wp used twice with two BNs), unit2 follows it (stride 1,
    identity shortcut). Both use share.w1 (1x1, bw -> D) and share.w3 (3x3 depthwise), so their
    gradients are the sums over both units."""
    draw = Draw(707)
    n, cin, hw, bw, d, stride = 2, 8, 7, 16, 8, 2
    p = {"x": draw.normal(n, cin, hw, hw)}
    p["share.w1.weight"] = draw.conv_weight(d, bw, 1)
    p["share.w3.weight"] = draw.conv_weight(d, 1, 3)
    p["unit1.proj.conv.weight"] = draw.conv_weight(bw, cin, 1)
    draw.bn("unit1.proj.bn1", cin, p)
    draw.bn("unit1.proj.bn2", cin, p)
    for unit in ("unit1", "unit2"):
        draw.bn(unit + ".a.bn", bw, p)
        draw.bn(unit + ".c.bn", d, p)
        p[unit + ".c.conv.weight"] = draw.conv_weight(d, d, 1)
        draw.bn(unit + ".d.bn", d, p)
        p[unit + ".d.conv.weight"] = draw.conv_weight(bw, d, 1)
    ho = (hw + 2 - 3) // stride + 1
    upstream = draw.normal(n, bw, ho, ho)

    def body(data_o, t, unit, s):
        y = F.conv2d(bnac(data_o, t, unit + ".a.bn"), t["share.w1.weight"])
        y = F.conv2d(y, t["share.w3.weight"], stride=s, padding=1, groups=d)  # no BN/ReLU before
        y = F.conv2d(bnac(y, t, unit + ".c.bn"), t[unit + ".c.conv.weight"])
        return F.conv2d(bnac(y, t, unit + ".d.bn"), t[unit + ".d.conv.weight"])

    def forward(t):
        x = t["x"]
        wp = t["unit1.proj.conv.weight"]
        data_o = F.conv2d(bnac(x, t, "unit1.proj.bn1"), wp)
        shortcut = F.conv2d(bnac(x, t, "unit1.proj.bn2"), wp, stride=stride)
        out1 = shortcut + body(data_o, t, "unit1", stride)
        out2 = out1 + body(out1, t, "unit2", 1)
        return out2, out1

    (out, out1), grads = run_backward(p, forward, upstream)
    tensors = dict(p)
    tensors["unit1.out"] = out1
    tensors["out"] = out
    tensors["upstream"] = upstream
    for name, g in grads.items():
        tensors["grad." + name] = g
    metadata = {"cin": cin, "bw": bw, "D": d, "stride": stride, "units": 2,
                "bn": "train mode, eps=1e-5"}
    return tensors, metadata


FIXTURES = {
    "conv2d": conv2d_fixture,
    "batch_norm": batch_norm_fixture,
    "pool2d": pool2d_fixture,
    "cross_entropy": cross_entropy_fixture,
    "linear": linear_fixture,
    "residual_unit": residual_unit_fixture,
    "cru_unit": cru_unit_fixture,
}


def main():
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=os.path.normpath(default), help="folder to write to")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    for name, make in FIXTURES.items():
        tensors, metadata = make()
        metadata = dict(metadata)
        metadata["generator"] = "tools/make_fixtures.py"
        metadata["torch"] = torch.__version__
        path = os.path.join(args.output, name + ".safetensors")
        write_safetensors(path, tensors, metadata)
        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
