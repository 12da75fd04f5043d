import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import base from './vitest.config.mts';

/**
 * The suite as Stryker runs it (npm run test:mutation): the tests that run the mutated
 * sources in-process. Left out are tests of other things (the build, the package, Windows,
 * Wine, the bench, logging) and tests whose code under test runs from dist/ in child
 * processes or needs a real freeze: dist/ is built from the real sources, so they cannot see
 * a mutant and would only make each one slower. Stryker runs these files in worker threads.
 */
// VSS_BRIDGE_MUTATION_TESTS=a.test.ts,b.test.ts narrows it (scripts/mutation.sh: each group's).
const include = process.env['VSS_BRIDGE_MUTATION_TESTS']?.split(',') ?? [
  'test/module-load.test.ts',
  'test/schemas.test.ts',
  'test/options.test.ts',
  'test/dispatcher.test.ts',
  'test/requester.test.ts',
  'test/writer.test.ts',
  'test/adapters.test.ts',
  'test/sqlite-worker.test.ts',
  'test/gate.test.ts',
  'test/diagnostics.test.ts',
  'test/simulator.test.ts',
  'test/e2e-consistency.test.ts',
  'test/properties/*.test.ts',
  'test/linux/units.test.ts',
  'test/linux/registered-apps.test.ts',
  'test/linux/quiesce.test.ts',
  'test/linux/without-root.test.ts',
  'test/testing.test.ts',
  'test/reliability/fault-matrix.test.ts',
  'test/external-commit.test.ts',
];

const globToRegExp = (glob: string): RegExp => new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
const patterns = include.map(globToRegExp);
const rank = (spec: TestSpecification): number => {
  const path = relative(process.cwd(), spec.moduleId);
  const i = patterns.findIndex((p) => p.test(path));
  return i < 0 ? patterns.length : i;
};

/**
 * Files in the order listed, quick ones first: Stryker stops a mutant's run at its first failing
 * test, so a mutant a quick file kills never waits for the slow ones (vitest would start with
 * the slowest).
 */
class ListedOrder extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve([...files].sort((a, b) => rank(a) - rank(b)));
  }
}

// Spread, not mergeConfig: that would add this list to the base config's include.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // One set of files as Stryker runs them, not the base config's projects (which would
    // replace this include).
    projects: undefined,
    include,
    sequence: { ...base.test?.sequence, sequencer: ListedOrder },
  },
});
