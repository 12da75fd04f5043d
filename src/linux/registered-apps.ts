/**
 * The hook's side of Linux-guest quiesce: find every registered app (runtime-dir.ts) and ask
 * each to freeze, thaw or abort over its socket (protocol.ts).
 *
 * Order: apps are frozen newest registration first and thawed oldest first. An app started
 * later usually depends on ones started before it (an app server on its database), so it
 * stops writing to them before they flush, and they are back before it resumes.
 */
import { randomUUID } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
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
 * registration first. `skipped` collects what was refused and why.
 */
export function findRegisteredApps(runtimeDir: string | undefined, skipped: string[] = []): RegisteredApp[] {
  const apps: RegisteredApp[] = [];
  const allowed = allowedUsers();
  skipped.push(...allowed.problems);
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
        skipped.push(`${socketPath}: uid ${ownerUid} is not an allowed user (docs/LINUX.md, "Who may veto"); not asked`);
        continue;
      }
      apps.push({ socketPath, ownerUid, registeredAt: Number(m[1]), pid: Number(m[2]) });
    }
  }
  return apps.sort((a, b) => a.registeredAt - b.registeredAt || a.socketPath.localeCompare(b.socketPath));
}

export const appLabel = (app: RegisteredApp): string => `pid ${app.pid} (${app.socketPath})`;

/**
 * Sends one request and resolves with the app's reply; rejects on a refused connection, a
 * peer running as a user it may not, a reply that breaks the protocol, or no reply in time.
 */
export function ask(app: RegisteredApp, request: Request, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect(app.socketPath);
    const reader = new LineReader(replySchema, 'reply');
    let settled = false;
    const finish = (error: Error | null, reply?: Reply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply as Reply);
    };
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

export interface AppOutcome {
  readonly app: RegisteredApp;
  readonly ok: boolean;
  /** The app's reply, or why there was none. */
  readonly detail: string;
}

export interface QuiesceOptions {
  readonly runtimeDir: string | undefined;
  readonly timeoutMs: number;
  readonly backupType: BackupType;
  /** Who asks: qemu-ga, vmware, hv_vss, ... (for the apps' logs). */
  readonly source: string;
  readonly log: (line: string) => void;
}

const remaining = (deadline: number): number => Math.max(1, deadline - Date.now());

/**
 * Freezes every registered app, newest first, all within one deadline. On the first failure
 * it aborts the apps it froze (and the one that failed) in reverse order and reports failure.
 */
export async function freezeApps(o: QuiesceOptions): Promise<{ ok: boolean; outcomes: AppOutcome[] }> {
  const deadline = Date.now() + o.timeoutMs;
  const skipped: string[] = [];
  const apps = findRegisteredApps(o.runtimeDir, skipped).reverse();
  for (const s of skipped) o.log(`skipped ${s}`);
  const outcomes: AppOutcome[] = [];
  const touched: RegisteredApp[] = [];
  for (const app of apps) {
    let outcome: AppOutcome;
    try {
      touched.push(app);
      const reply = await ask(
        app,
        { v: protocolVersion, op: 'freeze', id: randomUUID(), timeoutMs: remaining(deadline), backupType: o.backupType, source: o.source },
        remaining(deadline),
      );
      outcome =
        reply.op === 'frozen'
          ? { app, ok: true, detail: `frozen: ${reply.writers.join(', ')}` }
          : { app, ok: false, detail: reply.op === 'failed' ? `${reply.reason}${reply.code ? ` [${reply.code}]` : ''}` : `unexpected reply ${reply.op}` };
    } catch (error) {
      const message = (error as Error).message;
      if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' || (error as NodeJS.ErrnoException).code === 'ENOENT') {
        // A socket left by an app that has exited: nothing there to freeze.
        touched.pop();
        o.log(`${appLabel(app)}: not running (${message}); skipped`);
        continue;
      }
      outcome = { app, ok: false, detail: message };
    }
    outcomes.push(outcome);
    o.log(`freeze ${appLabel(app)}: ${outcome.ok ? 'ok' : 'FAILED'}: ${outcome.detail}`);
    if (!outcome.ok) {
      await releaseApps('abort', touched.reverse(), { ...o, timeoutMs: o.timeoutMs });
      return { ok: false, outcomes };
    }
  }
  return { ok: true, outcomes };
}

/**
 * Thaws (or aborts) every registered app, oldest first, and returns by the deadline whatever
 * the apps do: each request gets what is left of it.
 */
export async function thawApps(op: 'thaw' | 'abort', o: Omit<QuiesceOptions, 'backupType' | 'source'>): Promise<{ ok: boolean; outcomes: AppOutcome[] }> {
  const skipped: string[] = [];
  const apps = findRegisteredApps(o.runtimeDir, skipped);
  for (const s of skipped) o.log(`skipped ${s}`);
  return releaseApps(op, apps, o);
}

async function releaseApps(
  op: 'thaw' | 'abort',
  apps: readonly RegisteredApp[],
  o: Pick<QuiesceOptions, 'timeoutMs' | 'log'>,
): Promise<{ ok: boolean; outcomes: AppOutcome[] }> {
  const deadline = Date.now() + o.timeoutMs;
  const outcomes: AppOutcome[] = [];
  for (const app of apps) {
    let outcome: AppOutcome;
    if (Date.now() >= deadline) {
      outcome = { app, ok: false, detail: `not asked: the ${o.timeoutMs} ms deadline had passed` };
    } else {
      try {
        const reply = await ask(app, { v: protocolVersion, op, timeoutMs: remaining(deadline) }, remaining(deadline));
        outcome =
          reply.op === 'thawed'
            ? { app, ok: true, detail: reply.note ?? 'thawed' }
            : { app, ok: false, detail: reply.op === 'failed' ? `${reply.reason}${reply.code ? ` [${reply.code}]` : ''}` : `unexpected reply ${reply.op}` };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED' || code === 'ENOENT') {
          o.log(`${appLabel(app)}: not running; skipped`);
          continue;
        }
        outcome = { app, ok: false, detail: (error as Error).message };
      }
    }
    outcomes.push(outcome);
    o.log(`${op} ${appLabel(app)}: ${outcome.ok ? 'ok' : 'FAILED'}: ${outcome.detail}`);
  }
  return { ok: outcomes.every((x) => x.ok), outcomes };
}
