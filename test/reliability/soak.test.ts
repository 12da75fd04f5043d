/**
 * The short soak CI runs: scripts/soak.mjs with a fixed seed and a few hundred sets. The long
 * one is `npm run soak` (3000 sets by default; --seed replays a run).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('soak (short)', () => {
  it('runs 300 snapshot sets with seeded random faults: every invariant holds, nothing lost, memory and handles flat', () => {
    const script = join(__dirname, '..', '..', 'scripts', 'soak.mjs');
    const run = spawnSync(process.execPath, [script, '--sets', '300', '--seed', '8', '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as {
      sets: number;
      outcomes: Record<string, number>;
      writesLost: number;
      writesAcknowledged: number;
    };
    expect(summary.sets).toBe(300);
    expect(summary.writesLost).toBe(0);
    expect(summary.writesAcknowledged).toBeGreaterThan(0);
    // The faults really happened: the seed gives successes and several kinds of failure.
    expect(summary.outcomes['succeeded']).toBeGreaterThan(0);
    expect(Object.keys(summary.outcomes).length).toBeGreaterThan(3);
  }, 120_000);
});
