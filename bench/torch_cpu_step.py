"""Times a PyTorch CPU training step (forward, cross-entropy, backward, SGD with Nesterov momentum)
and inference for a crunet model spec, with a given number of threads. Prints one JSON object with
the keys crunet-bench --json prints: train_img_per_s, infer_img_per_s, peak_rss_bytes.

usage: python3 torch_cpu_step.py SPEC BATCH STEPS THREADS [INPUT_SIZE]"""
import json
import os
import resource
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build, timed  # noqa: E402

name, batch, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
model, spec = build(name)
size = int(sys.argv[5]) if len(sys.argv) > 5 else spec.get('input', {}).get('size', 224)
channels = spec.get('input', {}).get('channels', 3)
x = torch.randn(batch, channels, size, size)
y = torch.arange(batch) % spec['classes']
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)


def train_step():
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    opt.step()


model.train()
train = timed(train_step, steps)
model.eval()
with torch.no_grad():
    infer = timed(lambda: model(x), steps)
print(json.dumps({'model': spec['name'], 'batch': batch, 'threads': threads,
                  'torch': torch.__version__, 'train_img_per_s': batch / train,
                  'infer_img_per_s': batch / infer,
                  'peak_rss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
