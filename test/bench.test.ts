// The benchmark harness (bench/) in a tiny configuration: it must run every group and produce
// every figure with sane fields. Speed is the benchmark's business, so nothing here is timed.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopFsUnavailable } from './helpers/loop-mount.js';
import { skipUnlessRunnable } from './helpers/skip.js';

const root = join(__dirname, '..');
const built = existsSync(join(root, 'dist', 'index.js')) && existsSync(join(root, 'build', 'Release', 'vss_bridge.node'));
const skipReason = skipUnlessRunnable('npm run bench', built ? null : 'needs dist/ and build/: npm run build');

const expected = [
  'roundTrip.p50',
  'roundTrip.p99',
  'busy.roundTrip.p99',
  'busy.request.p50',
  'busy.request.p99',
  'snapshotSet.total.1w',
  'snapshotSet.total.8w',
  'snapshotSet.total.64w',
  'snapshotSet.total.64w.5msHandlers',
  'snapshotSet.fanOutFloor.64w',
  'snapshotSet.phase.64w',
  'snapshotSet.freeze.64w',
  'snapshotSet.commit.64w',
  'gate.throughput',
  'gate.freezeToDrained',
  'gate.freeze.sqliteWal64MB',
  'gate.freeze.files1000',
  'deadline.hungHandler.p99',
  'deadline.blockedLoop.p99',
  'memory.rss',
  'memory.heapUsed',
  'memory.activeHandles',
];
// The qemu-ga stall needs root, loop devices and qemu-ga (CI has them); elsewhere the group
// says why it skipped, and the figures are not expected.
const stallRunnable = loopFsUnavailable() === null && ['/usr/sbin/qemu-ga', '/usr/bin/qemu-ga'].some((p) => existsSync(p));
if (stallRunnable) expected.push('qemuGa.stall.1app.p50', 'qemuGa.stall.1app.max', 'qemuGa.stall.8apps.p50', 'qemuGa.stall.8apps.max');

interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number | null;
  target?: object;
  ok?: boolean;
}

function runBench(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bench/run.mjs', '--json', '--scale', '0.01'],
      { cwd: root, timeout: 170_000, maxBuffer: 16 * 2 ** 20 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run bench', () => {
  it.skipIf(skipReason !== null)('produces every figure with a value, a unit, a baseline and a ratio (needs dist/ and build/: npm run build)', async () => {
    const { code, stdout, stderr } = await runBench();
    expect(stderr, 'no group may fail').not.toMatch(/failed/);
    expect(code).toBe(0);
    const figures = stdout.trim().split('\n').map((line) => JSON.parse(line) as Figure);
    const names = figures.map((f) => f.name);
    expect(new Set(names).size, 'figure names are unique').toBe(names.length);
    for (const name of expected) expect(names).toContain(name);
    for (const f of figures) {
      expect(Number.isFinite(f.value), `${f.name}.value`).toBe(true);
      expect(f.value, `${f.name}.value`).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(f.baseline), `${f.name}.baseline`).toBe(true);
      expect(f.unit, `${f.name}.unit`).toMatch(/^(us|ms|MiB|count|ops\/s)$/);
      if (f.baseline > 0) expect(f.ratio, `${f.name}.ratio`).toBeCloseTo(f.value / f.baseline, 6);
      if (f.target !== undefined) expect(typeof f.ok, `${f.name}.ok`).toBe('boolean');
    }
    // The deadline loops really timed their events out, and the round trips really succeeded.
    const note = (name: string) => (figures.find((f) => f.name === name) as Figure & { note?: string }).note ?? '';
    expect(note('deadline.hungHandler.p99')).toMatch(/^(\d+) of \1 events timed out$/);
    expect(note('roundTrip.p50')).toMatch(/: (\d+) succeeded, 0 did not$/);
  }, 180_000);
});
