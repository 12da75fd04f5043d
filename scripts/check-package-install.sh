#!/usr/bin/env bash
# Installs the package the way npm users get it: `npm pack`, then `npm install` of the tarball
# into a scratch project (which builds the addon with cmake-js from the registry alone), then
# loads it through require, import and the vss-bridge bin, and runs one simulated snapshot set.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$root" && npm pack --pack-destination "$work" >/dev/null 2>&1)
tarball="$(ls "$work"/vss-bridge-*.tgz)"
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund "$tarball" >install.log 2>&1 || { cat install.log >&2; exit 1; }
[ -f node_modules/vss-bridge/build/Release/vss_bridge.node ] || { echo "the install built no addon" >&2; exit 1; }
node -e "
  const v = require('vss-bridge');
  if (typeof v.VssWriter !== 'function' || typeof require('vss-bridge/testing').rehearseCheckpoint !== 'function') process.exit(1);
"
node --input-type=module -e "
  import { createShadowCopy, VssWriter } from 'vss-bridge';
  const quiet = { error() {}, warn() {}, info() {}, debug() {} };
  const writer = new VssWriter({ name: 'package check', id: 'c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f', usage: 'userData', sourceType: 'other', logger: quiet,
    handlers: { freeze: () => {} } });
  await writer.subscribe();
  const result = await createShadowCopy({ volumes: ['/'], logger: quiet });
  await writer.unsubscribe();
  if (result.writers[0]?.state !== 'VSS_WS_STABLE') process.exit(1);
"
node_modules/.bin/vss-bridge --help | grep -q '^Usage: vss-bridge <command>'
echo "the packed tarball installs, builds its addon, and loads through require, import and the bin"
