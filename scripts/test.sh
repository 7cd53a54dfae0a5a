#!/usr/bin/env bash
# One command from a fresh Debian machine to every test: installs what is missing, builds,
# and runs the whole suite through CTest.
#
#   scripts/test.sh [--fuzz SECONDS] [--sanitize] [ctest args...]
#
#   (no option)        the Release build in build/ and its suite
#   --fuzz SECONDS     also every libFuzzer target for SECONDS (scripts/fuzz.sh; CI uses 60)
#   --sanitize         also the same suite built with clang-14, ASan and UBSan in build-asan/
#                      (scripts/setup-sanitized.sh; the fuzz targets are built in that tree too)
#
# CI (.ci/run) runs `scripts/test.sh --fuzz 60 --sanitize`. Every part runs even when an earlier
# one failed; the exit status is non-zero if any failed, and a summary line names them.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_seconds=""
sanitize=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fuzz) fuzz_seconds="${2:?--fuzz needs a number of seconds}"; shift 2 ;;
    --sanitize) sanitize=1; shift ;;
    *) break ;;
  esac
done
failed=()
part() {  # part NAME COMMAND...: runs one part, prints its time, remembers a failure
  local name=$1 start=$SECONDS
  shift
  echo "=== test.sh: $name" >&2
  if ! "$@"; then failed+=("$name"); fi
  echo "=== test.sh: $name took $((SECONDS - start)) s" >&2
}

suite() {  # suite BUILD_DIR [ctest args...]
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure -j"$(nproc)" "$@")
}

set -e
"$root/scripts/setup.sh" "$root/build"
set +e
part "suite (Release)" suite "$root/build" "$@"

if [ "$sanitize" -eq 1 ] || [ -n "$fuzz_seconds" ]; then
  part "sanitized build" "$root/scripts/setup-sanitized.sh"
fi
if [ -n "$fuzz_seconds" ]; then
  part "fuzzing ($fuzz_seconds s per target)" "$root/scripts/fuzz.sh" "$fuzz_seconds"
fi
if [ "$sanitize" -eq 1 ]; then
  # Leaks are findings too; a UBSan report fails the test that caused it.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  part "suite (ASan+UBSan)" suite "$root/build-asan" "$@"
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf 'test.sh: FAILED: %s\n' "$(IFS=,; echo "${failed[*]}")" >&2
  exit 1
fi
echo "test.sh: all parts passed" >&2
