#!/usr/bin/env bash
# Installs the given Debian packages that are not installed yet (as root, or through sudo).
# Usage: scripts/install-packages.sh [--project] [PACKAGE...]
#   --project   what building trainer and running its test suite needs
set -euo pipefail
wanted=()
for p in "$@"; do
  if [ "$p" = --project ]; then
    wanted+=(g++ make cmake pkg-config libcli11-dev libeigen3-dev libspdlog-dev nlohmann-json3-dev
             catch2 zlib1g-dev libopenmpi-dev openmpi-bin python3 python3-numpy python3-jsonschema
             python3-sklearn libprotobuf-dev protobuf-compiler libonnx-dev python3-onnx nodejs)
    # The export tests install onnxruntime-node with npm. A Node.js from outside Debian ships its
    # own npm, which Debian's npm package would conflict with: only add it when none is there.
    command -v npm >/dev/null || wanted+=(npm)
  else
    wanted+=("$p")
  fi
done
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
