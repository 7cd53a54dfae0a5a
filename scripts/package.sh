#!/usr/bin/env bash
# Builds the Debian package trainer_<version>_amd64.deb with CPack, in its own build tree.
#
#   scripts/package.sh [BUILD_DIR] [extra cmake args...]     (default BUILD_DIR: build-package)
#
# The package is for any amd64 machine, so it is built without -march=native (TRAINER_NATIVE=OFF:
# the AVX-512 kernels of a native build are not in it) and without the tests. Prints the .deb's
# path. scripts/check-package.sh installs it in a fresh Debian 12 chroot and trains there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-package}"
shift || true

# dpkg-dev: dpkg-shlibdeps; file: CPack's test for binaries to strip; help2man: the man page.
"$root/scripts/install-packages.sh" --project dpkg-dev file help2man

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTRAINER_NATIVE=OFF -DTRAINER_BUILD_TESTS=OFF "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
(cd "$build" && cpack -G DEB >/dev/null)
ls "$build"/trainer_*_amd64.deb
