#!/usr/bin/env bash
# One command from a fresh Debian machine to every test: installs what is missing, builds,
# and runs the whole suite through CTest.
#
#   scripts/test.sh [ctest args...]              the Release build in build/
#   scripts/test.sh --fuzz SECONDS [ctest args...]
#                                                also runs every libFuzzer target for SECONDS
#                                                first (scripts/fuzz.sh; CI uses 60)
#   scripts/test.sh --sanitize [ctest args...]   the same suite built with ASan+UBSan in build-asan/
#                                                (RelWithDebInfo, portable: no -march=native)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_seconds=""
if [ "${1:-}" = "--fuzz" ]; then
  fuzz_seconds="${2:?--fuzz needs a number of seconds}"
  shift 2
fi
if [ "${1:-}" = "--sanitize" ]; then
  shift
  # Leaks are real findings too; a UBSan report aborts the test that caused it.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  "$root/scripts/setup.sh" "$root/build-asan" -DTRAINER_SANITIZE=ON -DTRAINER_NATIVE=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cd "$root/build-asan"
else
  "$root/scripts/setup.sh" "$root/build"
  cd "$root/build"
fi
# Fuzzing first, so the suite's summary is the last thing printed.
if [ -n "$fuzz_seconds" ]; then "$root/scripts/fuzz.sh" "$fuzz_seconds"; fi
ctest --output-on-failure -j"$(nproc)" "$@"
