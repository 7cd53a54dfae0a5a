#!/usr/bin/env bash
# Writes trainer(1), gzipped as Debian wants it, from the binary's own --help: help2man turns the
# top-level help into the page, and a COMMANDS section adds each command's --help verbatim, so
# the page cannot drift from the flags the binary accepts.
# Usage: scripts/make-manpage.sh TRAINER_BINARY OUTPUT.1.gz   (CMake runs it when help2man is found)
set -euo pipefail
bin=$1
out=$2
include=$(mktemp)
trap 'rm -f "$include"' EXIT
{
  echo "[COMMANDS]"
  echo "Each command's own --help:"
  for cmd in $("$bin" --help | awk '/^Subcommands:/ {on = 1; next} on && NF == 0 {on = 0} on {print $1}'); do
    echo ".SS trainer $cmd"
    echo ".nf"
    # Roff: backslashes doubled, a leading dot or quote made literal; the usage line names the command, not the build path.
    "$bin" "$cmd" --help | sed -e 's/\\/\\\\/g' -e "s/^\([.']\)/\\\\\&\1/" -e "s|^Usage: [^ ]*|Usage: trainer|"
    echo ".fi"
  done
  echo "[SEE ALSO]"
  echo "/usr/share/doc/trainer/ (README.md and docs/), /usr/share/trainer/configs/ (example configs and the JSON Schema)."
} >"$include"
help2man --no-info --no-discard-stderr --section 1 --name "trains neural networks on .npy data inside a RAM budget" \
  --include "$include" "$bin" | sed "s|$(dirname "$bin")/||g" | gzip -9n >"$out"
