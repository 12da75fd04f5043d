/**
 * The JS half of the dispatcher (native/dispatcher.h): runs the handler for each event the
 * native side posts and answers exactly once. A handler may return, return a Promise, or
 * throw. At the deadline the handler's signal fires and the event fails with
 * VSS_E_WRITERERROR_TIMEOUT; whatever the handler does later is logged and ignored.
 */
import { WriterFailure } from './errors.js';
import { publish, type WriterEventMessage } from './diagnostics.js';
import { describeHresult, hresultOf, writerErrorCodes } from './hresult.js';
import { isEnabled as enabled, type Logger } from './logger.js';
import { native, type NativeDispatcher, type NativeEventContext } from './backends/native.js';
import { isPathOnVolumes } from './paths.js';

export class HandlerTimeoutError extends Error {
  constructor(event: string, timeoutMs: number) {
    super(`the ${event} handler did not settle within ${Math.round(timeoutMs)} ms`);
    this.name = 'TimeoutError';
  }
}

export interface DispatchTarget {
  /** Who answers, for logs: e.g. writer "orders-db". */
  readonly label: string;
  /** The writer answering, when it is one: its events go to the vss-bridge:writer:event channel. */
  readonly writer?: { readonly name: string; readonly instanceName: string };
  readonly logger: Logger;
  /**
   * The handler for an event, or undefined to succeed at once. It receives a HandlerContext,
   * which the target types (WriterEventContext, CommitContext).
   */
  handler(event: string): ((ctx: never) => unknown) | undefined;
  /**
   * The events `handler` answers. The others are answered natively, at once, without the JS
   * thread: they succeed even while the event loop is blocked. Absent: every event reaches JS.
   */
  readonly handledEvents?: readonly string[];
}

const retryable = hresultOf('VSS_E_WRITERERROR_RETRYABLE');

/**
 * What a handler's throw or rejection answers. A WriterFailure, or any value whose `code` is a
 * writer-error code (a `{ code, message }` thrown by code that knows no WriterFailure), keeps
 * its code; anything else is VSS_E_WRITERERROR_RETRYABLE with the value's message and code.
 */
function failureOf(error: unknown): { hresult: number; message: string } {
  if (error instanceof WriterFailure) return { hresult: error.hresult, message: error.message };
  const fields = typeof error === 'object' && error !== null ? (error as { code?: unknown; message?: unknown }) : {};
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  let message = typeof fields.message === 'string' ? fields.message : describe(error);
  if (code !== undefined && (writerErrorCodes as readonly string[]).includes(code)) {
    return { hresult: hresultOf(code), message: message || code };
  }
  if (code !== undefined && !message.includes(code)) message = `${code}: ${message}`;
  return { hresult: retryable, message };
}

