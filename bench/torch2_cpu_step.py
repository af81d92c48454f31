"""Times a PyTorch 2.x CPU training step (forward, cross-entropy, backward, SGD with Nesterov
momentum) and inference for a crunet model spec, in one of PyTorch's CPU modes:

  eager     eager mode, NCHW tensors (PyTorch's default)
  cl        eager mode, channels-last model and input (torch.channels_last)
  compile   torch.compile (inductor) of the channels-last model

with float32 math or bfloat16 autocast (torch.autocast('cpu', torch.bfloat16): convolutions and
matrix products in bfloat16, float32 master weights). Prints one JSON object with the keys
crunet-bench --json prints: train_img_per_s, infer_img_per_s, peak_rss_bytes (of this process).

usage: python torch2_cpu_step.py SPEC BATCH STEPS THREADS MODE [fp32|bf16] [train|infer|both]
Run by bench/cpu_vs_pytorch2.sh in the virtual environment it makes; one process per row, so that
each peak resident memory is that mode's own."""
import contextlib
import json
import os
import re
import resource
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build, timed  # noqa: E402

name, batch, steps, threads, mode = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                     int(sys.argv[4]), sys.argv[5])
precision = sys.argv[6] if len(sys.argv) > 6 else 'fp32'
passes = sys.argv[7] if len(sys.argv) > 7 else 'both'
if mode not in ('eager', 'cl', 'compile') or precision not in ('fp32', 'bf16'):
    sys.exit(f'unknown mode {mode} or precision {precision}')
torch.set_num_threads(threads)
torch.manual_seed(0)
model, spec = build(name)
size = spec.get('input', {}).get('size', 224)
channels = spec.get('input', {}).get('channels', 3)
x = torch.randn(batch, channels, size, size)
y = torch.arange(batch) % spec['classes']
if mode in ('cl', 'compile'):
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)


def autocast():
    if precision == 'bf16':
        return torch.autocast('cpu', dtype=torch.bfloat16)
    return contextlib.nullcontext()


def onednn_version():
    # torch.backends.mkldnn has no version(); the build configuration names it ("MKL-DNN v3.x").
    found = re.search(r'MKL-DNN v([0-9.]+)', torch.__config__.show())
    return found.group(1) if found else None


# Inductor compiles on the first call of each graph (minutes on 2 cores); the warm-up steps pay
# for it and are not timed.
train_model = torch.compile(model) if mode == 'compile' else model


def train_step():
    opt.zero_grad(set_to_none=True)
    with autocast():
        loss = F.cross_entropy(train_model(x), y)
    loss.backward()
    opt.step()


result = {'model': spec['name'], 'batch': batch, 'threads': threads, 'mode': mode,
          'precision': precision, 'torch': torch.__version__, 'onednn': onednn_version()}
if passes in ('train', 'both'):
    model.train()
    result['train_img_per_s'] = batch / timed(train_step, steps)
if passes in ('infer', 'both'):
    model.eval()
    # A fresh compile for eval mode: inductor specialises on training vs inference graphs.
    infer_model = torch.compile(model) if mode == 'compile' else model
    with torch.no_grad(), autocast():
        result['infer_img_per_s'] = batch / timed(lambda: infer_model(x), steps)
result['peak_rss_bytes'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(result))
