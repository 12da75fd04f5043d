#!/usr/bin/env bash
# npm run test:mutation: Stryker over the TypeScript core (stryker.config.json; the JSON report
# goes to reports/mutation/mutation.json), then the native list (scripts/native-mutants.sh):
# deliberate bugs applied one at a time to native/, each of which a test must catch.
# Arguments go to Stryker, e.g. `npm run test:mutation -- --mutate src/schemas.ts`.
# Takes long on 2 cores (docs/RELIABILITY.md says how long), so CI does not run it.
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
# Instrumented code in worker threads on a shared machine: give the deadlines room.
export VSS_BRIDGE_TEST_TIME_SCALE="${VSS_BRIDGE_TEST_TIME_SCALE:-3}"
# The tests that spawn processes run dist/: build it from the real sources first.
npm run build:ts || exit 1
export VSS_BRIDGE_DIST_BUILT=1
nice npx stryker run "$@" || status=1
nice bash scripts/native-mutants.sh || status=1
exit "$status"
