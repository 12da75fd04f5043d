/**
 * A test file leaves nothing in the temp directory, whether its tests pass or fail: a fixture
 * that makes its folders with test/helpers/temp-dir.ts runs in a vitest of its own, with a
 * TMPDIR of its own that must be empty afterwards. What a killed test process leaves, the next
 * run's start-up sweep removes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ownerTag, sweepLeftoverTempDirs } from './helpers/owner.js';
import { skipUnlessRunnable } from './helpers/skip.js';
import { tempDir } from './helpers/temp-dir.js';

const root = join(__dirname, '..');

it('removes the folders a test file made, after passing and failing tests alike', () => {
  const tmp = tempDir('vss-bridge-tmpdir-check-');
  // Not this run's own variables (VITEST_POOL_ID and the like): the inner vitest is a run of its own.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'FORCE_COLOR'));
  const run = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'test/fixtures/temp-dir/vitest.config.mts'], {
    cwd: root,
    env: { ...env, TMPDIR: tmp, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  const output = run.stdout + run.stderr;
  // The failing test failed (on purpose) and the others passed: all of them ran.
  expect(output, output).toMatch(/Tests\s+1 failed \| 1 passed \(2\)/);
  expect(run.status, output).toBe(1);
  expect(readdirSync(tmp)).toEqual([]);
});

const sweepSkip = skipUnlessRunnable('the start-up sweep of leftover temp folders', ownerTag() === null ? 'needs /proc (Linux): folders carry no maker tag elsewhere' : null);

it.skipIf(sweepSkip !== null)("a run's start-up sweep removes the folders of a test process that is gone, and only those", () => {
  const base = tempDir('vss-bridge-sweep-check-');
  const [, namespace] = ownerTag()!.split('-');
  // A pid that was just in use and is gone now stands for a test worker killed on a timeout.
  const gone = spawnSync('true').pid;
  const names = {
    orphan: `vss-bridge-cli-${gone}-${namespace}-a1B2c3`,
    live: `vss-bridge-cli-${process.pid}-${namespace}-a1B2c3`,
    otherNamespace: `vss-bridge-cli-${gone}-1-a1B2c3`,
    untagged: 'vss-bridge-cli-a1B2c3',
    notOurs: `other-${gone}-${namespace}-a1B2c3`,
  };
  for (const name of Object.values(names)) mkdirSync(join(base, name, 'sub'), { recursive: true });
  sweepLeftoverTempDirs(base);
  expect(readdirSync(base).sort()).toEqual([names.live, names.otherNamespace, names.untagged, names.notOurs].sort());
  // And tempDir names its folders so: prefix, tag, six characters.
  expect(base).toMatch(new RegExp(`/vss-bridge-sweep-check-${ownerTag()}-[A-Za-z0-9]{6}$`));
});
