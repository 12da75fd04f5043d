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

/** A native dispatcher wired to `target`, plus the set of handlers still running. */
export class JsDispatcher {
  readonly native: NativeDispatcher;
  private readonly running = new Map<number, { controller: AbortController; timer: NodeJS.Timeout }>();
  private closedReason: string | undefined;

  constructor(private readonly target: DispatchTarget) {
    this.native = new (native().Dispatcher)(target.label, (callId, ctx, remainingMs) =>
      this.route(callId, ctx, remainingMs),
    );
  }

  /** Releases every waiting native thread with a failure and aborts running handlers. */
  close(reason: string): void {
    this.closedReason = reason;
    this.native.close(reason);
    for (const { controller, timer } of this.running.values()) {
      clearTimeout(timer);
      controller.abort(new Error(reason));
    }
    this.running.clear();
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
    const controller = new AbortController();
    const timer = setTimeout(() => {
      this.running.delete(callId);
      this.native.expire(callId);
      controller.abort(new HandlerTimeoutError(raw.event, remainingMs));
      logger.error(`${raw.event} timed out after ${Math.round(remainingMs)} ms: answered VSS_E_WRITERERROR_TIMEOUT`, meta);
    }, Math.ceil(remainingMs)); // never before the native deadline
    this.running.set(callId, { controller, timer });

    const finish = (hresult: number, message: string): void => {
      clearTimeout(timer);
      this.running.delete(callId);
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
        return controller.signal;
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
}
