#!/usr/bin/env bash
# `npm run prebuilds`: the prebuilt addons the package ships, in node-gyp-build's layout
# (prebuilds/<platform>-<arch>/, tags in the file name), one Node-API 8 build per platform that
# loads in every Node version from 20 on:
#   prebuilds/linux-x64/vss_bridge.glibc.node    scripts/build-linux-prebuild.sh x64
#   prebuilds/linux-arm64/vss_bridge.glibc.node  scripts/build-linux-prebuild.sh arm64
#   prebuilds/win32-x64/vss_bridge.node          scripts/cross-build-windows.sh, then
#                                                scripts/check-vssapi-names.sh on the result
# then records what they were built from (prebuilds/SOURCES), which `npm pack` checks
# (scripts/check-prebuilds.mjs). No win32-arm64 prebuild: see docs/WINDOWS.md.
# Needs the toolchains scripts/install-system-deps.sh installs, and the npm registry.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rm -rf prebuilds
bash scripts/build-linux-prebuild.sh x64 prebuilds/linux-x64/vss_bridge.glibc.node
bash scripts/build-linux-prebuild.sh arm64 prebuilds/linux-arm64/vss_bridge.glibc.node
bash scripts/cross-build-windows.sh "$root/build-win32-x64"
mkdir -p prebuilds/win32-x64
cp build-win32-x64/vss_bridge.node prebuilds/win32-x64/vss_bridge.node
bash scripts/check-vssapi-names.sh prebuilds/win32-x64/vss_bridge.node
node scripts/check-prebuilds.mjs --record
