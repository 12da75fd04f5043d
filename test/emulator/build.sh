#!/usr/bin/env bash
# Builds the emulated vssapi.dll (test only, never shipped) with MinGW-w64.
#   test/emulator/build.sh <out-dir>      -> <out-dir>/vssapi.dll
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh <out-dir>}
mkdir -p "$out"
CXX=x86_64-w64-mingw32-g++-posix
command -v "$CXX" >/dev/null || { echo "emulator: $CXX not found (apt-get install g++-mingw-w64-x86-64)" >&2; exit 2; }
dll=$out/vssapi.dll
if [ -f "$dll" ] && [ -z "$(find "$here" "$here/../../native/vss_rules.h" "$here/../../native/writer_metadata.h" -newer "$dll" -type f)" ]; then
  exit 0
fi
# -static: the DLL needs no MinGW runtime DLL next to it.
nice "$CXX" -std=c++17 -O1 -g -Wall -Wextra -Wno-cast-function-type -shared -static -o "$dll.tmp" \
  "$here/common.cc" "$here/writer_side.cc" "$here/backup_components.cc" "$here/vssapi.def" -lole32 -loleaut32
mv "$dll.tmp" "$dll"
