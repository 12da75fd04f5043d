/**
 * The dispatcher's contract, driven the way VSS drives it: a native thread posts an event,
 * blocks until the JS handler answers or the deadline passes, and gets success or a failure
 * with a VSS writer-error code.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it, vi } from 'vitest';
import { HandlerTimeoutError, JsDispatcher } from '../src/dispatch.js';
import { channelNames, type WriterEventMessage } from '../src/diagnostics.js';
import { WriterFailure } from '../src/errors.js';
import { hresultOf } from '../src/hresult.js';
import { native, type NativeDispatchResult, type NativeEventContext } from '../src/backends/native.js';
import { blockEventLoopUntil, sleep } from './helpers/writers.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { polling, scaled } from './helpers/timing.js';

type Handler = (ctx: { signal: AbortSignal; deadline: number; event: string }) => unknown;

function dispatcherFor(handler: Handler | undefined) {
  const { logger, entries } = memoryLogger();
  const dispatcher = new JsDispatcher({ label: 'test-writer', logger, handler: () => handler });
  return { dispatcher, entries };
}

function dispatchFromThread(
  d: JsDispatcher,
  timeoutMs: number,
  event = 'freeze',
  returned?: Int32Array,
  context: Partial<NativeEventContext> = {},
): Promise<NativeDispatchResult> {
  return new Promise((resolve) =>
    native().testing.dispatchFromThread(
      d.native,
      { event, snapshotSetId: 'set-1', backupType: 'full', volumes: ['/data'], components: [], ...context },
      timeoutMs,
      resolve,
      returned,
    ),
  );
}

/** Element 0 becomes 1 when the native caller has its answer; readable while JS is blocked. */
function returnedFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/**
 * Posts an event with a 100 ms deadline and keeps the JS thread blocked until the native caller
 * has its answer (the deadline's): the event is still on its way to JS when this returns.
 */
function postWhileBlocked(d: JsDispatcher): Promise<NativeDispatchResult> {
  const returned = returnedFlag();
  const pending = dispatchFromThread(d, 100, 'freeze', returned);
  expect(blockEventLoopUntil(() => Atomics.load(returned, 0) === 1)).toBe(true);
  return pending;
}

const signed = (code: string): number => hresultOf(code) | 0;

/**
 * Runs `body` with queueMicrotask wrapped to catch what its callbacks throw: the dispatcher
 * reports a logger's error as uncaught, from a microtask, which would fail the test run.
 */
async function catchingUncaught(body: (uncaught: unknown[]) => Promise<void>): Promise<void> {
  const uncaught: unknown[] = [];
  const real = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (callback) =>
    real(() => {
      try {
        callback();
      } catch (error) {
        uncaught.push(error);
      }
    });
  try {
    await body(uncaught);
  } finally {
    globalThis.queueMicrotask = real;
  }
}

