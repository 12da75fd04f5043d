#!/usr/bin/env bash
# The native half of `npm run test:mutation`: deliberate bugs, applied one at a time to a copy
# of native/ and built, each of which the named tests must catch (fail). Stryker mutates the
# TypeScript only; this list keeps the C++ core's most important rules honest the same way.
# Needs what the named tests need (root for the peer-credential test). Exits non-zero when a
# bug survives, or when a bug's text is no longer in its file (the list must follow the code).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# file | the text, exactly once in the file | what replaces it | the tests that must fail
bugs=(
  "native/snapshot_set.cc|  if (failed && rule.abort_on_failure) Cleanup(\"abort\", -1);|  if (false && failed && rule.abort_on_failure) Cleanup(\"abort\", -1);|test/simulator.test.ts"
  "native/snapshot_set.cc|  if (!config_.restore && !post_snapshot_sent_) Cleanup(\"abort\", -1);|  if (!config_.restore) Cleanup(\"abort\", -1);|test/reliability/fault-matrix.test.ts"
  "native/snapshot_set.cc|    sim.SetState(w.get(), kWsStable);|    (void)w;|test/simulator.test.ts"
  "native/simulator.cc|  if (set_in_progress_) return false;|  if (false) return false;|test/simulator.test.ts"
  "native/call.cc|      if (now >= call->deadline) {|      if (false && now >= call->deadline) {|test/dispatcher.test.ts"
  "native/linux/peer_credentials.cc|  out->uid = cred.uid;|  out->uid = 0;|test/linux/units.test.ts test/linux/without-root.test.ts"
)
names=(
  "no Abort after a failed Freeze"
  "Abort after PostSnapshot when the requester gives up"
  "a new set keeps the last set's writer states"
  "a second snapshot set while one runs"
  "the native deadline never expires a call"
  "every peer reported as root"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A copy to break: the checkout is never touched. node_modules is shared, dist/ is built once.
tar -C "$root" --exclude=./node_modules --exclude='./build*' --exclude=./.stryker-tmp --exclude=./reports --exclude=./.git -cf - . | tar -C "$work" -xf -
ln -s "$root/node_modules" "$work/node_modules"
cd "$work"
export VSS_BRIDGE_DIST_BUILT=1
npm run build:ts >/dev/null || exit 1
echo "native mutants: building the copy"
npx cmake-js compile >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; exit 1; }

survived=0
for i in "${!bugs[@]}"; do
  IFS='|' read -r file old new tests <<<"${bugs[$i]}"
  cp "$file" "$work/original"
  if ! node -e '
    const fs = require("fs");
    const [file, old, replacement] = process.argv.slice(1);
    const text = fs.readFileSync(file, "utf8");
    const count = text.split(old).length - 1;
    if (count !== 1) { console.error(`${file}: the text to break is there ${count} times, not once: update scripts/native-mutants.sh`); process.exit(1); }
    fs.writeFileSync(file, text.replace(old, () => replacement));
  ' "$file" "$old" "$new"; then
    survived=$((survived + 1))
    continue
  fi
  if ! npx cmake-js compile >"$work/build.log" 2>&1; then
    echo "native mutant $((i + 1)) (${names[$i]}): does not build"; tail -20 "$work/build.log"; survived=$((survived + 1))
  else
    # shellcheck disable=SC2086
    if NO_COLOR=1 npx vitest run $tests >"$work/test.log" 2>&1; then
      echo "native mutant $((i + 1)) SURVIVED: ${names[$i]} ($file); $tests passed"
      survived=$((survived + 1))
    else
      echo "native mutant $((i + 1)) caught: ${names[$i]} ($file): $tests: $(grep -E '^ +Tests ' "$work/test.log" | sed 's/^ *Tests *//')"
    fi
  fi
  cp "$work/original" "$file"
done
echo "native mutants: $(( ${#bugs[@]} - survived )) of ${#bugs[@]} caught"
[ "$survived" -eq 0 ]
