/**
 * A guest agent's quiesce, hook side (registered-apps.ts) and app side (coordinator.ts), both in
 * this process: a writer subscribes and registers in a runtime directory of the test's own, and
 * freezeApps, thawApps and ask drive it over its real socket. No root, no file system frozen:
 * what is checked is the protocol's replies, the writer's events and the log lines.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { VssWriter, WriterFailure, type VssWriterOptions } from '../../src/index.js';
import { getBackend } from '../../src/backends/backend.js';
import { linuxAddon } from '../../src/linux/addon.js';
import { ask, findRegisteredApps, freezeApps, releaseApps, thawApps, type RegisteredApp } from '../../src/linux/registered-apps.js';
import { coordinatorVariable } from '../../src/linux/coordinator.js';
import { runtimeDirVariable } from '../../src/linux/runtime-dir.js';
import { memoryLogger, type LogEntry } from '../helpers/memory-logger.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { polling, scaled } from '../helpers/timing.js';
import { isLinux, isRoot, newTempDir, startApp, type TestApp } from './helpers.js';

// Which users' apps the hook asks is root's allow-list; this user's are allowed here.
vi.mock('../../src/linux/allowed-users.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/linux/allowed-users.js')>()),
  allowedUsers: () => ({ uids: new Set([0, process.getuid?.() ?? 0]), problems: [] }),
}));

/** A freeze window that runs out on purpose, yet not before the writers froze on a busy machine. */
const scaledWindow = scaled(2_500);

const skipReason = skipUnlessRunnable('in-process quiesce', isLinux ? null : 'needs Linux (apps register for guest quiesce only there)');