describe('dispatcher', () => {
  it('answers success for a handler that returns synchronously', async () => {
    const { dispatcher } = dispatcherFor(() => 'ignored');
    const result = await dispatchFromThread(dispatcher, 5000);
    expect(result).toMatchObject({ outcome: 'succeeded', hresult: 0 });
    dispatcher.close('done');
  });

  it('answers success when the returned promise resolves', async () => {
    const { dispatcher } = dispatcherFor(async () => {
      await sleep(20);
    });
    expect(await dispatchFromThread(dispatcher, 5000)).toMatchObject({ outcome: 'succeeded', hresult: 0 });
    dispatcher.close('done');
  });

  it('answers success for a handler that returns a value that is not a promise, even one with a `then` field', async () => {
    for (const returned of [{ rows: 3 }, { then: 'not a function' }, null]) {
      const { dispatcher } = dispatcherFor(() => returned);
      expect(await dispatchFromThread(dispatcher, 5000)).toMatchObject({ outcome: 'succeeded', hresult: 0 });
      dispatcher.close('done');
    }
  });

  it('answers success at once when there is no handler', async () => {
    const { dispatcher } = dispatcherFor(undefined);
    expect(await dispatchFromThread(dispatcher, 5000)).toMatchObject({ outcome: 'succeeded' });
    dispatcher.close('done');
  });

  it('fails with VSS_E_WRITERERROR_RETRYABLE when the handler throws', async () => {
    const { dispatcher } = dispatcherFor(() => {
      throw new Error('disk on fire');
    });
    const result = await dispatchFromThread(dispatcher, 5000);
    expect(result).toMatchObject({ outcome: 'failed', hresult: signed('VSS_E_WRITERERROR_RETRYABLE'), message: 'disk on fire' });
    dispatcher.close('done');
  });

  it('fails with the code of a rejected WriterFailure', async () => {
    const { dispatcher } = dispatcherFor(async () => {
      throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', 'corrupt journal');
    });
    const result = await dispatchFromThread(dispatcher, 5000);
    expect(result).toMatchObject({ outcome: 'failed', hresult: signed('VSS_E_WRITERERROR_NONRETRYABLE'), message: 'corrupt journal' });
    dispatcher.close('done');
  });

  it('fails with a non-Error rejection too', async () => {
    const { dispatcher } = dispatcherFor(() => Promise.reject('plain string'));
    expect(await dispatchFromThread(dispatcher, 5000)).toMatchObject({ outcome: 'failed', message: 'plain string' });
    dispatcher.close('done');
  });

  it('times out a hanging handler, fires its signal, and ignores its late answer', async () => {
    let signal: AbortSignal | undefined;
    let settleLate: (() => void) | undefined;
    const { dispatcher, entries } = dispatcherFor(
      (ctx) =>
        new Promise<void>((resolve) => {
          signal = ctx.signal;
          settleLate = resolve;
        }),
    );
    const result = await dispatchFromThread(dispatcher, 100);
    expect(result).toMatchObject({ outcome: 'timedOut', hresult: signed('VSS_E_WRITERERROR_TIMEOUT') });
    await vi.waitFor(() => expect(signal?.aborted).toBe(true), polling);
    expect((signal?.reason as Error).name).toBe('TimeoutError');
    settleLate?.();
    await vi.waitFor(() => expect(entries.some((e) => /settled after its deadline/.test(e.message))).toBe(true), polling);
    const late = entries.find((e) => /settled after its deadline/.test(e.message))!;
    expect(late).toMatchObject({ level: 'warn', writer: 'test-writer', event: 'freeze', snapshotSetId: 'set-1' });
    expect(late.message).toBe(`freeze settled after its deadline (${String(late['durationMs'])} ms); the answer was ignored`);
    expect(late['durationMs']).toBeGreaterThanOrEqual(0);
    dispatcher.close('done');
  });

  it('gives the handler its deadline', async () => {
    let deadline = 0;
    const before = Date.now();
    const { dispatcher } = dispatcherFor((ctx) => {
      deadline = ctx.deadline;
    });
    await dispatchFromThread(dispatcher, 10_000);
    expect(deadline).toBeGreaterThan(before + 5_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 10_000);
    dispatcher.close('done');
  });

  it('releases the native caller at the deadline while the event loop is blocked, and never runs the handler late', async () => {
    let ran = false;
    const { dispatcher, entries } = dispatcherFor(() => {
      ran = true;
    });
    // The event loop stays blocked until the native caller has its answer: JS cannot give it.
    const result = await postWhileBlocked(dispatcher);
    expect(result.outcome).toBe('timedOut');
    // Once the late event reached JS (it logs that it did not run the handler), it never runs.
    await vi.waitFor(() => expect(entries.some((e) => /handler not run/.test(e.message))).toBe(true), polling);
    expect(entries.find((e) => /handler not run/.test(e.message))).toMatchObject({
      level: 'warn',
      message: expect.stringMatching(/^freeze handler not run: the event reached JS \d+ ms after its deadline \(was the event loop blocked\?\)$/),
      writer: 'test-writer',
      event: 'freeze',
      snapshotSetId: 'set-1',
    });
    expect(ran).toBe(false);
    dispatcher.close('done');
  });

  it('releases the native caller with a failure when closed while the handler runs', async () => {
    let signal: AbortSignal | undefined;
    const { dispatcher } = dispatcherFor(
      (ctx) =>
        new Promise(() => {
          signal = ctx.signal;
        }),
    );
    const pending = dispatchFromThread(dispatcher, 10_000);
    await vi.waitFor(() => expect(signal).toBeDefined(), polling); // the handler runs
    dispatcher.close('writer "test-writer" unsubscribed');
    const result = await pending;
    expect(result).toMatchObject({ outcome: 'closed', hresult: signed('VSS_E_WRITERERROR_RETRYABLE') });
    expect(result.message).toMatch(/unsubscribed/);
    expect(signal?.aborted).toBe(true);
  });

  it('drops an event still on its way to JS when the dispatcher closes, without running its handler or raising an error', async () => {
    await catchingUncaught(async (uncaught) => {
      let ran = false;
      const { dispatcher, entries } = dispatcherFor(() => {
        ran = true;
      });
      const pending = postWhileBlocked(dispatcher);
      dispatcher.close('writer "test-writer" unsubscribed'); // before JS sees the event
      expect((await pending).outcome).toBe('timedOut');
      // An event posted later reaches JS after it: by its answer, the first one was routed.
      const other = dispatcherFor(undefined).dispatcher;
      expect((await dispatchFromThread(other, 5000)).outcome).toBe('succeeded');
      other.close('done');
      expect(ran).toBe(false);
      expect(entries).toEqual([]);
      expect(uncaught).toEqual([]);
    });
  });

  it('a handler that closes its dispatcher: an event of the same batch behind it is not run, and raises no error', async () => {
    await catchingUncaught(async (uncaught) => {
      let runs = 0;
      const { logger } = memoryLogger();
      const dispatcher = new JsDispatcher({
        label: 'test-writer',
        logger,
        handler: () => () => {
          runs++;
          dispatcher.close('writer "test-writer" unsubscribed');
        },
      });
      const pending = [dispatchFromThread(dispatcher, 10_000, 'freeze'), dispatchFromThread(dispatcher, 10_000, 'freeze')];
      // Keep JS blocked until a third event's short deadline has passed: by then both events
      // wait for JS, and reach it in one batch (the third, answered already, is left out).
      const marker = dispatcherFor(undefined).dispatcher;
      const markerAnswer = postWhileBlocked(marker);
      expect((await Promise.all(pending)).map((r) => r.outcome)).toEqual(['closed', 'closed']);
      expect((await markerAnswer).outcome).toBe('timedOut');
      marker.close('done');
      expect(runs).toBe(1);
      expect(uncaught).toEqual([]);
    });
  });

  it('fails events posted after close at once', async () => {
    const { dispatcher } = dispatcherFor(() => undefined);
    dispatcher.close('gone');
    expect(await dispatchFromThread(dispatcher, 10_000)).toMatchObject({ outcome: 'closed', message: 'gone' });
  });

  it('answers events without a handler natively, even while the event loop is blocked', async () => {
    let frozen = 0;
    const { logger } = memoryLogger();
    const dispatcher = new JsDispatcher({
      label: 'test-writer',
      logger,
      handler: (event) => (event === 'freeze' ? () => void frozen++ : undefined),
      handledEvents: ['freeze'],
    });
    const returned = returnedFlag();
    const unhandled = dispatchFromThread(dispatcher, 10_000, 'prepareBackup', returned);
    // Answered while JS stays blocked: the event never needs the JS thread.
    expect(blockEventLoopUntil(() => Atomics.load(returned, 0) === 1)).toBe(true);
    const result = await unhandled;
    expect(result).toMatchObject({ outcome: 'succeeded', hresult: 0 });
    // A handled event still goes to its handler.
    expect(await dispatchFromThread(dispatcher, 10_000, 'freeze')).toMatchObject({ outcome: 'succeeded' });
    expect(frozen).toBe(1);
    dispatcher.close('done');
  });

  it('answers many concurrent events from many native threads, each once', async () => {
    let running = 0;
    let maxRunning = 0;
    const { dispatcher } = dispatcherFor(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(5);
      running--;
    });
    const results = await Promise.all(Array.from({ length: 50 }, () => dispatchFromThread(dispatcher, 10_000)));
    expect(results.every((r) => r.outcome === 'succeeded')).toBe(true);
    // Handlers ran concurrently: the JS thread was never blocked waiting for one.
    expect(maxRunning).toBeGreaterThan(1);
    dispatcher.close('done');
  });

  it('answers a batch of more than 64 handlers that settle together, each with its own outcome', async () => {
    // The answers go to the native side in one call per batch, through arrays made for 64;
    // a batch past that must still carry every answer and its own message.
    const count = 100;
    let started = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { logger, entries } = memoryLogger();
    const dispatcher = new JsDispatcher({
      label: 'test-writer',
      logger,
      handler: () => (ctx: { snapshotSetId: string }) => {
        started++;
        // Every handler settles on the same turn, so all their answers form one batch.
        return gate.then(() => {
          const i = Number(ctx.snapshotSetId.slice('set-'.length));
          if (i % 2 === 1) throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', `set ${i} vetoes`);
        });
      },
    });
    const pending = Array.from({ length: count }, (_, i) => dispatchFromThread(dispatcher, scaled(60_000), 'freeze', undefined, { snapshotSetId: `set-${i}` }));
    await vi.waitFor(() => expect(started).toBe(count), polling);
    release();
    const results = await Promise.all(pending);
    results.forEach((r, i) => {
      if (i % 2 === 1) {
        expect(r, `event ${i}`).toMatchObject({ outcome: 'failed', hresult: signed('VSS_E_WRITERERROR_NONRETRYABLE'), message: `set ${i} vetoes` });
      } else {
        expect(r, `event ${i}`).toMatchObject({ outcome: 'succeeded', hresult: 0 });
      }
    });
    await vi.waitFor(() => expect(entries.filter((e) => e.message === 'freeze succeeded')).toHaveLength(count / 2), polling);
    expect(entries.filter((e) => e.level === 'warn').map((e) => e.message).sort()).toEqual(
      results.flatMap((r, i) => (i % 2 === 1 ? [`freeze failed: set ${i} vetoes`] : [])).sort(),
    );
    dispatcher.close('done');
  });

  it('routes the events of many dispatchers to their own handlers, each answered with its own outcome', async () => {
    // Events posted together reach JS in one batch (native/event_queue.h): each must still go
    // to its own writer's handler once, with a context of its own, and come back as its answer.
    const runs = new Map<number, number>();
    const dispatchers = Array.from({ length: 24 }, (_, i) =>
      new JsDispatcher({
        label: `writer-${i}`,
        logger: memoryLogger().logger,
        handler: () => async (ctx: { volumes: string[] }) => {
          runs.set(i, (runs.get(i) ?? 0) + 1);
          ctx.volumes.push(`/mine-${i}`); // must not show in any other handler's context
          if (ctx.volumes.length !== 2) throw new Error(`writer ${i} saw ${ctx.volumes.join(',')}`);
          if (i % 3 === 1) throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', `writer ${i} vetoes`);
        },
      }),
    );
    const results = await Promise.all(dispatchers.map((d) => dispatchFromThread(d, 10_000)));
    results.forEach((r, i) => {
      if (i % 3 === 1) {
        expect(r).toMatchObject({ outcome: 'failed', hresult: signed('VSS_E_WRITERERROR_NONRETRYABLE'), message: `writer ${i} vetoes` });
      } else {
        expect(r.outcome).toBe('succeeded');
      }
      expect(runs.get(i)).toBe(1);
    });
    for (const d of dispatchers) d.close('done');
  });

  it('refuses malformed answers, and answers naming no call routed to JS, without settling anything', async () => {
    let release: () => void = () => {};
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    const { dispatcher } = dispatcherFor(() => {
      started();
      return new Promise<void>((resolve) => (release = resolve));
    });
    const pending = dispatchFromThread(dispatcher, 10_000);
    await running; // the handler runs: its call (the dispatcher's first, id 1) is pending
    const { settleAll } = native().Dispatcher;
    const id = dispatcher.id;
    const bad = [
      [Number.NaN, 1, 0, -1],
      [id, -1, 0, -1],
      [id, 1.5, 0, -1],
      [id, 2 ** 64, 0, -1],
      [-id, 1, 0, -1],
      [id, 1, Number.POSITIVE_INFINITY, -1],
      [id, 1, 2 ** 33, -1],
      [id, 2, 0, -1], // no such call
      [id + 1000, 1, 0, -1], // no such dispatcher
    ];
    for (const row of bad) {
      const accepted = new Uint8Array(1).fill(7);
      settleAll(Float64Array.from(row), 1, [], accepted);
      expect(accepted[0], `row ${row.join(',')}`).toBe(0);
    }
    expect(() => settleAll(new Float64Array(4), 2, [], new Uint8Array(2))).toThrow(RangeError);
    expect(() => settleAll(new Float64Array(8), 2, [], new Uint8Array(1))).toThrow(RangeError);
    expect(() => settleAll([] as unknown as Float64Array, 0, [], new Uint8Array(1))).toThrow(TypeError);
    release();
    expect((await pending).outcome).toBe('succeeded'); // still pending until its real answer
    dispatcher.close('done');
  });
});

