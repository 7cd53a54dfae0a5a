#!/usr/bin/env bash
# Installs what is missing and builds the sanitized tree build-asan/: clang-14 with
# AddressSanitizer + UndefinedBehaviorSanitizer, the whole project (trainer, the test suite) and
# the libFuzzer targets of tests/fuzz/. scripts/test.sh --sanitize and scripts/fuzz.sh use it.
#
#   scripts/setup-sanitized.sh [TARGET...]     default: everything
#
# -O1 with line tables: fast enough to fuzz and to run the suite, and reports name file:line.
# Portable (no -march=native), so a report reproduces on another machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-asan"

"$root/scripts/install-packages.sh" --project clang-14 libclang-rt-14-dev

# A tree configured with another compiler (an older build-asan/ was a GCC build) cannot be
# switched in place: CMake drops its cache half-way. Start it again.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++-14$' "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DTRAINER_SANITIZE=ON -DTRAINER_FUZZ=ON \
  -DTRAINER_NATIVE=OFF >/dev/null
if [ $# -gt 0 ]; then
  cmake --build "$build" -j"${BUILD_JOBS:-$(nproc)}" --target "$@"
else
  cmake --build "$build" -j"${BUILD_JOBS:-$(nproc)}"
fi
