/**
 * The fault matrix (issue 8): every writer event x every fault a handler or the requester can
 * throw at it, against the outcome VSS's rules give (vss-rules.ts): the set's result and error
 * code, who is blamed, Abort and BackupShutdown delivered or not, each writer's final state.
 * Two writers take part: "faulty" misbehaves at the event under test, "healthy" answers
 * everything. Each has an application behind a bound WriteGate (gated-app.ts) writing during
 * the whole set; after the set both gates must be open and no write lost, run twice, run out of
 * order or run while its gate was closed. The helpers' afterEach then unsubscribes both and
 * starts a fresh snapshot set, which proves the process and the simulated service are still
 * usable.
 *
 * With VSS_BRIDGE_MATRIX_OUT=<file> the observed rows are written there as JSON, for
 * scripts/reliability-report.mjs to turn into docs/RELIABILITY.md's table.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createShadowCopy,
  VssError,
  WriterFailure,
  type VssWriter,
  type VssWriterOptions,
  type WriterEventContext,
  type WriterState,
} from '../../src/index.js';
import type { Logger } from '../../src/logger.js';
import { runSnapshotSet } from '../../src/requester.js';
import { parseOptions, shadowCopyOptionsSchema, type ShadowCopyOptions } from '../../src/schemas.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { scaled } from '../helpers/timing.js';
import { eventsOf, recordingWriter, sleep, type Calls } from '../helpers/writers.js';
import { GatedApp, type GateOutcome } from './gated-app.js';
import { expectedOutcome, faults, matrixEvents, restoreEvents, type Fault, type MatrixEvent } from './vss-rules.js';

// The faulty writer's deadlines: short, so a hang costs little, yet long enough that a GC
// pause on a loaded machine does not expire the events that follow its fault (scaled by
// VSS_BRIDGE_TEST_TIME_SCALE, test/helpers/timing.ts).
const HANDLER_TIMEOUT_MS = scaled(250);
const FREEZE_TIMEOUT_MS = scaled(1_000);
// blocksLoop holds the event loop this long, well past the faulty writer's deadline. The
// healthy writer answers the same event only once the loop is free, so the phase ends after
// the block whichever writer's event reached JS first, and the events that follow find a
// free loop.
const BLOCK_MS = scaled(800);
// The healthy writer's deadlines: it must never be the one that times out.
const HEALTHY_TIMEOUTS = { handlerTimeoutMs: 10_000, freezeTimeoutMs: 60_000 };

// disposes drops the writer and collects garbage, so the native dispatcher's finalizer runs too.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export interface MatrixRow {
  event: MatrixEvent | 'commit';
  fault: string;
  code: string | null;
  blamed: string | null;
  abortDelivered: { faulty: boolean; healthy: boolean };
  faultyState: WriterState;
  healthyState: WriterState;
  /** Each writer's gate and writes once the set is over; null where the process ended. */
  gate: { faulty: GateOutcome; healthy: GateOutcome } | null;
  note?: string;
  passed: boolean;
}
const rows: MatrixRow[] = [];

afterAll(() => {
  const out = process.env['VSS_BRIDGE_MATRIX_OUT'];
  if (out) writeFileSync(out, JSON.stringify(rows, null, 2));
});

/** Polls `read` until `accept` holds or 10 s (scaled) pass; returns the last value read. */
async function eventually<T>(read: () => T, accept: (value: T) => boolean): Promise<T> {
  let value = read();
  for (const deadline = Date.now() + scaled(10_000); !accept(value) && Date.now() < deadline; value = read()) await sleep(10);
  return value;
}

type Apps = Record<'faulty' | 'healthy', GatedApp>;
type EventHandler = (ctx: WriterEventContext) => unknown;

function gatedApps(logger: Logger): Apps {
  return { faulty: new GatedApp('faulty', logger), healthy: new GatedApp('healthy', logger) };
}

/** Handlers that let `app` see every event (it writes through its gate) and run the override. */
function writingAtEvery(app: GatedApp, overrides: Partial<Record<MatrixEvent, EventHandler>> = {}): VssWriterOptions['handlers'] {
  return Object.fromEntries(
    matrixEvents.map((event) => [event, (ctx: WriterEventContext) => app.handle(event, () => overrides[event]?.(ctx))]),
  );
}

/** Waits until both gates are open (or 10 s pass), then stops the writes and reports them. */
async function gatesAfterTheSet(apps: Apps): Promise<NonNullable<MatrixRow['gate']>> {
  await eventually(
    () => apps.faulty.gate.state === 'open' && apps.healthy.gate.state === 'open',
    (open) => open,
  );
  const [faulty, healthy] = await Promise.all([apps.faulty.outcome(), apps.healthy.outcome()]);
  return { faulty, healthy };
}

