#!/usr/bin/env bash
# Installs a trainer .deb into a fresh Debian 12 chroot with `apt-get install ./trainer_*.deb` and
# trains the installed example config there: proof that the package's dependencies are complete
# and that its files are where the binary looks for them. Prints `dpkg -c` of the package.
#
#   scripts/check-package.sh DEB [CHROOT_DIR]      (default CHROOT_DIR: build-package/chroot)
#
# Needs root (debootstrap, chroot, mounting /proc) and Debian's mirror (DEBIAN_MIRROR overrides
# it). CHROOT_DIR is removed and made anew each time. A manual check, not part of CTest:
# debootstrap alone takes minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deb="$(realpath "${1:?usage: scripts/check-package.sh DEB [CHROOT_DIR]}")"
dir="$(realpath -m "${2:-$root/build-package/chroot}")"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
[ "$dir" != / ] || { echo "check-package.sh: refusing to use / as the chroot" >&2; exit 2; }

"$root/scripts/install-packages.sh" debootstrap

# /proc must be unmounted before the folder is removed, or rm would reach into the host's.
release() { umount "$dir/proc" 2>/dev/null || true; }
trap release EXIT
release
rm -rf --one-file-system "$dir"

echo "== debootstrap bookworm (minbase) into $dir" >&2
debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 ||
  { tail -20 "$dir.debootstrap.log" >&2; exit 1; }
cp /etc/resolv.conf "$dir/etc/resolv.conf"
mount -t proc proc "$dir/proc"  # the trainer reads /proc/meminfo, cgroups and /proc/self/exe
cp "$deb" "$dir/tmp/"

in_chroot() { chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }

echo "== apt-get install ./$(basename "$deb")" >&2
in_chroot sh -c 'apt-get update -qq && cd /tmp && apt-get install -y -q ./trainer_*.deb'
echo "== Depends of the installed package" >&2
in_chroot dpkg-query -W -f '${Package} ${Version}: ${Depends}\n' trainer
in_chroot trainer --version
in_chroot test -f /usr/share/man/man1/trainer.1.gz

echo "== trainer fit on the installed example config" >&2
in_chroot sh -c 'cd /tmp && trainer fit --config /usr/share/trainer/configs/digits-mlp.json --epochs 5 --checkpoint run.ckpt'
echo "== trainer fit without --config (the installed demo config), then export" >&2
in_chroot sh -c 'cd /tmp && trainer fit --epochs 2 && trainer export --config /usr/share/trainer/configs/digits-mlp.json \
  --weights run.ckpt --format onnx --output model.onnx && trainer export --weights run.ckpt --format safetensors --output model.safetensors'

echo "== the installed image-model demo: trainer fit, then ONNX export without --config" >&2
in_chroot sh -c 'cd /tmp && trainer fit --config /usr/share/trainer/configs/digits-cnn.json --checkpoint cnn.ckpt &&
  trainer export --weights cnn.ckpt --format onnx --output cnn.onnx'

echo "== dpkg -c $(basename "$deb")" >&2
dpkg -c "$deb"
echo "check-package.sh: $(basename "$deb") installs and trains in a fresh Debian 12 chroot" >&2
