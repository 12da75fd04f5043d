/**
 * vss-bridge/testing: rehearse a checkpoint against the writers your app subscribed in this
 * process, with the faults you choose, and get the timeline back to assert on. Uses no test
 * framework, so it works from vitest, jest and node:test alike.
 *
 *   const r = await rehearseCheckpoint({ faults: { writerFailures: [{ writer: 'App', event: 'freeze' }] } });
 *   assert.deepEqual(r.eventsOf('App'), ['identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
 */
import { getBackend } from './backends/backend.js';
import { VssError } from './errors.js';
import { hresultOf } from './hresult.js';
import { runSnapshotSet } from './requester.js';
import { checkWriterFailures } from './backends/simulator-checks.js';
import { parseOptions, rehearsalOptionsSchema, shadowCopyOptionsSchema, type RehearsalOptions } from './schemas.js';
import type { EventOutcome, ShadowCopyResult, WriterReport } from './types.js';

export type { RehearsalOptions } from './schemas.js';
/**
 * Unsubscribes every writer of this process. A subscribed writer keeps the process alive, so
 * a test file under `node --test` that leaves one subscribed never ends: call this after the
 * tests (node:test `after(unsubscribeAll)`, vitest or jest `afterAll(unsubscribeAll)`).
 */
export { unsubscribeAll } from './writer.js';

/** One writer's answer to one event. */
export interface TimelineEntry {
  readonly writer: string;
  readonly instanceName: string;
  readonly event: string;
  /** Milliseconds since the snapshot set started. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly outcome: EventOutcome;
  /** VSS's name of the failure, e.g. VSS_E_WRITERERROR_RETRYABLE. */
  readonly code?: string;
}

export interface Rehearsal {
  /** True when the snapshot set succeeded. */
  readonly succeeded: boolean;
  /** Why it failed: `error.writer` names the writer that vetoed, `error.code` the reason. */
  readonly error: VssError | null;
  /** Phases, writers with their events and final states, the shadow copies. */
  readonly result: ShadowCopyResult;
  /** Every writer's events in the order they were answered. */
  readonly timeline: readonly TimelineEntry[];
  /** The events one writer received, in order. Throws when no writer has that name. */
  eventsOf(writer: string): string[];
  /** One writer's report (state, last error, events). Throws when no writer has that name. */
  writer(name: string): WriterReport;
}

/** A checkpoint (a full backup snapshot set) against this process's writers. */
export function rehearseCheckpoint(options: RehearsalOptions = {}): Promise<Rehearsal> {
  return rehearse(options, false, 'rehearseCheckpoint');
}

/** A restore (PreRestore -> PostRestore) against this process's writers. */
export function rehearseRestore(options: RehearsalOptions = {}): Promise<Rehearsal> {
  return rehearse(options, true, 'rehearseRestore');
}

/** Flattens a result into one row a writer and event, ordered by when each started. */
export function timelineOf(result: ShadowCopyResult): TimelineEntry[] {
  return result.writers
    .flatMap((w) =>
      w.events.map((e) => ({
        writer: w.name,
        instanceName: w.instanceName,
        event: e.event,
        startMs: e.startMs,
        durationMs: e.durationMs,
        outcome: e.outcome,
        ...(e.error && { code: e.error.code }),
      })),
    )
    .sort((a, b) => a.startMs - b.startMs);
}

async function rehearse(options: RehearsalOptions, restore: boolean, fn: string): Promise<Rehearsal> {
  const { faults, ...rest } = parseOptions(rehearsalOptionsSchema, options, `${fn} options`);
  const { capabilities } = getBackend();
  if (!capabilities.simulation || (restore && !capabilities.restore)) {
    throw new VssError(hresultOf('E_NOTIMPL'), `${fn} needs the simulator: run the tests with VSS_BRIDGE_BACKEND=simulated`);
  }
  const writers = await getBackend().listWriters();
  if (writers.length === 0) {
    throw new Error(`${fn}: no writer is subscribed in this process; subscribe your app's writers first`);
  }
  checkWriterFailures(faults.writerFailures, writers, 'faults.writerFailures', `${fn} options`);
  const opts = parseOptions(
    shadowCopyOptionsSchema,
    { ...rest, volumes: rest.volumes ?? [process.platform === 'win32' ? 'C:\\' : '/'], simulation: faults },
    `${fn} options`,
  );
  let result: ShadowCopyResult;
  let error: VssError | null = null;
  try {
    result = await runSnapshotSet(opts, restore);
  } catch (caught) {
    if (!(caught instanceof VssError) || caught.result === undefined) throw caught;
    error = caught;
    result = caught.result;
  }
  const find = (name: string): WriterReport => {
    const report = result.writers.find((w) => w.name === name);
    if (report === undefined) {
      throw new Error(`no writer named "${name}" took part; writers: ${result.writers.map((w) => w.name).join(', ') || 'none'}`);
    }
    return report;
  };
  return {
    succeeded: error === null,
    error,
    result,
    timeline: timelineOf(result),
    eventsOf: (name) => find(name).events.map((e) => e.event),
    writer: find,
  };
}
