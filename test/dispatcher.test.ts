/**
 * The dispatcher's contract, driven the way VSS drives it: a native thread posts an event,
 * blocks until the JS handler answers or the deadline passes, and gets success or a failure
 * with a VSS writer-error code.
 */
import { describe, expect, it, vi } from 'vitest';
import { JsDispatcher } from '../src/dispatch.js';
import { WriterFailure } from '../src/errors.js';
import { hresultOf } from '../src/hresult.js';
import { native, type NativeDispatchResult } from '../src/backends/native.js';
import { blockEventLoopUntil, sleep } from './helpers/writers.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { polling } from './helpers/timing.js';

type Handler = (ctx: { signal: AbortSignal; deadline: number; event: string }) => unknown;

function dispatcherFor(handler: Handler | undefined) {
  const { logger, entries } = memoryLogger();
  const dispatcher = new JsDispatcher({ label: 'test-writer', logger, handler: () => handler });
  return { dispatcher, entries };
}

function dispatchFromThread(d: JsDispatcher, timeoutMs: number, event = 'freeze', returned?: Int32Array): Promise<NativeDispatchResult> {
  return new Promise((resolve) =>
    native().testing.dispatchFromThread(
      d.native,
      { event, snapshotSetId: 'set-1', backupType: 'full', volumes: ['/data'], components: [] },
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

const signed = (code: string): number => hresultOf(code) | 0;

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
    await vi.waitFor(() => expect(entries.some((e) => e.level === 'warn' && /settled after its deadline/.test(e.message))).toBe(true), polling);
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
    const returned = returnedFlag();
    const pending = dispatchFromThread(dispatcher, 100, 'freeze', returned);
    // The event loop stays blocked until the native caller has its answer: JS cannot give it.
    expect(blockEventLoopUntil(() => Atomics.load(returned, 0) === 1)).toBe(true);
    const result = await pending;
    expect(result.outcome).toBe('timedOut');
    // Once the late event reached JS (it logs that it did not run the handler), it never runs.
    await vi.waitFor(() => expect(entries.some((e) => /handler not run/.test(e.message))).toBe(true), polling);
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

  it('refuses malformed answers without settling anything', async () => {
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
