#!/usr/bin/env bash
# Fetches a Node.js release from the npm registry (the node-<platform>-<arch> packages) into a
# cache outside the repository, and prints the path of its node binary. Never a dependency:
# it is for running a suite under another Node (test/node-sqlite.test.ts needs Node 22.5+).
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
dir="$cache/$major"
if [ ! -x "$dir/package/bin/node" ]; then
  mkdir -p "$cache"
  tarball="$(cd "$cache" && npm pack --silent "node-$platform-$arch@$major" | tail -n 1)"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  tar -xzf "$cache/$tarball" -C "$dir.tmp"
  rm -f "$cache/$tarball"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir/package/bin/node"
