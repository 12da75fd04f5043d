/**
 * The hook's side of Linux-guest quiesce: find every registered app (runtime-dir.ts) and ask
 * each to freeze, thaw or abort over its socket (protocol.ts).
 *
 * Order: apps are frozen one after the other, newest registration first. An app started later
 * usually depends on ones started before it (an app server on its database), so it stops
 * writing to them before they flush; asked at once, its freeze could wait on a write that a
 * database already frozen holds, until the deadline vetoes the snapshot. (VSS orders Freeze
 * the same way, front-end writers before back-end ones: VSS_APPLICATION_LEVEL, whose levels
 * say nothing of Thaw or Abort.) Thaw and abort go to every app at once: each app holds its
 * own writes until its own thaw, so one that resumes first only sends requests that another
 * holds until its thaw, which is already on its way. Their outcomes and log are listed in
 * registration order.
 */
import { randomUUID } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { BackupType } from '../types.js';
import { linuxAddon } from './addon.js';
import { allowedUsers } from './allowed-users.js';
import { encodeMessage, LineReader, protocolVersion, replySchema, type Reply, type Request } from './protocol.js';
import { discoveryDirs } from './runtime-dir.js';

export interface RegisteredApp {
  readonly socketPath: string;
  /** The uid the app must run as (root's apps may run anywhere). */
  readonly ownerUid: number;
  readonly registeredAt: number;
  readonly pid: number;
}

const socketName = /^(\d+)-(\d+)\.sock$/;

/**
 * Every registered app of root and of the users root allowed (allowed-users.ts), oldest
 * registration first. `skipped` collects what was refused and why; `notAllowed` (by default
 * the same list) the apps of users root did not allow, and what is wrong with the allowlist.
 */
export function findRegisteredApps(runtimeDir: string | undefined, skipped: string[] = [], notAllowed: string[] = skipped): RegisteredApp[] {
  const apps: RegisteredApp[] = [];
  const allowed = allowedUsers();
  notAllowed.push(...allowed.problems);
  for (const { dir, ownerUid } of discoveryDirs(runtimeDir, skipped)) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = socketName.exec(name);
      if (!m) continue;
      const socketPath = join(dir, name);
      const st = lstatSync(socketPath, { throwIfNoEntry: false });
      if (!st?.isSocket()) continue;
      if (st.uid !== ownerUid && st.uid !== 0) {
        skipped.push(`${socketPath}: owned by uid ${st.uid}, not by the directory's owner ${ownerUid}`);
        continue;
      }
      if (!allowed.uids.has(ownerUid)) {
        // Never asked: an app of a user root did not allow can neither veto nor stall a freeze.
        notAllowed.push(`${socketPath}: uid ${ownerUid} is not an allowed user (docs/LINUX.md, "Who may veto"); not asked`);
        continue;
      }
      apps.push({ socketPath, ownerUid, registeredAt: Number(m[1]), pid: Number(m[2]) });
    }
  }
  return apps.sort((a, b) => a.registeredAt - b.registeredAt || a.socketPath.localeCompare(b.socketPath));
}

export const appLabel = (app: RegisteredApp): string => `pid ${app.pid} (${app.socketPath})`;

/** A connection whose reply has come and that is kept open: a freeze's, until the freeze stands. */
export interface OpenConnection {
  /** Tells the app its freeze stands, then closes (waits at most until `deadline`). */
  hold(deadline: number): Promise<void>;
  /** Closes without a hold: the app aborts at once. */
  drop(): void;
}

/**
 * Sends one request and resolves with the app's reply; rejects on a refused connection, a
 * peer running as a user it may not, a reply that breaks the protocol, no reply in time, or
 * `signal` firing. With `keep`, a reply leaves the connection open (see freezeApps).
 */
export function ask(app: RegisteredApp, request: Request, timeoutMs: number): Promise<Reply>;
export function ask(app: RegisteredApp, request: Request, timeoutMs: number, keep: true, signal?: AbortSignal): Promise<{ reply: Reply; connection: OpenConnection }>;
export function ask(app: RegisteredApp, request: Request, timeoutMs: number, keep = false, signal?: AbortSignal): Promise<Reply | { reply: Reply; connection: OpenConnection }> {
  return new Promise((resolve, reject) => {
    const interrupted = (): Error => (signal?.reason instanceof Error ? signal.reason : new Error('interrupted'));
    // Fired already: no connection at all (one made here would stay open until the app drops it).
    if (signal?.aborted) {
      reject(interrupted());
      return;
    }
    const socket = connect(app.socketPath);
    const reader = new LineReader(replySchema, 'reply');
    let settled = false;
    const finish = (error: Error | null, reply?: Reply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error || !keep) socket.destroy();
      if (error) reject(error);
      else if (!keep) resolve(reply as Reply);
      else resolve({ reply: reply as Reply, connection: openConnection(socket) });
    };
    const onAbort = (): void => finish(interrupted());
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), Math.max(1, timeoutMs));
    socket.on('connect', () => {
      // The app must be who its directory says: a socket there from anyone else is refused.
      const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
      try {
        if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor');
        const { uid } = linuxAddon().peerCredentials(fd);
        if (uid !== 0 && uid !== app.ownerUid) throw new Error(`the app runs as uid ${uid}, not ${app.ownerUid}`);
      } catch (error) {
        finish(error as Error);
        return;
      }
      socket.write(encodeMessage(request));
    });
    socket.on('data', (chunk) => {
      try {
        const reply = reader.push(chunk);
        if (reply !== undefined) finish(null, reply);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error('the app closed the connection without answering')));
  });
}

