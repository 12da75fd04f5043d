/**
 * A test file leaves nothing in the temp directory, whether its tests pass or fail: a fixture
 * that makes its folders with test/helpers/temp-dir.ts runs in a vitest of its own, with a
 * TMPDIR of its own that must be empty afterwards.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
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
