/**
 * The hook asks every app at once to thaw or abort, and still freezes them one after the
 * other, newest first (src/linux/registered-apps.ts), checked with no root: the apps are sockets this test listens on in a runtime directory of
 * its own, speaking the apps' protocol, so each can be told when to answer.
 *
 * The evidence is in the order of events, not in times: an app that answers only once every
 * app has been asked never answers when the apps are asked one after the other (the first
 * waits for the others, which are asked only once it has answered), and answers when all are
 * asked at once.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeMessage, LineReader, requestSchema, type Reply, type Request } from '../../src/linux/protocol.js';
import { freezeApps, thawApps } from '../../src/linux/registered-apps.js';
import { skipUnlessRunnable } from '../helpers/skip.js';
import { isLinux, newTempDir } from './helpers.js';

// Which users' apps are asked is root's decision (a root-owned allow-list): here, this user's.
vi.mock('../../src/linux/allowed-users.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/linux/allowed-users.js')>()),
  allowedUsers: () => ({ uids: new Set([0, process.getuid?.() ?? 0]), problems: [] }),
}));

const skipReason = skipUnlessRunnable('thaw and abort of every app at once', isLinux ? null : 'needs Linux (the apps are Unix sockets read with SO_PEERCRED)');

type Op = Request['op'];

/** An app as the hook sees it: a socket in the runtime directory that answers when told to. */
interface FakeApp {
  readonly pid: number;
  /** Resolves with the request `op` once it arrived. */
  asked(op: Op): Promise<Request>;
  /**
   * Sends `reply` to the request `op` once it arrived ("frozen" keeps the connection open);
   * resolves once the reply is with the kernel.
   */
  answer(op: Op, reply: Reply): Promise<void>;
  /** Resolves when the connection of the request `op` closed, with whether `hold` came on it. */
  closed(op: Op): Promise<{ held: boolean }>;
}

/** A promise per key, made on first use by whichever side comes first. */
function signals<T>() {
  const entries = new Map<string, { promise: Promise<T>; resolve: (v: T) => void }>();
  const get = (key: string) => {
    let e = entries.get(key);
    if (!e) {
      let resolve!: (v: T) => void;
      const promise = new Promise<T>((r) => (resolve = r));
      e = { promise, resolve };
      entries.set(key, e);
    }
    return e;
  };
  return { wait: (key: string) => get(key).promise, fire: (key: string, v: T) => get(key).resolve(v) };
}

const thawed: Reply = { v: 1, op: 'thawed' };
const aborted: Reply = { v: 1, op: 'thawed', note: 'aborted' };
const frozen: Reply = { v: 1, op: 'frozen', id: '00000000-0000-4000-8000-000000000000', writers: ['w'] };

