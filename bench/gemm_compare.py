#!/usr/bin/python3
"""Run gemm_bench for every backend/thread configuration in interleaved rounds and summarise.

Each configuration is a separate process (environment set before any library loads), and the
rounds interleave the configurations, so slow phases of this shared machine hit all of them alike;
ratios are taken between medians of the same run.

Usage: bench/gemm_compare.py --gemm-bench BUILD/bench/gemm_bench [--rounds 3] [--samples 5]
           [--configs eigen:1,eigen:2,eigen-split:2,openblas-pthread:1,...] [--batches 32,256,2048]
           [--squares 1024,2048,4096] [--json OUT.json] [--raw OUT.jsonl]
Prints a Markdown table of median GFLOP/s per shape, ratios, the per-batch GEMM-only bound of a
training step, and the allocation behaviour; --json writes the summary (bench.sh reads
"peak_gflops_2t" from it).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

LIBDIR = "/usr/lib/x86_64-linux-gnu"
OPENBLAS_LIBS = {
    "openblas-pthread": f"{LIBDIR}/openblas-pthread/libopenblas.so.0",
    "openblas-openmp": f"{LIBDIR}/openblas-openmp/libopenblas.so.0",
}
# FLOP of the GEMMs of one training sample of MLP 784-512-256-10 (fwd + dW of 3 layers, dA of 2).
FLOP_PER_SAMPLE = 2 * (784 * 512 * 2 + 512 * 256 * 3 + 256 * 10 * 3)


# Backends linked into gemm_bench; the others are OpenBLAS builds it loads.
BUILT_IN = ("eigen", "eigen-split", "trainer")


def shape_key(r):
    if r["kind"] == "square":
        return ("square", r["m"], 0)
    return (r["kind"], r["batch"], r["layer"])


def shape_label(key):
    kind, a, b = key
    return f"square {a}" if kind == "square" else f"B={a} L{b} {kind}"


def available_configs(requested):
    out = []
    for item in requested:
        name, threads = item.split(":")
        if name not in BUILT_IN and not os.path.exists(OPENBLAS_LIBS[name]):
            print(f"gemm_compare: skipping {name}: {OPENBLAS_LIBS[name]} not installed "
                  f"(apt-get install lib{name.replace('-', '0-')})", file=sys.stderr)
            continue
        out.append((name, int(threads)))
    return out


def run_one(a, name, threads):
    cmd = [a.gemm_bench, "--threads", str(threads), "--samples", str(a.samples),
           "--batches", a.batches, "--squares", a.squares]
    if name in BUILT_IN:
        cmd += ["--backend", name]
    else:
        cmd += ["--backend", "openblas", "--openblas-lib", OPENBLAS_LIBS[name]]
    env = dict(os.environ)
    # Pool sizes are read when the runtime starts, so they are set in the environment.
    env["OMP_NUM_THREADS"] = str(threads)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.strip()]
    return lines[0], lines[1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gemm-bench", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--configs", default="trainer:1,trainer:2,eigen:1,eigen:2,openblas-pthread:1,openblas-pthread:2,"
                                         "openblas-openmp:1,openblas-openmp:2")
    ap.add_argument("--batches", default="32,256,2048")
    ap.add_argument("--squares", default="1024,2048,4096")
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--raw", help="append every raw gemm_bench line here")
    a = ap.parse_args()

    configs = available_configs(a.configs.split(","))
    gflops = {}   # (config, shape) -> [median GFLOP/s per round]
    seconds = {}  # (config, shape) -> [median seconds per call per round]
    flop = {}
    dims = {}     # shape -> "m x n x k" with the transposed operand marked
    alloc = {}    # (config, shape) -> steady allocs per call, bytes, first-call mmap bytes
    infos = {}
    loads = []
    raw = open(a.raw, "a") if a.raw else None
    for rnd in range(a.rounds):
        # Rotate the order each round so no configuration always runs first (or last).
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        for name, threads in order:
            cfg = f"{name}:{threads}"
            print(f"gemm_compare: round {rnd + 1}/{a.rounds} {cfg}", file=sys.stderr, flush=True)
            with open("/proc/loadavg") as f:
                load = f.read().split()[0]  # other users of this shared machine
            info, rows = run_one(a, name, threads)
            info["loadavg_1min_before"] = float(load)
            infos[cfg] = info
            for r in rows:
                k = shape_key(r)
                gflops.setdefault((cfg, k), []).append(r["gflops_median"])
                seconds.setdefault((cfg, k), []).append(r["seconds_median"])
                flop[k] = r["flop"]
                dims[k] = "{}x{}x{} {}{}".format(r["m"], r["n"], r["k"], "T" if r["trans_a"] else "N",
                                                 "T" if r["trans_b"] else "N")
                alloc[(cfg, k)] = (r["steady_per_call"]["allocs"],
                                   r["steady_per_call"]["alloc_bytes"],
                                   r["first_call"]["mmap_bytes"], r["first_call"]["rss_delta_kib"],
                                   r["max_rel_err"])
                if raw:
                    raw.write(json.dumps({"round": rnd + 1, **r}) + "\n")
            if raw:
                raw.write(json.dumps({"round": rnd + 1, **info}) + "\n")
            loads.append(info["loadavg_1min_before"])
    if raw:
        raw.close()

    cfgs = [f"{n}:{t}" for n, t in configs]
    shapes = sorted({k for (_, k) in gflops}, key=lambda k: (k[0] == "square", k[1], k[2], k[0]))
    med = {key: statistics.median(v) for key, v in gflops.items()}

    print(f"\nMedian GFLOP/s over {a.rounds} rounds (each round: median of {a.samples} samples)\n")
    print("| shape | m x n x k, op(A) op(B) | " + " | ".join(cfgs) + " |")
    print("|---|---|" + "---|" * len(cfgs))
    for k in shapes:
        cells = [f"{med[(c, k)]:.1f}" if (c, k) in med else "-" for c in cfgs]
        print(f"| {shape_label(k)} | {dims[k]} | " + " | ".join(cells) + " |")

    # GEMM-only time of one training step per batch size (sum of the 8 GEMMs' median times).
    steps = {}
    print("\nGEMM-only training step (8 GEMMs): GFLOP/s and samples/s bound\n")
    print("| batch | " + " | ".join(cfgs) + " |")
    print("|---|" + "---|" * len(cfgs))
    for b in sorted({k[1] for k in shapes if k[0] != "square"}):
        cells = []
        for c in cfgs:
            ks = [k for k in shapes if k[0] != "square" and k[1] == b]
            if not all((c, k) in seconds for k in ks):
                cells.append("-")
                continue
            t = sum(statistics.median(seconds[(c, k)]) for k in ks)
            fl = sum(flop[k] for k in ks)
            steps[(c, b)] = {"gflops": fl / t * 1e-9, "samples_per_sec_bound": b / t}
            cells.append(f"{fl / t * 1e-9:.1f} GF/s, {b / t / 1e3:.1f}k/s")
        print(f"| {b} | " + " | ".join(cells) + " |")

    # Ratios of the same run.
    pairs = [("eigen:2", "openblas-pthread:2"), ("eigen:2", "openblas-openmp:2"),
             ("eigen:1", "openblas-pthread:1"), ("eigen:2", "eigen:1"),
             ("openblas-pthread:2", "openblas-pthread:1"), ("openblas-openmp:2", "openblas-pthread:2")]
    print("\nRatios (median of this run)\n")
    print("| shape | " + " | ".join(f"{x}/{y}" for x, y in pairs) + " |")
    print("|---|" + "---|" * len(pairs))
    rows = [(shape_label(k), lambda c, k=k: med.get((c, k))) for k in shapes if k[0] == "square"]
    rows += [(f"step B={b}", lambda c, b=b: steps.get((c, b), {}).get("gflops"))
             for b in sorted({k[1] for k in shapes if k[0] != "square"})]
    for label, get in rows:
        cells = []
        for x, y in pairs:
            vx, vy = get(x), get(y)
            cells.append(f"{vx / vy:.2f}" if vx and vy else "-")
        print(f"| {label} | " + " | ".join(cells) + " |")

    print("\nAllocations per call in steady state (count / bytes) and first-call mmap bytes\n")
    print("| shape | " + " | ".join(cfgs) + " |")
    print("|---|" + "---|" * len(cfgs))
    for k in shapes:
        cells = []
        for c in cfgs:
            if (c, k) not in alloc:
                cells.append("-")
                continue
            n, by, mm, _, _ = alloc[(c, k)]
            cells.append(f"{n:g} / {by / 1024:.0f} KiB" + (f", mmap {mm / 2**20:.0f} MiB" if mm else ""))
        print(f"| {shape_label(k)} | " + " | ".join(cells) + " |")
    errs = [v[4] for v in alloc.values() if v[4] >= 0]
    if errs:
        print(f"\nOther backends vs Eigen, max relative difference: {max(errs):.2e}")

    peak = {}
    for c in cfgs:
        sq = [med[(c, k)] for k in shapes if k[0] == "square" and (c, k) in med]
        if sq:
            peak[c] = max(sq)
    peak_2t = max((v for c, v in peak.items() if c.endswith(":2")), default=None)
    peak_1t = max((v for c, v in peak.items() if c.endswith(":1")), default=None)
    print(f"\n1-min load average before each run: {loads}")
    print(f"\nSquare-GEMM peak (best median): 2 threads {peak_2t}, 1 thread {peak_1t} GFLOP/s")
    if peak_2t:
        print(f"GEMM bound at that peak: {peak_2t * 1e9 / FLOP_PER_SAMPLE / 1e3:.1f}k samples/s "
              f"({FLOP_PER_SAMPLE} FLOP per sample)")

    if a.json:
        summary = {
            "rounds": a.rounds, "samples": a.samples, "infos": infos, "loadavg_1min": loads,
            "peak_gflops_2t": peak_2t, "peak_gflops_1t": peak_1t, "peak_by_config": peak,
            "flop_per_sample": FLOP_PER_SAMPLE,
            "median_gflops": [{"config": c, "shape": shape_label(k), "gflops": med[(c, k)],
                               "rounds": gflops[(c, k)]} for (c, k) in sorted(med)],
            "step": [{"config": c, "batch": b, **v} for (c, b), v in sorted(steps.items())],
        }
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
