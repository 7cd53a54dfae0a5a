#!/bin/sh
# Installs Debian's dataset-fashion-mnist package and imports its IDX files into
# data/fashion-mnist/{train,test}_{x,y}.npy (not committed: about 55 MB of .npy).
# Usage: scripts/get-fashion-mnist.sh      (uses build/trainer, or $TRAINER)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
trainer=${TRAINER:-$root/build/trainer}
if [ ! -x "$trainer" ]; then
  echo "get-fashion-mnist.sh: $trainer not found; build first (cmake -S . -B build && cmake --build build) or set TRAINER" >&2
  exit 1
fi
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist
fi
# Find the IDX files wherever the package puts them (gzip'd or not).
find_idx() {
  dpkg -L dataset-fashion-mnist | grep -E "/$1(\.gz)?\$" | head -n 1
}
out="$root/data/fashion-mnist"
for part in train:train t10k:test; do
  src=${part%%:*}
  dst=${part##*:}
  images=$(find_idx "$src-images-idx3-ubyte")
  labels=$(find_idx "$src-labels-idx1-ubyte")
  if [ -z "$images" ] || [ -z "$labels" ]; then
    echo "get-fashion-mnist.sh: $src IDX files not found in package dataset-fashion-mnist (dpkg -L dataset-fashion-mnist)" >&2
    exit 3
  fi
  "$trainer" import "$images" --labels "$labels" --prefix "$dst" --out "$out"
done
