import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addon, timers and child processes: separate processes keep a crash contained.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { VSS_BRIDGE_LOG_LEVEL: process.env['VSS_BRIDGE_LOG_LEVEL'] ?? 'warn' },
  },
});
