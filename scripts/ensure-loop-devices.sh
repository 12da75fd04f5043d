#!/usr/bin/env bash
# Makes loop devices usable for the real-freeze tests, or fails saying why. Run as root.
# A container may lack the device nodes although the kernel has the loop driver: load the
# module if it is missing, make /dev/loop-control and /dev/loop0-7 where they are absent, then
# prove it by attaching (and detaching) a small image file.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

if [ "$(id -u)" != 0 ]; then
  echo "loop devices: the real-freeze tests need root (mount, losetup, fsfreeze)" >&2
  exit 1
fi
if [ ! -e /sys/module/loop ] && ! grep -qw loop /proc/devices; then
  modprobe loop 2>/dev/null || true
fi
if ! grep -qw loop /proc/devices; then
  echo "loop devices: the kernel has no loop driver and modprobe loop failed; the real-freeze tests cannot run here" >&2
  exit 1
fi
# Major 10, minor 237: the loop-control misc device; loop block devices are major 7.
[ -e /dev/loop-control ] || mknod -m 660 /dev/loop-control c 10 237 || true
for i in 0 1 2 3 4 5 6 7; do
  [ -e "/dev/loop$i" ] || mknod -m 660 "/dev/loop$i" b 7 "$i" || true
done

image="$(mktemp)"
trap 'rm -f "$image"' EXIT
truncate -s 1M "$image"
if ! device="$(losetup --find --show "$image" 2>&1)"; then
  echo "loop devices: attaching an image failed ($device); the real-freeze tests cannot run here" >&2
  exit 1
fi
losetup -d "$device"
echo "loop devices: ok ($(ls /dev/loop[0-9]* | wc -l) nodes, $device attached and detached)"
