#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with Debian's clang-14 (ASan + UBSan) in the
# sanitized tree build-asan/ (scripts/setup-sanitized.sh, shared with `scripts/test.sh --sanitize`)
# and runs each for SECONDS (default 60) on a copy of its committed seed corpus.
#
#   scripts/fuzz.sh [--merge] [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 60
#                                                            scripts/fuzz.sh 600 import
# TARGET is a tests/fuzz/<name>_fuzz.cpp, given as <name> or <name>_fuzz; its seeds are in
# tests/fuzz/corpus/<name>/.
#
# Prints one line per target (executions, coverage, result) and exits non-zero on any crash,
# leak, timeout or out-of-memory, with the input kept under build-asan/fuzz/crashes/ (reproduce
# with: build-asan/tests/fuzz/<target> build-asan/fuzz/crashes/<file>). The committed corpus never changes
# unless --merge is given: then the inputs of this run that add coverage are minimised into
# tests/fuzz/corpus/<target>/. Environment: BUILD_JOBS (build parallelism, default nproc).
# See docs/fuzzing.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-asan"
bin="$build/tests/fuzz"
work_root="$build/fuzz"
merge=0
if [ "${1:-}" = "--merge" ]; then merge=1; shift; fi
seconds="${1:-60}"
case "$seconds" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [--merge] [SECONDS] [TARGET...]" >&2; exit 2;; esac
shift || true
all_targets=()
for f in "$root"/tests/fuzz/*_fuzz.cpp; do all_targets+=("$(basename "$f" .cpp)"); done
targets=()
for t in "$@"; do targets+=("${t%_fuzz}_fuzz"); done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "$root/tests/fuzz/$t.cpp" ] || { echo "unknown target '${t%_fuzz}' (one of: ${all_targets[*]%_fuzz})" >&2; exit 2; }
done

"$root/scripts/setup-sanitized.sh" "${targets[@]}"

mkdir -p "$work_root/crashes" "$work_root/logs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
for t in "${targets[@]}"; do
  seeds="$root/tests/fuzz/corpus/${t%_fuzz}"
  work="$work_root/corpus/$t"
  log="$work_root/logs/$t.log"
  rm -rf "$work"
  mkdir -p "$work"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  status=0
  "$bin/$t" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work_root/crashes/$t-" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)"
  ft="$(grep -o 'ft: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)"
  if [ "$status" -eq 0 ]; then
    result="ok"
  else
    failed=1
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)"
    kind="$(grep -o -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer)[^(]*|runtime error: .*|deadly signal|timeout after [0-9]+ seconds|out-of-memory' "$log" | head -n1)"
    result="FAILED (exit $status: ${kind:-see log}) input: ${artifact:-none} log: $log"
  fi
  printf '%-18s %5ss  runs %-10s cov %-6s ft %-6s %s\n' "$t" "$seconds" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$result"
  if [ "$merge" -eq 1 ] && [ "$status" -eq 0 ]; then
    mkdir -p "$seeds"
    "$bin/$t" -merge=1 -timeout=10 -rss_limit_mb=2048 "$seeds" "$work" >"$work_root/logs/$t.merge.log" 2>&1
    echo "  merged into tests/fuzz/corpus/${t%_fuzz}: $(ls "$seeds" | wc -l) files, $(du -sh "$seeds" | cut -f1)"
  fi
done
exit "$failed"
