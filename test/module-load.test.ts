/**
 * Every module of the core loads, and builds what it builds at load (the option schemas, the
 * constants), without throwing. The imports are dynamic, inside the tests: a module that throws
 * at load then fails these tests instead of failing this file before any test runs (which a
 * test runner reports as a broken file, not as a failed test).
 */
import { describe, expect, it } from 'vitest';

const modules = [
  '../src/schemas.js',
  '../src/gate/write-gate.js',
  '../src/gate/adapters/file-store.js',
  '../src/gate/adapters/sqlite.js',
  '../src/gate/adapters/sqlite-wal.js',
  '../src/gate/adapters/sqlite-worker.js',
  '../src/gate/adapters/node-sqlite.js',
  '../src/dispatch.js',
  '../src/requester.js',
  '../src/writer.js',
  '../src/linux/registered-apps.js',
  '../src/linux/coordinator.js',
];

describe('the core modules', () => {
  it.each(modules)('%s loads', async (path) => {
    const loaded = (await import(path)) as Record<string, unknown>;
    expect(Object.keys(loaded).length).toBeGreaterThan(0);
  });

  it('the option schemas are built at load', async () => {
    const { writerOptionsSchema, shadowCopyOptionsSchema, rehearsalOptionsSchema } = await import('../src/schemas.js');
    expect(writerOptionsSchema.safeParse({}).success).toBe(false);
    expect(shadowCopyOptionsSchema.safeParse({ volumes: ['/'] }).success).toBe(true);
    expect(rehearsalOptionsSchema.safeParse({}).success).toBe(true);
  });
});
