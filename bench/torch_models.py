"""The crunet zoo's architectures in PyTorch, built from the same YAML model specs
(configs/models/*.yaml, or the `model:` of a training config), for side-by-side benchmarks and
cross-checks. Pre-activation units exactly as DESIGN.md section 3; parameter counts equal
crunet-info's (checked by `python3 bench/torch_models.py SPEC`)."""
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_spec(name_or_path):
    path = name_or_path
    if not os.path.isfile(path):
        path = os.path.join(ROOT, 'configs', 'models', name_or_path + '.yaml')
    with open(path) as f:
        doc = yaml.safe_load(f)
    if 'model' in doc and 'stages' not in doc:
        model = doc['model']
        if isinstance(model, dict):
            return model
        relative = os.path.join(os.path.dirname(path), model)
        return load_spec(relative if os.path.isfile(relative) else model)
    return doc


class BNReLU(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(x))


class BNReLUConv(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1):
        super().__init__()
        self.bnac = BNReLU(cin)
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)

    def forward(self, x):
        return self.conv(self.bnac(x))


class ResidualUnit(nn.Module):
    def __init__(self, cin, width, d, groups, stride, projection):
        super().__init__()
        self.proj = BNReLUConv(cin, width, 1, stride) if projection else None
        self.a = BNReLUConv(cin, d, 1)
        self.b = BNReLUConv(d, d, 3, stride, groups)
        self.c = BNReLUConv(d, width, 1)

    def forward(self, x):
        shortcut = self.proj(x) if self.proj is not None else x
        return shortcut + self.c(self.b(self.a(x)))


class SharedFactors(nn.Module):
    def __init__(self, width, d):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(d, width, 1, 1) * (2.0 / width) ** 0.5)
        self.w3 = nn.Parameter(torch.randn(d, 1, 3, 3) * (2.0 / 9) ** 0.5)


class CollectiveResidualUnit(nn.Module):
    def __init__(self, cin, width, d, stride, projection, shared):
        super().__init__()
        self.stride, self.d = stride, d
        self.shared = [shared]  # referenced, registered once by the stage
        self.proj_weight = None
        if projection:
            self.proj_weight = nn.Parameter(torch.randn(width, cin, 1, 1) * (2.0 / cin) ** 0.5)
            self.proj_bn1 = BNReLU(cin)
            self.proj_bn2 = BNReLU(cin) if stride > 1 else None
        self.a_bn = BNReLU(width)
        self.b = BNReLUConv(d, d, 1)
        self.c = BNReLUConv(d, width, 1)

    def forward(self, x):
        data_o = shortcut = x
        if self.proj_weight is not None:
            data_o = F.conv2d(self.proj_bn1(x), self.proj_weight)
            shortcut = (F.conv2d(self.proj_bn2(x), self.proj_weight, stride=self.stride)
                        if self.proj_bn2 is not None else data_o)
        shared = self.shared[0]
        y = F.conv2d(self.a_bn(data_o), shared.w1)
        y = F.conv2d(y, shared.w3, None, self.stride, 1, 1, self.d)
        return shortcut + self.c(self.b(y))


class Network(nn.Module):
    def __init__(self, spec):
        super().__init__()
        cin = spec.get('input', {}).get('channels', 3)
        stem = spec.get('stem', {})
        width = stem.get('width', 64)
        if stem.get('type', 'imagenet') == 'imagenet':
            self.stem = nn.Sequential(nn.Conv2d(cin, width, 7, 2, 3, bias=False), BNReLU(width),
                                      nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(cin, width, 3, stem.get('stride', 1), 1, bias=False), BNReLU(width))
        units, self.shared = [], nn.ModuleList()
        channels = width
        for i, stage in enumerate(spec['stages']):
            stride = stage.get('stride', 1 if i == 0 else 2)
            shared = None
            for u in range(stage['units']):
                first = u == 0
                cin_u, s = (channels if first else stage['width']), (stride if first else 1)
                if stage['unit'] == 'res':
                    units.append(ResidualUnit(cin_u, stage['width'], stage['bottleneck'],
                                              stage.get('groups', 1), s, first))
                else:
                    if u % stage['share'] == 0:
                        shared = SharedFactors(stage['width'], stage['bottleneck'])
                        self.shared.append(shared)
                    units.append(CollectiveResidualUnit(cin_u, stage['width'], stage['bottleneck'],
                                                        s, first, shared))
            channels = stage['width']
        self.units = nn.Sequential(*units)
        self.head = BNReLU(channels)
        self.fc = nn.Linear(channels, spec['classes'])

    def forward(self, x):
        y = self.head(self.units(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


def build(name_or_path):
    spec = load_spec(name_or_path)
    return Network(spec), spec


if __name__ == '__main__':
    model, spec = build(sys.argv[1])
    print(spec['name'], sum(p.numel() for p in model.parameters()))


def timed(step, steps, warmup=2):
    """Mean seconds of `step` over `steps` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps
