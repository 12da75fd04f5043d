/**
 * WriteGate: the one door an application's writes pass through, so that a freeze can stop new
 * writes, wait for the ones in flight, flush the stores, and let the held writes through, in
 * order, at thaw. It never stays closed: thaw, abort, a failed or cancelled freeze and, as a
 * last resort, its own watchdog (maxFrozenMs) reopen it.
 *
 * Before the freeze, while writes still flow, prepare() runs each store's preparation (at
 * prepareSnapshot through the writer binding): the slow part of a flush, such as a WAL
 * checkpoint or an fsync of everything written, so that the store's freeze only does what
 * changed since and the writes are held for that alone.
 *
 * The order of a freeze: stop admitting writes -> drain the writes in flight (drain deadline)
 * -> wait for a preparation still running (told to stop) -> freeze each store in order ->
 * frozen. The order of a thaw is the reverse: thaw each store in reverse order -> admit the
 * held writes in the order they arrived -> open.
 *
 * A failed drain does not leave the gate half-closed: it reopens the gate (the held writes run)
 * and rejects freeze() with a GateError whose code is VSS_E_WRITERERROR_RETRYABLE, so a freeze
 * handler that lets it through vetoes the snapshot set, which is what VSS expects from a writer
 * that could not reach a consistent state in time.
 */
import { performance } from 'node:perf_hooks';
import { WriterFailure } from '../errors.js';
import { publish, type GateFreezeMessage } from '../diagnostics.js';
import { getDefaultLogger, isEnabled, type Logger } from '../logger.js';
import {
  gateFreezeOptionsSchema,
  gatePrepareOptionsSchema,
  parseOptions,
  writeGateOptionsSchema,
  type GateFreezeOptions,
  type GatePrepareOptions,
  type Handler,
  type ParsedWriterOptions,
  type WriteGateOptions,
} from '../schemas.js';
import type { WriterEventContext } from '../types.js';

export type { GateFreezeOptions, GatePrepareOptions, WriteGateOptions } from '../schemas.js';

/** open: writes run at once. draining: new writes wait, the ones in flight finish. frozen: writes wait. */
export type GateState = 'open' | 'draining' | 'frozen';

/** What a store adapter's freeze receives. */
export interface StoreFreezeContext {
  /** Fires when the freeze is given up (thaw, watchdog, cancel): stop and return. */
  readonly signal: AbortSignal;
}

/** What a store adapter's preparation receives. */
export interface StorePrepareContext {
  /** Fires when the preparation should stop: a freeze began, or the caller's signal fired. */
  readonly signal: AbortSignal;
}

/**
 * A store the gate flushes at freeze, once the application's writes have drained, and releases
 * at thaw (see src/gate/adapters/ and docs/QUIESCE.md). thaw must not wait: it runs on the way to
 * reopening the gate, also from the watchdog.
 */
export interface StoreAdapter {
  readonly name: string;
  /**
   * Optional: the slow part of the flush, run before the freeze while writes still flow (a
   * WAL checkpoint, an fsync of what was written), so that freeze only does what changed
   * since. freeze must still be complete on its own: a freeze may come without a preparation,
   * or after one that stopped early or failed.
   */
  prepare?(ctx: StorePrepareContext): unknown;
  freeze(ctx: StoreFreezeContext): unknown;
  /** Also called when a freeze is given up while this store's freeze still runs. */
  thaw(): void;
}

/**
 * How one freeze went, from freeze() to the thaw that ended it.
 *
 * Two clocks, each for what it is good at. startedAt and endedAt are the wall clock
 * (Date.now()), to compare with logs and with other processes' times; the wall clock can be
 * stepped or slewed, so their difference is not a duration. The durations (drainMs, heldMs,
 * longestHoldMs) and startedAtMonotonic come from this process's monotonic clock
 * (performance.now()): never negative, and the clock to order the gate's start against
 * other performance.now() reads in this process (what ran before the freeze, what after).
 */
