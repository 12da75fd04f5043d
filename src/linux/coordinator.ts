/**
 * The app's side of Linux-guest quiesce. While at least one VssWriter of this process is
 * subscribed, the process listens on a Unix socket in its runtime directory (runtime-dir.ts);
 * the hook a guest agent runs finds it there and asks it to freeze, thaw or abort
 * (protocol.ts).
 *
 * A freeze runs one snapshot set of the simulated VSS service over every writer of the
 * process whose commit is external (runExternalCommit): prepareBackup, prepareSnapshot,
 * freeze, then the commit, which here is the guest agent's own file-system freeze. The commit
 * holds until the hook sends thaw, so the writers' handlers (and their write gates) run in VSS
 * order and the app answers "frozen" only once every freeze handler has returned. The hold is
 * bounded by the writers' freeze windows (freezeTimeoutMs): when no thaw arrives in time, the
 * simulator aborts the writers, which is this app's watchdog; the next thaw request then
 * reports that the snapshot may not be application-consistent.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { getBackend } from '../backends/backend.js';
import { VssError } from '../errors.js';
import type { Logger } from '../logger.js';
import { runExternalCommit } from '../requester.js';
import { writerStateName } from '../types.js';
import { linuxAddon } from './addon.js';
import { clip, encodeMessage, holdSchema, LineReader, protocolVersion, requestSchema, type Reply, type Request } from './protocol.js';
import { registrationDir, registrationDirProblem } from './runtime-dir.js';

/** VSS_BRIDGE_COORDINATOR=off keeps subscribed writers from registering. */
export const coordinatorVariable = 'VSS_BRIDGE_COORDINATOR';

/** How long a connected peer has to send its whole request. */
const requestDeadlineMs = 10_000;

export interface CoordinatedWriter {
  readonly label: string;
  readonly logger: Logger;
}

/** A guest agent freezes every file system of the guest: every path is affected. */
const everyFileSystem = ['/'];

export interface Registration {
  /** Where the hook finds this process. */
  readonly socketPath: string;
  release(): Promise<void>;
}

type Phase = 'freezing' | 'frozen' | 'thawing';

interface Operation {
  readonly id: string;
  phase: Phase;
  /** Cancels the snapshot set: the writers get abort. */
  readonly cancel: AbortController;
  /** Ends the commit's hold: true to thaw, false to abort. */
  release(thaw: boolean): void;
  /** Settles when the snapshot set has ended: null on success, else why it failed. */
  readonly ended: Promise<{ reason: string; code: string } | null>;
}

class Coordinator {
  private readonly members = new Set<CoordinatedWriter>();
  private server: Server | undefined;
  private listening: Promise<string> | undefined;
  private current: Operation | undefined;
  /** A failure after "frozen" that no thaw or abort has heard about yet (the watchdog). */
  private unreported: { reason: string; code: string } | undefined;

  async add(member: CoordinatedWriter): Promise<string> {
    this.members.add(member);
    try {
      this.listening ??= this.listen(member.logger);
      return await this.listening;
    } catch (error) {
      this.members.delete(member);
      this.listening = undefined;
      throw error;
    }
  }

  async remove(member: CoordinatedWriter): Promise<void> {
    if (!this.members.delete(member) || this.members.size > 0) return;
    // The last writer leaves during a freeze: nothing is left to hold writes for. The set
    // ends now, its writers told abort, rather than when a resident holder's thaw or the
    // freeze window comes: until then the hook's connection would keep the server below
    // open, and unsubscribe (and the app's gate) waiting on it.
    const operation = this.current;
    if (operation !== undefined) {
      const reason = 'the writers unsubscribed';
      member.logger.warn(`quiesce ${operation.id}: ${reason} during the freeze (${operation.phase}): aborting`);
      // A set already thawing ends by itself.
      if (operation.phase !== 'thawing') this.end(operation, false, reason);
      await operation.ended;
    }
    const server = this.server;
    const listening = this.listening;
    this.server = undefined;
    this.listening = undefined;
    if (!server || !listening) return;
    const path = await listening.catch(() => undefined);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (path) unlinkQuietly(path);
  }

  private get logger(): Logger {
    const first = this.members.values().next();
    if (first.done) throw new Error('no writer is registered');
    return first.value.logger;
  }

