/**
 * Two promises the root-only suites check with real users and a real agent, checked here
 * with no root and no loop device:
 * - the hook fails the freeze when an app vetoes. Which users' apps are asked is root's
 *   decision (a root-owned allow-list), so the allow-list is replaced by one naming this
 *   user; the app, its socket and the hook are real.
 * - an app's socket refuses a peer that is neither root nor the app's own user. Without root
 *   no other user can connect, so the kernel's answer about the peer (SO_PEERCRED, read by
 *   the addon) is replaced by one naming another uid; the socket and the request are real.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hookCommand } from '../../src/linux/commands.js';
import { linuxAddon } from '../../src/linux/addon.js';
import { registerWithCoordinator } from '../../src/linux/coordinator.js';
import { ask, findRegisteredApps } from '../../src/linux/registered-apps.js';
import { runtimeDirVariable } from '../../src/linux/runtime-dir.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { polling } from '../helpers/timing.js';
import { isLinux, newTempDir, startApp, type TestApp } from './helpers.js';

vi.mock('../../src/linux/allowed-users.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/linux/allowed-users.js')>()),
  allowedUsers: () => ({ uids: new Set([0, process.getuid?.() ?? 0]), problems: [] }),
}));

const skipReason = skipUnlessRunnable('root-free veto and peer tests', isLinux ? null : 'needs Linux (apps register for guest quiesce only there)');

describe.skipIf(skipReason !== null)('without root', () => {
  let dir: string | undefined;
  let app: TestApp | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await app?.stop().catch(() => app?.child.kill('SIGKILL'));
    app = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const io = () => {
    const out = { text: '', write: (s: string) => (out.text += s) };
    const err = { text: '', write: (s: string) => (err.text += s) };
    return { stdout: out, stderr: err };
  };

  /**
   * Runs the hook as if its process had just started. The hook counts its one deadline from
   * its process's start (process.uptime()), and here its process is this test's worker,
   * whose start may be long past (a loaded machine, a Stryker worker running test after test):
   * past the freeze budget the hook gave the app 1 ms ("no answer within 1 ms"). A --timeout
   * stretched by the worker's age instead is refused past the hour the option allows.
   */
  async function hook(args: string[], o: ReturnType<typeof io>): Promise<number> {
    const spy = vi.spyOn(process, 'uptime').mockReturnValue(0);
    try {
      return await hookCommand(args, o);
    } finally {
      spy.mockRestore();
    }
  }

  it("the hook fails the freeze when an app vetoes, and the app is not left quiesced", async () => {
    dir = newTempDir('vss-bridge-veto-');
    const run = join(dir, 'run');
    app = await startApp(join(dir, 'data.log'), { VSS_BRIDGE_RUNTIME_DIR: run }, { mode: 'veto' });
    const o = io();
    const code = await hook(['freeze', '--runtime-dir', run, '--log', '-', '--source', 'test', '--timeout', '60000'], o);
    expect(code, o.stdout.text + o.stderr.text).toBe(1);
    expect(o.stdout.text).toMatch(/^freeze vetoed: pid \d+: .*the test app refuses to freeze/m);
    expect(o.stdout.text).not.toMatch(/^frozen:/m);
    const status = await app.status();
    expect(status.events).toContain('freeze');
    expect(status.holding).toBe(false);
  }, 90_000);

  it('the same hook and app freeze when the app does not veto', async () => {
    dir = newTempDir('vss-bridge-veto-');
    const run = join(dir, 'run');
    app = await startApp(join(dir, 'data.log'), { VSS_BRIDGE_RUNTIME_DIR: run });
    const o = io();
    expect(await hook(['freeze', '--runtime-dir', run, '--log', '-', '--source', 'test', '--timeout', '60000'], o), o.stderr.text).toBe(0);
    expect(o.stdout.text).toBe('frozen: 1 app(s)\n');
    expect(await hook(['thaw', '--runtime-dir', run, '--log', '-', '--source', 'test', '--timeout', '60000'], io())).toBe(0);
  }, 90_000);

  it("an app's socket refuses a peer that is neither root nor the app's own user", async () => {
    dir = newTempDir('vss-bridge-peer-');
    const run = join(dir, 'run');
    // The app registers in this process, so its coordinator reads peers through this addon.
    const saved = process.env[runtimeDirVariable];
    process.env[runtimeDirVariable] = run;
    const { logger, entries } = memoryLogger();
    const registration = await registerWithCoordinator({ label: 'peer-test', logger });
    try {
      const [registered] = findRegisteredApps(run);
      expect(registered).toBeDefined();
      // Its own user is answered.
      expect(await ask(registered!, { v: 1, op: 'status' }, 10_000)).toMatchObject({ op: 'status', pid: process.pid });
      // Another user (as the kernel would name it) is cut off without an answer, and logged.
      const other = (process.getuid?.() ?? 0) + 4242;
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => ({ pid: 1, uid: other, gid: other }));
      await expect(ask(registered!, { v: 1, op: 'status' }, 10_000)).rejects.toThrow();
      await vi.waitFor(() => expect(entries.map((e) => e.message)).toContain(`coordinator: refused a connection from uid ${other}`), polling);
      // Root is answered.
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => ({ pid: 1, uid: 0, gid: 0 }));
      expect(await ask(registered!, { v: 1, op: 'status' }, 10_000)).toMatchObject({ op: 'status' });
    } finally {
      await registration?.release();
      if (saved === undefined) delete process.env[runtimeDirVariable];
      else process.env[runtimeDirVariable] = saved;
    }
  });
});
