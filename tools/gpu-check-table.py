#!/usr/bin/env python3
"""The one table of tools/gpu-check.sh, made from the outputs of its steps.

usage: tools/gpu-check-table.py RESULTS_DIR

RESULTS_DIR holds, per step, NAME.out (what the step printed) and NAME.status (ok, timeout,
failed (exit N), skipped (...), not built, not found), and meta.txt (card=, batch=, date=):
  tests                  the GPU suite (gtest's or ctest's summary lines)
  conv-fp32, conv-bf16   crunet_bench_gpu_conv: conv <shape> <pass> <dtype> crunet_ms=<x>
                         cudnn_ms=<y> ratio=<r>
  crunet-MODEL-PREC      crunet-bench --json: one JSON object (train_img_per_s, infer_img_per_s)
  torch-MODEL-PREC       torch_gpu_step.py: pytorch <version> <model> train|infer <prec>
                         batch=<n> step_ms=<t> img_per_s=<r>
Prints a Markdown table: op, crunet ms, reference ms, reference, ratio (reference / crunet, so
above 1 crunet is faster). Model rows are milliseconds per step at the batch size (crunet-bench's
images per second turned into batch * 1000 / rate). A missing number shows its step's status.
"""
import json
import math
import os
import re
import sys

MODELS = ["crunet56", "resnext50"]  # torch_gpu_step.py's names; gpu-check.sh uses the same
PRECISIONS = ["bf16", "fp32"]
CONV_DTYPES = ["fp32", "bf16"]

CONV_LINE = re.compile(r"^conv (\S+) (\S+) (\S+) crunet_ms=(\S+) cudnn_ms=(\S+) ratio=(\S+)")
TORCH_LINE = re.compile(
    r"^pytorch (\S+) (\S+) (train|infer) (\S+)(?: channels_last)? batch=(\d+) step_ms=([0-9.eE+-]+)")


def read(results, name, suffix):
    try:
        with open(os.path.join(results, name + suffix), errors="replace") as f:
            return f.read()
    except OSError:
        return None


def status_of(results, name):
    text = read(results, name, ".status")
    return text.strip() if text else "not run"


def number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def ms(value):
    return "%.3f" % value if value < 10 else "%.2f" % value if value < 1000 else "%.1f" % value


def short(status):
    """A step's status in a table cell: its first word (ok, timeout, failed, skipped, not ...)."""
    return status if status.startswith("not ") else status.split(" ")[0]


def tests_summary(results):
    """One line on the GPU suite from gtest's (or ctest's) summary."""
    status = status_of(results, "tests")
    out = read(results, "tests", ".out") or ""
    counts = {}
    for label, pattern in [("ran", r"\[=+\] (\d+) tests? from .* ran"),
                           ("passed", r"\[  PASSED  \] (\d+) test"),
                           ("skipped", r"\[  SKIPPED \] (\d+) test"),
                           ("failed", r"\[  FAILED  \] (\d+) test")]:
        found = re.findall(pattern, out)
        if found:
            counts[label] = int(found[-1])
    ctest = re.findall(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", out)
    if ctest and "ran" not in counts:
        _, failed, total = ctest[-1]
        counts = {"ran": int(total), "failed": int(failed),
                  "passed": int(total) - int(failed)}
    if not counts:
        return "GPU tests: %s (no summary in the output)" % status
    parts = ["%d %s" % (counts[k], k) for k in ("ran", "passed", "skipped", "failed") if k in counts]
    verdict = "passed" if status == "ok" and not counts.get("failed") else status
    return "GPU tests: %s (%s)" % (verdict, ", ".join(parts))


def conv_rows(results):
    rows = []
    for dtype in CONV_DTYPES:
        name = "conv-" + dtype
        status = short(status_of(results, name))
        lines = [m for m in map(CONV_LINE.match, (read(results, name, ".out") or "").splitlines()) if m]
        for m in lines:
            shape, pass_, line_dtype = m.group(1), m.group(2), m.group(3)
            crunet, cudnn = number(m.group(4)), number(m.group(5))
            rows.append(["conv %s %s %s" % (shape, pass_, line_dtype),
                         ms(crunet) if crunet is not None else "failed",
                         ms(cudnn) if cudnn is not None else "failed", "cuDNN",
                         "%.2f" % (cudnn / crunet) if crunet and cudnn is not None else "-"])
        if not lines:
            rows.append(["conv (every shape) %s" % dtype, status, status, "cuDNN", "-"])
        elif status != "ok":  # a step cut short: the shapes it did not reach
            rows.append(["conv (the shapes after these) %s" % dtype, status, status, "cuDNN", "-"])
    return rows


def crunet_times(results, model, precision, batch):
    """{'train': ms, 'infer': ms} from crunet-bench's JSON line, and the step's status."""
    name = "crunet-%s-%s" % (model, precision)
    status = short(status_of(results, name))
    times = {}
    for line in reversed((read(results, name, ".out") or "").splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        n = number(record.get("batch", batch)) or batch
        for kind in ("train", "infer"):
            rate = number(record.get(kind + "_img_per_s"))
            if rate:
                times[kind] = 1000.0 * n / rate
        break
    return times, status


def torch_times(results, model, precision):
    """{'train': ms, 'infer': ms} from torch_gpu_step.py's lines, the PyTorch version, status."""
    name = "torch-%s-%s" % (model, precision)
    status = short(status_of(results, name))
    times, version = {}, None
    for line in (read(results, name, ".out") or "").splitlines():
        m = TORCH_LINE.match(line.strip())
        if m and m.group(2) == model:
            version = m.group(1)
            times[m.group(3)] = float(m.group(6))
    return times, version, status


def model_rows(results, batch):
    rows = []
    for model in MODELS:
        for precision in PRECISIONS:
            ours, our_status = crunet_times(results, model, precision, batch)
            theirs, version, their_status = torch_times(results, model, precision)
            for kind in ("train", "infer"):
                a, b = ours.get(kind), theirs.get(kind)
                rows.append(["%s %s %s batch %d (ms/step)" % (model, kind, precision, batch),
                             ms(a) if a is not None else our_status,
                             ms(b) if b is not None else their_status,
                             "PyTorch %s" % version if version else "PyTorch",
                             "%.2f" % (b / a) if a and b else "-"])
    return rows


def markdown(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    numeric = [False, True, True, False, True]
    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) if num else str(c).ljust(w)
                                 for c, w, num in zip(cells, widths, numeric)) + " |"
    rule = "|" + "|".join("-" * (w + 1) + (":" if num else "-")
                          for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0 if len(argv) == 2 else 2
    results = argv[1]
    meta = {}
    for line in (read(results, "meta", ".txt") or "").splitlines():
        key, _, value = line.partition("=")
        meta[key.strip()] = value.strip()
    batch = int(number(meta.get("batch")) or 64)
    print("GPU check: %s; %s; batch %d" % (meta.get("card", "card unknown"),
                                           meta.get("date", "date unknown"), batch))
    print(tests_summary(results))
    print("ratio = reference ms / crunet ms (above 1: crunet is faster); conv rows: one call, "
          "median of 20; model rows: one training step (forward, backward, SGD) or one inference "
          "batch, in ms")
    print()
    header = ["op", "crunet ms", "reference ms", "reference", "ratio (ref/crunet)"]
    print(markdown(header, conv_rows(results) + model_rows(results, batch)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
