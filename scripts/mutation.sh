#!/usr/bin/env bash
# npm run test:mutation: Stryker over the TypeScript core, one run per group of files below,
# each against the test files that run that group's code in-process (stryker.config.json holds
# the rest of the configuration; docs/RELIABILITY.md says what the split leaves out). Each
# group writes Stryker's JSON report to reports/mutation/groups/<group>.json and keeps an
# incremental file beside it, so a second run retests only the mutants whose code or tests
# changed; scripts/mutation-report.mjs then merges the groups into
# reports/mutation/mutation.json and prints the score of each file (it fails under 80%).
# Then the native list (scripts/native-mutants.sh): deliberate bugs applied one at a time to
# native/, each of which a test must catch.
#   npm run test:mutation                  every group, then the native list
#   npm run test:mutation -- gate linux    those groups only (and the merged report)
# Takes long on 2 cores (docs/RELIABILITY.md says how long), so CI does not run it.
set -uo pipefail
cd "$(dirname "$0")/.."

# group | files to mutate (comma-separated globs) | the test files that run them, quick ones
# first (vitest.mutation.config.mts runs them in this order, and a mutant's run stops at its
# first failing test) | the Node major version to run on when not this one (node:sqlite needs
# Node 22.5 or later: on an older one its tests run in a child process, where no mutant is
# active; scripts/fetch-node.sh fetches it)
groups=(
  "schemas|src/schemas.ts|test/module-load.test.ts,test/schemas.test.ts,test/options.test.ts,test/properties/public-api.property.test.ts,test/dispatcher.test.ts,test/adapters.test.ts,test/gate.test.ts,test/simulator.test.ts"
  "gate|src/gate/write-gate.ts,src/gate/adapters/**/*.ts,!src/gate/adapters/node-sqlite.ts|test/module-load.test.ts,test/adapters.test.ts,test/sqlite-worker.test.ts,test/gate.test.ts,test/diagnostics.test.ts,test/options.test.ts,test/e2e-consistency.test.ts,test/reliability/fault-matrix.test.ts"
  "node-sqlite|src/gate/adapters/node-sqlite.ts|test/module-load.test.ts,test/node-sqlite.test.ts|22"
  "core|src/dispatch.ts,src/requester.ts,src/writer.ts|test/module-load.test.ts,test/options.test.ts,test/dispatcher.test.ts,test/requester.test.ts,test/writer.test.ts,test/gate.test.ts,test/diagnostics.test.ts,test/simulator.test.ts,test/properties/public-api.property.test.ts,test/e2e-consistency.test.ts,test/testing.test.ts,test/reliability/fault-matrix.test.ts,test/external-commit.test.ts"
  "linux|src/linux/registered-apps.ts,src/linux/coordinator.ts|test/module-load.test.ts,test/linux/units.test.ts,test/linux/registered-apps.test.ts,test/linux/quiesce.test.ts,test/linux/without-root.test.ts,test/properties/linux-protocol.property.test.ts"
)

wanted=("$@")
status=0
# Instrumented code in worker threads on a shared machine: give the deadlines room.
export VSS_BRIDGE_TEST_TIME_SCALE="${VSS_BRIDGE_TEST_TIME_SCALE:-3}"
# The tests that spawn processes run dist/: build it from the real sources first.
npm run build:ts || exit 1
export VSS_BRIDGE_DIST_BUILT=1
mkdir -p reports/mutation/groups
for entry in "${groups[@]}"; do
  IFS='|' read -r name mutate tests major <<<"$entry"
  if [ "${#wanted[@]}" -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
  config="reports/mutation/groups/stryker-$name.json"
  # The shared configuration with this group's files and report paths; the merged report
  # judges the score (its threshold), so a group's own run does not fail on it.
  node -e '
    const [name, mutate] = process.argv.slice(1);
    const c = JSON.parse(require("fs").readFileSync("stryker.config.json", "utf8"));
    delete c.$schema;
    c.mutate = mutate.split(",");
    c.jsonReporter = { fileName: `reports/mutation/groups/${name}.json` };
    c.incrementalFile = `reports/mutation/groups/${name}.incremental.json`;
    c.thresholds = { ...c.thresholds, break: null };
    require("fs").writeFileSync(`reports/mutation/groups/stryker-${name}.json`, JSON.stringify(c, null, 2));
  ' "$name" "$mutate" || exit 1
  node_bin="$(command -v node)"
  if [ -n "$major" ] && [ "$(node -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
    node_bin="$(bash scripts/fetch-node.sh "$major")" || { echo "mutation: group $name needs Node $major" >&2; status=1; continue; }
  fi
  echo "mutation: group $name ($mutate) against $tests on Node $("$node_bin" --version)"
  started=$SECONDS
  VSS_BRIDGE_MUTATION_TESTS="$tests" nice -n 19 "$node_bin" node_modules/@stryker-mutator/core/bin/stryker.js run "$config" || status=1
  echo "mutation: group $name took $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
done
node scripts/mutation-report.mjs || status=1
if [ "${#wanted[@]}" -eq 0 ]; then
  nice -n 19 bash scripts/native-mutants.sh || status=1
fi
exit "$status"
