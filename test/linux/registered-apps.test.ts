/**
 * The hook's side of quiesce (registered-apps.ts) against stand-in apps: sockets this test
 * listens on in a runtime directory of its own, which answer what each test makes them
 * answer (a reply of the wrong kind, a broken line, nothing at all) and record what the hook
 * sent. Which apps are found, what each is asked and how, and how each answer is reported.
 * No root needed but for the ownership cases, which need another user's files.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { linuxAddon } from '../../src/linux/addon.js';
import { ask, findRegisteredApps, freezeApps, releaseApps, thawApps, type RegisteredApp } from '../../src/linux/registered-apps.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { polling } from '../helpers/timing.js';
import { isLinux, isRoot, newTempDir } from './helpers.js';

// Root's allow-list, as each test sets it (this user's apps by default).
const allow = vi.hoisted(() => ({ uids: new Set<number>(), problems: [] as string[] }));
vi.mock('../../src/linux/allowed-users.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/linux/allowed-users.js')>()),
  allowedUsers: () => ({ uids: allow.uids, problems: allow.problems }),
}));

const uid = process.getuid?.() ?? 0;

/** What a stand-in app does with each request line: answer it (a string is sent as is), or not. */
type Respond = (request: Record<string, unknown>, socket: Socket) => void;

interface FakeApp {
  readonly socketPath: string;
  /** Each request line received, parsed. */
  readonly requests: Record<string, unknown>[];
  /** Every line received, hold lines included. */
  readonly lines: string[];
  /** Settles once a connection has closed, for each connection so far. */
  readonly closed: Promise<void>[];
}

const skipReason = skipUnlessRunnable('hook side against stand-in apps', isLinux ? null : 'needs Linux (peer credentials of Unix sockets)');