function openConnection(socket: Socket): OpenConnection {
  // Whatever the app sends now is not read; an error only means it is gone (and aborts).
  socket.on('error', () => undefined);
  return {
    hold: (deadline) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
          resolve();
        }, Math.max(1, deadline - performance.now()));
        socket.end(encodeMessage({ v: protocolVersion, op: 'hold' }), () => {
          clearTimeout(timer);
          resolve();
        });
      }),
    drop: () => socket.destroy(),
  };
}

/** The apps a freeze keeps frozen, with their freeze connections (QuiesceOptions.keepConnections). */
export interface Held {
  /** In registration order (oldest first), as outcomes are listed. */
  readonly apps: readonly RegisteredApp[];
  readonly connections: readonly OpenConnection[];
}

export interface AppOutcome {
  readonly app: RegisteredApp;
  readonly ok: boolean;
  /** The app's reply, or why there was none. */
  readonly detail: string;
}

export interface QuiesceOptions {
  readonly runtimeDir: string | undefined;
  /** The whole budget, abort included. */
  readonly timeoutMs: number;
  /**
   * When the budget started, on performance.now()'s clock: the hook counts from its own start.
   * Default: now. Monotonic, so that a wall-clock step while the apps are asked (guest tools
   * reset the clock around snapshot operations) neither cuts a deadline short nor stretches it.
   */
  readonly startedAt?: number;
  readonly backupType: BackupType;
  /** Who asks: qemu-ga, vmware, hv_vss, ... (for the apps' logs). */
  readonly source: string;
  readonly log: (line: string) => void;
  /** Fired (SIGTERM, SIGINT, SIGHUP to the hook): stop asking, abort every app asked. */
  readonly signal?: AbortSignal;
  /**
   * After every app froze, keep their freeze connections open without the hold line and
   * return them (resident-holder.ts): closing one then aborts its app.
   */
  readonly keepConnections?: boolean;
}

/** Why a reply other than the one asked for is a failure. */
const failureDetail = (reply: Reply): string => (reply.op === 'failed' ? `${reply.reason}${reply.code ? ` [${reply.code}]` : ''}` : `unexpected reply ${reply.op}`);

const remaining = (deadline: number): number => Math.max(1, Math.floor(deadline - performance.now()));

/**
 * What of one deadline a freeze keeps for aborting the apps it asked when it fails: a fifth,
 * at most 5 s. The apps answer an abort at once; an app that does not is aborted anyway when
 * the hook closes its freeze connection.
 */
const abortReserve = (timeoutMs: number): number => Math.min(5000, Math.floor(timeoutMs / 5));

/**
 * Freezes every registered app, newest first, all within one deadline, abort included. Each
 * app's freeze connection stays open until every app has frozen: then each is told "hold"
 * (the freeze stands). On the first failure, on `signal`, or when the freeze part of the
 * deadline runs out, it aborts the apps that froze, all at once, with what is left of the
 * deadline, closes every freeze connection without a hold (so an app that did not hear the
 * abort aborts anyway) and reports failure. If the hook dies
 * (SIGKILL), the kernel closes those connections and every app it froze aborts at once.
 */
