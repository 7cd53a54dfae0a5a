#!/usr/bin/python3
"""The image-model benchmark (issue 18): `trainer fit` on configs/fashion-mnist-cnn.json against
../shared/peers/torch_cnn.py (the same model, optimizer and rows), side by side, per batch size,
2 threads, samples/s after the first epoch (steady state): PyTorch's epoch 2; the trainer's
epochs 2-4 together (its epoch of --rows rows lasts 1-3 s, so that a neighbour's burst of a
second would decide a single one; three of them make a window closer to PyTorch's one epoch).

Usage: bench/cnn_bench.py --trainer BUILD/trainer --torch-script PEERS/torch_cnn.py --data DIR --out DIR
           [--config configs/fashion-mnist-cnn.json] [--batches 32,128,512] [--rows 10000] [--repeats 1]
           [--settings ootb,blas1,passive,passive-cl] [--gemm-bench BUILD/bench/gemm_bench] [--augment]
           [--gemm-json OUT/gemm.json | --peak-gflops G] [--table-only]

Every round runs, for each batch size, the trainer and each PyTorch setting as its own process,
in an order that rotates from round to round (this VM's speed drifts by 2-3x within an hour, so
only figures of the same round compare); /proc/loadavg is recorded before each run. Both tools
train on the first --rows rows of DIR/train_x.npy (the trainer from a copy of them, PyTorch with
--limit) and evaluate nothing (torch_cnn.py --no-eval; the trainer's config without validation).
With --augment the trainer also runs with data.augment (flip, crop_padding 2) in every round, and
the table gives what augmentation costs against the plain run of the same round.

PyTorch settings (2 threads; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as they force older
kernels; the caller's thread variables dropped):
  ootb        out of the box: the script's defaults (torch.set_num_threads(2), memory-mapped .npy)
  blas1       in memory, OpenBLAS at 1 thread (one pool instead of two)
  passive     in memory, OMP_WAIT_POLICY=PASSIVE
  passive-cl  in memory, OMP_WAIT_POLICY=PASSIVE, channels-last (oneDNN's preferred layout)
  1thread     in memory, 1 thread everywhere (not in the default list)

With --gemm-bench, every round also measures the 2-thread SGEMM peak (square products of 2048
and 4096 through OpenBLAS and the trainer's kernel, the best median), so that the trainer's share
of the model's FLOP bound compares figures of the same minutes; otherwise the peak comes from
bench/gemm_compare.py's JSON (--gemm-json) or --peak-gflops.

Writes OUT/cnn-runs.jsonl (one line per run: tool, setting, batch, round, samples/s, peak RSS,
load) and prints the table (also OUT/cnn-table.md): medians per batch, the best PyTorch setting,
ratios, peak RSS against PyTorch's memory-mapped (ootb) run, and the trainer's share of the
model's FLOP bound at the 2-thread SGEMM peak.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

# FLOP of one training sample of the Fashion-MNIST CNN: forward and weight gradient of every
# layer, input gradient of all but the first (conv1 1->32 3x3 on 28x28, conv2 32->64 3x3 on
# 14x14, dense 3136->128, dense 128->10).
CONV1 = 2 * 28 * 28 * 32 * 9
CONV2 = 2 * 14 * 14 * 64 * 288
DENSE1 = 2 * 3136 * 128
DENSE2 = 2 * 128 * 10
FLOP_PER_SAMPLE = 2 * CONV1 + 3 * (CONV2 + DENSE1 + DENSE2)  # 24,995,328

SETTINGS = {
    "ootb": {"args": [], "env": {}},
    "blas1": {"args": ["--in-memory", "--blas-threads", "1"], "env": {}},
    "passive": {"args": ["--in-memory"], "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
    "passive-cl": {"args": ["--in-memory", "--channels-last"], "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
    "1thread": {"args": ["--in-memory"], "env": {}, "threads": 1},
}
LABELS = {"trainer": "trainer", "trainer-augment": "trainer, augment flip + crop_padding 2", "ootb": "out of the box, mmap", "blas1": "in memory, OpenBLAS 1 thread",
          "passive": "in memory, OMP_WAIT_POLICY=PASSIVE", "passive-cl": "in memory, PASSIVE, channels-last",
          "1thread": "in memory, 1 thread"}
DROPPED_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOMP_SPINCOUNT",
               "OMP_PROC_BIND", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
TIMEOUT = 3600
TRAINER_EPOCHS = 4  # the first is warm-up; the rate is over the others
AUGMENT = {"flip": True, "crop_padding": 2}  # the --augment runs' data.augment


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def subset(a):
    """The first --rows training rows as their own .npy files, for the trainer's config."""
    import numpy as np
    d = os.path.join(a.out, f"rows-{a.rows}")
    os.makedirs(d, exist_ok=True)
    for name in ("train_x", "train_y"):
        path = os.path.join(d, name + ".npy")
        if not os.path.exists(path):
            src = np.load(os.path.join(a.data, name + ".npy"), mmap_mode="r")
            if src.shape[0] < a.rows:
                sys.exit(f"cnn_bench: {a.data}/{name}.npy has {src.shape[0]} rows, fewer than --rows {a.rows}")
            np.save(path, np.ascontiguousarray(src[:a.rows]))
    return d