export interface FreezeReport {
  /** Increases with each freeze of this gate; freeze() resolves with it. */
  readonly id: number;
  /** Epoch milliseconds, Date.now() when freeze() was called. */
  readonly startedAt: number;
  /** Epoch milliseconds, Date.now() when the gate reopened. */
  readonly endedAt: number;
  /**
   * performance.now() when freeze() was called (this process's monotonic clock, milliseconds
   * since performance.timeOrigin). A write whose function started at or before it ran before
   * the gate closed; one started after it ran once the gate had reopened, at or after
   * startedAtMonotonic + heldMs.
   */
  readonly startedAtMonotonic: number;
  /** How long the writes in flight took to finish; null if the freeze ended before they did. */
  readonly drainMs: number | null;
  /** freeze() to reopening: how long new writes were held (the monotonic clock). */
  readonly heldMs: number;
  /** Writes that arrived while the gate was closed and ran at the end. */
  readonly heldWrites: number;
  readonly longestHoldMs: number;
  /** Whether the gate reached the frozen state (drained and stores flushed). */
  readonly reachedFrozen: boolean;
  /** Who reopened it: 'thaw', 'abort', 'backupShutdown', 'timeout', 'unsubscribe', 'watchdog', 'freezeFailed', ... */
  readonly endedBy: string;
}

export interface WriteGateStats {
  readonly state: GateState;
  readonly inFlight: number;
  /** Writes waiting now. */
  readonly queued: number;
  /** Freezes that reached the frozen state. */
  readonly freezes: number;
  /** Freezes that failed: drain deadline, a store's freeze, cancel, or thawed before frozen. */
  readonly failedFreezes: number;
  /** Freezes the watchdog ended. */
  readonly watchdogThaws: number;
  /** Writes ever held, and the longest any of them waited. */
  readonly heldWrites: number;
  readonly longestHoldMs: number;
  /** Time spent closed (draining or frozen), in total and in the longest freeze. */
  readonly frozenMs: number;
  readonly longestFreezeMs: number;
}

/** Why a freeze failed: `reason` says which rule. Its code is VSS_E_WRITERERROR_RETRYABLE. */
export class GateError extends WriterFailure {
  constructor(
    readonly reason: 'drainTimeout' | 'interrupted' | 'busy',
    message: string,
  ) {
    super('VSS_E_WRITERERROR_RETRYABLE', message);
    this.name = 'GateError';
  }
}

interface Held {
  readonly fn: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly since: number;
}

