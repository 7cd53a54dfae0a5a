#!/usr/bin/env bash
# One command from a fresh Debian machine to every test: installs what is missing, builds,
# and runs the whole suite through CTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" "$root/build"
cd "$root/build"
ctest --output-on-failure -j"$(nproc)" "$@"
