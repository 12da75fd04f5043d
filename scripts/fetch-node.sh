#!/usr/bin/env bash
# Fetches the newest Node.js release of a major version for this machine from the npm registry
# (scripts/lib/node-binary.sh) into a cache outside the repository, and prints the path of its
# node binary. Never a dependency: it is for running a suite under another Node
# (test/node-sqlite.test.ts needs Node 22.5+).
# Usage: scripts/fetch-node.sh MAJOR    (cache: $VSS_BRIDGE_NODE_CACHE, else ~/.cache/vss-bridge/node)
set -euo pipefail
major="${1:?usage: scripts/fetch-node.sh MAJOR}"
cache="${VSS_BRIDGE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vss-bridge/node}"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "fetch-node: no Node package for $(uname -m)" >&2; exit 1 ;;
esac
platform="$(uname -s | tr '[:upper:]' '[:lower:]')"
mkdir -p "$cache"
# shellcheck source=scripts/lib/node-binary.sh
. "$(dirname "$0")/lib/node-binary.sh"
node_binary "node-$platform-$arch@$major" "$cache"