export async function freezeApps(o: QuiesceOptions): Promise<{ ok: boolean; outcomes: AppOutcome[]; held?: Held }> {
  const deadline = (o.startedAt ?? performance.now()) + o.timeoutMs;
  const freezeBy = deadline - abortReserve(o.timeoutMs);
  const skipped: string[] = [];
  const apps = findRegisteredApps(o.runtimeDir, skipped).reverse();
  for (const s of skipped) o.log(`skipped ${s}`);
  const outcomes: AppOutcome[] = [];
  /** The apps that answered "frozen", with their freeze connections. */
  const frozen: { app: RegisteredApp; connection: OpenConnection }[] = [];
  let failed = false;
  for (const app of apps) {
    let outcome: AppOutcome;
    try {
      const { reply, connection } = await ask(
        app,
        { v: protocolVersion, op: 'freeze', id: randomUUID(), timeoutMs: remaining(freezeBy), backupType: o.backupType, source: o.source },
        remaining(freezeBy),
        true,
        o.signal,
      );
      if (reply.op === 'frozen') {
        frozen.push({ app, connection });
        outcome = { app, ok: true, detail: `frozen: ${reply.writers.join(', ')}` };
      } else {
        connection.drop();
        outcome = { app, ok: false, detail: failureDetail(reply) };
      }
    } catch (error) {
      const message = (error as Error).message;
      if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' || (error as NodeJS.ErrnoException).code === 'ENOENT') {
        // A socket left by an app that has exited: nothing there to freeze.
        o.log(`${appLabel(app)}: not running (${message}); skipped`);
        continue;
      }
      outcome = { app, ok: false, detail: o.signal?.aborted ? `interrupted: ${message}` : message };
    }
    outcomes.push(outcome);
    o.log(`freeze ${appLabel(app)}: ${outcome.ok ? 'ok' : 'FAILED'}: ${outcome.detail}`);
    if (!outcome.ok) {
      failed = true;
      break;
    }
  }
  if (failed) {
    // The app that failed has ended its own attempt (a "failed" reply), or sees its freeze
    // connection closed and cancels it: only the frozen ones are asked to abort, all at
    // once. After a signal the agent is about to kill the hook: a short abort, not the rest
    // of the deadline; whoever did not hear it aborts when its connection closes.
    const abortBy = o.signal?.aborted ? Math.min(deadline, performance.now() + abortReserve(o.timeoutMs)) : deadline;
    await releaseApps('abort', frozen.map((f) => f.app).reverse(), { log: o.log, deadline: abortBy });
    for (const f of frozen) f.connection.drop();
    return { ok: false, outcomes };
  }
  if (o.keepConnections) return { ok: true, outcomes, held: { apps: frozen.map((f) => f.app).reverse(), connections: frozen.map((f) => f.connection) } };
  await Promise.all(frozen.map((f) => f.connection.hold(deadline)));
  return { ok: true, outcomes };
}

/**
 * Thaws (or aborts) every registered app, all at once, and returns by the deadline whatever
 * the apps do: each request gets what is left of it.
 */
export async function thawApps(
  op: 'thaw' | 'abort',
  o: Pick<QuiesceOptions, 'runtimeDir' | 'timeoutMs' | 'startedAt' | 'log'>,
): Promise<{ ok: boolean; outcomes: AppOutcome[] }> {
  const skipped: string[] = [];
  const apps = findRegisteredApps(o.runtimeDir, skipped);
  for (const s of skipped) o.log(`skipped ${s}`);
  return releaseApps(op, apps, { log: o.log, deadline: (o.startedAt ?? performance.now()) + o.timeoutMs });
}

/**
 * Asks every one of `apps` at once to thaw (or abort), each with what is left of `deadline`,
 * and resolves once each has answered or run out of it. The outcomes and the log keep the
 * order of `apps` (registration order), whatever order the answers came in.
 */
export async function releaseApps(
  op: 'thaw' | 'abort',
  apps: readonly RegisteredApp[],
  o: { log: (line: string) => void; deadline: number },
): Promise<{ ok: boolean; outcomes: AppOutcome[] }> {
  const answers = await Promise.all(apps.map((app) => release(op, app, o.deadline)));
  const outcomes: AppOutcome[] = [];
  for (const [i, outcome] of answers.entries()) {
    const app = apps[i] as RegisteredApp;
    if (outcome === undefined) {
      o.log(`${appLabel(app)}: not running; skipped`);
      continue;
    }
    outcomes.push(outcome);
    o.log(`${op} ${appLabel(app)}: ${outcome.ok ? 'ok' : 'FAILED'}: ${outcome.detail}`);
  }
  return { ok: outcomes.every((x) => x.ok), outcomes };
}

/** One app's thaw (or abort); undefined when the app is not running (nothing to release). */
async function release(op: 'thaw' | 'abort', app: RegisteredApp, deadline: number): Promise<AppOutcome | undefined> {
  if (performance.now() >= deadline) return { app, ok: false, detail: 'not asked: the deadline had passed' };
  try {
    const reply = await ask(app, { v: protocolVersion, op, timeoutMs: remaining(deadline) }, remaining(deadline));
    return reply.op === 'thawed'
      ? { app, ok: true, detail: reply.note ?? 'thawed' }
      : { app, ok: false, detail: failureDetail(reply) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT') return undefined;
    return { app, ok: false, detail: (error as Error).message };
  }
}