describe('dispatcher answers, as VSS and the logs see them', () => {
  it.each([
    ['a { code, message } with a writer-error code keeps its code', { code: 'VSS_E_WRITERERROR_NONRETRYABLE', message: 'bad disk' }, 'VSS_E_WRITERERROR_NONRETRYABLE', 'bad disk'],
    ['a writer-error code with an empty message answers with the code', { code: 'VSS_E_WRITERERROR_TIMEOUT', message: '' }, 'VSS_E_WRITERERROR_TIMEOUT', 'VSS_E_WRITERERROR_TIMEOUT'],
    ['another code is retryable, the code before the message', Object.assign(new Error('no space'), { code: 'ENOSPC' }), 'VSS_E_WRITERERROR_RETRYABLE', 'ENOSPC: no space'],
    ['a code the message already names is not repeated', Object.assign(new Error('ENOSPC: no space'), { code: 'ENOSPC' }), 'VSS_E_WRITERERROR_RETRYABLE', 'ENOSPC: no space'],
    ['a plain object is shown as JSON', { reason: 'full' }, 'VSS_E_WRITERERROR_RETRYABLE', '{"reason":"full"}'],
    ['a number is shown as itself', 42, 'VSS_E_WRITERERROR_RETRYABLE', '42'],
    ['null is shown as itself', null, 'VSS_E_WRITERERROR_RETRYABLE', 'null'],
    ['a rejection without a reason says so', undefined, 'VSS_E_WRITERERROR_RETRYABLE', 'undefined'],
    ['a code that is not a name (a number) is left out', Object.assign(new Error('busy'), { code: 5 }), 'VSS_E_WRITERERROR_RETRYABLE', 'busy'],
    ['an object JSON cannot show is named by its kind', (() => { const o: Record<string, unknown> = {}; o['self'] = o; return o; })(), 'VSS_E_WRITERERROR_RETRYABLE', '[object Object]'],
    ['an object JSON shows as nothing is named by its kind', { toJSON: () => undefined }, 'VSS_E_WRITERERROR_RETRYABLE', '[object Object]'],
  ])('%s', async (_what, thrown, code, message) => {
    const { dispatcher, entries } = dispatcherFor(() => Promise.reject(thrown));
    expect(await dispatchFromThread(dispatcher, 5000)).toMatchObject({ outcome: 'failed', hresult: signed(code), message });
    await vi.waitFor(() => expect(entries.find((e) => e.level === 'warn')).toMatchObject({ message: `freeze failed: ${message}`, writer: 'test-writer', event: 'freeze', snapshotSetId: 'set-1' }), polling);
    dispatcher.close('done');
  });

  it('gives the handler the event, its snapshot set, backup type and volumes, a copy of its own', async () => {
    let seen: Record<string, unknown> | undefined;
    const { dispatcher, entries } = dispatcherFor((ctx) => {
      seen = { ...ctx, affected: (ctx as unknown as { isPathAffected(p: string): boolean }).isPathAffected('/data/x'), elsewhere: (ctx as unknown as { isPathAffected(p: string): boolean }).isPathAffected('/other') };
    });
    const before = performance.now();
    expect(await dispatchFromThread(dispatcher, 5000, 'thaw')).toMatchObject({ outcome: 'succeeded' });
    expect(seen).toMatchObject({ event: 'thaw', snapshotSetId: 'set-1', backupType: 'full', volumes: ['/data'], components: [], affected: true, elsewhere: false });
    await vi.waitFor(() => expect(entries.find((e) => e.level === 'info')).toMatchObject({ message: 'thaw succeeded', writer: 'test-writer', event: 'thaw', snapshotSetId: 'set-1' }), polling);
    const durationMs = entries.find((e) => e.level === 'info')!['durationMs'];
    expect(durationMs).toBeGreaterThanOrEqual(0);
    expect(durationMs).toBeLessThanOrEqual(Math.ceil(performance.now() - before));
    dispatcher.close('done');
  });

  it('on Windows, isPathAffected resolves a path through the addon to its volume, so a folder mounted from another volume is told apart', async () => {
    // VSS names each volume twice, by its path and its unique name; C:\SQLData is a folder
    // where another volume is mounted. Only the addon (volumeOf) knows which volume a path is on.
    const c = '\\\\?\\Volume{c0000000-0000-0000-0000-000000000000}\\';
    const sqlData = '\\\\?\\Volume{5d000000-0000-0000-0000-000000000000}\\';
    const volumeOf = (path: string): string => (path.toLowerCase().startsWith('c:\\sqldata') ? sqlData : c);
    const addon = native() as { vss?: unknown };
    const hadVss = 'vss' in addon;
    const vss = addon.vss;
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    const seen: boolean[] = [];
    const { dispatcher } = dispatcherFor((ctx) => {
      const { isPathAffected } = ctx as unknown as { isPathAffected(p: string): boolean };
      seen.push(isPathAffected.call(ctx, 'C:\\SQLData\\orders.mdf'), isPathAffected.call(ctx, 'C:\\app\\data.db'));
    });
    const onC = { volumes: ['C:\\', c] };
    try {
      Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
      addon.vss = { volumeOf };
      expect(await dispatchFromThread(dispatcher, 5000, 'freeze', undefined, onC)).toMatchObject({ outcome: 'succeeded' });
      // A 32-bit build has no resolver, only the reason it cannot work: paths compare as text.
      addon.vss = { unsupported: 'a 32-bit build' };
      expect(await dispatchFromThread(dispatcher, 5000, 'freeze', undefined, onC)).toMatchObject({ outcome: 'succeeded' });
      // Nor has an addon built without the Windows part.
      delete addon.vss;
      expect(await dispatchFromThread(dispatcher, 5000, 'freeze', undefined, onC)).toMatchObject({ outcome: 'succeeded' });
      // Elsewhere the addon is never asked, even where it has a resolver.
      Object.defineProperty(process, 'platform', platform);
      addon.vss = { volumeOf: () => { throw new Error('asked off Windows'); } };
      expect(await dispatchFromThread(dispatcher, 5000, 'freeze', undefined, onC)).toMatchObject({ outcome: 'succeeded' });
    } finally {
      Object.defineProperty(process, 'platform', platform);
      if (hadVss) addon.vss = vss;
      else delete addon.vss;
      dispatcher.close('done');
    }
    expect(seen).toEqual([false, true, true, true, true, true, true, true]);
  });

  it('logs an event without a handler at debug level', async () => {
    const { dispatcher, entries } = dispatcherFor(undefined);
    await dispatchFromThread(dispatcher, 5000, 'postSnapshot');
    await vi.waitFor(() => expect(entries.map((e) => e.message)).toContain('postSnapshot: no handler'), polling);
    dispatcher.close('done');
  });

  it('a timed-out handler: its signal says how long it had, the log says what was answered, and the channel tells', async () => {
    const messages: WriterEventMessage[] = [];
    const listener = (m: unknown): void => void messages.push(m as WriterEventMessage);
    subscribe(channelNames.writerEvent, listener);
    const before = performance.now();
    try {
      let signal: AbortSignal | undefined;
      let settleLate: () => void = () => {};
      const { logger, entries } = memoryLogger();
      const dispatcher = new JsDispatcher({
        label: 'orders (a)',
        writer: { name: 'orders', instanceName: 'a' },
        logger,
        handler: () => (ctx: { signal: AbortSignal }) => {
          signal = ctx.signal;
          return new Promise<void>((resolve) => (settleLate = resolve));
        },
      });
      expect(await dispatchFromThread(dispatcher, 100)).toMatchObject({ outcome: 'timedOut' });
      await vi.waitFor(() => expect(signal?.aborted).toBe(true), polling);
      expect(signal!.reason).toBeInstanceOf(HandlerTimeoutError);
      expect((signal!.reason as Error).message).toMatch(/^the freeze handler did not settle within \d+ ms$/);
      await vi.waitFor(() => expect(entries.some((e) => /^freeze timed out after \d+ ms: answered VSS_E_WRITERERROR_TIMEOUT$/.test(e.message))).toBe(true), polling);
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ writer: 'orders', instanceName: 'a', event: 'freeze', snapshotSetId: 'set-1', outcome: 'timedOut', code: 'VSS_E_WRITERERROR_TIMEOUT' });
      expect(messages[0]!.message).toMatch(/^the handler did not settle within \d+ ms$/);
      expect(messages[0]!.durationMs).toBeGreaterThanOrEqual(0);
      expect(messages[0]!.durationMs).toBeLessThanOrEqual(performance.now() - before);
      // Its late answer is ignored: logged, never told as a second outcome.
      settleLate();
      await vi.waitFor(() => expect(entries.some((e) => /settled after its deadline/.test(e.message))).toBe(true), polling);
      expect(messages).toHaveLength(1);
      dispatcher.close('done');
    } finally {
      unsubscribe(channelNames.writerEvent, listener);
    }
  });

  it('a writer\'s answers go to the channel with their outcome; a target that is no writer publishes nothing', async () => {
    const messages: WriterEventMessage[] = [];
    const listener = (m: unknown): void => void messages.push(m as WriterEventMessage);
    subscribe(channelNames.writerEvent, listener);
    try {
      const { logger } = memoryLogger();
      const writer = new JsDispatcher({
        label: 'orders',
        writer: { name: 'orders', instanceName: '' },
        logger,
        handler: (event) => (event === 'freeze' ? () => Promise.reject(new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', 'no')) : () => undefined),
      });
      const before = performance.now();
      await dispatchFromThread(writer, 5000, 'freeze');
      await dispatchFromThread(writer, 5000, 'thaw');
      const other = dispatcherFor(() => undefined).dispatcher;
      await dispatchFromThread(other, 5000, 'thaw');
      await vi.waitFor(() => expect(messages).toHaveLength(2), polling);
      // Each event's own duration: no more than the whole exchange took.
      const elapsed = performance.now() - before;
      for (const m of messages) {
        expect(m.durationMs).toBeGreaterThanOrEqual(0);
        expect(m.durationMs).toBeLessThanOrEqual(elapsed);
      }
      expect(messages[0]).toMatchObject({ writer: 'orders', event: 'freeze', outcome: 'failed', code: 'VSS_E_WRITERERROR_NONRETRYABLE', message: 'no' });
      expect(messages[1]).toMatchObject({ writer: 'orders', event: 'thaw', outcome: 'succeeded' });
      expect(messages[1]).not.toHaveProperty('code');
      expect(messages[1]).not.toHaveProperty('message');
      writer.close('done');
      other.close('done');
    } finally {
      unsubscribe(channelNames.writerEvent, listener);
    }
  });

  it('an answer after close is logged at debug level with the reason, not as late', async () => {
    let settle: () => void = () => {};
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    const { dispatcher, entries } = dispatcherFor(() => {
      started();
      return new Promise<void>((resolve) => (settle = resolve));
    });
    const pending = dispatchFromThread(dispatcher, 10_000);
    await running;
    dispatcher.close('writer gone');
    await pending;
    settle();
    await vi.waitFor(() => expect(entries.map((e) => e.message)).toContain('freeze settled after the dispatcher closed (writer gone); ignored'), polling);
    expect(entries.find((e) => /settled after the dispatcher closed/.test(e.message))!.level).toBe('debug');
    expect(entries.some((e) => /after its deadline/.test(e.message))).toBe(false);
  });
});