/**
 * The gate's promises: open again (and not by its watchdog), every write issued acknowledged
 * and applied once, in order, none while closed; where the writer got Freeze, writes arrived
 * while its gate was closed and were held, then ran.
 */
function expectGatesKept(gate: MatrixRow['gate'], calls: Calls): void {
  for (const name of ['faulty', 'healthy'] as const) {
    const g = gate?.[name];
    expect(g?.state, `${name}'s gate`).toBe('open');
    expect(g).toMatchObject({ watchdogThaws: 0, lost: 0, appliedTwice: 0, outOfOrder: 0, appliedWhileClosed: 0, closedAt: [], frozenWhilePreparing: 0 });
    expect(g?.acknowledged, `${name}'s writes acknowledged`).toBe(g?.issued);
    expect(g?.issued, `${name}'s writes issued`).toBeGreaterThan(0);
    expect(g?.held, `${name}'s writes held`).toBe(g?.gateHeld);
    if (eventsOf(calls, name).includes('freeze')) expect(g?.held, `${name}'s writes held while frozen`).toBeGreaterThan(0);
    // The bound PrepareSnapshot runs the store's preparation before the writer's own handler.
    if (eventsOf(calls, name).includes('prepareSnapshot')) expect(g?.preparations, `${name}'s store prepared`).toBeGreaterThan(0);
  }
}

const untilSignal = (ctx: WriterEventContext): Promise<void> =>
  new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));

function runSet(event: MatrixEvent, options: ShadowCopyOptions): Promise<unknown> {
  if ((restoreEvents as readonly string[]).includes(event)) {
    return runSnapshotSet(parseOptions(shadowCopyOptionsSchema, options, 'restore options'), true);
  }
  return createShadowCopy({ ...options, ...(event === 'abort' && { simulation: { failWith: 'VSS_E_PROVIDER_VETO' } }) });
}

async function runCase(event: MatrixEvent, fault: Fault): Promise<void> {
  const calls: Calls = [];
  const controller = new AbortController();
  const log = memoryLogger();
  let secondSet: string | undefined;
  let faulty: VssWriter | undefined;
  let unblocked = (): void => undefined;
  const loopFree = new Promise<void>((resolve) => (unblocked = resolve));
  const dispose = async (): Promise<void> => {
    await faulty?.unsubscribe();
    faulty = undefined;
    gc();
  };
  const behaviours: Record<Fault, (ctx: WriterEventContext) => unknown> = {
    throws: () => {
      throw new Error('injected');
    },
    rejects: async () => {
      throw new WriterFailure('VSS_E_WRITERERROR_NONRETRYABLE', 'injected');
    },
    hangs: () => new Promise(() => undefined),
    settlesLate: () => sleep(HANDLER_TIMEOUT_MS * 3),
    blocksLoop: () => {
      for (const end = Date.now() + BLOCK_MS; Date.now() < end; );
      unblocked();
    },
    unsubscribes: () => faulty?.unsubscribe(),
    disposes: (ctx) => {
      setImmediate(() => void dispose());
      return untilSignal(ctx);
    },
    secondSet: async () => {
      secondSet = await createShadowCopy({ volumes: ['/'], logger: log.logger }).then(
        () => 'succeeded',
        (e: unknown) => (e instanceof VssError ? e.code : String(e)),
      );
    },
    cancel: (ctx) => {
      controller.abort();
      return untilSignal(ctx);
    },
  };
  const apps = gatedApps(log.logger);
  faulty = await recordingWriter('faulty', calls, writingAtEvery(apps.faulty, { [event]: behaviours[fault] }), {
    handlerTimeoutMs: HANDLER_TIMEOUT_MS,
    freezeTimeoutMs: FREEZE_TIMEOUT_MS,
    gate: apps.faulty.gate,
    logger: log.logger,
  });
  const writer = faulty;
  const healthy = await recordingWriter('healthy', calls, writingAtEvery(apps.healthy, fault === 'blocksLoop' ? { [event]: () => loopFree } : {}), {
    ...HEALTHY_TIMEOUTS,
    gate: apps.healthy.gate,
    logger: log.logger,
  });

  apps.faulty.startPump();
  apps.healthy.startPump();
  const outcome = await runSet(event, { volumes: ['/'], timeoutMs: 10_000, signal: controller.signal, logger: log.logger }).then(
    () => ({ code: null, blamed: null }),
    (e: unknown) => {
      if (!(e instanceof VssError)) throw e;
      return { code: e.code, blamed: e.writer?.name ?? null };
    },
  );
  const expected = expectedOutcome(event, fault);
  // A cancelled set answers before its writers' Abort and BackupShutdown: wait for them.
  const shutdownSeen = (): boolean =>
    eventsOf(calls, 'healthy').includes('backupShutdown') &&
    (!expected.shutdownToFaulty || eventsOf(calls, 'faulty').includes('backupShutdown'));
  await eventually(shutdownSeen, (seen) => seen);
  const states = await eventually(
    () => ({ faulty: writer.state, healthy: healthy.state }),
    (s) => expected.faultyState.includes(s.faulty) && expected.healthyState.includes(s.healthy),
  );
  const abortDelivered = { faulty: eventsOf(calls, 'faulty').includes('abort'), healthy: eventsOf(calls, 'healthy').includes('abort') };
  const gate = await gatesAfterTheSet(apps);

  const row: MatrixRow = { event, fault, ...outcome, abortDelivered, faultyState: states.faulty, healthyState: states.healthy, gate, passed: false };
  if (fault === 'secondSet') row.note = `second set: ${secondSet}`;
  if (fault === 'settlesLate') {
    const logged = await eventually(() => log.entries.some((e) => /settled after its deadline/.test(e.message)), (seen) => seen);
    row.note = logged ? 'late answer logged and ignored' : 'late answer not logged';
  }
  rows.push(row);

  expect(outcome.code).toBe(expected.code);
  expect(outcome.blamed).toBe(expected.blamesFaulty ? 'faulty' : null);
  expect(abortDelivered).toEqual({ faulty: expected.abortToFaulty, healthy: expected.abortToHealthy });
  expect(eventsOf(calls, 'healthy').filter((e) => e === 'backupShutdown')).toHaveLength(1);
  expect(eventsOf(calls, 'faulty').includes('backupShutdown')).toBe(expected.shutdownToFaulty);
  expect(expected.faultyState).toContain(states.faulty);
  expect(expected.healthyState).toContain(states.healthy);
  // Nothing is left frozen, whatever happened.
  expect([states.faulty, states.healthy]).not.toContain('VSS_WS_WAITING_FOR_THAW');
  if (fault === 'secondSet') expect(secondSet).toBe('VSS_E_SNAPSHOT_SET_IN_PROGRESS');
  if (fault === 'settlesLate') expect(row.note).toBe('late answer logged and ignored');
  expectGatesKept(gate, calls);
  row.passed = true;
}