interface Freeze {
  readonly id: number;
  /** performance.now() at the start: every duration of the freeze counts from it. */
  readonly started: number;
  /**
   * Date.now() at the start, for the report's startedAt. Not performance.timeOrigin plus
   * `started`: timeOrigin is read once, at the process's start, and the monotonic clock is
   * not adjusted as the wall clock is, so in a long-lived process that sum drifts from the
   * time of day (a CI run of the gate tests saw 17 ms).
   */
  readonly startedAt: number;
  readonly controller: AbortController;
  /** Rejects when the freeze is given up; every wait of the freeze races it. */
  readonly interrupted: Promise<never>;
  readonly interrupt: (error: GateError) => void;
  readonly watchdog: NodeJS.Timeout;
  readonly stores: StoreAdapter[];
  drainMs: number | null;
  /** Set while freeze() waits for the writes in flight. */
  drained?: () => void;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export class WriteGate {
  readonly name: string;
  readonly maxFrozenMs: number;
  readonly drainTimeoutMs: number;
  private readonly stores: readonly StoreAdapter[];
  private readonly logger: Logger;
  private phase: GateState = 'open';
  private inFlight = 0;
  private queue: Held[] = [];
  private current: Freeze | undefined;
  /** The preparation running now: a freeze stops it and waits for it before it flushes. */
  private preparing: { readonly done: Promise<unknown>; readonly controller: AbortController } | undefined;
  private last: FreezeReport | undefined;
  private nextId = 1;
  private totals = { freezes: 0, failedFreezes: 0, watchdogThaws: 0, heldWrites: 0, longestHoldMs: 0, frozenMs: 0, longestFreezeMs: 0 };
  // Bound once: run() on an open gate allocates nothing but the reaction that counts the write.
  private readonly settled = (): void => this.settle();

  constructor(options: WriteGateOptions = {}) {
    const o = parseOptions(writeGateOptionsSchema, options, 'WriteGate options');
    this.name = o.name;
    this.maxFrozenMs = o.maxFrozenMs;
    this.drainTimeoutMs = o.drainTimeoutMs;
    this.stores = o.stores;
    this.logger = o.logger ?? getDefaultLogger();
  }

  get state(): GateState {
    return this.phase;
  }

  /** The last freeze that ended; undefined before the first. */
  get lastFreeze(): FreezeReport | undefined {
    return this.last;
  }

  /**
   * Runs `fn` now if the gate is open, else when it reopens, after the writes that were held
   * before it. Resolves or rejects with fn's outcome; an error in fn leaves the gate as it was.
   */
  run<T>(fn: () => T | PromiseLike<T>): Promise<Awaited<T>> {
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`WriteGate.run: fn must be a function; got ${typeof fn}`));
    }
    if (this.phase === 'open') return this.start(fn) as Promise<Awaited<T>>;
    return new Promise((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject, since: performance.now() });
    });
  }

  /** Whether a store has a preparation step (prepare() has something to do). */
  get prepares(): boolean {
    return this.stores.some((s) => typeof s.prepare === 'function');
  }

  /**
   * Runs each store's preparation in order, with the gate open and writes flowing, so that
   * the next freeze holds writes only for what changed since. Resolves when every store is
   * prepared; rejects with the first store's error (the stores after it are not prepared,
   * and their freeze does the whole flush). A freeze that begins meanwhile tells the stores to
   * stop and waits for them before flushing. Refused while the gate is closed or another
   * preparation runs.
   */
  async prepare(options: GatePrepareOptions = {}): Promise<void> {
    const opts = parseOptions(gatePrepareOptionsSchema, options, 'WriteGate.prepare options');
    if (this.phase !== 'open' || this.preparing) {
      throw new GateError('busy', `write gate "${this.name}" is ${this.preparing ? 'already preparing' : this.phase}: prepare before the freeze, one at a time`);
    }
    opts.signal?.throwIfAborted();
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = this.prepareStores(controller.signal);
    const preparing = { done: done.catch(() => undefined), controller };
    this.preparing = preparing;
    try {
      await done;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      if (this.preparing === preparing) this.preparing = undefined;
    }
  }

  private async prepareStores(signal: AbortSignal): Promise<void> {
    for (const store of this.stores) {
      if (signal.aborted) return;
      if (typeof store.prepare !== 'function') continue;
      const started = performance.now();
      await store.prepare({ signal });
      this.logger.debug(`write gate "${this.name}": store "${store.name}" prepared in ${Math.round(performance.now() - started)} ms`);
    }
  }

  /**
   * Stops admitting writes, waits for those in flight (at most drainTimeoutMs), then freezes
   * the stores. Resolves with the freeze's id once frozen. On failure the gate is open again
   * and the promise rejects: a GateError (drain deadline, interrupted, already closed), the
   * store's error, or the signal's reason.
   */
  freeze(options: GateFreezeOptions = {}): Promise<number> {
    let opts;
    try {
      opts = parseOptions(gateFreezeOptionsSchema, options, 'WriteGate.freeze options');
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.phase !== 'open') {
      return Promise.reject(
        new GateError('busy', `write gate "${this.name}" is already ${this.phase}: one freeze at a time (use one gate per writer)`),
      );
    }
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
    const freeze = this.begin();
    const onAbort = (): void => {
      if (this.current === freeze && this.phase === 'draining') this.open('cancelled');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const published = (outcome: GateFreezeMessage['outcome'], error?: unknown): void =>
      publish.gateFreeze(() => ({
        gate: this.name,
        freezeId: freeze.id,
        outcome,
        drainMs: freeze.drainMs,
        durationMs: performance.now() - freeze.started,
        ...(error !== undefined && { error: error instanceof Error ? error.message : String(error) }),
      }));
    return this.quiesce(freeze, opts.drainTimeoutMs ?? this.drainTimeoutMs).then(
      () => {
        opts.signal?.removeEventListener('abort', onAbort);
        published('frozen');
        return freeze.id;
      },
      (error: unknown) => {
        opts.signal?.removeEventListener('abort', onAbort);
        published('failed', error);
        this.totals.failedFreezes++;
        if (this.current === freeze) this.open('freezeFailed');
        throw opts.signal?.aborted ? opts.signal.reason : error;
      },
    );
  }

  /**
   * Reopens the gate: thaws the stores in reverse order, then runs the held writes in arrival
   * order. Returns the report of the freeze it ended, or undefined if the gate was open (a
   * second thaw or abort is harmless). A freeze still draining rejects.
   */
  thaw(reason: string = 'thaw'): FreezeReport | undefined {
    return this.open(String(reason));
  }

  stats(): WriteGateStats {
    const closedMs = this.current ? performance.now() - this.current.started : 0;
    return {
      state: this.phase,
      inFlight: this.inFlight,
      queued: this.queue.length,
      ...this.totals,
      frozenMs: this.totals.frozenMs + closedMs,
      longestFreezeMs: Math.max(this.totals.longestFreezeMs, closedMs),
    };
  }

  private start(fn: () => unknown): Promise<unknown> {
    this.inFlight++;
    let result: unknown;
    try {
      result = fn();
    } catch (error) {
      this.settle();
      return Promise.reject(error);
    }
    if (!isThenable(result)) {
      this.settle();
      return Promise.resolve(result);
    }
    // The caller gets fn's own promise, not one chained to it: a chained promise costs the
    // caller an extra turn of the microtask queue on every write. The gate's reaction is
    // registered first, so the write is counted out before the caller's await resumes.
    const promise = Promise.resolve(result);
    promise.then(this.settled, this.settled);
    return promise;
  }

  private settle(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.current?.drained?.();
  }

  private begin(): Freeze {
    let interrupt!: (error: GateError) => void;
    const interrupted = new Promise<never>((_, reject) => {
      interrupt = reject;
    });
    interrupted.catch(() => undefined); // nobody awaits it once the freeze is done
    const freeze: Freeze = {
      id: this.nextId++,
      started: performance.now(),
      startedAt: Date.now(),
      controller: new AbortController(),
      interrupted,
      interrupt,
      watchdog: setTimeout(() => this.watchdogFired(freeze), this.maxFrozenMs),
      stores: [],
      drainMs: null,
    };
    this.current = freeze;
    this.phase = 'draining';
    this.preparing?.controller.abort(new GateError('interrupted', `write gate "${this.name}" began a freeze`));
    return freeze;
  }

  private async quiesce(freeze: Freeze, drainTimeoutMs: number): Promise<void> {
    // A thaw can land between a wait's end and the code after it: look before each step.
    const stillCurrent = (): Promise<void> | undefined => (this.current === freeze ? undefined : freeze.interrupted);
    await Promise.race([this.drain(freeze, drainTimeoutMs), freeze.interrupted]);
    await stillCurrent();
    freeze.drainMs = performance.now() - freeze.started;
    const preparing = this.preparing;
    if (preparing) {
      // A store must not flush while its own preparation still runs: told to stop at begin().
      await Promise.race([preparing.done, freeze.interrupted]);
    }
    for (const store of this.stores) {
      await stillCurrent();
      try {
        await Promise.race([store.freeze({ signal: freeze.controller.signal }), freeze.interrupted]);
      } catch (error) {
        // Given up while this store froze: release it too (its signal has fired).
        if (this.current !== freeze) this.thawStore(store);
        throw error;
      }
      if (this.current !== freeze) this.thawStore(store);
      await stillCurrent();
      freeze.stores.push(store);
    }
    await stillCurrent();
    this.phase = 'frozen';
    this.totals.freezes++;
  }

  private drain(freeze: Freeze, timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        freeze.drained = undefined;
        reject(
          new GateError(
            'drainTimeout',
            `write gate "${this.name}": ${this.inFlight} write(s) still in flight after the drain deadline of ${timeoutMs} ms; the gate reopened`,
          ),
        );
      }, timeoutMs);
      freeze.drained = () => {
        clearTimeout(timer);
        freeze.drained = undefined;
        resolve();
      };
      // An interrupted freeze stops waiting: its timer must not outlive it.
      freeze.interrupted.catch(() => clearTimeout(timer));
    });
  }

  private watchdogFired(freeze: Freeze): void {
    if (this.current !== freeze) return;
    this.totals.watchdogThaws++;
    this.logger.error(
      `write gate "${this.name}" stayed closed for ${this.maxFrozenMs} ms (maxFrozenMs) and neither thaw nor abort came: ` +
        'reopening it now. A snapshot taken after this point may hold writes from after the freeze.',
      { gate: this.name, queued: this.queue.length, inFlight: this.inFlight },
    );
    this.open('watchdog');
  }

  private thawStore(store: StoreAdapter): void {
    try {
      store.thaw();
    } catch (error) {
      this.logger.error(`write gate "${this.name}": store "${store.name}" failed to thaw: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private open(reason: string): FreezeReport | undefined {
    const freeze = this.current;
    if (freeze === undefined) return undefined;
    const reachedFrozen = this.phase === 'frozen';
    this.current = undefined;
    this.phase = 'open';
    clearTimeout(freeze.watchdog);
    freeze.drained = undefined;
    freeze.interrupt(new GateError('interrupted', `write gate "${this.name}" was reopened (${reason}) before it was frozen`));
    freeze.controller.abort(new GateError('interrupted', `write gate "${this.name}" was reopened (${reason})`));
    for (let i = freeze.stores.length - 1; i >= 0; i--) this.thawStore(freeze.stores[i]!);

    const now = performance.now();
    const endedAt = Date.now();
    const held = this.queue;
    this.queue = [];
    let longestHoldMs = 0;
    for (let i = 0; i < held.length; i++) {
      if (this.phase !== 'open') {
        // A held write froze the gate again: the rest keep their place at the head of the line.
        this.queue = held.slice(i).concat(this.queue);
        break;
      }
      const h = held[i]!;
      longestHoldMs = Math.max(longestHoldMs, now - h.since);
      this.start(h.fn).then(h.resolve, h.reject);
    }
    const heldMs = now - freeze.started;
    const report: FreezeReport = {
      id: freeze.id,
      startedAt: freeze.startedAt,
      endedAt,
      startedAtMonotonic: freeze.started,
      drainMs: freeze.drainMs,
      heldMs,
      heldWrites: held.length,
      longestHoldMs,
      reachedFrozen,
      endedBy: reason,
    };
    const t = this.totals;
    t.heldWrites += held.length;
    t.longestHoldMs = Math.max(t.longestHoldMs, longestHoldMs);
    t.frozenMs += heldMs;
    t.longestFreezeMs = Math.max(t.longestFreezeMs, heldMs);
    this.last = report;
    publish.gateThaw(() => ({ gate: this.name, ...report }));
    if (isEnabled(this.logger, 'info')) {
      this.logger.info(`write gate "${this.name}" reopened (${reason})`, {
        gate: this.name,
        heldMs: Math.round(heldMs),
        heldWrites: held.length,
      });
    }
    return report;
  }
}

type Handlers = ParsedWriterOptions['handlers'];

/**
 * A writer's handlers with `gate` bound to its events. PrepareSnapshot runs the stores'
 * preparation (if any store has one) before the writer's own handler, while writes flow. Freeze closes the gate first (new writes
 * stop, those in flight finish, the stores flush), then the writer's own freeze handler runs on
 * a quiet store. Thaw and abort run the writer's handler first, then reopen the gate, whatever
 * the handler did, also when it times out. BackupShutdown reopens it before the writer's
 * handler runs: no snapshot is in progress then, so nothing may hold the app's writes, not even
 * for the moment a hung thaw or abort handler's deadline takes to reach the JS thread. If the
 * watchdog reopened the gate before thaw came, thaw fails with VSS_E_WRITERERROR_TIMEOUT: the
 * snapshot may hold writes from after the freeze, and the requester must not keep it.
 */
export function bindGate(gate: WriteGate, handlers: Handlers): Handlers {
  let frozenId: number | undefined;

  const reopenOnTimeout = (ctx: WriterEventContext, reason: string): (() => void) => {
    const onAbort = (): void => void gate.thaw(reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    return () => ctx.signal.removeEventListener('abort', onAbort);
  };

  const thenReopen =
    (event: 'thaw' | 'abort'): Handler =>
    async (ctx) => {
      const done = reopenOnTimeout(ctx, 'timeout');
      try {
        await handlers[event]?.(ctx);
      } finally {
        done();
        gate.thaw(event);
      }
    };

  return {
    ...handlers,
    // Only for stores with a preparation: a gate without one adds no event to the JS thread.
    ...(gate.prepares && {
      prepareSnapshot: async (ctx: WriterEventContext) => {
        await gate.prepare({ signal: ctx.signal });
        await handlers.prepareSnapshot?.(ctx);
      },
    }),
    freeze: async (ctx) => {
      frozenId = undefined;
      // Half of the time left for the drain, the rest for the stores and the freeze handler.
      const budget = Math.max(1, Math.floor((ctx.deadline - Date.now()) / 2));
      const id = await gate.freeze({ drainTimeoutMs: Math.min(gate.drainTimeoutMs, budget), signal: ctx.signal });
      const done = reopenOnTimeout(ctx, 'timeout');
      try {
        await handlers.freeze?.(ctx);
      } catch (error) {
        gate.thaw('freezeFailed');
        throw error;
      } finally {
        done();
      }
      frozenId = id;
    },
    thaw: async (ctx) => {
      await thenReopen('thaw')(ctx);
      const last = gate.lastFreeze;
      const broken = frozenId !== undefined && last?.id === frozenId && last.endedBy === 'watchdog';
      frozenId = undefined;
      if (broken) {
        throw new WriterFailure(
          'VSS_E_WRITERERROR_TIMEOUT',
          `write gate "${gate.name}" reopened by its watchdog after ${gate.maxFrozenMs} ms, before thaw: writes ran inside the freeze window`,
        );
      }
    },
    abort: thenReopen('abort'),
    backupShutdown: async (ctx) => {
      gate.thaw('backupShutdown');
      await handlers.backupShutdown?.(ctx);
    },
  };
}
