#!/usr/bin/env bash
# Cross-builds the addon for win32-x64 on Linux: MinGW-w64 g++ (posix threads) for the addon,
# clang-19 in the MSVC ABI for native/win/writer_shim.cc (the CVssWriter subclass, whose base
# class vssapi.dll exports with MSVC-mangled names), linked against MinGW's vssapi/ole32/oleaut32
# import libraries and an import library made from node-api-headers' node_api.def.
#
#   scripts/cross-build-windows.sh [out-dir]     (default: build-win32-x64)
#
# Needs: apt-get install g++-mingw-w64-x86-64 clang-19 lld-19. Source lists come from
# CMakeLists.txt, so this build cannot drift from the MSVC one. Fails when the result imports
# anything but Windows system DLLs and node.exe (a MinGW runtime DLL would not be on users'
# machines).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-win32-x64}
mkdir -p "$out/obj"

CXX=x86_64-w64-mingw32-g++-posix
CLANG=clang++-19
DLLTOOL=x86_64-w64-mingw32-dlltool
OBJDUMP=x86_64-w64-mingw32-objdump
MINGW_INCLUDE=/usr/x86_64-w64-mingw32/include
for tool in "$CXX" "$CLANG" "$DLLTOOL" "$OBJDUMP"; do
  command -v "$tool" >/dev/null || { echo "cross-build-windows: $tool not found (apt-get install g++-mingw-w64-x86-64 clang-19 lld-19)" >&2; exit 2; }
done

# shellcheck source=scripts/lib/cmake-lists.sh
. "$root/scripts/lib/cmake-lists.sh"
mapfile -t portable < <(cmake_list VSS_BRIDGE_SOURCES)
mapfile -t windows < <(cmake_list VSS_BRIDGE_WINDOWS_SOURCES)
mapfile -t portable_defines < <(cmake_list VSS_BRIDGE_DEFINES)
mapfile -t defines < <(cmake_list VSS_BRIDGE_WINDOWS_DEFINES)
mapfile -t libs < <(cmake_list VSS_BRIDGE_WINDOWS_LIBS)
[ "${#portable[@]}" -gt 0 ] && [ "${#windows[@]}" -gt 0 ] || { echo "cross-build-windows: source lists not found in CMakeLists.txt" >&2; exit 2; }

napi_headers=$(cd "$root" && node -p "require('node-api-headers').include_dir")
addon_api=$(cd "$root" && node -p "require('node-addon-api').include_dir")
napi_def=$(cd "$root" && node -p "require('node-api-headers').def_paths.node_api_def")

# node.exe exports the Node-API functions; the .node links against them by name.
# dlltool leaves two empty temporary files (ccXXXXXX) behind: it gets a folder of its own.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
TMPDIR=$scratch "$DLLTOOL" -d "$napi_def" -l "$out/libnode.a" -D node.exe

common_defines=()
for d in "${portable_defines[@]}" "${defines[@]}"; do common_defines+=("-D$d"); done

objects=()
pids=()
compile() {  # source object command...
  local src=$1 obj=$2
  shift 2
  objects+=("$obj")
  if [ "$obj" -nt "$root/$src" ] && [ -z "${VSS_BRIDGE_REBUILD:-}" ] && ! find "$root/native" -name '*.h' -newer "$obj" | grep -q .; then
    return
  fi
  echo "  $src"
  nice "$@" -c "$root/$src" -o "$obj" &
  pids+=($!)
  # Two at a time: the machine is shared.
  if [ "${#pids[@]}" -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
}

echo "cross-build-windows: compiling into $out"
for src in "${portable[@]}" "${windows[@]}"; do
  obj="$out/obj/$(echo "$src" | tr '/' '_').o"
  if [ "$src" = native/win/writer_shim.cc ]; then
    # MSVC ABI; wchar_t as vssapi.dll's unsigned short; no C++ runtime (see the file).
    compile "$src" "$obj" "$CLANG" --target=x86_64-pc-windows-msvc -fgnuc-version=4.2.1 \
      -Xclang -fno-wchar -include "$root/native/win/msvc_abi_prelude.h" -fno-rtti -fno-exceptions \
      -std=c++17 -O2 -Wall -Wextra -isystem "$MINGW_INCLUDE" "${common_defines[@]}"
  else
    compile "$src" "$obj" "$CXX" -std=c++17 -O2 -Wall -Wextra -fexceptions "${common_defines[@]}" \
      -I "$napi_headers" -I "$addon_api"
  fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

lib_flags=()
for l in "${libs[@]}"; do lib_flags+=("-l$l"); done
# -static: libstdc++, libgcc and winpthread go inside the .node, so it needs no MinGW DLL.
nice "$CXX" -shared -static -o "$out/vss_bridge.node" "${objects[@]}" -L "$out" -lnode "${lib_flags[@]}"

imports=$("$OBJDUMP" -p "$out/vss_bridge.node" | sed -n 's/^\s*DLL Name: //p' | sort -u)
echo "cross-build-windows: $out/vss_bridge.node imports:" $imports
allowed='^(node\.exe|VSSAPI\.DLL|vssapi\.dll|ole32\.dll|OLEAUT32\.dll|oleaut32\.dll|KERNEL32\.dll|kernel32\.dll|msvcrt\.dll|ADVAPI32\.dll|advapi32\.dll|USER32\.dll|api-ms-win-crt-[a-z0-9-]+\.dll)$'
unexpected=$(echo "$imports" | grep -Ev "$allowed" || true)
if [ -n "$unexpected" ]; then
  echo "cross-build-windows: unexpected DLL imports: $unexpected" >&2
  exit 1
fi