describe.skipIf(skipReason !== null)('quiesce through the app socket, in one process', () => {
  let dir: string;
  let saved: string | undefined;
  const writers: VssWriter[] = [];

  beforeEach(() => {
    dir = newTempDir('vss-bridge-quiesce-');
    saved = process.env[runtimeDirVariable];
    process.env[runtimeDirVariable] = dir;
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    // A test that failed half-way leaves nothing frozen for the next.
    await thawApps('abort', { runtimeDir: dir, timeoutMs: polling.timeout, log: () => undefined });
    for (const w of writers.splice(0)) await w.unsubscribe();
    if (saved === undefined) delete process.env[runtimeDirVariable];
    else process.env[runtimeDirVariable] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A subscribed writer recording its events; its label is its name. */
  async function writer(name: string, handlers: VssWriterOptions['handlers'] = {}, freezeTimeoutMs = 60_000): Promise<{ events: string[]; entries: LogEntry[]; writer: VssWriter }> {
    const events: string[] = [];
    const { logger, entries } = memoryLogger();
    const all = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'abort', 'backupComplete', 'backupShutdown'] as const;
    const w = new VssWriter({
      name,
      id: randomUUID(),
      usage: 'userData',
      sourceType: 'other',
      freezeTimeoutMs,
      logger,
      handlers: Object.fromEntries(
        all.map((e) => [
          e,
          async (ctx: never) => {
            events.push(e);
            await (handlers as Record<string, ((c: never) => unknown) | undefined>)[e]?.(ctx);
          },
        ]),
      ),
    });
    await w.subscribe();
    writers.push(w);
    return { events, entries, writer: w };
  }

  function theApp(): RegisteredApp {
    const apps = findRegisteredApps(dir);
    expect(apps).toHaveLength(1);
    return apps[0]!;
  }

  /** Once the snapshot set has ended (the writers' abort is not its end). */
  const idle = () => vi.waitFor(async () => expect(await ask(theApp(), { v: 1, op: 'status' }, polling.timeout)).toMatchObject({ phase: 'idle' }), polling);

  const options = (log: string[]) => ({ runtimeDir: dir, timeoutMs: 60_000, backupType: 'full' as const, source: 'test', log: (l: string) => void log.push(l) });
  const freezeRequest = (timeoutMs = 60_000) => ({ v: 1 as const, op: 'freeze' as const, id: randomUUID(), timeoutMs, backupType: 'full' as const, source: 'test' });

  it('registers with a socket named by time and pid, logged; answers status with its phase and writers', async () => {
    const w = await writer('status-writer');
    const app = theApp();
    expect(app).toMatchObject({ pid: process.pid, ownerUid: process.getuid!() });
    expect(app.socketPath).toMatch(new RegExp(`/\\d+-${process.pid}\\.sock$`));
    expect(w.entries.find((e) => e.message === 'registered for Linux guest quiesce')).toMatchObject({ level: 'info', socket: app.socketPath });
    expect(await ask(app, { v: 1, op: 'status' }, polling.timeout)).toEqual({
      v: 1,
      op: 'status',
      pid: process.pid,
      phase: 'idle',
      writers: [{ name: 'status-writer', instanceName: '', state: 'VSS_WS_STABLE' }],
    });
  });

  it('freeze, hold, thaw: the writers run the backup sequence, each step logged, and a second thaw finds nothing frozen', async () => {
    const w = await writer('thawed-writer');
    const log: string[] = [];
    const frozen = await freezeApps(options(log));
    expect(frozen.ok, JSON.stringify(frozen.outcomes)).toBe(true);
    expect(frozen.outcomes.map((o) => [o.ok, o.detail])).toEqual([[true, 'frozen: thawed-writer']]);
    expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    const app = theApp();
    expect(log).toEqual([`freeze pid ${app.pid} (${app.socketPath}): ok: frozen: thawed-writer`]);
    // The app is given what is left of the hook's freeze part: 60 s less the abort reserve (5 s at most).
    const requested = w.entries.find((e) => /^quiesce [0-9a-f-]+: freeze requested by test$/.test(e.message));
    expect(requested?.['timeoutMs']).toBeGreaterThan(50_000);
    expect(requested?.['timeoutMs']).toBeLessThanOrEqual(55_000);
    // The freeze stands (the hold was sent): the status says so.
    await vi.waitFor(async () => expect(await ask(app, { v: 1, op: 'status' }, polling.timeout)).toMatchObject({ phase: 'frozen' }), polling);
    // Another freeze meanwhile is refused.
    const again = await freezeApps(options([]));
    expect(again.ok).toBe(false);
    expect(again.outcomes[0]!.detail).toBe('a freeze is already in progress (frozen) [VSS_E_SNAPSHOT_SET_IN_PROGRESS]');
    expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    const thawLog: string[] = [];
    const thawed = await thawApps('thaw', options(thawLog));
    expect(thawed).toMatchObject({ ok: true, outcomes: [{ ok: true, detail: 'thawed' }] });
    expect(thawLog).toEqual([`thaw pid ${app.pid} (${app.socketPath}): ok: thawed`]);
    expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown']);
    expect(await thawApps('thaw', options([]))).toMatchObject({ ok: true, outcomes: [{ detail: 'not frozen' }] });
  });

  it('abort after the freeze: the writers abort, and the reply says aborted', async () => {
    const w = await writer('aborted-writer');
    expect((await freezeApps(options([]))).ok).toBe(true);
    const aborted = await thawApps('abort', options([]));
    expect(aborted).toMatchObject({ ok: true, outcomes: [{ ok: true, detail: 'aborted' }] });
    expect(w.events).toContain('abort');
    expect(w.entries.map((e) => e.message)).toContain('commit failed: the hook aborted the snapshot');
    expect(w.events).not.toContain('thaw');
  });

  it("a writer's veto fails the freeze with its reason and code, logged as FAILED, and nothing stays frozen", async () => {
    const w = await writer('vetoing-writer', {
      freeze: () => {
        throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', 'not now');
      },
    });
    const log: string[] = [];
    const result = await freezeApps(options(log));
    expect(result.ok).toBe(false);
    expect(result.outcomes).toHaveLength(1);
    expect(result.outcomes[0]!.detail).toMatch(/not now.* \[VSS_E_WRITERERROR_NONRETRYABLE\]$/);
    expect(log[0]).toMatch(/^freeze pid \d+ \(.*\): FAILED: .*not now/);
    expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
    expect(await ask(theApp(), { v: 1, op: 'status' }, polling.timeout)).toMatchObject({ phase: 'idle' });
  });

  it('a hook that closes the freeze connection without the hold aborts the writers, and the next thaw says why', async () => {
    const w = await writer('dropped-writer');
    const result = await freezeApps({ ...options([]), keepConnections: true });
    expect(result.ok).toBe(true);
    expect(result.held!.apps).toEqual([theApp()]);
    for (const c of result.held!.connections) c.drop();
    await vi.waitFor(() => expect(w.events).toContain('abort'), polling);
    await vi.waitFor(() => expect(w.entries.some((e) => /the hook closed the freeze connection before confirming the freeze.*: aborting$/.test(e.message))).toBe(true), polling);
    await idle();
    const thawed = await thawApps('thaw', options([]));
    expect(thawed.ok).toBe(false);
    expect(thawed.outcomes[0]!.detail).toBe('released before thaw: the hook closed the freeze connection before confirming the freeze (killed, or it gave up) [VSS_E_WRITERERROR_TIMEOUT]');
    // Said once: the thaw after it finds nothing frozen.
    expect(await thawApps('thaw', options([]))).toMatchObject({ ok: true, outcomes: [{ detail: 'not frozen' }] });
  });

  it('held connections, then the hold: the freeze stands until the thaw', async () => {
    const w = await writer('held-writer');
    const result = await freezeApps({ ...options([]), keepConnections: true });
    await Promise.all(result.held!.connections.map((c) => c.hold(performance.now() + polling.timeout)));
    await vi.waitFor(async () => expect(await ask(theApp(), { v: 1, op: 'status' }, polling.timeout)).toMatchObject({ phase: 'frozen' }), polling);
    expect(w.events).not.toContain('abort');
    const released = await releaseApps('thaw', result.held!.apps, { log: () => undefined, deadline: performance.now() + polling.timeout });
    expect(released).toMatchObject({ ok: true, outcomes: [{ detail: 'thawed' }] });
    expect(w.events).toContain('backupShutdown');
  });

  it('releaseApps past its deadline asks no app', async () => {
    await writer('late-writer');
    const log: string[] = [];
    const result = await releaseApps('thaw', [theApp()], { log: (l) => void log.push(l), deadline: performance.now() - 1 });
    expect(result).toMatchObject({ ok: false, outcomes: [{ ok: false, detail: 'not asked: the deadline had passed' }] });
    expect(log).toEqual([`thaw pid ${process.pid} (${theApp().socketPath}): FAILED: not asked: the deadline had passed`]);
  });

  it('an app that has gone (its socket left behind) is skipped, and logged so', async () => {
    await writer('gone-writer');
    const app = theApp();
    const stale: RegisteredApp = { ...app, socketPath: join(dir, `1-${process.pid}.sock`) };
    const log: string[] = [];
    const result = await releaseApps('thaw', [stale], { log: (l) => void log.push(l), deadline: performance.now() + polling.timeout });
    expect(result).toEqual({ ok: true, outcomes: [] });
    expect(log).toEqual([`pid ${process.pid} (${stale.socketPath}): not running; skipped`]);
  });

  it('at registration, removes the sockets and binding folders of its user\'s dead processes, and keeps the live ones', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(dir, `1-${dead}.sock`), '');
    mkdirSync(join(dir, `.bind-${dead}-abc`));
    writeFileSync(join(dir, `2-${process.pid}.sock`), '');
    writeFileSync(join(dir, `notes-${dead}.txt`), '');
    await writer('tidy-writer');
    expect(findRegisteredApps(dir)).toHaveLength(1);
    const names = readdirSync(dir);
    expect(names).not.toContain(`1-${dead}.sock`);
    expect(names).not.toContain(`.bind-${dead}-abc`);
    expect(names).toContain(`2-${process.pid}.sock`);
    expect(names).toContain(`notes-${dead}.txt`);
  });

  it('lists registered apps oldest first, by registration time as a number, skipping what is not a socket', async () => {
    const servers: Server[] = [];
    try {
      for (const name of [`100-${process.pid}.sock`, `20-${process.pid}.sock`, `20-1.sock`]) {
        const server = createServer();
        await new Promise<void>((resolve) => server.listen(join(dir, name), resolve));
        servers.push(server);
      }
      writeFileSync(join(dir, `5-${process.pid}.sock`), 'a file, not a socket');
      writeFileSync(join(dir, 'other.sock'), '');
      expect(findRegisteredApps(dir).map((a) => [a.registeredAt, a.pid])).toEqual([
        [20, 1],
        [20, process.pid],
        [100, process.pid],
      ]);
    } finally {
      for (const server of servers) server.close();
    }
  });

  it('does not register in a folder others may change, and says so once, with the way to turn it off', async () => {
    chmodSync(dir, 0o777);
    const first = await writer('unregistered-writer');
    const second = await writer('unregistered-too');
    expect(readdirSync(dir).filter((n) => n.endsWith('.sock'))).toEqual([]);
    const warning = first.entries.find((e) => e.level === 'warn');
    expect(warning?.message).toBe(
      `not registered for Linux guest quiesce: registration directory ${dir} is writable by group or others (mode 777): make it a directory of this user's that only it can change (chmod 700). ` +
        `Guest agents' freezes will not reach this process's writers; outside a VM, or to stop this message, set ${coordinatorVariable}=off`,
    );
    expect(warning?.['writer']).toBe('unregistered-writer');
    expect(second.entries.some((e) => e.level === 'warn')).toBe(false);
  });

  it(`does not register with ${coordinatorVariable}=off`, async () => {
    process.env[coordinatorVariable] = 'off';
    try {
      await writer('off-writer');
    } finally {
      delete process.env[coordinatorVariable];
    }
    expect(existsSync(dir) && readdirSync(dir).filter((n) => n.endsWith('.sock'))).toEqual([]);
  });

  describe('with a second app, in a process of its own', () => {
    let other: TestApp | undefined;
    afterEach(async () => {
      await other?.stop().catch(() => other?.child.kill('SIGKILL'));
      other = undefined;
    });

    it('freezes the newest registration first; thaws both at once, logged in registration order', async () => {
      other = await startApp(join(dir, 'other.log'), { [runtimeDirVariable]: dir });
      const mine = await writer('newest-writer');
      const [older, newer] = findRegisteredApps(dir);
      expect(newer!.pid).toBe(process.pid);
      const log: string[] = [];
      expect((await freezeApps(options(log))).ok).toBe(true);
      expect(log.map((l) => l.split(':')[0])).toEqual([`freeze pid ${newer!.pid} (${newer!.socketPath})`, `freeze pid ${older!.pid} (${older!.socketPath})`]);
      log.length = 0;
      expect((await thawApps('thaw', options(log))).ok).toBe(true);
      expect(log.map((l) => l.split(':')[0])).toEqual([`thaw pid ${older!.pid} (${older!.socketPath})`, `thaw pid ${newer!.pid} (${newer!.socketPath})`]);
      expect(mine.events).toContain('thaw');
    });

    it('an older app that vetoes: the newer one, already frozen, is aborted and its connection closed', async () => {
      other = await startApp(join(dir, 'other.log'), { [runtimeDirVariable]: dir }, { mode: 'veto' });
      const mine = await writer('frozen-then-aborted');
      const log: string[] = [];
      const result = await freezeApps(options(log));
      expect(result.ok).toBe(false);
      expect(result.outcomes.map((o) => o.ok)).toEqual([true, false]);
      expect(result.outcomes[1]!.detail).toMatch(/the test app refuses to freeze.* \[VSS_E_WRITERERROR_NONRETRYABLE\]$/);
      expect(log[2]).toBe(`abort pid ${process.pid} (${findRegisteredApps(dir)[1]!.socketPath}): ok: aborted`);
      await vi.waitFor(() => expect(mine.events).toContain('abort'), polling);
      expect(mine.events).not.toContain('thaw');
    });
  });

  it('a freeze whose signal has fired asks nothing and says it was interrupted', async () => {
    const mine = await writer('never-asked');
    const controller = new AbortController();
    controller.abort(new Error('SIGTERM'));
    const log: string[] = [];
    const result = await freezeApps({ ...options(log), signal: controller.signal });
    expect(result, JSON.stringify(result)).toMatchObject({ ok: false, outcomes: [{ ok: false, detail: 'interrupted: SIGTERM' }] });
    expect(mine.events).toEqual([]);
  });

  it('a socket left by an app that exited is skipped by the freeze, and logged so', async () => {
    const path = join(dir, `1-${process.pid}.sock`);
    // A process that exits while listening leaves its socket file: a connection is refused.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    const log: string[] = [];
    const result = await freezeApps(options(log));
    expect(result).toEqual({ ok: true, outcomes: [] });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(new RegExp(`^pid ${process.pid} \\(${path.replace(/[.]/g, '\\.')}\\): not running \\(.*ECONNREFUSED.*\\); skipped$`));
  });

  describe('the app side of the socket', () => {
    const status = { v: 1 as const, op: 'status' as const };

    it('binds its socket 0600 in a folder it makes 0700, and leaves no binding folder behind', async () => {
      const nested = join(dir, 'made', 'run');
      process.env[runtimeDirVariable] = nested;
      await writer('private-writer');
      const [app] = findRegisteredApps(nested);
      expect(statSync(nested).mode & 0o777).toBe(0o700);
      expect(lstatSync(app!.socketPath).mode & 0o777).toBe(0o600);
      expect(readdirSync(nested)).toEqual([basename(app!.socketPath)]);
    });

    it('keeps one socket while any writer is subscribed; the last one out removes it and its exit listener', async () => {
      const listeners = process.listenerCount('exit');
      const first = await writer('first-of-two');
      await writer('second-of-two');
      const app = theApp();
      expect(process.listenerCount('exit')).toBe(listeners + 1);
      await first.writer.unsubscribe();
      expect(await ask(app, status, polling.timeout)).toMatchObject({ op: 'status', writers: [{ name: 'second-of-two' }] });
      for (const w of writers.splice(0)) await w.unsubscribe();
      expect(readdirSync(dir)).toEqual([]);
      await expect(ask(app, status, polling.timeout)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(process.listenerCount('exit')).toBe(listeners);
    });

    it('registers once its folder is fixed, and a writer refused earlier does not keep the socket', async () => {
      chmodSync(dir, 0o777);
      await writer('refused-writer');
      chmodSync(dir, 0o700);
      const later = await writer('later-writer');
      const app = theApp();
      expect(later.entries.find((e) => e.message === 'registered for Linux guest quiesce')).toMatchObject({ socket: app.socketPath });
      await later.writer.unsubscribe();
      expect(readdirSync(dir)).toEqual([]);
    });

    it('at registration, keeps what only resembles a leftover of a dead process', async () => {
      const dead = spawnSync(process.execPath, ['-e', '']).pid!;
      const gone = [`12-${dead}.sock`, `.bind-${dead}-Ab_9`];
      const kept = [`x1-${dead}.sock`, `1-${dead}.sockx`, `.bind-${dead}-`, `.bind-${dead}-a-b`, `1-${dead}.sock.old`];
      for (const name of [...gone, ...kept]) writeFileSync(join(dir, name), '');
      await writer('careful-writer');
      expect(findRegisteredApps(dir)).toHaveLength(1);
      const names = readdirSync(dir);
      for (const name of gone) expect(names).not.toContain(name);
      for (const name of kept) expect(names).toContain(name);
    });

    const rootOnly = skipUnlessRunnable("another user's leftovers", isRoot ? null : 'needs root (to make files of another user)');
    it.skipIf(rootOnly !== null)("at registration, leaves another user's leftovers alone, dead or not", async () => {
      const dead = spawnSync(process.execPath, ['-e', '']).pid!;
      const theirs = join(dir, `3-${dead}.sock`);
      writeFileSync(theirs, '');
      chownSync(theirs, 65534, 65534);
      await writer('own-only-writer');
      expect(readdirSync(dir)).toContain(`3-${dead}.sock`);
    });

    /** A connection of the test's own (ask reads only one reply): the lines the app sends, and when it closes. */
    function connection(path: string) {
      const socket = connect(path);
      socket.on('error', () => undefined);
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const lines = (): unknown[] => received.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);
      return { socket, closed, lines };
    }

    it('refuses a connection whose peer it cannot identify, and logs why', async () => {
      const w = await writer('cautious-writer');
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => {
        throw new Error('SO_PEERCRED failed');
      });
      const c = connection(theApp().socketPath);
      c.socket.write('{"v":1,"op":"status"}\n');
      await c.closed;
      vi.restoreAllMocks();
      expect(c.lines()).toEqual([]);
      expect(w.entries.filter((e) => e.level === 'warn').map((e) => e.message)).toEqual([
        'coordinator: refused a connection whose credentials could not be read: SO_PEERCRED failed',
      ]);
    });

    it("answers a peer of the app's own user when that is not root", async () => {
      await writer('own-user-writer');
      const path = theApp().socketPath;
      vi.spyOn(process, 'getuid').mockReturnValue(4242);
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => ({ pid: 1, uid: 4242, gid: 4242 }));
      const c = connection(path);
      c.socket.write('{"v":1,"op":"status"}\n');
      await c.closed;
      expect(c.lines()).toMatchObject([{ op: 'status', pid: process.pid }]);
      // Root too, whoever the app runs as.
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => ({ pid: 1, uid: 0, gid: 0 }));
      const byRoot = connection(path);
      byRoot.socket.write('{"v":1,"op":"status"}\n');
      await byRoot.closed;
      expect(byRoot.lines()).toMatchObject([{ op: 'status', pid: process.pid }]);
    });

    it('without a runtime directory (not root, neither variable set), says which to set', async () => {
      delete process.env[runtimeDirVariable];
      const xdg = process.env['XDG_RUNTIME_DIR'];
      delete process.env['XDG_RUNTIME_DIR'];
      vi.spyOn(process, 'getuid').mockReturnValue(4242);
      try {
        const w = await writer('homeless-writer');
        expect(w.entries.filter((e) => e.level === 'warn').map((e) => e.message)).toEqual([
          expect.stringMatching(/^not registered for Linux guest quiesce: neither VSS_BRIDGE_RUNTIME_DIR nor XDG_RUNTIME_DIR is set; set VSS_BRIDGE_RUNTIME_DIR to a directory this user owns/),
        ]);
      } finally {
        if (xdg !== undefined) process.env['XDG_RUNTIME_DIR'] = xdg;
      }
    });

    it('answers a request it could not carry out with the reason', async () => {
      await writer('unlisted-writer');
      const app = theApp();
      vi.spyOn(getBackend(), 'listWriters').mockRejectedValueOnce(new Error('the writer list is gone'));
      expect(await ask(app, status, polling.timeout)).toEqual({ v: 1, op: 'failed', reason: 'the writer list is gone' });
      vi.spyOn(getBackend(), 'listWriters').mockRejectedValueOnce('not an Error');
      expect(await ask(app, status, polling.timeout)).toEqual({ v: 1, op: 'failed', reason: 'not an Error' });
    });

    /** Freezes over a connection of the test's own; resolves once the app has replied frozen. */
    async function frozenOver(path: string) {
      const c = connection(path);
      const request = freezeRequest();
      c.socket.write(`${JSON.stringify(request)}\n`);
      await vi.waitFor(() => expect(c.lines()).toHaveLength(1), polling);
      expect(c.lines()[0]).toMatchObject({ op: 'frozen', id: request.id });
      return { ...c, request };
    }
    const hookClosed = 'the hook closed the freeze connection before confirming the freeze (killed, or it gave up)';

    it('takes a hold sent in pieces: the freeze stands, and the app ends the connection', async () => {
      const w = await writer('patient-writer');
      const c = await frozenOver(theApp().socketPath);
      c.socket.write('{"v":1,');
      await new Promise((resolve) => setTimeout(resolve, 20));
      c.socket.write('"op":"hold"}\n');
      await c.closed;
      expect(await ask(theApp(), status, polling.timeout)).toMatchObject({ phase: 'frozen' });
      expect(await ask(theApp(), { v: 1, op: 'thaw', timeoutMs: polling.timeout }, polling.timeout)).toEqual({ v: 1, op: 'thawed' });
      expect(w.events).not.toContain('abort');
    });

    it('a hook that dies half-way through its hold line has not confirmed: the writers abort', async () => {
      const w = await writer('half-held-writer');
      const c = await frozenOver(theApp().socketPath);
      c.socket.end('{"v":1,"op":');
      await vi.waitFor(() => expect(w.events).toContain('abort'), polling);
      await idle();
      expect(await ask(theApp(), { v: 1, op: 'thaw', timeoutMs: polling.timeout }, polling.timeout)).toMatchObject({ op: 'failed', reason: `released before thaw: ${hookClosed}` });
    });

    it('a hold line that breaks the protocol is refused with a warning, and the writers abort', async () => {
      const w = await writer('misheld-writer');
      const c = await frozenOver(theApp().socketPath);
      c.socket.write('{"v":1,"op":"thaw"}\n');
      await c.closed;
      await vi.waitFor(() => expect(w.events).toContain('abort'), polling);
      expect(w.entries.filter((e) => e.level === 'warn').map((e) => e.message)).toContain(`quiesce ${c.request.id}: invalid hold: op: Invalid input: expected "hold"`);
      await idle();
      expect(await ask(theApp(), { v: 1, op: 'thaw', timeoutMs: polling.timeout }, polling.timeout)).toMatchObject({ op: 'failed', reason: `released before thaw: ${hookClosed}` });
    });

    it("the writers' freeze window runs out while the hook keeps the freeze connection without a hold: the app closes it, and unsubscribing waits for no one", async () => {
      const w = await writer('outheld-writer', {}, scaledWindow);
      const c = await frozenOver(theApp().socketPath);
      try {
        let closed = false;
        void c.closed.then(() => (closed = true));
        // The hook neither sends the hold nor closes (a resident holder waiting for the thaw).
        await vi.waitFor(() => expect(closed).toBe(true), polling);
        // Closed by the set's end, after the watchdog's abort, not by the freeze.
        expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
        expect(w.entries.filter((e) => e.level === 'error').map((e) => e.message)).toEqual([
          expect.stringMatching(new RegExp(`^quiesce ${c.request.id}: released without a thaw: writer 'outheld-writer' failed at freeze: the freeze window of ${scaledWindow} ms ran out before thaw`)),
        ]);
        // An open connection keeps the socket's server from closing: unsubscribe would wait on the hook.
        const unsubscribed = w.writer.unsubscribe().then(() => 'unsubscribed');
        const stuck = new Promise((resolve) => setTimeout(resolve, polling.timeout, 'still waiting'));
        expect(await Promise.race([unsubscribed, stuck])).toBe('unsubscribed');
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        c.socket.destroy();
      }
    });

    it('unsubscribing while frozen under a hook that keeps the freeze connection without a hold aborts the freeze at once, not at the freeze window', async () => {
      const w = await writer('leaving-writer'); // a freeze window of 60 s
      const c = await frozenOver(theApp().socketPath);
      try {
        const unsubscribed = w.writer.unsubscribe().then(() => 'unsubscribed');
        const stuck = new Promise((resolve) => setTimeout(resolve, polling.timeout, 'still waiting'));
        expect(await Promise.race([unsubscribed, stuck])).toBe('unsubscribed');
        expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
        expect(w.entries.filter((e) => e.level === 'warn').map((e) => e.message)).toContain(
          `quiesce ${c.request.id}: the writers unsubscribed during the freeze (frozen): aborting`,
        );
        await c.closed; // the hook sees its connection close: the app aborted
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        c.socket.destroy();
      }
    });

    it('a new freeze forgets a failure that no thaw heard of', async () => {
      const w = await writer('second-chance');
      const result = await freezeApps({ ...options([]), keepConnections: true });
      for (const c of result.held!.connections) c.drop();
      await vi.waitFor(() => expect(w.events).toContain('backupShutdown'), polling);
      await idle();
      expect((await freezeApps(options([]))).ok).toBe(true);
      expect(await thawApps('thaw', options([]))).toMatchObject({ ok: true, outcomes: [{ detail: 'thawed' }] });
      expect(await thawApps('thaw', options([]))).toMatchObject({ ok: true, outcomes: [{ detail: 'not frozen' }] });
    });
  });

  describe('driven request by request', () => {

    it('a thaw while the writers are still freezing cancels the set: both requests fail, the writers abort', async () => {
      let inFreeze!: () => void;
      const entered = new Promise<void>((resolve) => (inFreeze = resolve));
      const w = await writer('slow-freezer', {
        // Ends only when the set gives it up.
        freeze: (ctx: { signal: AbortSignal }) =>
          new Promise<void>((resolve) => {
            inFreeze();
            ctx.signal.addEventListener('abort', () => resolve(), { once: true });
          }),
      } as VssWriterOptions['handlers']);
      const app = theApp();
      const freezing = ask(app, freezeRequest(), polling.timeout, true);
      await entered;
      expect(await ask(app, { v: 1, op: 'status' }, polling.timeout)).toMatchObject({ phase: 'freezing' });
      const cancelled = { v: 1, op: 'failed', reason: 'the snapshot set was cancelled (E_ABORT, 0x80004004)', code: 'E_ABORT' };
      expect(await ask(app, { v: 1, op: 'thaw', timeoutMs: polling.timeout }, polling.timeout)).toEqual(cancelled);
      expect((await freezing).reply).toEqual(cancelled);
      // The set is over when the replies come; its last event may still be on its way.
      await vi.waitFor(() => expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']), polling);
    });

    /** A writer whose freeze handler returns only when the set gives it up; `entered` settles once it runs. */
    async function slowFreezer(name: string) {
      let inFreeze!: () => void;
      const entered = new Promise<void>((resolve) => (inFreeze = resolve));
      const w = await writer(name, {
        freeze: (ctx: { signal: AbortSignal }) =>
          new Promise<void>((resolve) => {
            inFreeze();
            ctx.signal.addEventListener('abort', () => resolve(), { once: true });
          }),
      } as VssWriterOptions['handlers']);
      return { ...w, entered };
    }

    it('an abort while the writers are still freezing cancels the set: the freeze fails, the abort says aborted', async () => {
      const w = await slowFreezer('slow-then-aborted');
      const app = theApp();
      const freezing = ask(app, freezeRequest(), polling.timeout, true);
      await w.entered;
      expect(await ask(app, { v: 1, op: 'abort', timeoutMs: polling.timeout }, polling.timeout)).toEqual({ v: 1, op: 'thawed', note: 'aborted' });
      expect((await freezing).reply).toMatchObject({ op: 'failed', code: 'E_ABORT' });
      await vi.waitFor(() => expect(w.events).toContain('abort'), polling);
    });

    it('writers that do not freeze within the time the request gives: the freeze fails as cancelled', async () => {
      const w = await slowFreezer('too-slow');
      const { reply } = await ask(theApp(), freezeRequest(200), polling.timeout, true);
      expect(reply).toMatchObject({ op: 'failed', code: 'E_ABORT' });
      await vi.waitFor(() => expect(w.events).toContain('abort'), polling);
    });

    it('writers that freeze just as the request\'s time runs out: a commit that crosses the cancel is not reported frozen', async () => {
      // The app's "did not freeze within" timer must cancel the set after the writers' freeze
      // answered (so the simulator has posted the commit) and before the commit reaches JS.
      // Timers due together run in expiry order in one pass, before any I/O: the first blocks
      // the thread until the app's timer is due too, the freeze then returns, the third gives
      // the simulator's thread time to post the commit, and the app's timer (due last) cancels.
      const timeoutMs = 1_500;
      const blockUntil = (t: number): void => {
        while (Date.now() < t);
      };
      const w = await writer('just-in-time', {
        freeze: () =>
          new Promise<void>((resolve) => {
            const start = Date.now();
            setTimeout(() => blockUntil(start + timeoutMs + 200), timeoutMs - 400);
            setTimeout(resolve, timeoutMs - 300);
            setTimeout(() => blockUntil(Date.now() + 150), timeoutMs - 250);
          }),
      });
      const { reply, connection } = await ask(theApp(), freezeRequest(timeoutMs), polling.timeout, true);
      connection.drop();
      expect(reply).toMatchObject({ op: 'failed', code: 'E_ABORT' });
      await vi.waitFor(() => expect(w.events).toContain('backupShutdown'), polling);
      expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
      expect(w.entries.filter((e) => e.level === 'error')).toEqual([]);
    });

    it('a hook that hangs up while the writers are freezing cancels the set', async () => {
      const w = await slowFreezer('left-freezing');
      const socket = connect(theApp().socketPath);
      socket.on('error', () => undefined);
      socket.write(`${JSON.stringify(freezeRequest())}\n`);
      await w.entered;
      socket.destroy();
      await vi.waitFor(() => expect(w.events).toContain('backupShutdown'), polling);
      expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
      expect(await ask(theApp(), { v: 1, op: 'status' }, polling.timeout)).toMatchObject({ phase: 'idle' });
    });

    it('the writers\' freeze window runs out while frozen: they abort, and the next thaw says so', async () => {
      const w = await writer('short-window', {}, scaledWindow);
      const app = theApp();
      const request = freezeRequest();
      const { reply, connection } = await ask(app, request, polling.timeout, true);
      expect(reply).toEqual({ v: 1, op: 'frozen', id: request.id, writers: ['short-window'] });
      await connection.hold(performance.now() + polling.timeout);
      await vi.waitFor(() => expect(w.events).toContain('abort'), polling);
      await vi.waitFor(() => expect(w.entries.some((e) => e.level === 'error')).toBe(true), polling);
      const why = `writer 'short-window' failed at freeze: the freeze window of ${scaledWindow} ms ran out before thaw (VSS_E_WRITERERROR_TIMEOUT, 0x800423F2)`;
      expect(w.entries.filter((e) => e.level === 'error').map((e) => e.message)).toEqual([`quiesce ${request.id}: released without a thaw: ${why}`]);
      expect(await ask(app, { v: 1, op: 'thaw', timeoutMs: polling.timeout }, polling.timeout)).toEqual({
        v: 1,
        op: 'failed',
        reason: `released before thaw: ${why}`,
        code: 'VSS_E_WRITERERROR_TIMEOUT',
      });
      // Said once; an abort after it has nothing to add either.
      expect(await ask(app, { v: 1, op: 'abort', timeoutMs: polling.timeout }, polling.timeout)).toEqual({ v: 1, op: 'thawed', note: 'not frozen' });
    });

    it('freezes every file system of the guest, with the backup type the hook asked for', async () => {
      const seen: unknown[] = [];
      const w = await writer('whole-guest', {
        freeze: (ctx: { volumes: readonly string[]; backupType: string; isPathAffected(path: string): boolean }) =>
          void seen.push({ volumes: ctx.volumes, backupType: ctx.backupType, affected: ctx.isPathAffected(dir) }),
      } as VssWriterOptions['handlers']);
      const app = theApp();
      const { reply, connection } = await ask(app, { ...freezeRequest(), backupType: 'copy' }, polling.timeout, true);
      expect(reply).toMatchObject({ op: 'frozen' });
      expect(seen).toEqual([{ volumes: ['/'], backupType: 'copy', affected: true }]);
      await connection.hold(performance.now() + polling.timeout);
      expect(await ask(app, { v: 1, op: 'thaw', timeoutMs: polling.timeout }, polling.timeout)).toEqual({ v: 1, op: 'thawed' });
      expect(w.events).toContain('backupComplete');
    });

    it('while the writers thaw, the status says thawing', async () => {
      let inThaw!: () => void;
      const thawing = new Promise<void>((resolve) => (inThaw = resolve));
      let letThawEnd!: () => void;
      const w = await writer('slow-thawer', { thaw: () => new Promise<void>((resolve) => ((letThawEnd = resolve), inThaw())) });
      const app = theApp();
      const { connection } = await ask(app, freezeRequest(), polling.timeout, true);
      await connection.hold(performance.now() + polling.timeout);
      const thaw = { v: 1 as const, op: 'thaw' as const, timeoutMs: polling.timeout };
      const first = ask(app, thaw, polling.timeout);
      await thawing;
      expect(await ask(app, { v: 1, op: 'status' }, polling.timeout)).toMatchObject({ phase: 'thawing' });
      letThawEnd();
      expect(await first).toEqual({ v: 1, op: 'thawed' });
      expect(w.events).toContain('backupShutdown');
    });

    it('a writer that fails its thaw: the thaw reply says so, with its code', async () => {
      const w = await writer('failing-thawer', {
        thaw: () => {
          throw new WriterFailure('VSS_E_WRITERERROR_RETRYABLE', 'cannot thaw');
        },
      });
      const app = theApp();
      const { connection } = await ask(app, freezeRequest(), polling.timeout, true);
      await connection.hold(performance.now() + polling.timeout);
      expect(await ask(app, { v: 1, op: 'thaw', timeoutMs: polling.timeout }, polling.timeout)).toEqual({
        v: 1,
        op: 'failed',
        reason: "writer 'failing-thawer' failed at thaw: cannot thaw (VSS_E_WRITERERROR_RETRYABLE, 0x800423F3)",
        code: 'VSS_E_WRITERERROR_RETRYABLE',
      });
      expect(w.events).toContain('thaw');
    });

    it('a release that outlasts its timeout says the writers did not finish', async () => {
      let letAbortEnd!: () => void;
      const w = await writer('slow-aborter', { abort: () => new Promise<void>((resolve) => (letAbortEnd = resolve)) });
      const app = theApp();
      const { connection } = await ask(app, freezeRequest(), polling.timeout, true);
      await connection.hold(performance.now() + polling.timeout);
      expect(await ask(app, { v: 1, op: 'abort', timeoutMs: 50 }, polling.timeout)).toEqual({
        v: 1,
        op: 'failed',
        reason: 'the writers did not finish within 50 ms',
        code: 'VSS_E_WRITERERROR_TIMEOUT',
      });
      expect(w.events).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort']);
      letAbortEnd();
      await vi.waitFor(() => expect(w.events).toContain('backupShutdown'), polling);
    });
  });
});
