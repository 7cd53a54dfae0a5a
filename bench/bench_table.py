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
    torch = [r for r in read_jsonl(os.path.join(out, "accuracy-torch.jsonl")) if "epoch" in r]
    summary = {}
    try:
        with open(os.path.join(out, "accuracy-trainer.json")) as f:
            summary = json.load(f)
    except (OSError, ValueError):
        pass
    trainer_epochs = read_jsonl(os.path.join(out, "accuracy-trainer.jsonl"))
    print("| epoch | trainer val_accuracy | PyTorch test accuracy |")
    print("|---|---|---|")
    n = max(len(torch), len(trainer_epochs))
    for i in range(n):
        tv = trainer_epochs[i].get("val_accuracy") if i < len(trainer_epochs) else None
        pv = torch[i]["test_accuracy"] if i < len(torch) else None
        print(f"| {i + 1} | {fmt(tv, '.4f')} | {fmt(pv, '.4f')} |")
    ta = summary.get("test_accuracy")
    pa = torch[-1]["test_accuracy"] if torch else None
    print(f"\ntest accuracy after {n} epochs at B=256: trainer {fmt(ta, '.4f')}, PyTorch {fmt(pa, '.4f')}"
          + (f" -> {'trainer >= PyTorch' if ta >= pa else 'trainer BELOW PyTorch'}" if ta and pa else ""))


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
