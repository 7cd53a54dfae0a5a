#!/usr/bin/env bash
# One command from a fresh Debian machine to a trained model: installs what is missing,
# builds, and trains the shipped digits demo (configs/digits-mlp.json).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" "$root/build"
cd "$root"
exec ./build/trainer fit --config configs/digits-mlp.json "$@"
