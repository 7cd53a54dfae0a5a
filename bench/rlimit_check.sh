#!/usr/bin/env bash
# How each GEMM backend behaves when its scratch memory does not fit under RLIMIT_DATA (the limit
# the trainer's sandboxed batch trials run under). For each backend and limit, runs gemm_bench on
# one MLP shape (B=256) under `prlimit --data` with a timeout and reports: ok, failed (exit code and
# last stderr line) or HUNG (killed by the timeout).
# Usage: bench/rlimit_check.sh BUILD/bench/gemm_bench [limits in MiB, default "16 64 160"]
set -uo pipefail
bench=${1:?usage: rlimit_check.sh BUILD/bench/gemm_bench [MiB...]}
shift
limits=${*:-16 64 160}
libdir=/usr/lib/x86_64-linux-gnu
for mib in $limits; do
  for cfg in eigen:1 eigen:2 openblas-pthread:1 openblas-pthread:2 openblas-openmp:2; do
    name=${cfg%%:*}
    threads=${cfg##*:}
    args=(--backend eigen)
    if [ "$name" != eigen ]; then
      lib="$libdir/$name/libopenblas.so.0"
      [ -e "$lib" ] || { echo "limit ${mib} MiB  $cfg  skipped ($lib missing)"; continue; }
      args=(--backend openblas --openblas-lib "$lib" --no-check)
    fi
    start=$(date +%s.%N)
    OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads timeout -s KILL 20 \
      prlimit --data=$((mib * 1024 * 1024)) "$bench" "${args[@]}" --threads "$threads" \
      --batches 256 --squares "" --samples 1 --min-sample-ms 1 > /tmp/rlimit_check.$$.out 2> /tmp/rlimit_check.$$.err
    rc=$?
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    case $rc in
      0) verdict="ok" ;;
      137) verdict="HUNG (killed after 20 s)" ;;
      *) verdict="failed rc=$rc: $(tail -n 1 /tmp/rlimit_check.$$.err | cut -c1-120)" ;;
    esac
    printf 'limit %4s MiB  %-20s %-60s %.1f s\n' "$mib" "$cfg" "$verdict" "$secs"
  done
done
rm -f /tmp/rlimit_check.$$.out /tmp/rlimit_check.$$.err