/** A thrown value that is not an Error, as words: String() of a plain object says nothing. */
function describe(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? Object.prototype.toString.call(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** A handler that has not settled yet. */
interface Running {
  readonly callId: number;
  readonly event: string;
  readonly snapshotSetId: string;
  readonly remainingMs: number;
  /** performance.now() when its event reached JS. */
  readonly started: number;
  /** performance.now() at which the deadline timer expires it. */
  readonly deadlineAt: number;
  /** Made on the first read of ctx.signal (signalOf). */
  controller: AbortController | undefined;
  /** Why it was aborted: a signal first read after the abort shows it. */
  abortedWith: unknown;
}

function signalOf(run: Running): AbortSignal {
  if (run.controller === undefined) {
    run.controller = new AbortController();
    if (run.abortedWith !== undefined) run.controller.abort(run.abortedWith);
  }
  return run.controller.signal;
}

function abortRun(run: Running, reason: unknown): void {
  run.abortedWith = reason;
  run.controller?.abort(reason);
}

/**
 * What a handler receives. A class rather than an object literal: with the getter and method
 * on its prototype, making one per event is an allocation, not a dictionary built key by key.
 */
class HandlerContext {
  readonly event: string;
  readonly snapshotSetId: string;
  readonly backupType: string;
  readonly volumes: string[];
  readonly components: string[];
  readonly deadline: number;
  readonly #run: Running;

  constructor(raw: NativeEventContext, deadline: number, run: Running) {
    this.event = raw.event;
    this.snapshotSetId = raw.snapshotSetId;
    this.backupType = raw.backupType;
    // The native context is shared by every writer of a phase: each handler gets its own lists.
    this.volumes = raw.volumes.slice();
    this.components = raw.components.slice();
    this.deadline = deadline;
    this.#run = run;
  }

  /** Made on first read: most handlers never look, and an AbortController costs. */
  get signal(): AbortSignal {
    return signalOf(this.#run);
  }

  isPathAffected(path: string): boolean {
    return isPathOnVolumes(path, this.volumes, process.platform, windowsVolumeOf());
  }
}

/** The Windows addon's volume resolver, where there is one (not on other platforms). */
function windowsVolumeOf(): ((path: string) => string) | undefined {
  if (process.platform !== 'win32') return undefined;
  const vss = native().vss;
  return vss && 'volumeOf' in vss ? (path) => vss.volumeOf(path) : undefined;
}

/** The dispatchers of this module, by native id: the router's rows name them so. */
const dispatchers = new Map<number, JsDispatcher>();

/** An error only a logger can raise here: reported as uncaught, after the rest of the batch. */
function reportLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * The router of every dispatcher (NativeRouter, native/event_queue.h): the `count` events
 * gathered since the last call, four numbers each in `rows` (dispatcher id, call id,
 * milliseconds left, context index), and their contexts, five elements each.
 */
function routeEvents(rows: Float64Array, count: number, contexts: unknown[]): void {
  const now = performance.now();
  const epochNow = Date.now();
  const made: NativeEventContext[] = [];
  for (let i = 0; i < 4 * count; i += 4) {
    const index = rows[i + 3]!;
    const raw = (made[index] ??= {
      event: contexts[5 * index] as string,
      snapshotSetId: contexts[5 * index + 1] as string,
      backupType: contexts[5 * index + 2] as string,
      volumes: contexts[5 * index + 3] as string[],
      components: contexts[5 * index + 4] as string[],
    });
    // A closed dispatcher has left the map; its native side already answered its calls.
    const dispatcher = dispatchers.get(rows[i]!);
    try {
      dispatcher?.route(rows[i + 1]!, raw, rows[i + 2]!, now, epochNow);
    } catch (error) {
      reportLater(error);
    }
  }
}

/** A handler's answer on its way to the native side. */
interface Answer {
  readonly dispatcher: JsDispatcher;
  readonly run: Running;
  readonly hresult: number;
  readonly message: string;
}

/**
 * Answers are gathered and sent in one native call at the end of the microtask queue: the
 * handlers of a phase's batch settle together, so 64 writers cost one crossing, not 64.
 */
let answers: Answer[] = [];
/** sendAnswers' arrays, reused: a typed array past 64 bytes is an allocation outside the heap. */
let answerRows = new Float64Array(256);
let accepted = new Uint8Array(64);

function answer(a: Answer): void {
  if (answers.push(a) === 1) queueMicrotask(sendAnswers);
}

function sendAnswers(): void {
  const batch = answers;
  answers = [];
  if (answerRows.length < 4 * batch.length) answerRows = new Float64Array(4 * batch.length);
  if (accepted.length < batch.length) accepted = new Uint8Array(batch.length);
  const messages: string[] = [];
  for (let i = 0; i < batch.length; i++) {
    const a = batch[i]!;
    answerRows[4 * i] = a.dispatcher.id;
    answerRows[4 * i + 1] = a.run.callId;
    answerRows[4 * i + 2] = a.hresult;
    answerRows[4 * i + 3] = a.hresult === 0 ? -1 : messages.push(a.message) - 1;
  }
  native().Dispatcher.settleAll(answerRows, batch.length, messages, accepted);
  const now = performance.now();
  // Asked once for a run of answers that share a logger, as most do: it costs as much as the
  // rest of an answer.
  let lastLogger: Logger | undefined;
  let lastInfo = false;
  const infoEnabled = (logger: Logger): boolean => {
    if (logger !== lastLogger) {
      lastLogger = logger;
      lastInfo = enabled(logger, 'info');
    }
    return lastInfo;
  };
  for (let i = 0; i < batch.length; i++) {
    try {
      batch[i]!.dispatcher.answered(batch[i]!, accepted[i] === 1, now, infoEnabled);
    } catch (error) {
      reportLater(error);
    }
  }
}

/** A native dispatcher wired to `target`, plus the set of handlers still running. */
export class JsDispatcher {
  readonly native: NativeDispatcher;
  /**
   * A writer has one event at a time running, rarely more: an array searched end to end. A Map
   * keyed by call id cost more than the rest of routing an event (set, get and delete, its
   * table grown and shrunk around the one entry, every event).
   */
  private running: Running[] = [];
  private closedReason: string | undefined;
  /**
   * One deadline timer for all running handlers, armed for the earliest deadline it knows of
   * (armedAt): a setTimeout per event cost more than the rest of the JS side of a round trip.
   * It is left armed when the last handler settles, and re-armed only for an earlier deadline;
   * when it fires it expires what is due and re-arms for the next. It never decides whether
   * the process may exit: while the dispatcher is open its native event queue keeps the event
   * loop alive anyway (native/event_queue.cc), and close() clears it.
   */
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;

  /** The native dispatcher's id, read once: it is a native accessor. */
  readonly id: number;

  constructor(private readonly target: DispatchTarget) {
    this.native = new (native().Dispatcher)(target.label, routeEvents, target.handledEvents);
    this.id = this.native.id;
    dispatchers.set(this.id, this);
  }

  /** Releases every waiting native thread with a failure and aborts running handlers. */
  close(reason: string): void {
    this.closedReason = reason;
    this.native.close(reason);
    dispatchers.delete(this.id);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
    const running = this.running;
    this.running = [];
    for (const run of running) abortRun(run, new Error(reason));
  }

  /**
   * Runs the handler for one event; its answer goes out with the batch's (sendAnswers).
   * `now` and `epochNow` are the batch's performance.now() and Date.now().
   */
  route(callId: number, raw: NativeEventContext, remainingMs: number, now: number, epochNow: number): void {
    const run: Running = {
      callId,
      event: raw.event,
      snapshotSetId: raw.snapshotSetId,
      remainingMs,
      started: now,
      // Never before the native deadline: the native side answers VSS at its own.
      deadlineAt: now + Math.ceil(remainingMs),
      controller: undefined,
      abortedWith: undefined,
    };
    if (remainingMs <= 0) {
      // The event loop was blocked until after the deadline: VSS already has its answer.
      this.native.expire(callId);
      this.target.logger.warn(`${raw.event} handler not run: the event reached JS ${Math.round(-remainingMs)} ms after its deadline (was the event loop blocked?)`, this.meta(run));
      return;
    }
    const handler = this.target.handler(raw.event);
    if (handler === undefined) {
      answer({ dispatcher: this, run, hresult: 0, message: '' });
      if (enabled(this.target.logger, 'debug')) this.target.logger.debug(`${raw.event}: no handler`, this.meta(run));
      return;
    }
    this.running.push(run);
    this.watch(run.deadlineAt);
    const ctx = new HandlerContext(raw, epochNow + remainingMs, run);
    try {
      const result = (handler as (ctx: object) => unknown)(ctx);
      if (isThenable(result)) {
        result.then(
          () => this.finish(run, 0, ''),
          (error: unknown) => this.fail(run, error),
        );
      } else {
        this.finish(run, 0, '');
      }
    } catch (error) {
      this.fail(run, error);
    }
  }

  /** The handler settled: its answer joins the batch's. */
  private finish(run: Running, hresult: number, message: string): void {
    this.forget(run);
    answer({ dispatcher: this, run, hresult, message });
  }

  private fail(run: Running, error: unknown): void {
    const f = failureOf(error);
    this.finish(run, f.hresult, f.message);
  }

  /** Logs how an answer fared: `accepted` false when its call had settled before. */
  answered(a: Answer, accepted: boolean, now: number, infoEnabled: (logger: Logger) => boolean): void {
    const { logger } = this.target;
    const { event } = a.run;
    const durationMs = Math.round(now - a.run.started);
    if (accepted) this.publish(a.run, a.hresult === 0 ? 'succeeded' : 'failed', now - a.run.started, a.hresult, a.message);
    if (!accepted) {
      if (this.closedReason !== undefined) {
        logger.debug(`${event} settled after the dispatcher closed (${this.closedReason}); ignored`, this.meta(a.run));
        return;
      }
      logger.warn(`${event} settled after its deadline (${durationMs} ms); the answer was ignored`, { ...this.meta(a.run), durationMs });
    } else if (a.hresult !== 0) {
      // A warning, not an error: the requester hears of the failure and reports it.
      logger.warn(`${event} failed: ${a.message}`, { ...this.meta(a.run), durationMs });
    } else if (infoEnabled(logger)) {
      logger.info(`${event} succeeded`, { ...this.meta(a.run), durationMs });
    }
  }

  private publish(run: Running, outcome: WriterEventMessage['outcome'], durationMs: number, hresult: number, message: string): void {
    const writer = this.target.writer;
    if (writer === undefined) return;
    publish.writerEvent(() => ({
      writer: writer.name,
      instanceName: writer.instanceName,
      event: run.event,
      snapshotSetId: run.snapshotSetId,
      outcome,
      ...(hresult !== 0 && { code: describeHresult(hresult).code, message }),
      durationMs,
    }));
  }

  private meta(run: Running): { writer: string; event: string; snapshotSetId: string } {
    return { writer: this.target.label, event: run.event, snapshotSetId: run.snapshotSetId };
  }

  /** Makes sure the deadline timer fires by `deadlineAt`. */
  private watch(deadlineAt: number): void {
    if (this.timer === undefined || deadlineAt < this.armedAt) {
      clearTimeout(this.timer);
      this.armedAt = deadlineAt;
      this.timer = setTimeout(() => this.expireDue(), Math.max(0, deadlineAt - performance.now()));
    }
  }

  private forget(run: Running): void {
    const i = this.running.indexOf(run);
    if (i < 0) return; // expired or closed meanwhile
    const last = this.running.pop()!;
    if (i < this.running.length) this.running[i] = last;
  }

  private expireDue(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const due = this.running.filter((run) => run.deadlineAt <= now);
    if (due.length > 0) this.running = this.running.filter((run) => run.deadlineAt > now);
    for (const run of this.running) next = Math.min(next, run.deadlineAt);
    for (const run of due) {
      this.native.expire(run.callId);
      abortRun(run, new HandlerTimeoutError(run.event, run.remainingMs));
      this.publish(run, 'timedOut', now - run.started, hresultOf('VSS_E_WRITERERROR_TIMEOUT'), `the handler did not settle within ${Math.round(run.remainingMs)} ms`);
      this.target.logger.warn(`${run.event} timed out after ${Math.round(run.remainingMs)} ms: answered VSS_E_WRITERERROR_TIMEOUT`, this.meta(run));
    }
    if (next !== Infinity) this.watch(next);
  }
}
