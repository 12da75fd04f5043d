import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

/**
 * The suite as Stryker runs it (npm run test:mutation): the tests that run the mutated
 * sources in-process. Left out are tests of other things (the build, the package, Windows,
 * Wine, the bench, logging) and tests whose code under test runs from dist/ in child
 * processes or needs a real freeze: dist/ is built from the real sources, so they cannot see
 * a mutant and would only make each one slower. Stryker runs these files in worker threads.
 */
// Spread, not mergeConfig: that would add this list to the base config's include.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // One set of files as Stryker runs them, not the base config's projects (which would
    // replace this include).
    projects: undefined,
    // VSS_BRIDGE_MUTATION_TESTS=a.test.ts,b.test.ts narrows it while working on one file.
    include: process.env['VSS_BRIDGE_MUTATION_TESTS']?.split(',') ?? [
      'test/module-load.test.ts',
      'test/schemas.test.ts',
      'test/adapters.test.ts',
      'test/dispatcher.test.ts',
      'test/e2e-consistency.test.ts',
      'test/external-commit.test.ts',
      'test/gate.test.ts',
      'test/options.test.ts',
      'test/simulator.test.ts',
      'test/testing.test.ts',
      'test/properties/*.test.ts',
      'test/reliability/fault-matrix.test.ts',
      'test/linux/units.test.ts',
      'test/linux/without-root.test.ts',
    ],
  },
});
