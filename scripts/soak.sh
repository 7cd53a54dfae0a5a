#!/usr/bin/env bash
# Soak benchmark: trains for a long time and checks that the process does not grow.
#
#   scripts/soak.sh [--epochs N | --minutes M] [--config FILE] [--build DIR] [--out FILE.tsv]
#
# Default: 200 epochs of the digits demo. Every second it samples VmRSS and RssAnon
# (/proc/PID/status), the open file descriptors (/proc/PID/fd) and the threads (Threads:).
# After the first epoch has finished, VmRSS and RssAnon must not grow more than 1% over their values
# at that moment (dips are released data pages), and the
# descriptor and thread counts must never exceed theirs. Prints a summary; exit 0 when flat,
# 1 when something grew, 2 on usage errors. With --minutes the run is ended by SIGINT (the
# trainer's own clean stop, exit 130) after M minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
epochs=200
minutes=""
config="$root/configs/digits-mlp.json"
build="$root/build"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
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
"$bin" fit --config "$config" --epochs "$epochs" --metrics "$metrics" --quiet &
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

# The reference is the first sample taken after epoch 1 finished.
awk -F'\t' -v epochs_total="$(wc -l < "$metrics")" -v seconds="$(( $(date +%s) - start ))" '
  NR == 1 || $2 < 1 { next }
  !base { base = 1; rss0 = $3; anon0 = $4; fd0 = $5; th0 = $6; rmin = rmax = $3; amax = $4; fmax = $5; tmax = $6 }
  { if ($3 > rmax) rmax = $3; if ($3 < rmin) rmin = $3; if ($4 > amax) amax = $4
    if ($5 > fmax) fmax = $5; if ($6 > tmax) tmax = $6; n++; rlast = $3 }
  END {
    if (!base) { print "soak: no sample after the first epoch (run longer)"; exit 1 }
    growth = (rmax - rss0) * 100.0 / rss0
    # Growth is what a leak looks like; dips are data pages released by madvise, not a problem.
    anon_growth = (amax - anon0) * 100.0 / anon0
    flat = growth <= 1.0 && anon_growth <= 1.0
    printf "soak: %d epochs in %d s, %d samples after epoch 1\n", epochs_total, seconds, n
    printf "  VmRSS   after epoch 1 %d KiB, min %d, max %d, last %d (max %+.2f%%)  %s\n", rss0, rmin, rmax, rlast, growth, flat ? "flat" : "GREW"
    printf "  RssAnon after epoch 1 %d KiB, max %d (max %+.2f%%)\n", anon0, amax, anon_growth
    printf "  fds     after epoch 1 %d, max %d  %s\n", fd0, fmax, fmax <= fd0 ? "flat" : "GREW"
    printf "  threads after epoch 1 %d, max %d  %s\n", th0, tmax, tmax <= th0 ? "flat" : "GREW"
    exit (flat && fmax <= fd0 && tmax <= th0) ? 0 : 1
  }' "$out"