describe('dispatcher deadlines of several running handlers', () => {
  /** A dispatcher whose handlers hang, each keeping its signal by event name. */
  function hanging() {
    const signals = new Map<string, AbortSignal>();
    const { logger, entries } = memoryLogger();
    const dispatcher = new JsDispatcher({
      label: 'test-writer',
      logger,
      handler: (event) => (ctx: { signal: AbortSignal }) => {
        signals.set(event, ctx.signal);
        return new Promise(() => undefined);
      },
    });
    return { dispatcher, signals, entries };
  }

  it('a later event with an earlier deadline is expired at its own deadline, not at the first one', async () => {
    const { dispatcher, signals } = hanging();
    const long = dispatchFromThread(dispatcher, 60_000, 'freeze');
    await vi.waitFor(() => expect(signals.get('freeze')).toBeDefined(), polling);
    const short = await dispatchFromThread(dispatcher, 100, 'thaw');
    expect(short.outcome).toBe('timedOut');
    await vi.waitFor(() => expect(signals.get('thaw')?.aborted).toBe(true), polling);
    expect(signals.get('thaw')!.reason).toBeInstanceOf(HandlerTimeoutError);
    expect(signals.get('freeze')!.aborted).toBe(false);
    dispatcher.close('done');
    expect((await long).outcome).toBe('closed');
    expect(signals.get('freeze')!.aborted).toBe(true);
  });

  it('after expiring one handler, the timer is armed again for the next deadline', async () => {
    const { dispatcher, signals, entries } = hanging();
    const first = dispatchFromThread(dispatcher, 100, 'freeze');
    await vi.waitFor(() => expect(signals.get('freeze')).toBeDefined(), polling);
    const second = dispatchFromThread(dispatcher, 400, 'thaw');
    expect((await first).outcome).toBe('timedOut');
    expect((await second).outcome).toBe('timedOut');
    await vi.waitFor(() => expect(signals.get('thaw')?.aborted).toBe(true), polling);
    expect(signals.get('freeze')!.reason).toBeInstanceOf(HandlerTimeoutError);
    expect(signals.get('thaw')!.reason).toBeInstanceOf(HandlerTimeoutError);
    expect(entries.filter((e) => / timed out after \d+ ms: answered VSS_E_WRITERERROR_TIMEOUT$/.test(e.message)).map((e) => e['event'])).toEqual(['freeze', 'thaw']);
    dispatcher.close('done');
  });

  it('a later event with a later deadline does not postpone the earlier deadline', async () => {
    const { dispatcher, signals } = hanging();
    const short = dispatchFromThread(dispatcher, 100, 'freeze');
    await vi.waitFor(() => expect(signals.get('freeze')).toBeDefined(), polling);
    const long = dispatchFromThread(dispatcher, scaled(120_000), 'thaw');
    await vi.waitFor(() => expect(signals.get('thaw')).toBeDefined(), polling);
    expect((await short).outcome).toBe('timedOut');
    // Expired by the dispatcher at its own deadline, while the later one still runs.
    await vi.waitFor(() => expect(signals.get('freeze')?.aborted).toBe(true), polling);
    expect(signals.get('thaw')!.aborted).toBe(false);
    dispatcher.close('done');
    expect((await long).outcome).toBe('closed');
  });

  it('only handlers still running at their deadline time out, whichever settle first, and whichever settle late', async () => {
    // Handlers settle in an order other than they started: first alone, then from the middle
    // and the end of the running ones, and one after its deadline. Each must leave the set the
    // deadline timer watches, and none other with it.
    const signals = new Map<string, AbortSignal>();
    const settle = new Map<string, () => void>();
    const { logger, entries } = memoryLogger();
    const dispatcher = new JsDispatcher({
      label: 'test-writer',
      logger,
      handler: () => (ctx: { signal: AbortSignal; snapshotSetId: string }) => {
        if (ctx.snapshotSetId === 'z') return undefined; // settles at once
        signals.set(ctx.snapshotSetId, ctx.signal);
        return new Promise<void>((resolve) => settle.set(ctx.snapshotSetId, resolve));
      },
    });
    const timeoutMs = scaled(1000);
    /** Posts the event and waits until its handler runs; `answer` is the native caller's. */
    const start = async (id: string): Promise<{ answer: Promise<NativeDispatchResult> }> => {
      const answer = dispatchFromThread(dispatcher, timeoutMs, 'freeze', undefined, { snapshotSetId: id });
      await vi.waitFor(() => expect(settle.has(id)).toBe(true), polling);
      return { answer };
    };
    expect((await dispatchFromThread(dispatcher, timeoutMs, 'freeze', undefined, { snapshotSetId: 'z' })).outcome).toBe('succeeded');
    const { answer: a } = await start('a');
    const { answer: b } = await start('b');
    const { answer: c } = await start('c');
    const { answer: d } = await start('d');
    settle.get('b')!(); // from the middle of the running ones
    expect((await b).outcome).toBe('succeeded');
    settle.get('c')!(); // the last of them
    expect((await c).outcome).toBe('succeeded');
    expect((await a).outcome).toBe('timedOut');
    await vi.waitFor(() => expect(signals.get('a')!.aborted).toBe(true), polling);
    settle.get('a')!(); // after its deadline
    await vi.waitFor(() => expect(entries.some((e) => /settled after its deadline/.test(e.message))).toBe(true), polling);
    expect((await d).outcome).toBe('timedOut');
    await vi.waitFor(() => expect(signals.get('d')!.aborted).toBe(true), polling);
    await vi.waitFor(() => expect(entries.filter((e) => / timed out after /.test(e.message))).toHaveLength(2), polling);
    // z, b and c started before d, so their deadlines had passed too: none of them timed out.
    expect(entries.filter((e) => / timed out after /.test(e.message)).map((e) => e['snapshotSetId'])).toEqual(['a', 'd']);
    expect(signals.get('b')!.aborted).toBe(false);
    expect(signals.get('c')!.aborted).toBe(false);
    dispatcher.close('done');
  });

  it('once nothing runs, the deadline timer is not armed again: no timer warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { dispatcher, signals } = hanging();
      expect((await dispatchFromThread(dispatcher, 100)).outcome).toBe('timedOut');
      await vi.waitFor(() => expect(signals.get('freeze')?.aborted).toBe(true), polling);
      // Another round trip: whatever the expiry set off has happened by its end.
      const other = dispatcherFor(undefined).dispatcher;
      await dispatchFromThread(other, 5000);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
      other.close('done');
      dispatcher.close('done');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a handler that reads its signal only after it was expired sees it aborted, with the reason', async () => {
    let ctxOf: { signal: AbortSignal } | undefined;
    const { logger, entries } = memoryLogger();
    const dispatcher = new JsDispatcher({
      label: 'test-writer',
      logger,
      handler: () => (ctx: { signal: AbortSignal }) => {
        ctxOf = ctx; // the signal is not read yet
        return new Promise(() => undefined);
      },
    });
    expect((await dispatchFromThread(dispatcher, 100)).outcome).toBe('timedOut');
    // The dispatcher has expired it (it logs that) before the signal is first read.
    await vi.waitFor(() => expect(entries.some((e) => / timed out after /.test(e.message))).toBe(true), polling);
    const late = ctxOf!.signal;
    expect(late.aborted).toBe(true);
    expect(late.reason).toBeInstanceOf(HandlerTimeoutError);
    dispatcher.close('done');
  });
});

