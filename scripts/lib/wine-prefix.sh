# Sourced by the scripts that run Windows programs under Wine (wine-node.sh, windows-smoke.sh):
# the one Wine prefix they share, kept in their cache beside node.exe. Call it holding the
# cache's set-up lock (<cache>/.setup.lock): the first use makes the prefix.
#   wine_prefix <cache> <wine>   exports WINEPREFIX and TMPDIR (see below); makes the prefix,
#                                set to Windows 10, when it is not there yet
wine_prefix() {
  local cache=$1 wine=$2
  export WINEPREFIX=$cache/wine-prefix
  # Wine keeps its server's socket folder in $TMPDIR, under the name $WINEPREFIX/wineserver
  # records: one place for every user of this prefix whatever their TMPDIR (else each TMPDIR
  # starts a server of its own on the same prefix), and nothing left in the caller's.
  export TMPDIR=$cache/tmp
  mkdir -p "$TMPDIR"
  if [ ! -f "$WINEPREFIX/.vss-bridge-ready" ]; then
    # No Mono/Gecko installer prompts; node.exe refuses to start on Windows older than 10.
    WINEDLLOVERRIDES='mscoree,mshtml=' "$wine" wineboot -i >/dev/null 2>&1
    WINEDLLOVERRIDES='mscoree,mshtml=' "$wine" winecfg /v win10 >/dev/null 2>&1
    "$(dirname "$wine")/wineserver" -w 2>/dev/null || true  # let the prefix settle on disk
    touch "$WINEPREFIX/.vss-bridge-ready"
  fi
}
