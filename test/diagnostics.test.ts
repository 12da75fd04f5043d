/** What vss-bridge publishes on node:diagnostics_channel (docs/DIAGNOSTICS.md). */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  channelNames,
  createShadowCopy,
  WriteGate,
  type GateFreezeMessage,
  type GateThawMessage,
  type SnapshotSetMessage,
  type WriterEventMessage,
} from '../src/index.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { recordingWriter, sleep } from './helpers/writers.js';

const quiet = () => ({ logger: memoryLogger().logger });

/** Everything published on the library's channels while a test runs. */
function listen() {
  const seen = {
    writerEvent: [] as WriterEventMessage[],
    snapshotSet: [] as SnapshotSetMessage[],
    gateFreeze: [] as GateFreezeMessage[],
    gateThaw: [] as GateThawMessage[],
  };
  const unsubscribes = (Object.keys(channelNames) as (keyof typeof channelNames)[]).map((key) => {
    const onMessage = (message: unknown): void => void (seen[key] as unknown[]).push(message);
    diagnosticsChannel.subscribe(channelNames[key], onMessage);
    return () => diagnosticsChannel.unsubscribe(channelNames[key], onMessage);
  });
  stops.push(() => unsubscribes.forEach((u) => u()));
  return seen;
}
const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((s) => s()));

describe('diagnostics channels', () => {
  it('names its channels under vss-bridge:', () => {
    expect(channelNames).toEqual({
      writerEvent: 'vss-bridge:writer:event',
      snapshotSet: 'vss-bridge:snapshot-set',
      gateFreeze: 'vss-bridge:gate:freeze',
      gateThaw: 'vss-bridge:gate:thaw',
    });
  });

  it('publishes each handled writer event, the snapshot set, and the gate freeze and thaw with the writes held', async () => {
    const seen = listen();
    const gate = new WriteGate({ ...quiet(), name: 'orders' });
    let held: Promise<unknown> | undefined;
    await recordingWriter('orders-service', [], {
      // A write arrives while frozen: the gate holds it until thaw.
      freeze: () => void (held = gate.run(() => 'late write')),
    }, { gate, instanceName: 'main' });
    const result = await createShadowCopy({ volumes: ['/'], backupType: 'copy', ...quiet() });
    await held;

    const events = seen.writerEvent.filter((m) => m.snapshotSetId === result.snapshotSetId);
    expect(events.map((m) => m.event)).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown']);
    for (const m of events) {
      expect(m).toMatchObject({ writer: 'orders-service', instanceName: 'main', outcome: 'succeeded' });
      expect(m.durationMs).toBeGreaterThanOrEqual(0);
      expect(m.code).toBeUndefined();
    }
    expect(seen.snapshotSet).toEqual([
      expect.objectContaining({ snapshotSetId: result.snapshotSetId, outcome: 'succeeded', volumes: ['/'], backupType: 'copy', restore: false, result }),
    ]);
    expect(seen.gateFreeze).toEqual([expect.objectContaining({ gate: 'orders', freezeId: 1, outcome: 'frozen' })]);
    expect(seen.gateThaw).toEqual([expect.objectContaining({ gate: 'orders', id: 1, endedBy: 'thaw', heldWrites: 1, reachedFrozen: true })]);
    expect(seen.gateThaw[0]!.heldMs).toBeGreaterThanOrEqual(0);
  });

  it('publishes a timed-out handler with its code, and the failed set with its code', async () => {
    const seen = listen();
    await recordingWriter('hangs', [], { prepareSnapshot: () => sleep(1_000) }, { handlerTimeoutMs: 20 });
    const error = (await createShadowCopy({ volumes: ['/'], ...quiet() }).catch((e: unknown) => e)) as { code: string };
    expect(error.code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    // Published when the JS-side deadline fires, which may be just after VSS (here the
    // simulator) had its answer and the set ended.
    await vi.waitFor(() => expect(seen.writerEvent.find((m) => m.event === 'prepareSnapshot')).toBeDefined(), { timeout: 5_000 });
    expect(seen.writerEvent.find((m) => m.event === 'prepareSnapshot')).toMatchObject({ writer: 'hangs', outcome: 'timedOut', code: 'VSS_E_WRITERERROR_TIMEOUT' });
    expect(seen.snapshotSet).toEqual([expect.objectContaining({ outcome: 'failed', code: 'VSS_E_WRITERERROR_TIMEOUT' })]);
  });

  it('publishes a failed handler with its code and message', async () => {
    const seen = listen();
    await recordingWriter('vetoes', [], {
      freeze: () => {
        throw new Error('not now');
      },
    });
    const veto = (await createShadowCopy({ volumes: ['/'], ...quiet() }).catch((e: unknown) => e)) as { code: string };
    expect(veto.code).toBe('VSS_E_WRITERERROR_RETRYABLE');
    expect(seen.writerEvent.find((m) => m.event === 'freeze')).toMatchObject({ writer: 'vetoes', outcome: 'failed', code: 'VSS_E_WRITERERROR_RETRYABLE', message: 'not now' });
  });

  it('publishes a gate freeze that failed, and the reopening', async () => {
    const seen = listen();
    const gate = new WriteGate({ ...quiet(), name: 'slow', drainTimeoutMs: 10 });
    let release!: () => void;
    const inFlight = gate.run(() => new Promise<void>((resolve) => (release = resolve)));
    await expect(gate.freeze()).rejects.toThrow(/drain deadline/);
    release();
    await inFlight;
    expect(seen.gateFreeze).toEqual([expect.objectContaining({ gate: 'slow', outcome: 'failed', drainMs: null, error: expect.stringMatching(/drain deadline/) })]);
    expect(seen.gateThaw).toEqual([expect.objectContaining({ gate: 'slow', endedBy: 'freezeFailed', reachedFrozen: false })]);
  });
});