def trainer_config(a, rows_dir):
    with open(a.config) as f:
        c = json.load(f)
    c.pop("$schema", None)
    c["data"]["train"] = {"x": os.path.join(rows_dir, "train_x.npy"), "y": os.path.join(rows_dir, "train_y.npy")}
    for part in ("validation", "validation_split", "test"):
        c["data"].pop(part, None)
    path = os.path.join(a.out, "cnn-bench-config.json")
    with open(path, "w") as f:
        json.dump(c, f, indent=1)
    # The same run with the augmentation a user would switch on, to measure what it costs.
    c["data"]["augment"] = AUGMENT
    with open(os.path.join(a.out, "cnn-bench-config-augment.json"), "w") as f:
        json.dump(c, f, indent=1)
    return path


def max_rss_mib(time_output):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_output)
    return int(m.group(1)) / 1024.0 if m else None


def run_trainer(a, config, batch, tag):
    metrics = os.path.join(a.out, f"cnn-trainer-B{batch}-{tag}.jsonl")
    timing = os.path.join(a.out, f"cnn-trainer-B{batch}-{tag}.time")
    log = os.path.join(a.out, f"cnn-trainer-B{batch}-{tag}.log")
    for p in (metrics, timing):
        if os.path.exists(p):
            os.remove(p)
    cmd = ["/usr/bin/time", "-v", "-o", timing, a.trainer, "fit", "--config", config, "--epochs", str(TRAINER_EPOCHS),
           "--batch-size", str(batch), "--threads", "2", "--metrics", metrics]
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=TIMEOUT).returncode
    rows = []
    if os.path.exists(metrics):
        with open(metrics) as f:
            rows = [json.loads(x) for x in f if x.strip()]
    steady = rows[1:]
    seconds = sum(r["seconds"] for r in steady)
    rate = sum(r["samples_per_second"] * r["seconds"] for r in steady) / seconds if steady and seconds > 0 else None
    with open(timing) as f:
        rss = max_rss_mib(f.read())
    if rc != 0 or rate is None:
        print(f"cnn_bench: trainer B={batch} failed (exit {rc}); see {log}", file=sys.stderr)
    return rate, rss


def run_torch(a, setting, batch):
    s = SETTINGS[setting]
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(s["env"])
    cmd = ["/usr/bin/python3", a.torch_script, "--data", a.data, "--batch-size", str(batch), "--epochs", "2",
           "--threads", str(s.get("threads", 2)), "--limit", str(a.rows), "--no-eval"] + s["args"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.strip().startswith("{")]
    epochs = [x for x in lines if "epoch" in x]
    rss = next((x["peak_rss_mib"] for x in lines if "peak_rss_mib" in x), None)
    rate = epochs[-1]["samples_per_sec"] if len(epochs) >= 2 else None
    if res.returncode != 0 or rate is None:
        print(f"cnn_bench: torch {setting} B={batch} failed (exit {res.returncode}): {res.stderr[-400:]}",
              file=sys.stderr)
    return rate, rss