describe('fault matrix: writer event x fault', () => {
  for (const event of matrixEvents) {
    describe(event, () => {
      for (const fault of faults) {
        it(`${fault}`, () => runCase(event, fault));
      }
    });
  }
});

describe('fault matrix: process.exit inside a handler', () => {
  const fixture = join(__dirname, 'fixtures', 'exit-in-event.cjs');
  for (const event of matrixEvents) {
    it(`${event}: the process ends with the handler's exit code, no crash, no hang`, () => {
      const child = spawnSync(process.execPath, [fixture, event], { encoding: 'utf8', timeout: 20_000 });
      const row: MatrixRow = {
        event,
        fault: 'exit',
        code: null,
        blamed: null,
        abortDelivered: { faulty: false, healthy: false },
        faultyState: 'VSS_WS_UNKNOWN',
        healthyState: 'VSS_WS_UNKNOWN',
        gate: null,
        note: `exit code ${String(child.status)}, signal ${String(child.signal)}`,
        passed: false,
      };
      rows.push(row);
      expect(child.stdout).toContain(`reached ${event}`);
      expect(child.signal).toBeNull();
      expect(child.status).toBe(7);
      row.passed = true;
    });
  }
});

describe('fault matrix: provider and service faults', () => {
  const commitCase = async (
    simulation: ShadowCopyOptions['simulation'],
    expectedCode: string,
    faultyState: WriterState,
    fault: string,
  ): Promise<void> => {
    const calls: Calls = [];
    const log = memoryLogger();
    const apps = gatedApps(log.logger);
    const timeouts = { handlerTimeoutMs: HANDLER_TIMEOUT_MS, freezeTimeoutMs: FREEZE_TIMEOUT_MS, logger: log.logger };
    const faulty = await recordingWriter('faulty', calls, writingAtEvery(apps.faulty), { ...timeouts, gate: apps.faulty.gate });
    const healthy = await recordingWriter('healthy', calls, writingAtEvery(apps.healthy), { ...HEALTHY_TIMEOUTS, gate: apps.healthy.gate, logger: log.logger });
    apps.faulty.startPump();
    apps.healthy.startPump();
    const error = await createShadowCopy({ volumes: ['/'], simulation, logger: log.logger }).then(
      () => null,
      (e: unknown) => e as VssError,
    );
    const gate = await gatesAfterTheSet(apps);
    const row: MatrixRow = {
      event: 'commit',
      fault,
      code: error?.code ?? null,
      blamed: error?.writer?.name ?? null,
      abortDelivered: { faulty: eventsOf(calls, 'faulty').includes('abort'), healthy: eventsOf(calls, 'healthy').includes('abort') },
      faultyState: faulty.state,
      healthyState: healthy.state,
      gate,
      passed: false,
    };
    rows.push(row);
    expect(row.code).toBe(expectedCode);
    expect(row.abortDelivered).toEqual({ faulty: true, healthy: true });
    expect(row.faultyState).toBe(faultyState);
    expect(row.healthyState).toBe('VSS_WS_STABLE');
    expect(eventsOf(calls, 'healthy')).not.toContain('thaw');
    expectGatesKept(gate, calls);
    row.passed = true;
  };

  it('the provider fails its commit: VSS_E_PROVIDER_VETO, Abort to every writer', () =>
    commitCase({ failWith: 'VSS_E_PROVIDER_VETO' }, 'VSS_E_PROVIDER_VETO', 'VSS_WS_STABLE', 'provider fails'));

  it('the commit overruns the hold limit: VSS_E_HOLD_WRITES_TIMEOUT, Abort to every writer', () =>
    commitCase({ commitDelayMs: scaled(300), holdLimitMs: scaled(50) }, 'VSS_E_HOLD_WRITES_TIMEOUT', 'VSS_WS_STABLE', 'overruns hold limit'));

  it("the commit overruns a writer's freeze window: that writer fails at freeze with a timeout", () =>
    commitCase({ commitDelayMs: FREEZE_TIMEOUT_MS * 2, holdLimitMs: 60_000 }, 'VSS_E_WRITERERROR_TIMEOUT', 'VSS_WS_FAILED_AT_FREEZE', 'overruns freeze window'));

  it('the requester cancels inside the commit: E_ABORT, Abort to every writer', async () => {
    const calls: Calls = [];
    const log = memoryLogger();
    const apps = gatedApps(log.logger);
    const faulty = await recordingWriter('faulty', calls, writingAtEvery(apps.faulty), { gate: apps.faulty.gate, logger: log.logger });
    const healthy = await recordingWriter('healthy', calls, writingAtEvery(apps.healthy), { gate: apps.healthy.gate, logger: log.logger });
    apps.faulty.startPump();
    apps.healthy.startPump();
    const controller = new AbortController();
    const error = await createShadowCopy({ volumes: ['/'], signal: controller.signal, logger: log.logger, onCommit: () => controller.abort() }).then(
      () => null,
      (e: unknown) => e as VssError,
    );
    await eventually(() => eventsOf(calls, 'faulty').includes('backupShutdown') && eventsOf(calls, 'healthy').includes('backupShutdown'), (seen) => seen);
    const states = await eventually(
      () => [faulty.state, healthy.state],
      (s) => s.every((x) => x === 'VSS_WS_STABLE'),
    );
    const gate = await gatesAfterTheSet(apps);
    const row: MatrixRow = {
      event: 'commit',
      fault: 'cancel',
      code: error?.code ?? null,
      blamed: error?.writer?.name ?? null,
      abortDelivered: { faulty: eventsOf(calls, 'faulty').includes('abort'), healthy: eventsOf(calls, 'healthy').includes('abort') },
      faultyState: states[0] as WriterState,
      healthyState: states[1] as WriterState,
      gate,
      passed: false,
    };
    rows.push(row);
    expect(row.code).toBe('E_ABORT');
    expect(row.abortDelivered).toEqual({ faulty: true, healthy: true });
    expect(states).toEqual(['VSS_WS_STABLE', 'VSS_WS_STABLE']);
    expectGatesKept(gate, calls);
    row.passed = true;
  });

  it('the requester cancels before the set starts: E_ABORT, no event reaches any writer', async () => {
    const calls: Calls = [];
    await recordingWriter('faulty', calls);
    const error = await createShadowCopy({ volumes: ['/'], signal: AbortSignal.abort() }).catch((e: unknown) => e as VssError);
    expect(error).toBeInstanceOf(VssError);
    expect((error as VssError).code).toBe('E_ABORT');
    expect(calls).toEqual([]);
  });

  it('two writers with the same id and instance name: the second is refused and left unregistered', async () => {
    const calls: Calls = [];
    const first = await recordingWriter('first', calls, {}, { instanceName: 'one' });
    const error = await recordingWriter('twin', calls, {}, { id: first.id, instanceName: 'one' }).catch((e: unknown) => e as VssError);
    expect(error).toBeInstanceOf(VssError);
    expect((error as VssError).code).toBe('VSS_E_WRITER_ALREADY_SUBSCRIBED');
    // Same class id, another instance: VSS accepts it as a second instance.
    const other = await recordingWriter('other-instance', calls, {}, { id: first.id, instanceName: 'two' });
    expect(other.subscribed).toBe(true);
    await createShadowCopy({ volumes: ['/'] });
    expect(eventsOf(calls, 'twin')).toEqual([]);
    expect(eventsOf(calls, 'first')).toContain('backupComplete');
    expect(eventsOf(calls, 'other-instance')).toContain('backupComplete');
  });
});