describe.skipIf(skipReason !== null)('the hook asking registered apps', () => {
  let dir: string;
  const servers: Server[] = [];
  /** Every connection the stand-in apps accepted: a test that failed half-way may leave some open. */
  const accepted: Socket[] = [];

  beforeEach(() => {
    dir = newTempDir('vss-bridge-apps-');
    allow.uids = new Set([0, uid]);
    allow.problems = [];
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const socket of accepted.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(dir, { recursive: true, force: true });
  });

  const line = (message: unknown): string => `${JSON.stringify(message)}\n`;

  /** Listens as a registered app would, at `<registeredAt>-<pid>.sock` in `where`. */
  async function fakeApp(registeredAt: number, respond: Respond, where = dir, pid = process.pid): Promise<FakeApp> {
    const socketPath = join(where, `${registeredAt}-${pid}.sock`);
    const app: FakeApp = { socketPath, requests: [], lines: [], closed: [] };
    const server = createServer((socket) => {
      accepted.push(socket);
      app.closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
      socket.on('error', () => undefined);
      let buffered = '';
      socket.on('data', (d: Buffer) => {
        buffered += d.toString();
        for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
          const text = buffered.slice(0, i);
          buffered = buffered.slice(i + 1);
          app.lines.push(text);
          const message = JSON.parse(text) as Record<string, unknown>;
          if (message['op'] === 'hold') continue;
          app.requests.push(message);
          respond(message, socket);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    servers.push(server);
    return app;
  }

  const answer = (reply: unknown): Respond => (_, socket) => void socket.write(line(reply));
  const registered = (app: FakeApp): RegisteredApp => {
    const found = findRegisteredApps(dir).find((a) => a.socketPath === app.socketPath);
    if (!found) throw new Error(`${app.socketPath} is not listed`);
    return found;
  };
  const frozenReply = (request: Record<string, unknown>, writers: string[]) => ({ v: 1, op: 'frozen', id: request['id'], writers });
  const freezing: Respond = (request, socket) => void socket.write(line(frozenReply(request, ['w'])));
  const options = (log: string[], more: Partial<Parameters<typeof freezeApps>[0]> = {}) => ({
    runtimeDir: dir,
    timeoutMs: 60_000,
    backupType: 'full' as const,
    source: 'test',
    log: (l: string) => void log.push(l),
    ...more,
  });

  describe('findRegisteredApps', () => {
    it("lists an app of a user root did not allow under notAllowed, never as an app, with the allow-list's problems", async () => {
      const app = await fakeApp(1, answer({}));
      allow.uids = new Set();
      allow.problems = ['/etc/vss-bridge/allowed-users: line 2: no user "nobody2"'];
      const skipped: string[] = [];
      const notAllowed: string[] = [];
      expect(findRegisteredApps(dir, skipped, notAllowed)).toEqual([]);
      expect(skipped).toEqual([]);
      expect(notAllowed).toEqual([
        '/etc/vss-bridge/allowed-users: line 2: no user "nobody2"',
        `${app.socketPath}: uid ${uid} is not an allowed user (docs/LINUX.md, "Who may veto"); not asked`,
      ]);
      // By default both go to the one list.
      const both: string[] = [];
      findRegisteredApps(dir, both);
      expect(both).toHaveLength(2);
    });

    it('lists the pid and registration time from the name, and orders equal times by path', async () => {
      await fakeApp(7, answer({}), dir, 30);
      await fakeApp(7, answer({}), dir, 200);
      await fakeApp(12, answer({}), dir, 1);
      const apps = findRegisteredApps(dir);
      expect(apps.map((a) => [a.registeredAt, a.pid, a.ownerUid])).toEqual([
        [7, 200, uid],
        [7, 30, uid],
        [12, 1, uid],
      ]);
    });

    it('skips names that only resemble a registration', async () => {
      for (const name of ['x1-2.sock', '1-2.sockx', '1-.sock', '-2.sock', '1-2-sock', 'a-2.sock']) {
        const server = createServer();
        await new Promise<void>((resolve) => server.listen(join(dir, name), resolve));
        servers.push(server);
      }
      expect(findRegisteredApps(dir)).toEqual([]);
    });

    it('logs the folders it refused, in a freeze and in a thaw', async () => {
      const open = join(dir, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      const why = `skipped ${open}: writable by group or others (mode 777)`;
      const log: string[] = [];
      expect(await freezeApps(options(log))).toEqual({ ok: true, outcomes: [] });
      expect(log).toEqual([why]);
      log.length = 0;
      expect(await thawApps('thaw', options(log))).toEqual({ ok: true, outcomes: [] });
      expect(log).toEqual([why]);
    });
  });

  const rootSkip = skipUnlessRunnable('socket ownership against the folder owner', isRoot ? null : 'needs root (to make files of other users)');
  describe.skipIf(rootSkip !== null)('ownership', () => {
    it("takes a folder's owner as the uid its apps run as, accepts root's sockets there, and skips another user's", async () => {
      const theirs = join(dir, 'theirs');
      mkdirSync(theirs, { mode: 0o755 });
      chownSync(theirs, 65534, 65534);
      allow.uids = new Set([0, 65534, 65533]);
      const roots = await fakeApp(1, answer({}), theirs);
      const others = await fakeApp(2, answer({}), theirs);
      chownSync(others.socketPath, 65533, 65533);
      const owners = await fakeApp(3, answer({}), theirs);
      chownSync(owners.socketPath, 65534, 65534);
      const skipped: string[] = [];
      const apps = findRegisteredApps(dir, skipped);
      expect(apps.map((a) => [a.socketPath, a.ownerUid])).toEqual([
        [roots.socketPath, 65534],
        [owners.socketPath, 65534],
      ]);
      expect(skipped).toEqual([`${others.socketPath}: owned by uid 65533, not by the directory's owner 65534`]);
    });
  });

  describe('ask', () => {
    it('sends one request line and resolves with the reply, then closes the connection', async () => {
      const app = await fakeApp(1, answer({ v: 1, op: 'status', pid: 5, phase: 'idle', writers: [] }));
      expect(await ask(registered(app), { v: 1, op: 'status' }, polling.timeout)).toEqual({ v: 1, op: 'status', pid: 5, phase: 'idle', writers: [] });
      expect(app.lines).toEqual(['{"v":1,"op":"status"}']);
      await app.closed[0];
    });

    it('reads a reply that arrives in pieces', async () => {
      const app = await fakeApp(1, (_, socket) => {
        socket.write('{"v":1,"op":');
        // A pause, so that the first piece is read on its own.
        setTimeout(() => socket.write('"thawed"}\n'), 50);
      });
      expect(await ask(registered(app), { v: 1, op: 'thaw', timeoutMs: 10 }, polling.timeout)).toEqual({ v: 1, op: 'thawed' });
    });

    it('refuses a reply that breaks the protocol, naming it', async () => {
      const app = await fakeApp(1, (_, socket) => void socket.write('{"v":1,"op":"thawed","extra":1}\n'));
      await expect(ask(registered(app), { v: 1, op: 'status' }, polling.timeout)).rejects.toThrow(/^invalid reply/);
      await app.closed[0];
    });

    it('says so when the app closes the connection without answering', async () => {
      const app = await fakeApp(1, (_, socket) => void socket.end());
      await expect(ask(registered(app), { v: 1, op: 'status' }, 5000)).rejects.toThrow('the app closed the connection without answering');
    });

    it('gives up on an app that does not answer within the time given, and hangs up', async () => {
      const app = await fakeApp(1, () => undefined);
      await expect(ask(registered(app), { v: 1, op: 'status' }, 50)).rejects.toThrow('no answer within 50 ms');
      await app.closed[0];
    });

    it("refuses an app that runs as a user other than its folder's owner, before sending it anything", async () => {
      const app = await fakeApp(1, answer({ v: 1, op: 'thawed' }));
      const other = uid + 4242;
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => ({ pid: 1, uid: other, gid: other }));
      await expect(ask(registered(app), { v: 1, op: 'status' }, polling.timeout)).rejects.toThrow(`the app runs as uid ${other}, not ${uid}`);
      await app.closed[0];
      expect(app.lines).toEqual([]);
    });

    it("answers root's apps wherever they are, and refuses when the peer's credentials cannot be read", async () => {
      const app = await fakeApp(1, answer({ v: 1, op: 'thawed' }));
      const mine = registered(app);
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => ({ pid: 1, uid: 0, gid: 0 }));
      expect(await ask({ ...mine, ownerUid: uid + 1 }, { v: 1, op: 'status' }, polling.timeout)).toEqual({ v: 1, op: 'thawed' });
      // And a user's app running as that user.
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => ({ pid: 1, uid: 4242, gid: 4242 }));
      expect(await ask({ ...mine, ownerUid: 4242 }, { v: 1, op: 'status' }, polling.timeout)).toEqual({ v: 1, op: 'thawed' });
      vi.spyOn(linuxAddon(), 'peerCredentials').mockImplementation(() => {
        throw new Error('SO_PEERCRED failed');
      });
      await expect(ask(mine, { v: 1, op: 'status' }, polling.timeout)).rejects.toThrow('SO_PEERCRED failed');
      expect(app.lines).toEqual(['{"v":1,"op":"status"}', '{"v":1,"op":"status"}']);
    });

    it('stops at the signal with its reason (or "interrupted"), and hangs up', async () => {
      const app = await fakeApp(1, () => undefined);
      const controller = new AbortController();
      // Its own deadline far enough away that only the signal can end it here.
      const asking = ask(registered(app), { v: 1, op: 'status' }, 5000, true, controller.signal);
      await vi.waitFor(() => expect(app.lines).toHaveLength(1), polling);
      controller.abort(new Error('SIGTERM'));
      await expect(asking).rejects.toThrow('SIGTERM');
      await app.closed[0];
      const fired = new AbortController();
      fired.abort('not an Error');
      await expect(ask(registered(app), { v: 1, op: 'status' }, 1000, true, fired.signal)).rejects.toThrow(/^interrupted$/);
      // Fired already: not even a connection.
      expect(app.closed).toHaveLength(1);
    });

    it('keeps the connection open when asked to, until the hold (sent, then closed) or the drop', async () => {
      const app = await fakeApp(1, freezing);
      const request = { v: 1 as const, op: 'freeze' as const, id: '00000000-0000-4000-8000-000000000000', timeoutMs: 10, backupType: 'full' as const, source: 't' };
      const kept = await ask(registered(app), request, polling.timeout, true);
      expect(kept.reply).toEqual(frozenReply(request, ['w']));
      await kept.connection.hold(performance.now() + polling.timeout);
      await app.closed[0];
      expect(app.lines.slice(1)).toEqual(['{"v":1,"op":"hold"}']);
      const dropped = await ask(registered(app), request, polling.timeout, true);
      dropped.connection.drop();
      await app.closed[1];
      expect(app.lines.slice(2)).toEqual([JSON.stringify(request)]);
    });
  });

  describe('freezeApps', () => {
    it('asks each app to freeze with a fresh id, the backup type, the source and its part of the deadline', async () => {
      const app = await fakeApp(1, (request, socket) => void socket.write(line(frozenReply(request, ['db', 'cache']))));
      const log: string[] = [];
      const started = performance.now();
      const result = await freezeApps(options(log, { timeoutMs: 10_000, backupType: 'copy', source: 'vmware', startedAt: started }));
      expect(result).toEqual({ ok: true, outcomes: [{ app: registered(app), ok: true, detail: 'frozen: db, cache' }] });
      const [request] = app.requests;
      expect(request).toMatchObject({ v: 1, op: 'freeze', backupType: 'copy', source: 'vmware' });
      expect(request!['id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      // The freeze part: 10 s less the abort reserve (a fifth, 2 s), counted from startedAt.
      expect(request!['timeoutMs']).toBeLessThanOrEqual(8000);
      expect(request!['timeoutMs']).toBeGreaterThan(8000 - (performance.now() - started) - 1);
      // Then the hold, and the connection closed.
      await app.closed[0];
      expect(app.lines.slice(1)).toEqual(['{"v":1,"op":"hold"}']);
      await freezeApps(options([]));
      expect(app.requests[1]!['id']).not.toBe(request!['id']);
    });

    it('keeps at most 5 s of a long deadline for the abort, and counts from startedAt', async () => {
      const app = await fakeApp(1, freezing);
      await freezeApps(options([], { timeoutMs: 100_000, startedAt: performance.now() - 30_000 }));
      expect(app.requests[0]!['timeoutMs']).toBeLessThanOrEqual(65_000);
      expect(app.requests[0]!['timeoutMs']).toBeGreaterThan(60_000);
    });

    it('fails on a reply other than frozen, hangs up on that app, and gives a failed reply with its code or without', async () => {
      const thawing = await fakeApp(1, answer({ v: 1, op: 'thawed' }));
      let log: string[] = [];
      let result = await freezeApps(options(log));
      expect(result).toEqual({ ok: false, outcomes: [{ app: registered(thawing), ok: false, detail: 'unexpected reply thawed' }] });
      expect(log).toEqual([`freeze pid ${process.pid} (${thawing.socketPath}): FAILED: unexpected reply thawed`]);
      await thawing.closed[0];
      expect(thawing.lines).toHaveLength(1);
      rmSync(thawing.socketPath);

      const refusing = await fakeApp(2, answer({ v: 1, op: 'failed', reason: 'busy' }));
      log = [];
      result = await freezeApps(options(log));
      expect(result.outcomes.map((o) => o.detail)).toEqual(['busy']);
      rmSync(refusing.socketPath);
      await fakeApp(3, answer({ v: 1, op: 'failed', reason: 'busy', code: 'E_FAIL' }));
      result = await freezeApps(options([]));
      expect(result.outcomes.map((o) => o.detail)).toEqual(['busy [E_FAIL]']);
    });

    it('on a failure, aborts the apps that froze (all of them, newest last), closes their connections, and asks no more', async () => {
      const never = await fakeApp(1, freezing);
      const refusing = await fakeApp(2, (request, socket) =>
        void socket.write(line(request['op'] === 'freeze' ? { v: 1, op: 'failed', reason: 'no' } : { v: 1, op: 'thawed', note: 'aborted' })),
      );
      const abortAnswer: Respond = (request, socket) =>
        void socket.write(line(request['op'] === 'freeze' ? frozenReply(request, ['w']) : { v: 1, op: 'thawed', note: 'aborted' }));
      const older = await fakeApp(3, abortAnswer);
      const newer = await fakeApp(4, abortAnswer);
      const log: string[] = [];
      const result = await freezeApps(options(log));
      expect(result.ok).toBe(false);
      expect(result.outcomes.map((o) => [o.app.socketPath, o.ok])).toEqual([
        [newer.socketPath, true],
        [older.socketPath, true],
        [refusing.socketPath, false],
      ]);
      expect(never.requests).toEqual([]);
      expect(refusing.requests.map((r) => r['op'])).toEqual(['freeze']);
      for (const app of [older, newer]) {
        expect(app.requests.map((r) => r['op'])).toEqual(['freeze', 'abort']);
        // The freeze connection: closed without the hold.
        await app.closed[0];
        expect(app.lines).not.toContain('{"v":1,"op":"hold"}');
      }
      expect(log.slice(3)).toEqual([`abort pid ${process.pid} (${older.socketPath}): ok: aborted`, `abort pid ${process.pid} (${newer.socketPath}): ok: aborted`]);
    });

    it('says why an app did not answer its freeze, and skips one whose socket went away meanwhile', async () => {
      const gone = await fakeApp(1, freezing);
      await fakeApp(2, (request, socket) => {
        // The older app exits (its socket removed) while this one freezes.
        rmSync(gone.socketPath, { force: true });
        socket.write(line(frozenReply(request, ['w'])));
      });
      const log: string[] = [];
      const result = await freezeApps(options(log));
      expect(result.ok).toBe(true);
      expect(result.outcomes.map((o) => o.detail)).toEqual(['frozen: w']);
      expect(log[1]).toMatch(new RegExp(`^pid ${process.pid} \\(${gone.socketPath.replace(/[.]/g, '\\.')}\\): not running \\(.*ENOENT.*\\); skipped$`));

      await fakeApp(3, (_, socket) => void socket.end());
      const silent = await freezeApps(options([]));
      expect(silent.ok).toBe(false);
      expect(silent.outcomes.map((o) => o.detail)).toEqual(['the app closed the connection without answering']);
    });

    it('with keepConnections, returns the frozen apps oldest first and their connections, without the hold', async () => {
      const older = await fakeApp(1, freezing);
      const newer = await fakeApp(2, freezing);
      const result = await freezeApps(options([], { keepConnections: true }));
      expect(result.ok).toBe(true);
      expect(result.held!.apps.map((a) => a.socketPath)).toEqual([older.socketPath, newer.socketPath]);
      expect(result.held!.connections).toHaveLength(2);
      for (const c of result.held!.connections) c.drop();
      await Promise.all([older.closed[0], newer.closed[0]]);
      expect([...older.lines, ...newer.lines]).not.toContain('{"v":1,"op":"hold"}');
    });

    it('after the signal, gives the abort only the reserve, not the rest of the deadline', async () => {
      const controller = new AbortController();
      await fakeApp(1, () => {
        // Never answers: the signal ends the wait.
        setImmediate(() => controller.abort(new Error('SIGTERM')));
      });
      const held = await fakeApp(2, (request, socket) =>
        void socket.write(line(request['op'] === 'freeze' ? frozenReply(request, ['w']) : { v: 1, op: 'thawed', note: 'aborted' })),
      );
      const log: string[] = [];
      const result = await freezeApps(options(log, { timeoutMs: 3_600_000, signal: controller.signal }));
      expect(result.ok).toBe(false);
      expect(result.outcomes.map((o) => o.detail)).toEqual(['frozen: w', 'interrupted: SIGTERM']);
      // The abort was given the reserve (5 s), not the rest of the hour.
      expect(held.requests[1]).toMatchObject({ op: 'abort' });
      expect(held.requests[1]!['timeoutMs']).toBeLessThanOrEqual(5000);
      expect(log.at(-1)).toBe(`abort pid ${process.pid} (${held.socketPath}): ok: aborted`);
    });
  });

  describe('releaseApps and thawApps', () => {
    it("reports each app's answer: its note, a failure with its code, or a reply of the wrong kind", async () => {
      const noted = await fakeApp(1, answer({ v: 1, op: 'thawed', note: 'not frozen' }));
      const plain = await fakeApp(2, answer({ v: 1, op: 'thawed' }));
      const failed = await fakeApp(3, answer({ v: 1, op: 'failed', reason: 'late', code: 'VSS_E_WRITERERROR_TIMEOUT' }));
      const odd = await fakeApp(4, answer({ v: 1, op: 'status', pid: 1, phase: 'idle', writers: [] }));
      const log: string[] = [];
      const result = await thawApps('thaw', options(log, { timeoutMs: 20_000 }));
      expect(result.ok).toBe(false);
      expect(result.outcomes.map((o) => [o.app.socketPath, o.ok, o.detail])).toEqual([
        [noted.socketPath, true, 'not frozen'],
        [plain.socketPath, true, 'thawed'],
        [failed.socketPath, false, 'late [VSS_E_WRITERERROR_TIMEOUT]'],
        [odd.socketPath, false, 'unexpected reply status'],
      ]);
      expect(log[2]).toBe(`thaw pid ${process.pid} (${failed.socketPath}): FAILED: late [VSS_E_WRITERERROR_TIMEOUT]`);
      // Each was asked with what was left of the 20 s.
      for (const app of [noted, plain, failed, odd]) {
        expect(app.requests).toEqual([{ v: 1, op: 'thaw', timeoutMs: expect.any(Number) as number }]);
        expect(app.requests[0]!['timeoutMs']).toBeLessThanOrEqual(20_000);
        expect(app.requests[0]!['timeoutMs']).toBeGreaterThan(10_000);
      }
    });

    it('counts the deadline from startedAt, and is ok when every app is', async () => {
      const app = await fakeApp(1, answer({ v: 1, op: 'thawed', note: 'aborted' }));
      const result = await thawApps('abort', options([], { timeoutMs: 40_000, startedAt: performance.now() - 20_000 }));
      expect(result).toEqual({ ok: true, outcomes: [{ app: registered(app), ok: true, detail: 'aborted' }] });
      expect(app.requests[0]).toMatchObject({ op: 'abort' });
      expect(app.requests[0]!['timeoutMs']).toBeLessThanOrEqual(20_000);
    });

    it.each([3_600_000, -3_600_000])('keeps its deadline on the monotonic clock: a wall clock stepped by %i ms while the apps are asked does not move it', async (step) => {
      // Guest tools step the clock around snapshot operations (VMware Tools resets it after a
      // resume or a revert, and by VMware's KB 1189 after taking a snapshot): when hooks run.
      const app = await fakeApp(1, answer({ v: 1, op: 'thawed' }));
      const realNow = Date.now.bind(Date);
      let reads = 0;
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() + (reads++ === 0 ? 0 : step));
      const result = await thawApps('thaw', options([], { timeoutMs: 20_000 }));
      expect(result).toEqual({ ok: true, outcomes: [{ app: registered(app), ok: true, detail: 'thawed' }] });
      expect(app.requests[0]!['timeoutMs']).toBeLessThanOrEqual(20_000);
      expect(app.requests[0]!['timeoutMs']).toBeGreaterThan(10_000);
    });

    it('skips an app that has exited, whether its socket is left behind or gone', async () => {
      const app = await fakeApp(1, answer({ v: 1, op: 'thawed' }));
      const left = join(dir, `2-${process.pid}.sock`);
      // A process that exits while listening leaves its socket file: a connection is refused.
      spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(left)}, () => process.exit(0))`]);
      const log: string[] = [];
      const result = await releaseApps('thaw', [registered(app), { ...registered(app), socketPath: left }, { ...registered(app), socketPath: join(dir, 'gone.sock') }], {
        log: (l) => void log.push(l),
        deadline: performance.now() + polling.timeout,
      });
      expect(result).toEqual({ ok: true, outcomes: [{ app: registered(app), ok: true, detail: 'thawed' }] });
      expect(log.slice(1)).toEqual([`pid ${process.pid} (${left}): not running; skipped`, `pid ${process.pid} (${join(dir, 'gone.sock')}): not running; skipped`]);
    });

    it('says why an app that is there did not answer', async () => {
      const app = await fakeApp(1, (_, socket) => void socket.end());
      const result = await releaseApps('abort', [registered(app)], { log: () => undefined, deadline: performance.now() + polling.timeout });
      expect(result).toEqual({ ok: false, outcomes: [{ app: registered(app), ok: false, detail: 'the app closed the connection without answering' }] });
    });
  });
});

