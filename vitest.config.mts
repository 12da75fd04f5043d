import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The suites that freeze a file system for real (a loop-mounted ext4 of their own). qemu-ga's
 * guest-fsfreeze-thaw thaws every mounted file system (FITHAW on each), so one of these running
 * beside another can thaw that one's mount in the middle of its test: they run one file at a
 * time, after every other file (the project `real-freeze`). A new suite that freezes for real
 * belongs in this list; test/real-freeze-list.test.ts checks that none is missing.
 */
export const realFreezeSuites = [
  'test/adapters.test.ts',
  'test/bench.test.ts',
  'test/e2e-fsfreeze.test.ts',
  'test/linux/hv-vss-daemon.test.ts',
  'test/linux/qemu-ga.test.ts',
];

// What every project shares. Not `extends: true`: that would run the global setup once more in
// each project, at the same time, each removing and rebuilding dist/.
const common = {
  // Native addon, timers and child processes: separate processes keep a crash contained.
  pool: 'forks',
  testTimeout: 30_000,
  hookTimeout: 30_000,
  env: { VSS_BRIDGE_LOG_LEVEL: process.env['VSS_BRIDGE_LOG_LEVEL'] ?? 'warn' },
} as const;

export default defineConfig({
  test: {
    // Builds dist/ once for the tests that spawn processes or import the package by name.
    globalSetup: ['test/global-setup.ts'],
    ...common,
    projects: [
      { test: { ...common, name: 'main', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...realFreezeSuites] } },
      { test: { ...common, name: 'real-freeze', include: realFreezeSuites, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
