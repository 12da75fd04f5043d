import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once for the tests that spawn processes or import the package by name.
    globalSetup: ['test/global-setup.ts'],
    // Native addon, timers and child processes: separate processes keep a crash contained.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { VSS_BRIDGE_LOG_LEVEL: process.env['VSS_BRIDGE_LOG_LEVEL'] ?? 'warn' },
  },
});