  private listen(logger: Logger): Promise<string> {
    const where = registrationDir();
    if (where.dir === null) return Promise.reject(new Error(where.reason));
    const dir = where.dir;
    // Private to this user: root (the hook) passes through it anyway. mkdir leaves the mode
    // of a directory that already exists as it is, so check what is there either way.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const problem = registrationDirProblem(dir);
    if (problem !== null) {
      return Promise.reject(new Error(`registration directory ${dir} is ${problem}: make it a directory of this user's that only it can change (chmod 700)`));
    }
    removeStaleSockets(dir);
    const path = join(dir, `${Date.now()}-${process.pid}.sock`);
    // bind() creates the socket with the umask's mode, connectable by others until a chmod.
    // The umask is process-wide (other code of the app creates files meanwhile), so instead
    // the socket is bound in a directory of its own that mkdtemp makes 0700, made 0600 there,
    // then renamed into place: at its public name it is never more than 0600.
    const staging = mkdtempSync(join(dir, `.bind-${process.pid}-`));
    const bound = join(staging, 's');
    const server = createServer((socket) => this.accept(socket));
    // A process that exits while subscribed leaves no socket behind.
    const onExit = (): void => unlinkQuietly(path);
    process.once('exit', onExit);
    server.once('close', () => process.off('exit', onExit));
    this.server = server;
    return new Promise<string>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        try {
          chmodSync(bound, 0o600);
          renameSync(bound, path);
        } catch (error) {
          server.close();
          reject(error as Error);
          return;
        }
        server.on('error', (error) => logger.error(`coordinator socket: ${error.message}`, { socket: path }));
        // The socket must never keep the app alive on its own.
        server.unref();
        logger.info('registered for Linux guest quiesce', { socket: path });
        resolve(path);
      });
    }).finally(() => rmSync(staging, { recursive: true, force: true }));
  }

  private accept(socket: Socket): void {
    const logger = this.logger;
    // Only root (the hook the guest agent runs) and this app's own user may drive it.
    const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    let uid: number;
    try {
      if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor');
      uid = linuxAddon().peerCredentials(fd).uid;
    } catch (error) {
      logger.warn(`coordinator: refused a connection whose credentials could not be read: ${(error as Error).message}`);
      socket.destroy();
      return;
    }
    if (uid !== 0 && uid !== process.getuid?.()) {
      logger.warn(`coordinator: refused a connection from uid ${uid}`);
      socket.destroy();
      return;
    }
    const reader = new LineReader(requestSchema, 'request');
    let answered = false;
    /** After a "frozen" reply: what reads the hook's hold. */
    let afterFrozen: ((chunk: Buffer) => void) | undefined;
    // One request, one reply: once it is sent the connection is closed, so a peer that goes
    // on sending is cut off rather than read (or buffered) for as long as it likes. A freeze
    // that succeeded is the one exception: its connection waits for the hook's hold.
    const answer = (reply: Reply): void => {
      if (answered) return;
      answered = true;
      const operation = this.current;
      if (reply.op === 'frozen' && operation !== undefined) {
        afterFrozen = this.awaitHold(socket, operation);
        socket.write(encodeMessage(reply));
        return;
      }
      socket.end(encodeMessage(reply), () => socket.destroy());
    };
    // A hook at work sends its request at once: a peer that has not within 10 s of
    // connecting (silent, or dribbling bytes) is dropped.
    const deadline = setTimeout(() => {
      if (!handling) socket.destroy();
    }, requestDeadlineMs).unref();
    socket.once('close', () => clearTimeout(deadline));
    let handling = false;
    socket.on('data', (chunk: Buffer) => {
      if (answered) {
        afterFrozen?.(chunk);
        return;
      }
      if (handling) return;
      let request: Request | undefined;
      try {
        request = reader.push(chunk);
      } catch (error) {
        answer({ v: protocolVersion, op: 'failed', reason: clip((error as Error).message), code: 'E_INVALIDARG' });
        return;
      }
      if (request === undefined) return;
      handling = true;
      clearTimeout(deadline);
      this.handle(request, socket).then(answer, (error: unknown) =>
        answer({ v: protocolVersion, op: 'failed', reason: clip(error instanceof Error ? error.message : String(error)) }),
      );
    });
    socket.on('error', () => undefined);
  }

  /**
   * The freeze stands only once the hook says `hold` (every app froze). When the connection
   * closes first, the hook was killed or gave up: abort at once rather than hold the writes
   * until the watchdog. The connection ends with the snapshot set at the latest. Returns
   * what reads the rest of the connection.
   */
  private awaitHold(socket: Socket, operation: Operation): (chunk: Buffer) => void {
    const reader = new LineReader(holdSchema, 'hold');
    let held = false;
    // Listens only until the set ends (below): the set it sees is still the current one.
    const hookGone = (): void => {
      if (held || operation.phase !== 'frozen') return;
      const reason = 'the hook closed the freeze connection before confirming the freeze (killed, or it gave up)';
      this.logger.error(`quiesce ${operation.id}: ${reason}: aborting`);
      this.end(operation, false, reason);
      this.unreported = { reason, code: 'VSS_E_WRITERERROR_TIMEOUT' };
    };
    // It may have closed already, while the writers were freezing (a hook that gave up).
    if (socket.closed) hookGone();
    else socket.once('close', hookGone);
    // A hook at work sends hold at once after the last app froze (a resident holder never
    // does). Once the set has ended (thawed, aborted, or released by the watchdog) there is
    // no freeze left to confirm: an open connection would only keep the event loop alive and
    // the server from closing, so unsubscribe would wait on the hook.
    void operation.ended.then(() => {
      socket.off('close', hookGone);
      socket.destroy();
    });
    return (chunk) => {
      try {
        if (reader.push(chunk) === undefined) return;
        held = true;
        socket.end();
      } catch (error) {
        this.logger.warn(`quiesce ${operation.id}: ${(error as Error).message}`);
        socket.destroy();
      }
    };
  }

  private async handle(request: Request, socket: Socket): Promise<Reply> {
    switch (request.op) {
      case 'status':
        return this.status();
      case 'freeze':
        return this.freeze(request, socket);
      case 'thaw':
      case 'abort':
        return this.release(request.op === 'thaw', request.timeoutMs);
    }
  }

  private async status(): Promise<Reply> {
    const writers = await getBackend().listWriters();
    return {
      v: protocolVersion,
      op: 'status',
      pid: process.pid,
      phase: this.current?.phase ?? 'idle',
      writers: writers.map((w) => ({ name: clip(w.name), instanceName: clip(w.instanceName), state: writerStateName(w.state) })),
    };
  }

  private async freeze(request: Extract<Request, { op: 'freeze' }>, socket: Socket): Promise<Reply> {
    const logger = this.logger;
    if (this.current) {
      return { v: protocolVersion, op: 'failed', reason: `a freeze is already in progress (${this.current.phase})`, code: 'VSS_E_SNAPSHOT_SET_IN_PROGRESS' };
    }
    this.unreported = undefined;
    const members = [...this.members];
    const cancel = new AbortController();
    let frozen!: () => void;
    const reachedFrozen = new Promise<void>((resolve) => (frozen = resolve));
    let release!: (thaw: boolean) => void;
    const released = new Promise<boolean>((resolve) => (release = resolve));

    const set = runExternalCommit({
      volumes: everyFileSystem,
      backupType: request.backupType,
      freezeTimeoutMs: request.timeoutMs,
      signal: cancel.signal,
      logger,
      // The commit is the guest agent's file-system freeze: hold until the hook says thaw.
      hold: (ctx) => {
        // A cancel (the request's deadline, a thaw or hang-up while freezing) can cross the
        // commit on its way here: the set is ending and the writers get abort, so not frozen.
        if (cancel.signal.aborted) return Promise.reject(cancel.signal.reason as Error);
        operation.phase = 'frozen';
        frozen();
        return new Promise<void>((resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
          void released.then((thaw) => (thaw ? resolve() : reject(new Error('the hook aborted the snapshot'))));
        });
      },
    });
    const ended = set.then(
      () => null,
      (error: unknown) => ({
        reason: clip(error instanceof Error ? error.message : String(error)),
        code: error instanceof VssError ? error.code : 'E_FAIL',
      }),
    );
    const operation: Operation = { id: request.id, phase: 'freezing', cancel, release, ended };
    this.current = operation;
    void ended.then((failure) => {
      if (this.current === operation) this.current = undefined;
      if (failure && operation.phase === 'frozen') {
        // Ended while holding with no thaw or abort asked for: the watchdog.
        this.unreported = failure;
        logger.error(`quiesce ${request.id}: released without a thaw: ${failure.reason}`);
      }
    });

    logger.info(`quiesce ${request.id}: freeze requested by ${request.source}`, { timeoutMs: request.timeoutMs });
    const hookGone = (): void => {
      if (operation.phase === 'freezing') cancel.abort(new Error('the hook went away before the writers froze'));
    };
    socket.once('close', hookGone);
    const timer = setTimeout(() => {
      if (operation.phase === 'freezing') cancel.abort(new Error(`the writers did not freeze within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    try {
      // Null once the hold began (`ended` cannot win with null: the set succeeds only through
      // its commit, the hold), and the phase is then 'frozen': a thaw or a hang-up, which could
      // change it, comes as a socket event, and none runs between the hold's call and this.
      const failure = await Promise.race([reachedFrozen.then(() => null), ended]);
      if (failure !== null) return { v: protocolVersion, op: 'failed', reason: failure.reason, code: failure.code };
      return { v: protocolVersion, op: 'frozen', id: request.id, writers: members.map((m) => clip(m.label)) };
    } finally {
      clearTimeout(timer);
      socket.off('close', hookGone);
    }
  }

  /**
   * Ends `operation` with a thaw (`thaw`) or an abort: a frozen set's hold is released (the
   * writers then get thaw, or abort); a set still freezing, or any set on an abort, is cancelled
   * with `reason`. The set's end follows (operation.ended).
   */
  private end(operation: Operation, thaw: boolean, reason: string): void {
    if (operation.phase === 'frozen') {
      operation.phase = 'thawing';
      operation.release(thaw);
    } else if (operation.phase === 'freezing' || !thaw) {
      operation.cancel.abort(new Error(reason));
    }
  }

  /** thaw (or abort): end the hold and wait for the snapshot set to finish. */
  private async release(thaw: boolean, timeoutMs: number): Promise<Reply> {
    const operation = this.current;
    if (operation === undefined) {
      const failure = this.unreported;
      this.unreported = undefined;
      if (failure && thaw) return { v: protocolVersion, op: 'failed', reason: `released before thaw: ${failure.reason}`, code: failure.code };
      return { v: protocolVersion, op: 'thawed', note: 'not frozen' };
    }
    this.end(operation, thaw, thaw ? 'thaw arrived before the writers froze' : 'the hook aborted the snapshot');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    const failure = await Promise.race([operation.ended, late]).finally(() => clearTimeout(timer));
    if (failure === 'late') return { v: protocolVersion, op: 'failed', reason: `the writers did not finish within ${timeoutMs} ms`, code: 'VSS_E_WRITERERROR_TIMEOUT' };
    if (!thaw) return { v: protocolVersion, op: 'thawed', note: 'aborted' };
    if (failure) return { v: protocolVersion, op: 'failed', reason: failure.reason, code: failure.code };
    return { v: protocolVersion, op: 'thawed' };
  }
}

/**
 * Sockets (and binding directories) of this user's processes that died without unsubscribing
 * (killed, crashed).
 */
function removeStaleSockets(dir: string): void {
  for (const name of readdirSync(dir)) {
    const match = /^(?:\d+-(\d+)\.sock|\.bind-(\d+)-\w+)$/.exec(name);
    const pid = match?.[1] ?? match?.[2];
    if (pid === undefined) continue;
    const path = join(dir, name);
    if (lstatSync(path, { throwIfNoEntry: false })?.uid !== process.getuid?.()) continue;
    try {
      process.kill(Number(pid), 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') rmSync(path, { recursive: true, force: true });
    }
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there: nothing to remove
  }
}

let coordinator: Coordinator | undefined;
/** Why registering failed, each said once per process: every writer's subscribe meets the same cause. */
const reported = new Set<string>();

/**
 * Registers a subscribed writer so that guest agents' freezes reach it. Undefined when this
 * is not Linux or VSS_BRIDGE_COORDINATOR=off. When the process cannot register (no runtime
 * directory, no permission), the writer still works and the reason is logged once, as a
 * warning with the way to turn registration off: its handlers will not run when a guest
 * agent freezes, which matters only inside a VM whose host takes checkpoints.
 */
export async function registerWithCoordinator(writer: CoordinatedWriter): Promise<Registration | undefined> {
  if (process.platform !== 'linux' || process.env[coordinatorVariable] === 'off') return undefined;
  coordinator ??= new Coordinator();
  const own = coordinator;
  let socketPath: string;
  try {
    socketPath = await own.add(writer);
  } catch (error) {
    const reason = (error as Error).message;
    if (!reported.has(reason)) {
      reported.add(reason);
      writer.logger.warn(
        `not registered for Linux guest quiesce: ${reason}. Guest agents' freezes will not reach this process's writers; ` +
          `outside a VM, or to stop this message, set ${coordinatorVariable}=off`,
        { writer: writer.label },
      );
    }
    return undefined;
  }
  let released = false;
  return {
    socketPath,
    release: async () => {
      if (released) return;
      released = true;
      await own.remove(writer);
    },
  };
}
