#!/usr/bin/env bash
# Builds the addon with node-gyp from binding.gyp, in a scratch copy of the package, the
# way a node-gyp user would, and loads it. Proves binding.gyp builds, beyond the source-list
# comparison in check-build-sync.mjs. Offline: headers come from --nodedir.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/package.json" "$root/binding.gyp" "$root/native" "$work/"
ln -s "$root/node_modules" "$work/node_modules"
nodedir="$(dirname "$(dirname "$(command -v node)")")"
[ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
# The node-gyp that npm bundles, as `npm install` would use it for a binding.gyp package.
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
(cd "$work" && node "$gyp" rebuild --nodedir="$nodedir" -j 2 >"$work/gyp.log" 2>&1) || { cat "$work/gyp.log" >&2; exit 1; }
node -e "
  const addon = require(process.argv[1]);
  for (const name of ['Dispatcher', 'SimulatedWriter', 'listWriters', 'runSnapshotSet']) {
    if (!(name in addon)) { console.error('node-gyp build lacks ' + name); process.exit(1); }
  }
  console.log('node-gyp build of binding.gyp loads, with every export');
" "$work/build/Release/vss_bridge.node"