describe.skipIf(skipReason !== null)('the hook asks every app at once to thaw or abort', () => {
  let base: string;
  let run: string;
  let servers: Server[];
  let sockets: Socket[];

  beforeEach(() => {
    base = newTempDir('vss-bridge-at-once-');
    run = join(base, 'run');
    mkdirSync(run, { mode: 0o700 });
    servers = [];
    sockets = [];
  });

  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(base, { recursive: true, force: true });
  });

  /** Registers an app at `registeredAt` (the name's first number orders registrations). */
  async function fakeApp(registeredAt: number, pid: number): Promise<FakeApp> {
    const requests = signals<Request>();
    const connections = signals<Socket>();
    const closes = signals<{ held: boolean }>();
    const server = createServer((socket) => {
      sockets.push(socket);
      const reader = new LineReader(requestSchema, 'request');
      let op: Op | undefined;
      let rest = '';
      socket.on('data', (chunk: Buffer) => {
        if (op === undefined) {
          const request = reader.push(chunk);
          if (request === undefined) return;
          op = request.op;
          connections.fire(op, socket);
          requests.fire(op, request);
        } else {
          rest += chunk.toString();
        }
      });
      socket.on('close', () => op && closes.fire(op, { held: rest.includes('"op":"hold"') }));
      socket.on('error', () => undefined);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(join(run, `${registeredAt}-${pid}.sock`), r));
    return {
      pid,
      asked: (op) => requests.wait(op),
      answer: async (op, reply) => {
        const socket = await connections.wait(op);
        await new Promise<void>((resolve) => (reply.op === 'frozen' ? socket.write(encodeMessage(reply), () => resolve()) : socket.end(encodeMessage(reply), () => resolve())));
      },
      closed: (op) => closes.wait(op),
    };
  }

  const pidsOf = (lines: string[]) => lines.map((l) => /pid (\d+)/.exec(l)?.[1]);

  it.each(['thaw', 'abort'] as const)('%s: every app is asked before any answers; outcomes and log in registration order', async (op) => {
    const apps = [await fakeApp(1000, 101), await fakeApp(2000, 102), await fakeApp(3000, 103)];
    // Each answers only once every app has been asked, and only after the app registered
    // after it has answered: the answers come in the reverse of the registration order.
    void Promise.all(apps.map((a) => a.asked(op))).then(async () => {
      for (const app of [...apps].reverse()) {
        await app.answer(op, op === 'thaw' ? thawed : aborted);
        await app.closed(op);
      }
    });
    const lines: string[] = [];
    const result = await thawApps(op, { runtimeDir: run, timeoutMs: 10_000, log: (l) => lines.push(l) });
    expect(result.outcomes.map((o) => o.detail)).toEqual(op === 'thaw' ? ['thawed', 'thawed', 'thawed'] : ['aborted', 'aborted', 'aborted']);
    expect(result.ok).toBe(true);
    expect(result.outcomes.map((o) => o.app.pid)).toEqual([101, 102, 103]);
    expect(pidsOf(lines)).toEqual(['101', '102', '103']);
    expect(lines.every((l) => l.startsWith(`${op} pid `) && l.includes(': ok: '))).toBe(true);
  });

  it('thaw, one deadline: an app that never answers fails alone, the others are thawed, and the thaw ends by the deadline', async () => {
    // The oldest registration: asked first when the apps were asked one after the other.
    const silent = await fakeApp(1000, 201);
    const others = [await fakeApp(2000, 202), await fakeApp(3000, 203)];
    // The others answer while the silent one still holds its request: only when asked at once.
    void Promise.all([silent, ...others].map((a) => a.asked('thaw'))).then(() => {
      for (const a of others) void a.answer('thaw', thawed);
    });
    const timeoutMs = 3000;
    const started = Date.now();
    const lines: string[] = [];
    const result = await thawApps('thaw', { runtimeDir: run, timeoutMs, log: (l) => lines.push(l) });
    const ms = Date.now() - started;
    expect(result.ok).toBe(false);
    expect(result.outcomes.map((o) => [o.app.pid, o.ok])).toEqual([
      [201, false],
      [202, true],
      [203, true],
    ]);
    const detail = result.outcomes[0]?.detail ?? '';
    expect(Number(/^no answer within (\d+) ms$/.exec(detail)?.[1]), detail).toBeLessThanOrEqual(timeoutMs);
    // The hook gave up on it: its connection is closed, not left open.
    await silent.closed('thaw');
    // The margin is only for this process to see its own timer on a loaded machine.
    expect(ms).toBeLessThan(timeoutMs + 2000);
    expect(lines[0]).toMatch(/^thaw pid 201 .*: FAILED: no answer within \d+ ms$/);
  });

  it('freeze: still one app after the other, newest first; a veto aborts every app that froze, all at once', async () => {
    const vetoes = await fakeApp(1000, 401);
    const froze = [await fakeApp(2000, 402), await fakeApp(3000, 403)];
    const asked: number[] = [];
    for (const app of [vetoes, ...froze]) void app.asked('freeze').then(() => asked.push(app.pid));
    // Each freezes as soon as asked; the oldest vetoes once the other two froze.
    for (const app of froze) void app.answer('freeze', frozen);
    void vetoes.answer('freeze', { v: 1, op: 'failed', reason: 'the test app refuses', code: 'VSS_E_WRITERERROR_NONRETRYABLE' });
    // Each frozen app answers its abort only once both have been asked.
    void Promise.all(froze.map((a) => a.asked('abort'))).then(() => {
      for (const app of froze) void app.answer('abort', aborted);
    });
    const lines: string[] = [];
    const result = await freezeApps({ runtimeDir: run, timeoutMs: 10_000, backupType: 'copy', source: 'test', log: (l) => lines.push(l) });
    expect(result.ok).toBe(false);
    expect(asked).toEqual([403, 402, 401]);
    expect(result.outcomes.map((o) => [o.app.pid, o.ok])).toEqual([
      [403, true],
      [402, true],
      [401, false],
    ]);
    expect(result.outcomes[2]?.detail).toBe('the test app refuses [VSS_E_WRITERERROR_NONRETRYABLE]');
    // No hold on a freeze connection: an app that missed the abort aborts when it closes.
    for (const app of froze) expect(await app.closed('freeze')).toEqual({ held: false });
    expect(lines.slice(3)).toEqual([expect.stringMatching(/^abort pid 402 .*: ok: aborted$/), expect.stringMatching(/^abort pid 403 .*: ok: aborted$/)]);
  });
});
