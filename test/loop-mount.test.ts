/**
 * The loop-mount helper never leaves a mount behind: not when its file system is busy at
 * cleanup, and not when its test process dies before the cleanup (the next one releases it).
 * Every file system here is one this test made, in a temp directory of its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLoopFs, loopFsUnavailable, mountPoints, mountsUnder, ownerFile, type LoopFs } from './helpers/loop-mount.js';
import { skipUnlessRunnable } from './helpers/skip.js';
import { tempDir } from './helpers/temp-dir.js';

const reason = skipUnlessRunnable('loop-mount cleanup', loopFsUnavailable());

describe.skipIf(reason !== null)(`loop-mount cleanup${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const made: LoopFs[] = [];
  async function loopFs(): Promise<LoopFs> {
    const fs = await createLoopFs();
    made.push(fs);
    return fs;
  }

  beforeEach(() => {
    // createLoopFs sweeps its temp directory: this test's own, so it only ever meets its own roots.
    vi.stubEnv('TMPDIR', tempDir('vss-bridge-loop-test-'));
  });
  afterEach(async () => {
    for (const fs of made.splice(0)) await fs.cleanup(); // thaws first; a no-op for one already released
    vi.unstubAllEnvs();
  });

  it('detaches a file system still in use, and removes its root', async () => {
    const fs = await loopFs();
    const at = realpathSync(fs.mountpoint);
    // A process whose working directory is on the file system: a plain umount says "target is busy".
    const user = spawn('sleep', ['60'], { cwd: fs.mountpoint, stdio: 'ignore' });
    try {
      await fs.cleanup();
      expect(mountPoints()).not.toContain(at);
      expect(existsSync(fs.root)).toBe(false);
    } finally {
      user.kill('SIGKILL');
    }
  });

  it('releases a frozen file system whose creator died; leaves a live creator\'s and an unowned one alone', async () => {
    const orphan = await loopFs();
    const live = await loopFs();
    const unowned = await loopFs();
    const [orphanAt, liveAt, unownedAt] = [orphan, live, unowned].map((fs) => realpathSync(fs.mountpoint));
    // A pid that was just in use and is gone now stands for a test process killed mid-freeze.
    const gone = spawnSync('true').pid;
    const [, namespace] = readFileSync(join(orphan.root, ownerFile), 'utf8').split('-');
    writeFileSync(join(orphan.root, ownerFile), `${gone}-${namespace}`);
    rmSync(join(unowned.root, ownerFile));
    expect(spawnSync('fsfreeze', ['-f', orphan.mountpoint], { env: { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` } }).status).toBe(0);

    await loopFs(); // sweeps before it makes its own

    expect(mountPoints()).not.toContain(orphanAt);
    expect(existsSync(orphan.root)).toBe(false);
    expect(mountsUnder(live.root)).toEqual([liveAt]);
    expect(mountsUnder(unowned.root)).toEqual([unownedAt]);
  });
});
