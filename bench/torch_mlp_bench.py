#!/usr/bin/python3
"""PyTorch baseline for issue 6: Fashion-MNIST MLP 784-512-256-10, ReLU, cross-entropy, Adam lr 1e-3,
inputs / 255, one epoch after a warm-up, on the CPU, under several thread settings.

Harness (default): runs one worker process per (setting, mode, batch), because thread settings are
environment variables that must be set before torch is imported, and prints one JSON line per run,
then one "best" line per batch size (the fastest setting in memory mode: the bar to beat) and one
"out_of_the_box" line per batch size.

  bench/torch_mlp_bench.py --data data/fashion-mnist [--batches 32,256,2048]
      [--settings default,passive,1thread,blas1] [--modes memory,mmap] [--repeats 1]
  bench/torch_mlp_bench.py --data D --epochs 10 --batches 256 --settings passive --modes memory

Settings:
  default  torch.set_num_threads(2), nothing else: PyTorch as a user gets it out of the box
  passive  2 threads, OMP_WAIT_POLICY=PASSIVE (OpenMP workers sleep instead of spinning)
  1thread  1 thread everywhere (torch, OpenMP, OpenBLAS)
  blas1    2 torch threads, OPENBLAS_NUM_THREADS=1 (no second pool)
Modes:
  memory   all data as float32/int64 tensors, each batch X[idx] (the fastest plain loop)
  mmap     slices of np.load(mmap_mode='r'), gathered and converted per batch (memory-frugal)

samples_per_sec covers the training loop (gather + forward + backward + Adam step), not the test
evaluation; peak_rss_mib is getrusage(RUSAGE_SELF).ru_maxrss of the worker.
Must run with Debian's interpreter (/usr/bin/python3), where python3-torch is installed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

SETTINGS = {
    "default": {"threads": 2, "env": {}},
    "passive": {"threads": 2, "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
    "1thread": {"threads": 1, "env": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}},
    "blas1": {"threads": 2, "env": {"OPENBLAS_NUM_THREADS": "1"}},
}
# Thread variables of the caller's shell are dropped so that each setting is exactly what it says.
THREAD_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "GOMP_SPINCOUNT", "OMP_PROC_BIND")


def worker(a):
    import resource
    import time

    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    d = a.data
    in_memory = a.mode == "memory"
    mm = None if in_memory else "r"
    train_x = np.load(os.path.join(d, "train_x.npy"), mmap_mode=mm)
    train_y = np.load(os.path.join(d, "train_y.npy"), mmap_mode=mm)
    test_x = np.load(os.path.join(d, "test_x.npy"), mmap_mode=mm)
    test_y = np.load(os.path.join(d, "test_y.npy"), mmap_mode=mm)
    # trainer import keeps IDX images as [N, 28, 28]; the model takes 784 values per sample
    # (a reshape of a C-ordered memmap is a view, so the mmap mode stays memory-frugal).
    train_x = train_x.reshape(train_x.shape[0], -1)
    test_x = test_x.reshape(test_x.shape[0], -1)
    n, n_test = train_x.shape[0], test_x.shape[0]
    if in_memory:
        xtr = torch.from_numpy(np.asarray(train_x)).float().div_(255.0)
        ytr = torch.from_numpy(np.asarray(train_y)).long()
        xte = torch.from_numpy(np.asarray(test_x)).float().div_(255.0)
        yte = torch.from_numpy(np.asarray(test_y)).long()
        del train_x, train_y, test_x, test_y

    def batch(idx):
        if in_memory:
            return xtr[idx], ytr[idx]
        return (torch.from_numpy(train_x[idx]).float().div_(255.0),
                torch.from_numpy(train_y[idx].astype(np.int64)))

    def make():
        torch.manual_seed(a.seed)
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                              nn.Linear(256, 10))
        return model, torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(model, opt, xb, yb):
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    def evaluate(model):
        model.eval()
        correct = 0
        loss = 0.0
        with torch.no_grad():
            for i in range(0, n_test, 1000):
                if in_memory:
                    xb, yb = xte[i:i + 1000], yte[i:i + 1000]
                else:
                    xb = torch.from_numpy(np.array(test_x[i:i + 1000])).float().div_(255.0)
                    yb = torch.from_numpy(np.array(test_y[i:i + 1000], dtype=np.int64))
                out = model(xb)
                loss += F.cross_entropy(out, yb, reduction="sum").item()
                correct += (out.argmax(1) == yb).sum().item()
        model.train()
        return loss / n_test, correct / n_test

    rng = np.random.default_rng(a.seed)
    # Warm-up on a throw-away model: thread pools, allocator and caches settle; the measured
    # epoch then starts from the same initial weights as an unwarmed run.
    model, opt = make()
    warm_idx = rng.permutation(n)
    for s in range(a.warmup_steps):
        idx = warm_idx[(s * a.batch) % n:(s * a.batch) % n + a.batch]
        step(model, opt, *batch(torch.from_numpy(idx) if in_memory else idx))
    del model, opt

    model, opt = make()
    for epoch in range(1, a.epochs + 1):
        perm = rng.permutation(n)
        if in_memory:
            perm = torch.from_numpy(perm)
        loss_sum = torch.zeros((), dtype=torch.float64)
        t0 = time.perf_counter()
        n_epoch = min(n, a.max_samples) if a.max_samples > 0 else n
        for i in range(0, n_epoch, a.batch):
            idx = perm[i:min(i + a.batch, n_epoch)]
            xb, yb = batch(idx)
            loss = step(model, opt, xb, yb)
            loss_sum += loss.detach() * yb.shape[0]
        seconds = time.perf_counter() - t0
        test_loss, test_acc = evaluate(model)
        print(json.dumps({
            "setting": a.setting, "mode": a.mode, "batch": a.batch, "epoch": epoch,
            "threads": a.threads, "samples": n_epoch,
            "samples_per_sec": round(n_epoch / seconds, 1),
            "epoch_seconds": round(seconds, 3), "train_loss": round(loss_sum.item() / n_epoch, 5),
            "test_loss": round(test_loss, 5), "test_accuracy": round(test_acc, 5),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
            "torch": torch.__version__, "torch_num_threads": torch.get_num_threads(),
            "env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        }), flush=True)


def run_worker(a, setting, mode, batch):
    cfg = SETTINGS[setting]
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(cfg["env"])
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--data", a.data,
           "--setting", setting, "--mode", mode, "--batch", str(batch),
           "--threads", str(cfg["threads"]), "--epochs", str(a.epochs), "--seed", str(a.seed),
           "--warmup-steps", str(a.warmup_steps), "--max-samples", str(a.max_samples)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"torch_mlp_bench: worker {setting}/{mode}/B={batch} failed:\n{res.stderr}")
    return [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]


def harness(a):
    settings = a.settings.split(",")
    for s in settings:
        if s not in SETTINGS:
            raise SystemExit(f"torch_mlp_bench: unknown setting {s!r}; valid: {', '.join(SETTINGS)}")
    runs = [(s, m, int(b)) for b in a.batches.split(",") for m in a.modes.split(",") for s in settings]
    results = {}
    for r in range(a.repeats):
        # Rotate so that no run is always first after another one (the machine is shared).
        order = runs[r % len(runs):] + runs[:r % len(runs)]
        for setting, mode, batch in order:
            print(f"torch_mlp_bench: repeat {r + 1}/{a.repeats} {setting} {mode} B={batch}",
                  file=sys.stderr, flush=True)
            with open("/proc/loadavg") as f:
                load = float(f.read().split()[0])  # other users of this shared machine
            lines = run_worker(a, setting, mode, batch)
            for line in lines:
                line["repeat"] = r + 1
                line["loadavg_1min_before"] = load
                print(json.dumps(line), flush=True)
            results.setdefault((setting, mode, batch), []).append(lines[-1])

    def summary(setting, mode, batch):
        rows = results[(setting, mode, batch)]
        return {"setting": setting, "mode": mode, "batch": batch,
                "samples_per_sec": round(statistics.median(x["samples_per_sec"] for x in rows), 1),
                "peak_rss_mib": max(x["peak_rss_mib"] for x in rows),
                "test_accuracy": rows[-1]["test_accuracy"], "repeats": len(rows)}

    for batch in sorted({b for (_, _, b) in runs}):
        for mode in sorted({m for (_, m, b) in runs if b == batch}):
            cands = [summary(s, mode, batch) for s in settings if (s, mode, batch) in results]
            best = max(cands, key=lambda x: x["samples_per_sec"])
            print(json.dumps({"best": True, **best}), flush=True)
            if "default" in settings:
                print(json.dumps({"out_of_the_box": True, **summary("default", mode, batch)}),
                      flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="directory with {train,test}_{x,y}.npy")
    ap.add_argument("--batches", default="32,256,2048")
    ap.add_argument("--settings", default="default,passive,1thread,blas1")
    ap.add_argument("--modes", default="memory,mmap")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--max-samples", type=int, default=0,
                    help="time only the first N samples of the epoch (0 = the whole epoch); for "
                         "quick looks on a busy machine, the test accuracy is then not comparable")
    # Worker-only arguments (set by the harness).
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--setting", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a)
    else:
        harness(a)


if __name__ == "__main__":
    main()