describe('a logger that throws', () => {
  /** A logger that throws `error` from `level` for events of snapshot set `failing`, and keeps the rest. */
  function throwingLogger(level: 'info' | 'debug', failing: string, error: Error) {
    const logged: string[] = [];
    const log = (l: string) => (message: string, fields?: Record<string, unknown>) => {
      if (l === level && fields?.['snapshotSetId'] === failing) throw error;
      logged.push(`${l}: ${message} (${String(fields?.['snapshotSetId'])})`);
    };
    return { logger: { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug') }, logged };
  }

  it('while answers are logged: the other answers of the batch are still logged, and the error is reported as uncaught', async () => {
    await catchingUncaught(async (uncaught) => {
      const failure = new Error('log volume full');
      const { logger, logged } = throwingLogger('info', 'set-0', failure);
      let started = 0;
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const dispatcher = new JsDispatcher({
        label: 'test-writer',
        logger,
        handler: () => () => {
          started++;
          return gate; // both settle on the same turn: one batch of answers
        },
      });
      // set-0's answer first in the batch, the one whose logging throws.
      const first = dispatchFromThread(dispatcher, 10_000, 'thaw', undefined, { snapshotSetId: 'set-0' });
      await vi.waitFor(() => expect(started).toBe(1), polling);
      const pending = [first, dispatchFromThread(dispatcher, 10_000, 'thaw', undefined, { snapshotSetId: 'set-1' })];
      await vi.waitFor(() => expect(started).toBe(2), polling);
      release();
      expect((await Promise.all(pending)).map((r) => r.outcome)).toEqual(['succeeded', 'succeeded']);
      await vi.waitFor(() => expect(uncaught).toEqual([failure]), polling);
      expect(logged).toEqual(['info: thaw succeeded (set-1)']);
      dispatcher.close('done');
    });
  });

  it('while an event is routed: the event is still answered, and the error is reported as uncaught', async () => {
    await catchingUncaught(async (uncaught) => {
      const failure = new Error('log volume full');
      const { logger } = throwingLogger('debug', 'set-1', failure);
      const dispatcher = new JsDispatcher({ label: 'test-writer', logger, handler: () => undefined });
      expect(await dispatchFromThread(dispatcher, 10_000, 'postSnapshot')).toMatchObject({ outcome: 'succeeded' });
      await vi.waitFor(() => expect(uncaught).toEqual([failure]), polling);
      dispatcher.close('done');
    });
  });
});
