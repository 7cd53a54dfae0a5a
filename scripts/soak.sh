#!/usr/bin/env bash
# Soak benchmark: trains for a long time and checks that the process does not grow.
#
#   scripts/soak.sh [--epochs N | --minutes M] [--config FILE] [--threads N] [--build DIR] [--out FILE.tsv]
#
# Default: 200 epochs of the digits demo. Every second it samples VmRSS and RssAnon
# (/proc/PID/status), the open file descriptors (/proc/PID/fd) and the threads (Threads:).
# After the first epoch has finished, VmRSS and RssAnon must not grow more than 1% over their
# steady-state values (see the reference below), and the descriptor and thread counts must
# never exceed theirs. Prints a summary; exit 0 when flat,
# 1 when something grew, 2 on usage errors. With --minutes the run is ended by SIGINT (the
# trainer's own clean stop, exit 130) after M minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
epochs=200
minutes=""
config="$root/configs/digits-mlp.json"
build="$root/build"
out=""
threads_flag=()
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --threads) threads_flag=(--threads "$2"); shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
bin="$build/trainer"
[ -x "$bin" ] || { echo "soak.sh: $bin not built (cmake --build $build)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="${out:-$work/samples.tsv}"
metrics="$work/metrics.jsonl"

# --minutes: more epochs than the time allows; the clock ends the run.
[ -n "$minutes" ] && epochs=1000000
"$bin" fit --config "$config" --epochs "$epochs" ${threads_flag[@]+"${threads_flag[@]}"} --metrics "$metrics" --quiet &
pid=$!
start=$(date +%s)

field() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status" 2>/dev/null; }
printf 'second\tepochs_done\tvm_rss_kib\trss_anon_kib\tfds\tthreads\n' > "$out"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(field VmRSS); anon=$(field RssAnon); threads=$(field Threads)
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  done_epochs=$( [ -f "$metrics" ] && wc -l < "$metrics" || echo 0)
  [ -n "$rss" ] && printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(( $(date +%s) - start ))" "$done_epochs" \
    "$rss" "$anon" "$fds" "$threads" >> "$out"
  if [ -n "$minutes" ] && [ $(( $(date +%s) - start )) -ge $(( minutes * 60 )) ]; then
    kill -INT "$pid"
  fi
  sleep 1
done
set +e
wait "$pid"
code=$?
set -e
if [ "$code" -ne 0 ] && ! { [ -n "$minutes" ] && [ "$code" -eq 130 ]; }; then
  echo "soak.sh: trainer exited with $code" >&2
  exit 1
fi

# The reference is the steady state after epoch 1: the largest value over the first tenth of the
# samples taken after it finished (at least 10). RSS steps between a few page-level levels as data
# pages are released by madvise and faulted back, so the reference must span those steps; growth
# is a later sample above them. Every later sample must stay within 1% of the reference;
# descriptors and threads must never exceed theirs.
after=$(awk -F'\t' 'NR > 1 && $2 >= 1' "$out" | wc -l)
window=$(( after / 10 > 10 ? after / 10 : 10 ))
awk -F'\t' -v epochs_total="$(wc -l < "$metrics")" -v seconds="$(( $(date +%s) - start ))" -v window="$window" '
  NR == 1 || $2 < 1 { next }
  { n++; rlast = $3 }
  n <= window { if ($3 > rss0) rss0 = $3; if ($4 > anon0) anon0 = $4; if ($5 > fd0) fd0 = $5; if ($6 > th0) th0 = $6
                if (!rmin || $3 < rmin) rmin = $3; next }
  { later++; if ($3 > rmax) rmax = $3; if ($3 < rmin) rmin = $3; if ($4 > amax) amax = $4
    if ($5 > fmax) fmax = $5; if ($6 > tmax) tmax = $6 }
  END {
    if (!later) { print "soak: no samples after the reference window (run longer)"; exit 1 }
    growth = (rmax - rss0) * 100.0 / rss0
    anon_growth = (amax - anon0) * 100.0 / anon0
    flat = growth <= 1.0 && anon_growth <= 1.0
    printf "soak: %d epochs in %d s, %d samples after epoch 1 (reference: the first %d)\n", epochs_total, seconds, n, window
    printf "  VmRSS   reference %d KiB; later min %d, max %d, last %d (max %+.2f%%)  %s\n", rss0, rmin, rmax, rlast, growth, growth <= 1.0 ? "flat" : "GREW"
    printf "  RssAnon reference %d KiB; later max %d (max %+.2f%%)  %s\n", anon0, amax, anon_growth, anon_growth <= 1.0 ? "flat" : "GREW"
    printf "  fds     reference %d; later max %d  %s\n", fd0, fmax, fmax <= fd0 ? "flat" : "GREW"
    printf "  threads reference %d; later max %d  %s\n", th0, tmax, tmax <= th0 ? "flat" : "GREW"
    exit (flat && fmax <= fd0 && tmax <= th0) ? 0 : 1
  }' "$out"
