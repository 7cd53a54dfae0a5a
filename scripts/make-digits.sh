#!/bin/sh
# Rebuilds data/digits/{train,test}_{x,y}.npy from scikit-learn's copy of the UCI digits
# (Debian package python3-sklearn) with the built trainer, byte for byte what is committed.
# Usage: scripts/make-digits.sh            (uses build/trainer, or $TRAINER)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
trainer=${TRAINER:-$root/build/trainer}
source_csv=${DIGITS_CSV:-/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz}
if [ ! -x "$trainer" ]; then
  echo "make-digits.sh: $trainer not found; build first (cmake -S . -B build && cmake --build build) or set TRAINER" >&2
  exit 1
fi
if [ ! -f "$source_csv" ]; then
  echo "make-digits.sh: $source_csv not found; install it with: apt-get install python3-sklearn" >&2
  exit 1
fi
# The split: every 6th row (rows 5, 11, 17, ...) is the test set (299 rows), the other 1498
# the training set. Interleaved, because the file is ordered by writer: a block split would
# test on writers the model never saw.
"$trainer" import "$source_csv" --no-header --label-column last --split-every 6 --out "$root/data/digits"
cd "$root/data/digits" && sha256sum train_x.npy train_y.npy test_x.npy test_y.npy
