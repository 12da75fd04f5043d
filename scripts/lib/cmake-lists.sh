# Sourced by the build scripts: reads the set(NAME ...) lists of CMakeLists.txt, so that every
# build (cmake-js, node-gyp via check-build-sync, the cross-builds, the checks) uses one list.
#   cmake_list NAME    prints the items of set(NAME ...), one a line
cmake_list() {
  local cmakelists
  cmakelists="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/CMakeLists.txt"
  sed -n "/^set($1\$/,/^)/p; /^set($1 /p" "$cmakelists" | sed -e "s/^set($1//" -e 's/)$//' | tr ' ' '\n' | sed '/^$/d'
}
