#!/usr/bin/env bash
# Builds the emulated vssapi.dll (test only, never shipped) with MinGW-w64, and beside it the
# tests' own probe requester linked against it (add_component_probe.cc).
#   test/emulator/build.sh <out-dir>      -> <out-dir>/vssapi.dll, <out-dir>/add-component-probe.exe
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh <out-dir>}
mkdir -p "$out"
CXX=x86_64-w64-mingw32-g++-posix
command -v "$CXX" >/dev/null || { echo "emulator: $CXX not found (apt-get install g++-mingw-w64-x86-64)" >&2; exit 2; }
dll=$out/vssapi.dll
probe=$out/add-component-probe.exe
# -static: neither needs a MinGW runtime DLL next to it.
if [ ! -f "$dll" ] || [ -n "$(find "$here" "$here/../../native/vss_rules.h" "$here/../../native/writer_metadata.h" -newer "$dll" -type f ! -name add_component_probe.cc)" ]; then
  nice "$CXX" -std=c++17 -O1 -g -Wall -Wextra -Wno-cast-function-type -shared -static -o "$dll.tmp" \
    "$here/common.cc" "$here/writer_side.cc" "$here/backup_components.cc" "$here/vssapi.def" -lole32 -loleaut32
  mv "$dll.tmp" "$dll"
fi
# Linked against the DLL itself: at run time it loads the vssapi.dll beside it.
if [ ! -f "$probe" ] || [ "$here/add_component_probe.cc" -nt "$probe" ] || [ "$dll" -nt "$probe" ]; then
  nice "$CXX" -std=c++17 -O1 -Wall -Wextra -static -o "$probe.tmp" "$here/add_component_probe.cc" "$dll" -lole32 -loleaut32
  mv "$probe.tmp" "$probe"
fi