def run_sgemm_peak(a):
    """The best 2-thread GFLOP/s on squares, OpenBLAS (pthread) and the trainer's own kernel."""
    best = None
    for backend in ("openblas", "trainer"):
        cmd = [a.gemm_bench, "--backend", backend, "--threads", "2", "--samples", "3", "--batches", "",
               "--squares", "2048,4096"]
        if backend == "openblas":
            cmd += ["--openblas-lib", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"]
        env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        env.update({"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"})
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        for line in res.stdout.splitlines():
            x = json.loads(line) if line.strip().startswith("{") else {}
            if x.get("kind") == "square":
                best = max(best or 0.0, x["gflops_median"])
    return best


def measure(a):
    rows_dir = subset(a)
    config = trainer_config(a, rows_dir)
    runs = os.path.join(a.out, "cnn-runs.jsonl")
    tools = ["trainer"] + (["trainer-augment"] if a.augment else []) + a.settings
    if a.gemm_bench:
        tools.append("sgemm")
    for r in range(1, a.repeats + 1):
        for bi, batch in enumerate(a.batches):
            shift = (r - 1 + bi) % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                load = loadavg()
                t0 = time.time()
                print(f"cnn_bench: round {r}/{a.repeats} B={batch} {tool} (load {load})", file=sys.stderr)
                if tool == "sgemm":
                    rate, rss = run_sgemm_peak(a), None  # GFLOP/s, not samples/s
                elif tool == "trainer":
                    rate, rss = run_trainer(a, config, batch, f"r{r}")
                elif tool == "trainer-augment":
                    rate, rss = run_trainer(a, config.replace(".json", "-augment.json"), batch, f"augment-r{r}")
                else:
                    rate, rss = run_torch(a, tool, batch)
                with open(runs, "a") as f:
                    f.write(json.dumps({"tool": tool if tool in ("trainer", "sgemm") else
                                        "trainer" if tool == "trainer-augment" else "torch", "setting": tool,
                                        "batch": batch, "round": r, "rows": a.rows, "samples_per_sec": rate,
                                        "peak_rss_mib": rss, "loadavg_1min": load,
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
                                        "seconds": round(time.time() - t0, 1)}) + "\n")


def peak_gflops(a):
    if a.peak_gflops:
        return a.peak_gflops
    try:
        with open(a.gemm_json or os.path.join(a.out, "gemm.json")) as f:
            return json.load(f).get("peak_gflops_2t")
    except (OSError, ValueError):
        return None


def table(a):
    runs = []
    with open(os.path.join(a.out, "cnn-runs.jsonl")) as f:
        runs = [json.loads(x) for x in f if x.strip()]
    all_runs = runs
    round_peaks = [r["samples_per_sec"] for r in runs if r["setting"] == "sgemm" and r["samples_per_sec"]]
    peak = statistics.median(round_peaks) if round_peaks else peak_gflops(a)
    runs = [r for r in runs if r["setting"] != "sgemm"]
    med = lambda xs: statistics.median(xs) if xs else None  # noqa: E731
    fmt = lambda v, spec=".0f": "n/a" if v is None else format(v, spec)  # noqa: E731
    ratio = lambda x, y: f"{x / y:.2f}x" if x and y else "n/a"  # noqa: E731
    settings = [s for s in SETTINGS if any(r["setting"] == s for r in runs)]

    def round_peaks_by(batch):
        return [r for r in all_runs if r["setting"] == "sgemm" and r["batch"] == batch and r["samples_per_sec"]]
    out = []
    out.append(f"Fashion-MNIST CNN, {runs[0]['rows'] if runs else '?'} rows, 2 threads, samples/s after epoch 1 "
               f"(medians over {max((r['round'] for r in runs), default=0)} rounds)\n")
    out.append("| batch | trainer samples/s | best PyTorch samples/s (setting) | ratio | out-of-the-box PyTorch | ratio "
               "| trainer peak RSS | PyTorch peak RSS mmap | RSS ratio | share of the FLOP bound |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for batch in sorted({r["batch"] for r in runs}):
        def rates(setting):
            return [r["samples_per_sec"] for r in runs if r["batch"] == batch and r["setting"] == setting
                    and r["samples_per_sec"]]

        trainer = med(rates("trainer"))
        torch_med = {s: med(rates(s)) for s in settings if s != "trainer" and rates(s)}
        best = max(torch_med.items(), key=lambda kv: kv[1], default=(None, None))
        ootb = torch_med.get("ootb")
        t_rss = max((r["peak_rss_mib"] for r in runs if r["batch"] == batch and r["setting"] == "trainer"
                     and r["peak_rss_mib"]), default=None)
        o_rss = max((r["peak_rss_mib"] for r in runs if r["batch"] == batch and r["setting"] == "ootb"
                     and r["peak_rss_mib"]), default=None)
        # With a peak per round: the median over rounds of trainer / bound of the same round.
        shares = [r["samples_per_sec"] * FLOP_PER_SAMPLE / (p["samples_per_sec"] * 1e9) for r in runs
                  for p in round_peaks_by(batch) if r["batch"] == batch and r["setting"] == "trainer"
                  and r["round"] == p["round"] and r["samples_per_sec"]]
        if shares:
            share = f"{100 * statistics.median(shares):.0f}%"
        else:
            share = f"{100 * trainer * FLOP_PER_SAMPLE / (peak * 1e9):.0f}%" if trainer and peak else "n/a"
        out.append(f"| {batch} | {fmt(trainer)} | {fmt(best[1])} ({best[0]}) | **{ratio(trainer, best[1])}** | "
                   f"{fmt(ootb)} | **{ratio(trainer, ootb)}** | {fmt(t_rss)} MiB | {fmt(o_rss)} MiB | "
                   f"{ratio(t_rss, o_rss)} | {share} |")
    out.append("")
    out.append("Every run (samples/s per round; 1-minute load average before the run in brackets):\n")
    out.append("| batch | setting | " + " | ".join(f"round {i}" for i in sorted({r['round'] for r in runs})) +
               " | median | peak RSS |")
    out.append("|---|---|" + "---|" * (len({r['round'] for r in runs}) + 2))
    for batch in sorted({r["batch"] for r in runs}):
        for s in ["trainer", "trainer-augment"] + settings:
            mine = sorted((r for r in runs if r["batch"] == batch and r["setting"] == s), key=lambda r: r["round"])
            if not mine:
                continue
            cells = [f"{fmt(r['samples_per_sec'])} ({r['loadavg_1min']})" for r in mine]
            rss = max((r["peak_rss_mib"] for r in mine if r["peak_rss_mib"]), default=None)
            out.append(f"| {batch} | {LABELS.get(s, s)} | " + " | ".join(cells) +
                       f" | {fmt(med([r['samples_per_sec'] for r in mine if r['samples_per_sec']]))} | {fmt(rss)} MiB |")
    out.append("")
    costs = {}
    for batch in sorted({r["batch"] for r in runs}):
        pairs = [(p["samples_per_sec"], q["samples_per_sec"]) for p in runs for q in runs
                 if p["batch"] == q["batch"] == batch and p["round"] == q["round"] and p["setting"] == "trainer"
                 and q["setting"] == "trainer-augment" and p["samples_per_sec"] and q["samples_per_sec"]]
        if pairs:
            costs[batch] = [1 - aug / plain for plain, aug in pairs]
    if costs:
        out.append("Cost of augmentation (" + json.dumps(AUGMENT) + ") per batch size: 1 - augmented / plain samples/s "
                   "of the same round, per round (median): " +
                   "; ".join(f"B={b} " + ", ".join(f"{100 * c:.1f}%" for c in cs) +
                             f" ({100 * statistics.median(cs):.1f}%)" for b, cs in costs.items()) + ".")
        out.append("")
    if round_peaks:
        out.append(f"2-thread SGEMM peak per round and batch (GFLOP/s): "
                   f"{', '.join(f'{p:.0f}' for p in round_peaks)}; the share of the bound is the median over "
                   f"rounds of the trainer's samples/s x {FLOP_PER_SAMPLE:,} FLOP / the peak of the same round "
                   f"(median peak {peak:.1f} GFLOP/s = {peak * 1e9 / FLOP_PER_SAMPLE:.0f} samples/s).")
    elif peak:
        out.append(f"FLOP bound: {FLOP_PER_SAMPLE:,} FLOP per training sample at the 2-thread SGEMM peak of "
                   f"{peak:.1f} GFLOP/s = {peak * 1e9 / FLOP_PER_SAMPLE:.0f} samples/s.")
    else:
        out.append("No SGEMM peak measured (no gemm.json): the share of the bound reads n/a.")
    text = "\n".join(out)
    with open(os.path.join(a.out, "cnn-table.md"), "w") as f:
        f.write(text + "\n")
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trainer")
    ap.add_argument("--torch-script")
    ap.add_argument("--data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs",
                                                      "fashion-mnist-cnn.json"))
    ap.add_argument("--batches", default="32,128,512")
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--settings", default="ootb,blas1,passive,passive-cl")
    ap.add_argument("--gemm-bench")
    ap.add_argument("--gemm-json")
    ap.add_argument("--peak-gflops", type=float)
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--augment", action="store_true",
                    help="also run the trainer with data.augment (flip, crop_padding 2) and report what it costs")
    a = ap.parse_args()
    a.batches = [int(b) for b in a.batches.split(",") if b]
    a.settings = [s for s in a.settings.split(",") if s]
    for s in a.settings:
        if s not in SETTINGS:
            sys.exit(f"cnn_bench: unknown setting {s} (valid: {', '.join(SETTINGS)})")
    a.out = os.path.abspath(a.out)  # the trainer's config names the row copies relative to itself
    os.makedirs(a.out, exist_ok=True)
    if not a.table_only:
        if not (a.trainer and a.torch_script and a.data):
            sys.exit("cnn_bench: --trainer, --torch-script and --data are needed to measure")
        measure(a)
    table(a)


if __name__ == "__main__":
    main()
