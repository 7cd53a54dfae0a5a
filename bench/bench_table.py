#!/usr/bin/python3
"""Print the issue-6 comparison table from the files scripts/bench.sh leaves in its output dir.

Reads OUT/trainer-B<batch>-r<repeat>.jsonl (the trainer's --metrics: samples_per_second of the last
epoch), OUT/trainer-B<batch>-r<repeat>.time (/usr/bin/time -v: "Maximum resident set size"),
OUT/torch.jsonl (bench/torch_mlp_bench.py) and OUT/gemm.json (bench/gemm_compare.py: the 2-thread
SGEMM peak). Medians over repeats; a missing trainer figure prints as "n/a".

Usage: bench/bench_table.py OUT_DIR [--accuracy]
"""
import glob
import json
import os
import re
import statistics
import sys

FLOP_PER_SAMPLE = 2_407_424  # GEMM FLOP of one training sample of MLP 784-512-256-10


def read_jsonl(path):
    try:
        with open(path) as f:
            return [json.loads(x) for x in f if x.strip().startswith("{")]
    except (OSError, ValueError):
        return []


def max_rss_mib(path):
    try:
        with open(path) as f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
    except OSError:
        return None
    return int(m.group(1)) / 1024.0 if m else None


def trainer_figures(out, batch):
    rates, rss = [], []
    for path in sorted(glob.glob(os.path.join(out, f"trainer-B{batch}-r*.jsonl"))):
        rows = [r for r in read_jsonl(path) if "samples_per_second" in r]
        if rows:
            rates.append(rows[-1]["samples_per_second"])
        r = max_rss_mib(path[:-len(".jsonl")] + ".time")
        if r is not None and rows:
            rss.append(r)
    return (statistics.median(rates) if rates else None, max(rss) if rss else None)


def fmt(v, spec=".0f", none="n/a"):
    return none if v is None else format(v, spec)


def mib(v):
    return "n/a" if v is None else f"{v:.0f} MiB"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


def speed_table(out):
    torch = read_jsonl(os.path.join(out, "torch.jsonl"))
    best = {(r["batch"], r["mode"]): r for r in torch if r.get("best")}
    oob = {(r["batch"], r["mode"]): r for r in torch if r.get("out_of_the_box")}
    try:
        with open(os.path.join(out, "gemm.json")) as f:
            peak = json.load(f).get("peak_gflops_2t")
    except (OSError, ValueError):
        peak = None
    batches = sorted({b for (b, _) in best})
    print(f"SGEMM peak (2 threads, gemm_bench): {fmt(peak, '.1f')} GFLOP/s; "
          f"GEMM bound {fmt(peak and peak * 1e9 / FLOP_PER_SAMPLE, '.0f')} samples/s\n")
    print("| batch | trainer samples/s | best PyTorch samples/s (setting) | ratio | "
          "out-of-the-box PyTorch | ratio | trainer peak RSS | PyTorch peak RSS in memory / mmap | "
          "RSS ratio (vs mmap) | share of SGEMM peak |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for b in batches:
        t_rate, t_rss = trainer_figures(out, b)
        bm = best.get((b, "memory")) or best.get((b, "mmap"))
        om = oob.get((b, "memory"))
        mm = oob.get((b, "mmap"))
        torch_rss_mem = bm["peak_rss_mib"] if bm else None
        torch_rss_mmap = mm["peak_rss_mib"] if mm else None
        share = (t_rate * FLOP_PER_SAMPLE / (peak * 1e9)) if (t_rate and peak) else None
        print(f"| {b} | {fmt(t_rate)} | {fmt(bm and bm['samples_per_sec'])} ({bm['setting'] if bm else '-'}) | "
              f"{ratio(t_rate, bm and bm['samples_per_sec'])} | {fmt(om and om['samples_per_sec'])} | "
              f"{ratio(t_rate, om and om['samples_per_sec'])} | {mib(t_rss)} | "
              f"{mib(torch_rss_mem)} / {mib(torch_rss_mmap)} | "
              f"{ratio(t_rss, torch_rss_mmap)} | {fmt(share and share * 100, '.0f')}{'%' if share else ''} |")
    print("\nratio = trainer / PyTorch (targets: >= 2x / 1.3x / 1.1x vs best at B=32/256/2048, >= 4x vs "
          "out of the box); RSS ratio target <= 0.20x")


def accuracy_table(out):
    """Per-epoch test accuracy, mean over the seeds run (files accuracy-{trainer,torch}-s<seed>*)."""
    seeds = sorted({int(f[len("accuracy-trainer-s"):-len(".jsonl")]) for f in os.listdir(out)
                    if f.startswith("accuracy-trainer-s") and f.endswith(".jsonl")})
    trainer_runs, torch_runs = [], []
    for s in seeds:
        trainer_runs.append([r.get("val_accuracy") for r in read_jsonl(os.path.join(out, f"accuracy-trainer-s{s}.jsonl"))])
        torch_runs.append([r["test_accuracy"] for r in read_jsonl(os.path.join(out, f"accuracy-torch-s{s}.jsonl"))
                           if "epoch" in r])

    def column(runs, i):
        vals = [r[i] for r in runs if i < len(r) and r[i] is not None]
        return sum(vals) / len(vals) if vals else None

    print(f"test accuracy per epoch, B=256, Adam lr 1e-3, all 60000 training rows, mean of seeds {seeds}\n")
    print("| epoch | trainer | PyTorch |")
    print("|---|---|---|")
    n = max([len(r) for r in trainer_runs + torch_runs] or [0])
    for i in range(n):
        print(f"| {i + 1} | {fmt(column(trainer_runs, i), '.4f')} | {fmt(column(torch_runs, i), '.4f')} |")
    finals = {name: [r[-1] for r in runs if r and r[-1] is not None]
              for name, runs in (("trainer", trainer_runs), ("PyTorch", torch_runs))}
    print()
    for name, vals in finals.items():
        if vals:
            print(f"{name}: final test accuracy mean {sum(vals) / len(vals):.4f} "
                  f"(min {min(vals):.4f}, max {max(vals):.4f}, {len(vals)} seeds)")
    t, p = finals["trainer"], finals["PyTorch"]
    if t and p:
        mt, mp = sum(t) / len(t), sum(p) / len(p)
        print(f"-> {'trainer >= PyTorch' if mt >= mp else 'trainer BELOW PyTorch'} (means {mt:.4f} vs {mp:.4f})")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    if "--accuracy" in sys.argv[2:]:
        accuracy_table(out)
    else:
        speed_table(out)


if __name__ == "__main__":
    main()
