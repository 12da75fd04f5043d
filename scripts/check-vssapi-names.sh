#!/usr/bin/env bash
# Every VSSAPI.DLL name the Windows addon uses must be a real vssapi.dll export
# (test/fixtures/vssapi-exports.txt, the export table of an x64 vssapi.dll). Checked twice:
#  1. the MSVC build: native/win/writer_shim.cc (the only file that calls CVssWriter) compiled
#     by clang-19 in cl mode with the MSVC options and defines of CMakeLists.txt, against
#     MinGW's headers; every name the object imports is either a vssapi.dll export or a
#     kernel32 function;
#  2. a built win32-x64 addon: every name in its VSSAPI.DLL import table.
#
#   scripts/check-vssapi-names.sh [addon.node]   (default: prebuilds/win32-x64/vss_bridge.node,
#                                                 skipped with a note when absent)
#   VSS_BRIDGE_SHIM_OPTIONS='...'  replaces writer_shim.cc's own options from CMakeLists.txt
#                                  (the test shows that without /Zc:wchar_t- the check fails)
# Exits 0 when every name is an export, 1 when one is not, 2 when a tool is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/cmake-lists.sh
. "$root/scripts/lib/cmake-lists.sh"

CLANG=clang-19
NM=x86_64-w64-mingw32-nm
OBJDUMP=x86_64-w64-mingw32-objdump
MINGW=/usr/x86_64-w64-mingw32
for tool in "$CLANG" "$NM" "$OBJDUMP"; do
  command -v "$tool" >/dev/null || { echo "check-vssapi-names: $tool not found (apt-get install clang-19 g++-mingw-w64-x86-64)" >&2; exit 2; }
done

exports=$(sed -n 's/^[0-9][0-9]* //p' "$root/test/fixtures/vssapi-exports.txt")
is_export() { grep -qxF -- "$1" <<<"$exports"; }
status=0

# 1. writer_shim.cc as MSVC compiles it.
mapfile -t options < <(cmake_list VSS_BRIDGE_MSVC_OPTIONS)
if [ -n "${VSS_BRIDGE_SHIM_OPTIONS+set}" ]; then
  read -r -a shim_options <<<"$VSS_BRIDGE_SHIM_OPTIONS"
else
  mapfile -t shim_options < <(cmake_list VSS_BRIDGE_MSVC_SHIM_OPTIONS)
fi
defines=()
for d in $(cmake_list VSS_BRIDGE_DEFINES) $(cmake_list VSS_BRIDGE_WINDOWS_DEFINES); do defines+=("/D$d"); done
# What MSVC's own headers would add and MinGW's don't: with /Zc:wchar_t- the Windows SDK's CRT
# headers typedef wchar_t as unsigned short (msvc_abi_prelude.h does the same), and MinGW's
# headers define __attribute__ away unless the compiler claims to be GNU C
# (-fgnuc-version, which changes no mangled name).
prelude=()
for o in "${shim_options[@]}"; do
  [ "$o" = "/Zc:wchar_t-" ] && prelude=("-FI$root/native/win/msvc_abi_prelude.h")
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$CLANG" --driver-mode=cl --target=x86_64-pc-windows-msvc /clang:-fgnuc-version=4.2.1 /c /std:c++17 /O2 \
  "${options[@]}" "${shim_options[@]}" "${defines[@]}" "${prelude[@]}" -imsvc "$MINGW/include" \
  "-Fo$work/writer_shim.obj" -- "$root/native/win/writer_shim.cc" >"$work/cl.log" 2>&1 || {
  cat "$work/cl.log" >&2
  echo "check-vssapi-names: writer_shim.cc does not compile in MSVC mode" >&2
  exit 1
}
kernel32=$("$NM" "$MINGW/lib/libkernel32.a" 2>/dev/null | sed -n 's/^.* I __imp_//p')
echo "writer_shim.cc compiled as MSVC does (${options[*]} ${shim_options[*]}) imports:"
found=0
while read -r name; do
  if is_export "$name"; then
    echo "  ok   VSSAPI.DLL $name"
    found=$((found + 1))
  elif grep -qxF -- "$name" <<<"$kernel32"; then
    echo "  ok   KERNEL32   $name"
  else
    echo "  FAIL $name: not a vssapi.dll export (nor a kernel32 function)"
    status=1
  fi
done < <("$NM" "$work/writer_shim.obj" | sed -n 's/^ *U __imp_//p' | sort -u)
[ "$found" -gt 0 ] || { echo "  FAIL no vssapi.dll name at all: the check saw nothing to check"; status=1; }

# 2. The built addon's VSSAPI.DLL imports.
addon=${1:-$root/prebuilds/win32-x64/vss_bridge.node}
if [ ! -f "$addon" ]; then
  echo "no win32-x64 addon at $addon (npm run prebuild makes one): its imports were not checked"
  [ $# -eq 0 ] || status=1
else
  echo "$addon imports from VSSAPI.DLL:"
  names=$("$OBJDUMP" -p "$addon" | awk '
    /DLL Name:/ { dll = toupper($3); next }
    dll == "VSSAPI.DLL" && $1 ~ /^[0-9a-f]+$/ && $2 ~ /^[0-9]+$/ && NF == 3 { print $3 }')
  [ -n "$names" ] || { echo "  FAIL no VSSAPI.DLL import found"; status=1; }
  for name in $names; do
    if is_export "$name"; then echo "  ok   $name"; else echo "  FAIL $name: not a vssapi.dll export"; status=1; fi
  done
fi
[ "$status" -eq 0 ] && echo "every VSSAPI.DLL name is a vssapi.dll export" || echo "check-vssapi-names: FAILED" >&2
exit "$status"
