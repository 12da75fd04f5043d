/**
 * The suites that freeze a file system for real run in vitest's `real-freeze` project, one file
 * at a time after all the others (vitest.config.mts): qemu-ga's thaw thaws every mount, another
 * suite's too.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('the real-freeze project', () => {
  it('holds the suites that make a loop mount, and runs them one at a time after the rest', async () => {
    // An ES module of its own: imported at run time, as vitest itself loads it.
    const { default: config, realFreezeSuites } = await import(pathToFileURL(join(__dirname, '..', 'vitest.config.mts')).href);
    const suites = realFreezeSuites as string[];
    for (const known of ['test/e2e-fsfreeze.test.ts', 'test/adapters.test.ts', 'test/linux/qemu-ga.test.ts', 'test/linux/hv-vss-daemon.test.ts', 'test/bench.test.ts']) {
      expect(suites).toContain(known);
    }
    expect(suites).not.toContain('test/gate.test.ts');
    expect(suites).not.toContain('test/real-freeze-list.test.ts');
    const projects = (config.test.projects ?? []) as { test: { name: string; include: string[]; exclude?: string[]; fileParallelism?: boolean; sequence?: { groupOrder?: number } } }[];
    const real = projects.find((p) => p.test.name === 'real-freeze')?.test;
    const others = projects.filter((p) => p.test.name !== 'real-freeze').map((p) => p.test);
    expect(real?.include).toEqual(suites);
    expect(real?.fileParallelism).toBe(false);
    for (const other of others) {
      expect(other.exclude).toEqual(expect.arrayContaining(suites));
      expect(other.sequence?.groupOrder ?? 0).toBeLessThan(real?.sequence?.groupOrder ?? 0);
    }
  });
});
