#!/usr/bin/env bash
# Installs, from Debian's packages, what the full test suite needs beyond Node and a C++
# compiler. Run as root. Without these, the suites that need them are skipped with a reason.
#   cmake, g++, make, python3   the addon build (cmake-js; node-gyp needs python3)
#   e2fsprogs, util-linux       loop-mounted ext4 images the freeze tests create and freeze
#   valgrind                    native memory checks
#   g++-mingw-w64-x86-64, clang-19, lld-19   the Windows cross-build
#   wine64                      running the Windows build under Wine
#   g++-aarch64-linux-gnu       the linux-arm64 prebuild (GCC 12's libstdc++ for aarch64) and
#                               the arm64 C library qemu-user runs an arm64 Node with
#   qemu-user                   loading the linux-arm64 prebuild in an arm64 Node
#   libclang-rt-19-dev          libFuzzer and clang's sanitizer runtimes
#   qemu-guest-agent            the Linux-guest hook tests against the real agent
#   systemd                     systemd-analyze verify of the hv_vss daemon's unit
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  cmake g++ make python3 e2fsprogs util-linux valgrind \
  g++-mingw-w64-x86-64 clang-19 lld-19 libclang-rt-19-dev wine64 \
  g++-aarch64-linux-gnu qemu-user \
  qemu-guest-agent systemd >/dev/null
