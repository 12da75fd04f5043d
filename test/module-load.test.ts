/**
 * Every module of the core loads, and builds what it builds at load (the option schemas, the
 * constants), without throwing. The imports are dynamic, inside the tests: a module that throws
 * at load then fails these tests instead of failing this file before any test runs (which a
 * test runner reports as a broken file, not as a failed test).
 */
import { describe, expect, it } from 'vitest';

// Each import written out: Stryker's vitest runner runs only the test files that import the
// mutated file, as vitest sees it (`related`), and a path held in a variable hides it.
const modules: [string, () => Promise<Record<string, unknown>>][] = [
  ['../src/schemas.js', () => import('../src/schemas.js')],
  ['../src/gate/write-gate.js', () => import('../src/gate/write-gate.js')],
  ['../src/gate/adapters/file-store.js', () => import('../src/gate/adapters/file-store.js')],
  ['../src/gate/adapters/sqlite.js', () => import('../src/gate/adapters/sqlite.js')],
  ['../src/gate/adapters/sqlite-wal.js', () => import('../src/gate/adapters/sqlite-wal.js')],
  ['../src/gate/adapters/sqlite-worker.js', () => import('../src/gate/adapters/sqlite-worker.js')],
  ['../src/gate/adapters/node-sqlite.js', () => import('../src/gate/adapters/node-sqlite.js')],
  ['../src/dispatch.js', () => import('../src/dispatch.js')],
  ['../src/requester.js', () => import('../src/requester.js')],
  ['../src/writer.js', () => import('../src/writer.js')],
  ['../src/linux/registered-apps.js', () => import('../src/linux/registered-apps.js')],
  ['../src/linux/coordinator.js', () => import('../src/linux/coordinator.js')],
];

describe('the core modules', () => {
  it.each(modules)('%s loads', async (_path, load) => {
    const loaded = await load();
    expect(Object.keys(loaded).length).toBeGreaterThan(0);
  });

  it('the option schemas are built at load', async () => {
    const { writerOptionsSchema, shadowCopyOptionsSchema, rehearsalOptionsSchema } = await import('../src/schemas.js');
    expect(writerOptionsSchema.safeParse({}).success).toBe(false);
    expect(shadowCopyOptionsSchema.safeParse({ volumes: ['/'] }).success).toBe(true);
    expect(rehearsalOptionsSchema.safeParse({}).success).toBe(true);
  });
});
