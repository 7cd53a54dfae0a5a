#!/usr/bin/python3
"""How close the chosen micro-batch comes to the largest one that really runs.

For each model and RLIMIT_DATA limit:
  chosen   the micro-batch `trainer probe-batch` picks under `prlimit --data=LIMIT` (--ram auto:
           the budget comes from the rlimit; the trial proves it);
  largest  the largest micro-batch with which `trainer fit --ram none` (no plan, no check) really
           runs three steps under the same limit, found by bisection;
  ratio    chosen / largest (DESIGN.md asks for at least 0.90).
Both sides train on the same rows (a fixed subset per model, cycled from the training set) and
nothing else (no validation or test set), so neither per-row items nor evaluation buffers differ.

Models: the Fashion-MNIST MLP, the Fashion-MNIST CNN (configs/fashion-mnist-cnn.json), and the
same CNN with batch norm. Needs data/fashion-mnist (scripts/get-fashion-mnist.sh) and a build.

Usage: scripts/batch-ratio.py [--trainer build/trainer] [--limits 64,128,256] [--models mlp,cnn,cnn-bn]
Prints a markdown table (docs/memory.md keeps the latest).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "fashion-mnist"

CONV = [
    {"type": "conv2d", "filters": 32, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "size": 2},
    {"type": "conv2d", "filters": 64, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 128, "activation": "relu"},
    {"type": "dense", "units": 10},
]
CONV_BN = [
    {"type": "conv2d", "filters": 32, "kernel": 3, "padding": "same", "bias": False},
    {"type": "batch_norm", "activation": "relu"},
    {"type": "max_pool2d", "size": 2},
    {"type": "conv2d", "filters": 64, "kernel": 3, "padding": "same", "bias": False},
    {"type": "batch_norm", "activation": "relu"},
    {"type": "max_pool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 128, "activation": "relu"},
    {"type": "dense", "units": 10},
]
MLP = [
    {"type": "dense", "units": 512, "activation": "relu"},
    {"type": "dense", "units": 256, "activation": "relu"},
    {"type": "dense", "units": 10},
]
# Layers, whether they read images, and the training rows both sides train on: enough for a few
# steps of the largest micro-batch, few enough that the conv runs take seconds.
MODELS = {"mlp": (MLP, False, 65536), "cnn": (CONV, True, 4096), "cnn-bn": (CONV_BN, True, 4096)}


def write_config(path, x, y, layers, image):
    data = {"train": {"x": str(x), "y": str(y)}, "x_scale": 1 / 255}
    if image:
        data["image_shape"] = [28, 28, 1]
    config = {"data": data, "model": {"layers": layers, "loss": "cross_entropy"},
              "optimizer": {"type": "adam", "lr": 0.001},
              "training": {"epochs": 1, "batch_size": "auto", "micro_batch": "auto", "seed": 1, "threads": 2},
              "memory": {"ram": "auto"}}
    path.write_text(json.dumps(config))


def subset(tmp, rows):
    """The first `rows` training rows (cycled when more are asked than the file has)."""
    x = np.load(DATA / "train_x.npy", mmap_mode="r")
    y = np.load(DATA / "train_y.npy", mmap_mode="r")
    idx = np.arange(rows) % x.shape[0]
    xp, yp = tmp / f"x{rows}.npy", tmp / f"y{rows}.npy"
    np.save(xp, np.asarray(x[idx]).reshape(rows, 784))
    np.save(yp, np.asarray(y[idx]))
    return xp, yp


def run(cmd, limit_mib, timeout=600):
    full = ["prlimit", f"--data={limit_mib << 20}"] + cmd
    p = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def chosen(trainer, tmp, layers, image, limit, x, y):
    cfg = tmp / "probe.json"
    write_config(cfg, x, y, layers, image)
    code, out, err = run([trainer, "probe-batch", "--config", str(cfg), "--json"], limit)
    if code != 0:
        raise RuntimeError(f"probe-batch exit {code}: {err.strip().splitlines()[-1] if err.strip() else out}")
    j = json.loads(out)
    return j["micro_batch"], j["budget_source"], j["predicted_peak_bytes"]


def runs(trainer, tmp, layers, image, limit, micro, x, y):
    """Whether fit --ram none really trains an epoch of `micro`-sample steps under the limit."""
    cfg = tmp / "fit.json"
    write_config(cfg, x, y, layers, image)
    code, _, _ = run([trainer, "fit", "--config", str(cfg), "--ram", "none", "--quiet",
                      "--batch-size", str(micro), "--micro-batch", str(micro)], limit)
    return code == 0


def largest(trainer, tmp, layers, image, limit, start, x, y):
    def ok(m):
        return runs(trainer, tmp, layers, image, limit, m, x, y)
    lo, hi = 0, max(2, start)
    while ok(hi):  # find a size that fails
        lo, hi = hi, hi * 2
    if lo == 0:
        lo = 1 if ok(1) else 0
    while hi - lo > 1 and lo > 0:  # invariant: lo runs, hi does not
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trainer", default=str(ROOT / "build" / "trainer"))
    ap.add_argument("--limits", default="64,128,256")
    ap.add_argument("--models", default="mlp,cnn,cnn-bn")
    args = ap.parse_args()
    if not (DATA / "train_x.npy").exists():
        sys.exit("batch-ratio.py: data/fashion-mnist missing: run scripts/get-fashion-mnist.sh")
    print("| model | RLIMIT_DATA | chosen | largest that runs | ratio | budget source | seconds |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        for name in args.models.split(","):
            layers, image, rows = MODELS[name]
            x, y = subset(tmp, rows)
            for limit in (int(v) for v in args.limits.split(",")):
                t0 = time.time()
                micro, source, _ = chosen(args.trainer, tmp, layers, image, limit, x, y)
                big = largest(args.trainer, tmp, layers, image, limit, micro, x, y)
                ratio = micro / big if big else float("nan")
                print(f"| {name} | {limit} MiB | {micro} | {big} | {ratio:.3f} | {source} | {time.time() - t0:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
