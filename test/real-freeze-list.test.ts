/**
 * Every suite that freezes a file system for real runs in vitest's `real-freeze` project, one
 * file at a time (vitest.config.mts): qemu-ga's thaw thaws every mount, another suite's too.
 * A suite freezes for real when it makes a loop-mounted file system (test/helpers/loop-mount.ts,
 * test/linux/helpers.ts) or runs what needs one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const freezesForReal = /\b(createLoopFs|makeLoopMount|loopFsUnavailable)\b/;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

describe('the real-freeze project', () => {
  it('holds every suite that makes a loop-mounted file system, and runs them one at a time after the rest', async () => {
    // An ES module of its own: imported at run time, as vitest itself loads it.
    const { default: config, realFreezeSuites } = await import(pathToFileURL(join(root, 'vitest.config.mts')).href);
    const self = relative(root, __filename);
    const freezing = testFiles(join(root, 'test')).filter((f) => f !== self && freezesForReal.test(readFileSync(join(root, f), 'utf8')));
    expect(freezing.length).toBeGreaterThan(0);
    expect([...(realFreezeSuites as string[])].sort()).toEqual(freezing.sort());
    const projects = (config.test.projects ?? []) as { test: { name: string; fileParallelism?: boolean; sequence?: { groupOrder?: number } } }[];
    const real = projects.find((p) => p.test.name === 'real-freeze')?.test;
    const others = projects.filter((p) => p.test.name !== 'real-freeze').map((p) => p.test.sequence?.groupOrder ?? 0);
    expect(real?.fileParallelism).toBe(false);
    expect(others.every((order) => order < (real?.sequence?.groupOrder ?? 0))).toBe(true);
  });
});
