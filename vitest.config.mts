import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/** How a suite makes a loop-mounted file system: test/helpers/loop-mount.ts, test/linux/helpers.ts. */
export const makesLoopMount = /\b(createLoopFs|makeLoopMount|loopFsUnavailable)\b/;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

/**
 * The suites that freeze a file system for real: those that make a loop mount of their own.
 * qemu-ga's guest-fsfreeze-thaw thaws every mounted file system (FITHAW on each), so one of
 * these running beside another can thaw that one's mount in the middle of its test: they run
 * one file at a time, after every other file (the project `real-freeze`). Found by what they
 * call, so a new one cannot be left out.
 */
export const realFreezeSuites = testFiles(join(root, 'test')).filter((f) => makesLoopMount.test(readFileSync(join(root, f), 'utf8')));

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
