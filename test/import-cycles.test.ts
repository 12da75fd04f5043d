/**
 * The compiled package has no require cycle. A cycle makes one module see another half
 * loaded (its exports undefined until the cycle unwinds), so which export works depends on
 * which entry point a user required first. Walks dist/ (built by global-setup.ts) from the
 * package's entry points, following every relative require, eager or lazy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = join(__dirname, '..', 'dist');
const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { bin: Record<string, string> };
const entries = ['index.js', 'testing.js', ...Object.values(pkg.bin).map((bin) => relative('dist', bin))];

/** The relative modules `file` requires, as paths under dist/. */
function requiresOf(file: string): string[] {
  const source = readFileSync(join(dist, file), 'utf8');
  return [...source.matchAll(/require\(["'](\.{1,2}\/[^"']+)["']\)/g)].map((m) => {
    const target = resolve(join(dist, dirname(file)), m[1]!);
    return relative(dist, target.endsWith('.js') ? target : `${target}.js`);
  });
}

/** Every cycle reachable from the entries, each as the chain of files that closes it. */
function findCycles(roots: readonly string[], edges: (file: string) => string[]): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const walk = (file: string, path: string[]): void => {
    const at = path.indexOf(file);
    if (at >= 0) {
      cycles.push([...path.slice(at), file]);
      return;
    }
    if (done.has(file)) return;
    for (const next of edges(file)) walk(next, [...path, file]);
    done.add(file);
  };
  for (const root of roots) walk(root, []);
  return cycles;
}

describe('the compiled package', () => {
  it('has its entry points built', () => {
    expect(entries).toEqual(['index.js', 'testing.js', 'cli/main.js']);
    for (const entry of entries) expect(existsSync(join(dist, entry)), entry).toBe(true);
  });

  it('is read the way the walk needs: index.js requires the modules it re-exports', () => {
    expect(requiresOf('index.js')).toEqual(expect.arrayContaining(['writer.js', 'requester.js', 'errors.js']));
  });

  it('would be caught with a cycle (the walk on a graph that has one)', () => {
    const graph: Record<string, string[]> = { a: ['b'], b: ['c', 'd'], c: ['a'], d: [] };
    expect(findCycles(['a'], (f) => graph[f] ?? [])).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(['a'], (f) => (f === 'c' ? [] : (graph[f] ?? [])))).toEqual([]);
  });

  it('has no require cycle among the modules its entry points load', () => {
    expect(findCycles(entries, requiresOf).map((c) => c.join(' -> '))).toEqual([]);
  });
});
