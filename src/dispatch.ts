/**
 * The JS half of the dispatcher (native/dispatcher.h): runs the handler for each event the
 * native side posts and answers exactly once. A handler may return, return a Promise, or
 * throw. At the deadline the handler's signal fires and the event fails with
 * VSS_E_WRITERERROR_TIMEOUT; whatever the handler does later is logged and ignored.
 */
import { WriterFailure } from './errors.js';
import { hresultOf } from './hresult.js';
import type { Logger } from './logger.js';
import { native, type NativeDispatcher, type NativeEventContext } from './native.js';

export class HandlerTimeoutError extends Error {
  constructor(event: string, timeoutMs: number) {
    super(`the ${event} handler did not settle within ${Math.round(timeoutMs)} ms`);
    this.name = 'TimeoutError';
  }
}

export interface DispatchTarget {
  /** Who answers, for logs: e.g. writer "orders-db". */
  readonly label: string;
  readonly logger: Logger;
  /**
   * The handler for an event, or undefined to succeed at once. It receives the native
   * context, extendContext's fields, `deadline` and `signal`: the target types it.
   */
  handler(event: string): ((ctx: never) => unknown) | undefined;
  /** Extra fields for the handler's context. */
  extendContext?(ctx: NativeEventContext): object;
  /**
   * The events `handler` answers. The others are answered natively, at once, without the JS
   * thread: they succeed even while the event loop is blocked. Absent: every event reaches JS.
   */
  readonly handledEvents?: readonly string[];
}

const retryable = hresultOf('VSS_E_WRITERERROR_RETRYABLE');

function failureOf(error: unknown): { hresult: number; message: string } {
  if (error instanceof WriterFailure) return { hresult: error.hresult, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { hresult: retryable, message };
}

/**
 * Whether `level` gets through the logger. Winston does its filtering after building and
 * writing each entry, which costs microseconds on every event; a logger without
 * isLevelEnabled is always called.
 */
function enabled(logger: Logger, level: string): boolean {
  return (logger as Partial<Pick<Logger, 'isLevelEnabled'>>).isLevelEnabled?.(level) ?? true;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** A handler that has not settled yet. */
interface Running {
  readonly event: string;
  readonly meta: { writer: string; event: string; snapshotSetId: string };
  readonly remainingMs: number;
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

/** A native dispatcher wired to `target`, plus the set of handlers still running. */
export class JsDispatcher {
  readonly native: NativeDispatcher;
  private readonly running = new Map<number, Running>();
  private closedReason: string | undefined;
  /**
   * One deadline timer for all running handlers, armed for the earliest deadline it knows of
   * (armedAt): a setTimeout per event cost more than the rest of the JS side of a round trip.
   * It is left armed when the last handler settles, unref'd, and re-armed only for an earlier
   * deadline; when it fires it expires what is due and re-arms for the next.
   */
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;

  constructor(private readonly target: DispatchTarget) {
    this.native = new (native().Dispatcher)(
      target.label,
      (callId, event, snapshotSetId, backupType, volumes, components, remainingMs) =>
        this.route(callId, { event, snapshotSetId, backupType, volumes, components }, remainingMs),
      target.handledEvents,
    );
  }

  /** Releases every waiting native thread with a failure and aborts running handlers. */
  close(reason: string): void {
    this.closedReason = reason;
    this.native.close(reason);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
    const running = [...this.running.values()];
    this.running.clear();
    for (const run of running) abortRun(run, new Error(reason));
  }

  private route(callId: number, raw: NativeEventContext, remainingMs: number): void {
    const { label, logger } = this.target;
    const meta = { writer: label, event: raw.event, snapshotSetId: raw.snapshotSetId };
    if (remainingMs <= 0) {
      // The event loop was blocked until after the deadline: VSS already has its answer.
      this.native.expire(callId);
      logger.warn(`${raw.event} handler not run: the event reached JS ${Math.round(-remainingMs)} ms after its deadline (was the event loop blocked?)`, meta);
      return;
    }
    const handler = this.target.handler(raw.event);
    if (handler === undefined) {
      this.native.settle(callId, 0, '');
      if (enabled(logger, 'debug')) logger.debug(`${raw.event}: no handler`, meta);
      return;
    }
    const started = performance.now();
    const run: Running = {
      event: raw.event,
      meta,
      remainingMs,
      // Never before the native deadline: the native side answers VSS at its own.
      deadlineAt: started + Math.ceil(remainingMs),
      controller: undefined,
      abortedWith: undefined,
    };
    this.running.set(callId, run);
    this.watch(run.deadlineAt);

    const finish = (hresult: number, message: string): void => {
      if (this.running.get(callId) === run) this.forget(callId);
      const durationMs = Math.round(performance.now() - started);
      if (!this.native.settle(callId, hresult, message)) {
        if (this.closedReason !== undefined) {
          logger.debug(`${raw.event} settled after the dispatcher closed (${this.closedReason}); ignored`, meta);
          return;
        }
        logger.warn(`${raw.event} settled after its deadline (${durationMs} ms); the answer was ignored`, { ...meta, durationMs });
      } else if (hresult === 0) {
        if (enabled(logger, 'info')) logger.info(`${raw.event} succeeded`, { ...meta, durationMs });
      } else {
        logger.error(`${raw.event} failed: ${message}`, { ...meta, durationMs });
      }
    };
    // Fields named one by one and the signal made on first read: on the round trip of every
    // event, spreading `raw` and building an AbortSignal nobody reads cost more than the
    // native hop itself (docs/PERFORMANCE.md). An abort before the first read still shows.
    const ctx = {
      event: raw.event,
      snapshotSetId: raw.snapshotSetId,
      backupType: raw.backupType,
      volumes: raw.volumes,
      components: raw.components,
      ...this.target.extendContext?.(raw),
      deadline: Date.now() + remainingMs,
      get signal(): AbortSignal {
        return signalOf(run);
      },
    };
    try {
      const result = (handler as (ctx: object) => unknown)(ctx);
      if (isThenable(result)) {
        result.then(
          () => finish(0, ''),
          (error: unknown) => {
            const f = failureOf(error);
            finish(f.hresult, f.message);
          },
        );
      } else {
        finish(0, '');
      }
    } catch (error) {
      const f = failureOf(error);
      finish(f.hresult, f.message);
    }
  }

  /** Makes sure the deadline timer fires by `deadlineAt` and keeps the process alive. */
  private watch(deadlineAt: number): void {
    if (this.timer === undefined || deadlineAt < this.armedAt) {
      clearTimeout(this.timer);
      this.armedAt = deadlineAt;
      this.timer = setTimeout(() => this.expireDue(), Math.max(0, deadlineAt - performance.now()));
    } else if (this.running.size === 1) {
      this.timer.ref(); // it was unref'd when the last handler settled
    }
  }

  private forget(callId: number): void {
    this.running.delete(callId);
    // An armed timer with nothing to expire must not keep the process alive.
    if (this.running.size === 0) this.timer?.unref();
  }

  private expireDue(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [callId, run] of this.running) {
      if (run.deadlineAt > now) {
        next = Math.min(next, run.deadlineAt);
        continue;
      }
      this.running.delete(callId);
      this.native.expire(callId);
      abortRun(run, new HandlerTimeoutError(run.event, run.remainingMs));
      this.target.logger.error(`${run.event} timed out after ${Math.round(run.remainingMs)} ms: answered VSS_E_WRITERERROR_TIMEOUT`, run.meta);
    }
    if (next !== Infinity) this.watch(next);
  }
}
