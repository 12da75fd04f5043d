/**
 * WriteGate semantics (src/gate/write-gate.ts) and its binding to a writer's events in the simulator.
 * No assertion is about how long anything took: only about order and outcome.
 */
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import { channelNames, type GateFreezeMessage } from '../src/diagnostics.js';
import { createShadowCopy, GateError, OptionsError, VssError, VssWriter, WriteGate, type StoreAdapter } from '../src/index.js';
import { bindGate } from '../src/gate/write-gate.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { scaled } from './helpers/timing.js';
import { eventsOf, recordingWriter, sleep, type Calls } from './helpers/writers.js';

const quiet = () => ({ logger: memoryLogger().logger });

/** A promise plus its resolve, to hold a write in flight for as long as a test wants. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function recordingStore(name: string, log: string[], freeze: () => unknown = () => undefined): StoreAdapter {
  return {
    name,
    freeze: () => {
      log.push(`freeze ${name}`);
      return freeze();
    },
    thaw: () => {
      log.push(`thaw ${name}`);
    },
  };
}

describe('WriteGate', () => {
  it('runs writes at once while open and returns their results', async () => {
    const gate = new WriteGate(quiet());
    const order: number[] = [];
    const sync = gate.run(() => {
      order.push(1);
      return 'a';
    });
    order.push(2); // a write on an open gate starts before run() returns
    await expect(sync).resolves.toBe('a');
    await expect(gate.run(async () => 'b')).resolves.toBe('b');
    expect(order).toEqual([1, 2]);
    expect(gate.stats()).toMatchObject({ state: 'open', inFlight: 0, queued: 0, heldWrites: 0 });
  });

  it('holds writes while frozen and runs them in arrival order at thaw', async () => {
    const gate = new WriteGate(quiet());
    const ran: number[] = [];
    const id = await gate.freeze();
    expect(gate.state).toBe('frozen');
    const results = [1, 2, 3].map((n) => gate.run(() => (ran.push(n), n * 10)));
    await sleep(5);
    expect(ran).toEqual([]);
    expect(gate.stats().queued).toBe(3);
    const report = gate.thaw();
    expect(ran).toEqual([1, 2, 3]); // all admitted before thaw() returns
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
    expect(report).toMatchObject({ id, heldWrites: 3, endedBy: 'thaw', reachedFrozen: true });
    expect(report!.longestHoldMs).toBeGreaterThan(0);
    expect(report!.heldMs).toBeGreaterThanOrEqual(report!.longestHoldMs);
    expect(gate.stats()).toMatchObject({ state: 'open', freezes: 1, heldWrites: 3, queued: 0 });
    // A second thaw (abort can come twice) changes nothing.
    expect(gate.thaw('abort')).toBeUndefined();
    expect(gate.lastFreeze?.endedBy).toBe('thaw');
  });

  it('writes that arrive after thaw run after the held ones', async () => {
    const gate = new WriteGate(quiet());
    const ran: string[] = [];
    await gate.freeze();
    const held = gate.run(() => ran.push('held'));
    gate.thaw();
    const after = gate.run(() => ran.push('after'));
    await Promise.all([held, after]);
    expect(ran).toEqual(['held', 'after']);
  });

  it('waits for writes in flight before it is frozen', async () => {
    const gate = new WriteGate(quiet());
    const slow = deferred();
    const steps: string[] = [];
    const inFlight = gate.run(async () => {
      await slow.promise;
      steps.push('write done');
    });
    const frozen = gate.freeze().then(() => steps.push('frozen'));
    await sleep(5);
    expect(gate.state).toBe('draining');
    expect(gate.stats().inFlight).toBe(1);
    slow.resolve();
    await Promise.all([inFlight, frozen]);
    expect(steps).toEqual(['write done', 'frozen']);
    expect(gate.state).toBe('frozen');
    expect(gate.thaw()!.drainMs).not.toBeNull();
  });

  it('fails the freeze at the drain deadline, says so, and reopens', async () => {
    const { logger } = memoryLogger();
    const gate = new WriteGate({ logger, drainTimeoutMs: 1_000 });
    const slow = deferred();
    const inFlight = gate.run(() => slow.promise);
    const freeze = gate.freeze({ drainTimeoutMs: 20 });
    const heldDuringDrain = gate.run(() => 'held');
    const error = await freeze.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GateError);
    expect(error).toMatchObject({ reason: 'drainTimeout', code: 'VSS_E_WRITERERROR_RETRYABLE' });
    expect((error as Error).message).toMatch(/1 write\(s\) still in flight after the drain deadline of 20 ms; the gate reopened/);
    expect(gate.state).toBe('open');
    await expect(heldDuringDrain).resolves.toBe('held'); // the held write ran
    expect(gate.lastFreeze).toMatchObject({ endedBy: 'freezeFailed', reachedFrozen: false, drainMs: null });
    expect(gate.stats().failedFreezes).toBe(1);
    // The gate is usable: the slow write still completes, and a new freeze works.
    slow.resolve();
    await inFlight;
    await gate.freeze();
    expect(gate.state).toBe('frozen');
    gate.thaw();
  });

  it('reopens by itself when neither thaw nor abort comes, and logs an error', async () => {
    const { logger, entries } = memoryLogger();
    const gate = new WriteGate({ logger, maxFrozenMs: 30, drainTimeoutMs: 10 });
    await gate.freeze();
    await expect(gate.run(() => 'ran after the watchdog')).resolves.toBe('ran after the watchdog');
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze).toMatchObject({ endedBy: 'watchdog', heldWrites: 1 });
    expect(gate.stats().watchdogThaws).toBe(1);
    const error = entries.find((e) => e.level === 'error');
    expect(error?.message).toMatch(/stayed closed for 30 ms \(maxFrozenMs\) and neither thaw nor abort came/);
  });

  it('passes errors of a write to its caller and keeps going', async () => {
    const gate = new WriteGate(quiet());
    await expect(gate.run(() => { throw new Error('sync boom'); })).rejects.toThrow('sync boom');
    await expect(gate.run(async () => { throw new Error('async boom'); })).rejects.toThrow('async boom');
    await gate.freeze();
    const failing = gate.run(() => { throw new Error('held boom'); });
    const next = gate.run(() => 'next');
    gate.thaw();
    await expect(failing).rejects.toThrow('held boom');
    await expect(next).resolves.toBe('next');
    expect(gate.stats().inFlight).toBe(0);
    // A failed write does not stall a later drain.
    await gate.freeze();
    expect(gate.state).toBe('frozen');
    gate.thaw();
  });

  it('refuses a second freeze while closed, and a thaw during the drain fails the freeze', async () => {
    const gate = new WriteGate(quiet());
    const slow = deferred();
    void gate.run(() => slow.promise);
    const first = gate.freeze();
    await expect(gate.freeze()).rejects.toMatchObject({ reason: 'busy' });
    gate.thaw('abort');
    await expect(first).rejects.toMatchObject({ reason: 'interrupted' });
    expect(gate.state).toBe('open');
    slow.resolve();
  });

  it('a cancelled freeze reopens the gate and rejects with the reason', async () => {
    const gate = new WriteGate(quiet());
    const slow = deferred();
    void gate.run(() => slow.promise);
    const controller = new AbortController();
    const freeze = gate.freeze({ signal: controller.signal });
    controller.abort(new Error('handler deadline'));
    // At once, not at the drain deadline: the write in flight has not finished.
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze?.endedBy).toBe('cancelled');
    await expect(freeze).rejects.toThrow('handler deadline');
    expect(gate.state).toBe('open');
    slow.resolve();
  });

  it('freezes stores in order after the drain and thaws them in reverse before the held writes run', async () => {
    const log: string[] = [];
    const gate = new WriteGate({ ...quiet(), stores: [recordingStore('a', log), recordingStore('b', log)] });
    const slow = deferred();
    const inFlight = gate.run(async () => {
      await slow.promise;
      log.push('in-flight write done');
    });
    const frozen = gate.freeze();
    await sleep(5);
    expect(log).toEqual([]); // no store is flushed while a write is still running
    slow.resolve();
    await Promise.all([inFlight, frozen]);
    const held = gate.run(() => log.push('held write'));
    gate.thaw();
    await held;
    expect(log).toEqual(['in-flight write done', 'freeze a', 'freeze b', 'thaw b', 'thaw a', 'held write']);
  });

  it('a store that fails to freeze fails the freeze and releases the stores already frozen', async () => {
    const log: string[] = [];
    const gate = new WriteGate({
      ...quiet(),
      stores: [recordingStore('a', log), recordingStore('b', log, () => Promise.reject(new Error('disk gone')))],
    });
    await expect(gate.freeze()).rejects.toThrow('disk gone');
    expect(log).toEqual(['freeze a', 'freeze b', 'thaw a']);
    expect(gate.state).toBe('open');
  });

  it('a store still freezing when the watchdog fires is released too', async () => {
    const log: string[] = [];
    const stuck = deferred();
    const gate = new WriteGate({ ...quiet(), maxFrozenMs: 30, drainTimeoutMs: 10, stores: [recordingStore('slow', log, () => stuck.promise)] });
    await expect(gate.freeze()).rejects.toMatchObject({ reason: 'interrupted' });
    expect(log).toEqual(['freeze slow', 'thaw slow']);
    expect(gate.lastFreeze?.endedBy).toBe('watchdog');
    stuck.resolve();
  });

  it('a held write that freezes the gate again keeps the rest held, in order', async () => {
    const gate = new WriteGate(quiet());
    const ran: string[] = [];
    await gate.freeze();
    let refreeze: Promise<number> | undefined;
    const first = gate.run(() => {
      ran.push('first');
      refreeze = gate.freeze();
    });
    const second = gate.run(() => ran.push('second'));
    gate.thaw();
    await first;
    await refreeze;
    expect(ran).toEqual(['first']);
    expect(gate.state).toBe('frozen');
    gate.thaw();
    await second;
    expect(ran).toEqual(['first', 'second']);
  });

  it('prepares the stores in order with the gate open: writes run meanwhile, none is held', async () => {
    const log: string[] = [];
    const slow = deferred();
    const stores: StoreAdapter[] = [
      { ...recordingStore('a', log), prepare: async () => (log.push('prepare a'), slow.promise) },
      recordingStore('no preparation', log),
      { ...recordingStore('b', log), prepare: () => void log.push('prepare b') },
    ];
    const gate = new WriteGate({ ...quiet(), stores });
    expect(gate.prepares).toBe(true);
    const prepared = gate.prepare();
    await sleep(1);
    expect(gate.state).toBe('open');
    await expect(gate.run(() => 'ran while preparing')).resolves.toBe('ran while preparing');
    expect(gate.stats().heldWrites).toBe(0);
    await expect(gate.prepare()).rejects.toMatchObject({ reason: 'busy' });
    slow.resolve();
    await prepared;
    expect(log).toEqual(['prepare a', 'prepare b']);
    await gate.freeze();
    gate.thaw();
    expect(log).toEqual(['prepare a', 'prepare b', 'freeze a', 'freeze no preparation', 'freeze b', 'thaw b', 'thaw no preparation', 'thaw a']);
  });

  it('a freeze that begins while a store prepares tells it to stop and flushes only after it returned', async () => {
    const log: string[] = [];
    const slow = deferred();
    let signal: AbortSignal | undefined;
    const store: StoreAdapter = {
      ...recordingStore('s', log),
      prepare: async (ctx) => {
        signal = ctx.signal;
        await slow.promise;
        log.push(`prepare returned, told to stop: ${ctx.signal.aborted}`);
      },
    };
    const gate = new WriteGate({ ...quiet(), stores: [store] });
    const prepared = gate.prepare();
    await sleep(1);
    const frozen = gate.freeze();
    expect(signal?.aborted).toBe(true);
    await sleep(5);
    expect(log).toEqual([]); // the store's freeze waits for its preparation
    expect(gate.state).toBe('draining');
    slow.resolve();
    await frozen;
    await prepared;
    expect(log).toEqual(['prepare returned, told to stop: true', 'freeze s']);
    gate.thaw();
  });

  it('a failed preparation rejects prepare(), leaves the gate open, and the freeze still flushes every store', async () => {
    const log: string[] = [];
    const gate = new WriteGate({
      ...quiet(),
      stores: [{ ...recordingStore('a', log), prepare: () => Promise.reject(new Error('fsync failed')) }, { ...recordingStore('b', log), prepare: () => void log.push('prepare b') }],
    });
    await expect(gate.prepare()).rejects.toThrow('fsync failed');
    expect(gate.state).toBe('open');
    expect(log).toEqual([]); // b is not prepared after a's failure
    await gate.freeze();
    gate.thaw();
    expect(log).toEqual(['freeze a', 'freeze b', 'thaw b', 'thaw a']);
  });

  it('refuses to prepare while closed, and stops at an aborted signal', async () => {
    const log: string[] = [];
    const gate = new WriteGate({ ...quiet(), stores: [{ ...recordingStore('a', log), prepare: () => void log.push('prepare a') }] });
    await gate.freeze();
    await expect(gate.prepare()).rejects.toMatchObject({ reason: 'busy' });
    gate.thaw();
    await expect(gate.prepare({ signal: AbortSignal.abort(new Error('cancelled')) })).rejects.toThrow('cancelled');
    await expect(gate.prepare({ signal: 'x' as never })).rejects.toThrow(/signal: must be an AbortSignal/);
    expect(log).toEqual(['freeze a', 'thaw a']); // never 'prepare a'
    expect(new WriteGate({ ...quiet(), stores: [recordingStore('plain', log)] }).prepares).toBe(false);
  });

  it('rejects bad options naming the field and the rule', () => {
    expect(() => new WriteGate({ maxFrozenMs: 0 })).toThrow(OptionsError);
    expect(() => new WriteGate({ maxFrozenMs: 1.5 })).toThrow(/maxFrozenMs: must be a whole number of milliseconds/);
    expect(() => new WriteGate({ maxFrozenMs: 100, drainTimeoutMs: 100 })).toThrow(/drainTimeoutMs: must be less than maxFrozenMs/);
    expect(() => new WriteGate({ stores: [{ name: 'x' } as unknown as StoreAdapter] })).toThrow(/stores\[0\]: must be a store adapter/);
    expect(() => new WriteGate({ colour: 'red' } as never)).toThrow(/colour/);
    const gate = new WriteGate(quiet());
    return expect(gate.freeze({ drainTimeoutMs: -1 })).rejects.toThrow(/WriteGate.freeze options: drainTimeoutMs/);
  });

  it('derives each timing default from the option that was set', () => {
    // The drain deadline follows a short watchdog, the watchdog a long drain deadline.
    expect(new WriteGate({ maxFrozenMs: 800 })).toMatchObject({ maxFrozenMs: 800, drainTimeoutMs: 400 });
    expect(new WriteGate({ drainTimeoutMs: 90_000 })).toMatchObject({ maxFrozenMs: 180_000, drainTimeoutMs: 90_000 });
    expect(new WriteGate({})).toMatchObject({ maxFrozenMs: 60_000, drainTimeoutMs: 5_000 });
    expect(new WriteGate({ maxFrozenMs: 2 })).toMatchObject({ maxFrozenMs: 2, drainTimeoutMs: 1 });
    // Only two values the user chose can conflict; the message says which default was used.
    expect(() => new WriteGate({ drainTimeoutMs: 3_600_000 })).toThrow(/drainTimeoutMs: must be less than maxFrozenMs \(3600000, the longest it may be\)/);
  });

  it('run() rejects a non-function', async () => {
    const gate = new WriteGate(quiet());
    await expect(gate.run('insert' as never)).rejects.toThrow(/fn must be a function; got string/);
  });
});

describe('a writer with a gate', () => {
  const volumes = ['/'];

  it('closes the gate before its freeze handler and opens it after its thaw handler; writes in the window wait', async () => {
    const gate = new WriteGate(quiet());
    const calls: Calls = [];
    const seen: string[] = [];
    await recordingWriter('gated', calls, {
      freeze: () => void seen.push(`freeze handler: gate ${gate.state}`),
      thaw: () => void seen.push(`thaw handler: gate ${gate.state}`),
    }, { gate });
    let held: Promise<unknown> | undefined;
    await createShadowCopy({
      volumes,
      ...quiet(),
      onCommit: () => {
        seen.push(`commit: gate ${gate.state}`);
        held = gate.run(() => seen.push(`held write ran: gate ${gate.state}`));
      },
    });
    await held;
    expect(seen).toEqual([
      'freeze handler: gate frozen',
      'commit: gate frozen',
      'thaw handler: gate frozen',
      'held write ran: gate open',
    ]);
    expect(gate.lastFreeze).toMatchObject({ endedBy: 'thaw', heldWrites: 1 });
  });

  it('prepares the stores at prepareSnapshot, before its own handler; a gate without a preparation adds no event', async () => {
    const seen: string[] = [];
    const gate = new WriteGate({
      ...quiet(),
      stores: [{ name: 's', prepare: () => void seen.push(`store prepared: gate ${gate.state}`), freeze: () => void seen.push('store frozen'), thaw: () => undefined }],
    });
    const calls: Calls = [];
    await recordingWriter('gated', calls, { prepareSnapshot: () => void seen.push('prepareSnapshot handler') }, { gate });
    await createShadowCopy({ volumes, ...quiet() });
    expect(seen).toEqual(['store prepared: gate open', 'prepareSnapshot handler', 'store frozen']);
    // Events a writer has no handler for never reach JS: a gate without a preparation adds none.
    expect(bindGate(new WriteGate(quiet()), {}).prepareSnapshot).toBeUndefined();
    expect(bindGate(gate, {}).prepareSnapshot).toBeTypeOf('function');
  });

  it('a preparation that fails fails prepareSnapshot: the set is aborted and the gate was never closed', async () => {
    const gate = new WriteGate({ ...quiet(), stores: [{ name: 's', prepare: () => Promise.reject(new Error('EIO')), freeze: () => undefined, thaw: () => undefined }] });
    const calls: Calls = [];
    await recordingWriter('gated', calls, {}, { gate });
    await expect(createShadowCopy({ volumes, ...quiet() })).rejects.toBeInstanceOf(VssError);
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze).toBeUndefined();
  });

  it('opens the gate at abort when another writer vetoes the freeze', async () => {
    const gate = new WriteGate(quiet());
    const calls: Calls = [];
    await recordingWriter('gated', calls, {}, { gate });
    await recordingWriter('veto', calls, { freeze: () => Promise.reject(new Error('cannot freeze')) });
    await expect(createShadowCopy({ volumes, ...quiet() })).rejects.toBeInstanceOf(VssError);
    expect(eventsOf(calls, 'gated')).toContain('abort');
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze?.endedBy).toBe('abort');
  });

  it('opens the gate when the provider fails the commit', async () => {
    const gate = new WriteGate(quiet());
    await recordingWriter('gated', [], {}, { gate });
    const error = await createShadowCopy({ volumes, ...quiet(), simulation: { failWith: 'VSS_E_PROVIDER_VETO' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VSS_E_PROVIDER_VETO' });
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze?.endedBy).toBe('abort');
  });

  it('opens the gate when its own freeze handler fails or times out', async () => {
    const gate = new WriteGate(quiet());
    await recordingWriter('gated', [], { freeze: () => new Promise(() => undefined) }, { gate, handlerTimeoutMs: 50 });
    const error = await createShadowCopy({ volumes, ...quiet() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VSS_E_WRITERERROR_TIMEOUT' });
    expect(gate.state).toBe('open');
    expect(['timeout', 'abort']).toContain(gate.lastFreeze?.endedBy);
  });

  it("gives the drain half of the freeze handler's time when that is less than the gate's drain deadline", async () => {
    const handlerTimeoutMs = scaled(2_000);
    const gate = new WriteGate({ ...quiet(), maxFrozenMs: 120_000, drainTimeoutMs: 60_000 });
    await recordingWriter('gated', [], {}, { gate, handlerTimeoutMs });
    const stuck = deferred();
    const write = gate.run(() => stuck.promise);
    const error = (await createShadowCopy({ volumes, ...quiet() }).catch((e: unknown) => e)) as VssError;
    // The drain gave up (a retryable veto), before the handler's own deadline (a timeout).
    expect(error).toMatchObject({ code: 'VSS_E_WRITERERROR_RETRYABLE', writer: { name: 'gated', event: 'freeze' } });
    const drainMs = Number(/after the drain deadline of (\d+) ms/.exec(error.message)![1]);
    expect(drainMs).toBeGreaterThan(1);
    expect(drainMs).toBeLessThanOrEqual(handlerTimeoutMs / 2);
    expect(gate.state).toBe('open');
    stuck.resolve();
    await write;
  });

  it('a gated writer without a shutdown handler still answers BackupShutdown', async () => {
    const gate = new WriteGate(quiet());
    const { logger, entries } = memoryLogger();
    const writer = new VssWriter({ name: 'bare', id: randomUUID(), usage: 'userData', sourceType: 'other', gate, logger });
    await writer.subscribe();
    try {
      await createShadowCopy({ volumes, ...quiet() });
      expect(entries.some((e) => e.level === 'warn')).toBe(false);
      expect(gate.lastFreeze?.endedBy).toBe('thaw');
    } finally {
      await writer.unsubscribe();
    }
  });

  it('fails thaw with VSS_E_WRITERERROR_TIMEOUT when the watchdog reopened the gate first', async () => {
    const gate = new WriteGate({ ...quiet(), maxFrozenMs: 30, drainTimeoutMs: 10 });
    await recordingWriter('gated', [], {}, { gate });
    const error = await createShadowCopy({
      volumes,
      ...quiet(),
      // The commit outlasts the gate's watchdog: writes ran inside the freeze window.
      onCommit: () => gate.run(() => 'a write the watchdog let through'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VssError);
    expect(error).toMatchObject({ code: 'VSS_E_WRITERERROR_TIMEOUT', writer: { name: 'gated', event: 'thaw' } });
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze?.endedBy).toBe('watchdog');
  });

  it('opens the gate at unsubscribe', async () => {
    const gate = new WriteGate(quiet());
    const writer = await recordingWriter('gated', [], {}, { gate });
    const commitReached = deferred();
    const set = createShadowCopy({
      volumes,
      ...quiet(),
      onCommit: async (ctx) => {
        commitReached.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      },
      simulation: { holdLimitMs: 2_000 },
    }).catch((e: unknown) => e);
    await commitReached.promise;
    expect(gate.state).toBe('frozen');
    await writer.unsubscribe();
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze?.endedBy).toBe('unsubscribe');
    await set;
  });

  it('says unsubscribe, not timeout, when the writer unsubscribes while its freeze handler runs', async () => {
    const gate = new WriteGate(quiet());
    const inFreeze = deferred();
    const writer = await recordingWriter('gated', [], {
      freeze: async (ctx) => {
        inFreeze.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      },
    }, { gate });
    const set = createShadowCopy({ volumes, ...quiet() }).catch((e: unknown) => e);
    await inFreeze.promise;
    expect(gate.state).toBe('frozen');
    await writer.unsubscribe();
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze?.endedBy).toBe('unsubscribe');
    await set;
  });

  it('rejects a gate option that is not a gate', async () => {
    await expect(recordingWriter('bad', [], {}, { gate: {} as never })).rejects.toThrow(/gate: must be a WriteGate/);
  });
});

describe('WriteGate: what it says', () => {
  it('names the gate and the rule when it refuses a freeze or a preparation', async () => {
    const gate = new WriteGate({ ...quiet(), name: 'orders' });
    const slow = deferred();
    void gate.run(() => slow.promise);
    const draining = gate.freeze();
    await expect(gate.freeze()).rejects.toThrow('write gate "orders" is already draining: one freeze at a time (use one gate per writer)');
    await expect(gate.prepare()).rejects.toThrow('write gate "orders" is draining: prepare before the freeze, one at a time');
    gate.thaw('abort');
    await expect(draining).rejects.toThrow('write gate "orders" was reopened (abort) before it was frozen');
    slow.resolve();
    await gate.freeze();
    await expect(gate.freeze()).rejects.toThrow('write gate "orders" is already frozen: one freeze at a time (use one gate per writer)');
    await expect(gate.freeze()).rejects.toMatchObject({ name: 'GateError', reason: 'busy', code: 'VSS_E_WRITERERROR_RETRYABLE' });
    gate.thaw();
    await expect(gate.run('write' as never)).rejects.toThrow(new TypeError('WriteGate.run: fn must be a function; got string'));
  });

  it('refuses a second preparation while one runs, and tells a store a freeze began', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let reason: unknown;
    const gate = new WriteGate({
      ...quiet(),
      name: 'orders',
      stores: [
        {
          name: 's',
          prepare: ({ signal }: { signal: AbortSignal }) =>
            new Promise<void>((resolve) => {
              started();
              signal.addEventListener('abort', () => ((reason = signal.reason), resolve()), { once: true });
            }),
          freeze: () => undefined,
          thaw: () => undefined,
        },
      ],
    });
    expect(gate.prepares).toBe(true);
    expect(new WriteGate({ ...quiet(), stores: [{ name: 'x', freeze: () => undefined, thaw: () => undefined }] }).prepares).toBe(false);
    const preparing = gate.prepare();
    await running;
    await expect(gate.prepare()).rejects.toThrow('write gate "orders" is already preparing: prepare before the freeze, one at a time');
    await gate.freeze();
    await preparing;
    expect(reason).toMatchObject({ name: 'GateError', reason: 'interrupted', message: 'write gate "orders" began a freeze' });
    gate.thaw();
  });

  it("passes the caller's abort to the stores' preparation", async () => {
    let reason: unknown;
    const gate = new WriteGate({
      ...quiet(),
      stores: [
        {
          name: 's',
          prepare: ({ signal }: { signal: AbortSignal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => ((reason = signal.reason), resolve()), { once: true })),
          freeze: () => undefined,
          thaw: () => undefined,
        },
      ],
    });
    const controller = new AbortController();
    const preparing = gate.prepare({ signal: controller.signal });
    controller.abort('stop preparing');
    await preparing;
    expect(reason).toBe('stop preparing');
    // The gate is free for the next preparation.
    const again = new AbortController();
    const next = gate.prepare({ signal: again.signal });
    again.abort('again');
    await next;
  });

  it('logs each store prepared, a store that fails to thaw, and the reopening with what it held', async () => {
    const { logger, entries } = memoryLogger();
    const gate = new WriteGate({
      logger,
      name: 'orders',
      stores: [
        { name: 'journal', prepare: () => undefined, freeze: () => undefined, thaw: () => { throw new Error('EIO'); } },
        { name: 'index', freeze: () => undefined, thaw: () => { throw 'plain'; } },
      ],
    });
    await gate.prepare();
    expect(entries.filter((e) => e.level === 'debug').map((e) => e.message)).toEqual([expect.stringMatching(/^write gate "orders": store "journal" prepared in \d+ ms$/)]);
    await gate.freeze();
    const held = gate.run(() => 'held');
    gate.thaw();
    await held;
    expect(entries.filter((e) => e.level === 'error').map((e) => e.message)).toEqual([
      'write gate "orders": store "index" failed to thaw: plain',
      'write gate "orders": store "journal" failed to thaw: EIO',
    ]);
    const reopened = entries.find((e) => e.level === 'info');
    expect(reopened).toMatchObject({ message: 'write gate "orders" reopened (thaw)', gate: 'orders', heldWrites: 1 });
    expect(Number.isInteger(reopened!['heldMs'])).toBe(true);
    expect(gate.state).toBe('open');
  });

  it('reports each freeze on the monotonic clock and keeps totals, counting a freeze still closed', async () => {
    const gate = new WriteGate(quiet());
    // Only the monotonic clock is bounded here: the wall clock may be stepped between any two
    // reads (the next test fixes it to check startedAt and endedAt).
    const before = performance.now();
    const id = await gate.freeze();
    await sleep(5);
    const closed = gate.stats();
    expect(closed.state).toBe('frozen');
    expect(closed.frozenMs).toBeGreaterThan(0);
    expect(closed.longestFreezeMs).toBe(closed.frozenMs);
    const report = gate.thaw()!;
    const after = performance.now();
    expect(report.id).toBe(id);
    expect(report.startedAtMonotonic).toBeGreaterThanOrEqual(before);
    expect(report.startedAtMonotonic + report.heldMs).toBeLessThanOrEqual(after);
    expect(report.longestHoldMs).toBe(0);
    const open = gate.stats();
    expect(open.frozenMs).toBeCloseTo(report.heldMs, 3);
    expect(open.longestFreezeMs).toBeCloseTo(report.heldMs, 3);
    expect(await gate.freeze()).toBe(id + 1);
    gate.thaw();
    const two = gate.stats();
    expect(two.frozenMs).toBeGreaterThan(open.frozenMs);
    expect(two.longestFreezeMs).toBeGreaterThanOrEqual(open.longestFreezeMs);
    expect(two.longestFreezeMs).toBeLessThan(two.frozenMs);
    expect(two.freezes).toBe(2);
  });

  it('takes startedAt and endedAt from the wall clock and the durations from the monotonic clock, also when the two disagree', async () => {
    // The wall clock 7 s ahead of performance.timeOrigin + performance.now() (what drift or an
    // NTP step since the process started makes of it), then stepped back 2 s while the gate
    // is closed. Only Date is faked: the gate's timers and performance.now() run as ever.
    const wall = Math.round(performance.timeOrigin + performance.now()) + 7_000;
    vi.useFakeTimers({ toFake: ['Date'], now: wall });
    try {
      const gate = new WriteGate(quiet());
      const before = performance.now();
      await gate.freeze();
      const frozen = performance.now();
      vi.setSystemTime(wall - 2_000);
      await sleep(2);
      const report = gate.thaw()!;
      const after = performance.now();
      expect(report.startedAt).toBe(wall);
      expect(report.endedAt).toBe(wall - 2_000);
      expect(report.startedAtMonotonic).toBeGreaterThanOrEqual(before);
      expect(report.startedAtMonotonic).toBeLessThanOrEqual(frozen);
      expect(report.heldMs).toBeGreaterThan(0);
      expect(report.startedAtMonotonic + report.heldMs).toBeLessThanOrEqual(after);
      expect(gate.stats().frozenMs).toBe(report.heldMs);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a freeze whose signal fired before it began is refused with the reason, and the gate stays open', async () => {
    const gate = new WriteGate(quiet());
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    await expect(gate.freeze({ signal: controller.signal })).rejects.toThrow('too late');
    expect(gate.state).toBe('open');
    expect(gate.stats()).toMatchObject({ freezes: 0, failedFreezes: 0 });
    expect(gate.lastFreeze).toBeUndefined();
  });

  it('the watchdog logs the gate, the held and the running writes', async () => {
    const { logger, entries } = memoryLogger();
    const gate = new WriteGate({ logger, name: 'orders', maxFrozenMs: 30, drainTimeoutMs: 10 });
    await gate.freeze();
    const held = gate.run(() => 'held');
    await held;
    expect(entries.find((e) => e.level === 'error')).toMatchObject({
      message: 'write gate "orders" stayed closed for 30 ms (maxFrozenMs) and neither thaw nor abort came: reopening it now. A snapshot taken after this point may hold writes from after the freeze.',
      gate: 'orders',
      queued: 1,
      inFlight: 0,
    });
  });
});

describe('WriteGate: writes, drains and totals', () => {
  it('a write that returns at once is counted out at once, whatever it returns', async () => {
    const gate = new WriteGate(quiet());
    for (const value of [undefined, null, 0, 'x', { then: 'not a function' }, Object.assign(() => 1, { extra: true })]) {
      const result = gate.run(() => value);
      expect(gate.stats().inFlight).toBe(0);
      expect(await result).toBe(value);
    }
    const pending = deferred<string>();
    const later = gate.run(() => pending.promise);
    expect(gate.stats().inFlight).toBe(1);
    pending.resolve('done');
    expect(await later).toBe('done');
    expect(gate.stats().inFlight).toBe(0);
  });

  it('drains only when the last write in flight has finished', async () => {
    const gate = new WriteGate(quiet());
    const a = deferred();
    const b = deferred();
    const writes = [gate.run(() => a.promise), gate.run(() => b.promise)];
    const frozen = gate.freeze();
    a.resolve();
    await writes[0];
    expect(gate.state).toBe('draining');
    b.resolve();
    await frozen;
    expect(gate.state).toBe('frozen');
    gate.thaw();
  });

  it('a freeze ended by a thaw does not end the freeze that follows it', async () => {
    const gate = new WriteGate(quiet());
    const slow = deferred();
    const write = gate.run(() => slow.promise);
    const first = gate.freeze();
    gate.thaw('abort');
    const second = gate.freeze();
    await expect(first).rejects.toMatchObject({ reason: 'interrupted' });
    expect(gate.state).toBe('draining');
    slow.resolve();
    await write;
    await expect(second).resolves.toBe(2);
    expect(gate.state).toBe('frozen');
    gate.thaw();
  });

  it("tells a store still freezing why the freeze was given up, in its signal", async () => {
    let reason: unknown;
    let started!: () => void;
    const freezing = new Promise<void>((resolve) => (started = resolve));
    const gate = new WriteGate({
      ...quiet(),
      name: 'orders',
      stores: [
        {
          name: 's',
          freeze: ({ signal }: { signal: AbortSignal }) =>
            new Promise<void>((resolve) => {
              started();
              signal.addEventListener('abort', () => ((reason = signal.reason), resolve()), { once: true });
            }),
          thaw: () => undefined,
        },
      ],
    });
    const freeze = gate.freeze();
    await freezing;
    gate.thaw('abort');
    await expect(freeze).rejects.toMatchObject({ reason: 'interrupted' });
    expect(reason).toMatchObject({ name: 'GateError', reason: 'interrupted', message: 'write gate "orders" was reopened (abort)' });
  });

  it('keeps the longest hold of all freezes, and reports no duration longer than it took', async () => {
    const gate = new WriteGate(quiet());
    const t0 = performance.now();
    await gate.freeze();
    const held = gate.run(() => 'held');
    await sleep(5);
    const closed = gate.stats();
    gate.thaw();
    await held;
    const first = gate.stats().longestHoldMs;
    expect(first).toBeGreaterThan(0);
    expect(closed.frozenMs).toBeLessThanOrEqual(performance.now() - t0);
    await gate.freeze();
    gate.thaw(); // held nothing
    expect(gate.stats().longestHoldMs).toBe(first);
    expect(gate.lastFreeze!.drainMs!).toBeLessThanOrEqual(performance.now() - t0);
  });

  it('publishes a frozen freeze without an error, and a failed one with its message, of an Error or not', async () => {
    const messages: GateFreezeMessage[] = [];
    const listener = (m: unknown): void => void messages.push(m as GateFreezeMessage);
    subscribe(channelNames.gateFreeze, listener);
    try {
      const t0 = performance.now();
      const gate = new WriteGate({ ...quiet(), name: 'orders' });
      await gate.freeze();
      gate.thaw();
      const failing = new WriteGate({ ...quiet(), stores: [{ name: 's', freeze: () => Promise.reject('plain refusal'), thaw: () => undefined }] });
      await expect(failing.freeze()).rejects.toBe('plain refusal');
      expect(messages).toHaveLength(2);
      expect(messages[0]).toMatchObject({ gate: 'orders', freezeId: 1, outcome: 'frozen' });
      expect(messages[0]).not.toHaveProperty('error');
      expect(messages[0]!.durationMs).toBeLessThanOrEqual(performance.now() - t0);
      expect(messages[1]).toMatchObject({ outcome: 'failed', error: 'plain refusal' });
    } finally {
      unsubscribe(channelNames.gateFreeze, listener);
    }
  });

  it('says whose options were wrong', async () => {
    expect(() => new WriteGate({ maxFrozenMs: 1.5 })).toThrow(/^Invalid WriteGate options: maxFrozenMs: /);
    const gate = new WriteGate(quiet());
    await expect(gate.prepare({ signal: {} as never })).rejects.toThrow(/^Invalid WriteGate\.prepare options: signal: must be an AbortSignal$/);
    await expect(gate.freeze({ signal: {} as never })).rejects.toThrow(/^Invalid WriteGate\.freeze options: signal: must be an AbortSignal$/);
  });

  it('a preparation stopped by its signal prepares no store after it', async () => {
    const prepared: string[] = [];
    const controller = new AbortController();
    const gate = new WriteGate({
      ...quiet(),
      stores: [
        { name: 'a', prepare: () => void (prepared.push('a'), controller.abort('stop')), freeze: () => undefined, thaw: () => undefined },
        { name: 'b', prepare: () => void prepared.push('b'), freeze: () => undefined, thaw: () => undefined },
      ],
    });
    await gate.prepare({ signal: controller.signal });
    expect(prepared).toEqual(['a']);
  });

  it('logs a preparation no longer than it took', async () => {
    const { logger, entries } = memoryLogger();
    const gate = new WriteGate({ logger, stores: [{ name: 's', prepare: () => sleep(2), freeze: () => undefined, thaw: () => undefined }] });
    const t0 = performance.now();
    await gate.prepare();
    const took = performance.now() - t0;
    const ms = Number(/prepared in (\d+) ms$/.exec(entries.find((e) => e.level === 'debug')!.message)![1]);
    expect(ms).toBeLessThanOrEqual(Math.ceil(took));
  });
});
