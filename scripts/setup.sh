#!/usr/bin/env bash
# Installs the Debian packages trainer needs (only those missing), then configures and builds.
# Usage: scripts/setup.sh [BUILD_DIR] [extra cmake args...]   (sourced by demo.sh and test.sh)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
shift || true

packages=(g++ make cmake pkg-config libcli11-dev libeigen3-dev libspdlog-dev nlohmann-json3-dev
          catch2 zlib1g-dev libopenmpi-dev openmpi-bin python3 python3-numpy python3-jsonschema python3-sklearn)
"$root/scripts/install-packages.sh" "${packages[@]}"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
