/**
 * The requester's own part of a snapshot set (src/requester.ts), on the simulator: what a
 * backend without a capability refuses, a set cancelled before it starts, the progress and log
 * lines it reports, the failed writer and the shadow copies a failure names, and the writers'
 * metadata.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BackendCapabilities } from '../src/backends/backend.js';
import { channelNames, type SnapshotSetMessage } from '../src/diagnostics.js';
import { createShadowCopy, gatherWriterMetadata, VssError, type Progress } from '../src/index.js';
import { runSnapshotSet } from '../src/requester.js';
import { shadowCopyOptionsSchema } from '../src/schemas.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { tempDir } from './helpers/temp-dir.js';
import { recordingWriter } from './helpers/writers.js';

/** Capabilities the simulated backend is made to lack, for one test. */
const lacking = vi.hoisted(() => ({ capabilities: undefined as Partial<BackendCapabilities> | undefined }));
vi.mock('../src/backends/backend.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/backends/backend.js')>();
  return {
    ...m,
    getBackend: () => {
      const backend = m.getBackend();
      const less = lacking.capabilities;
      return less === undefined ? backend : Object.create(backend, { capabilities: { value: { ...backend.capabilities, ...less } } });
    },
  };
});

afterEach(() => {
  lacking.capabilities = undefined;
});

const data = tempDir('vss-bridge-requester-');

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('the set succeeded'),
    (e: unknown) => e,
  );
}

describe('a backend without a capability', () => {
  it('refuses a set that needs it, naming each missing one', async () => {
    lacking.capabilities = { simulation: false, onCommit: false, restore: false };
    const quiet = memoryLogger().logger;
    const one = await failure(createShadowCopy({ volumes: [data], simulation: {}, logger: quiet }));
    expect(one).toBeInstanceOf(TypeError);
    expect((one as Error).message).toBe('simulation needs the simulated backend (VSS_BRIDGE_BACKEND=simulated)');
    const two = await failure(createShadowCopy({ volumes: [data], simulation: {}, onCommit: () => undefined, logger: quiet }));
    expect((two as Error).message).toBe('simulation and onCommit need the simulated backend (VSS_BRIDGE_BACKEND=simulated)');
    const restore = await failure(runSnapshotSet(shadowCopyOptionsSchema.parse({ volumes: [data], logger: quiet }), true));
    expect((restore as Error).message).toBe('the restore rehearsal needs the simulated backend (VSS_BRIDGE_BACKEND=simulated)');
    // A set that needs none of them runs.
    await expect(createShadowCopy({ volumes: [data], logger: quiet })).resolves.toMatchObject({ backupType: 'copy' });
  });
});

describe('a snapshot set', () => {
  it('cancelled before it starts: E_ABORT, and no set ran', async () => {
    const { logger, entries } = memoryLogger();
    const controller = new AbortController();
    controller.abort();
    const error = await failure(createShadowCopy({ volumes: [data], signal: controller.signal, logger }));
    expect(error).toBeInstanceOf(VssError);
    expect((error as VssError).code).toBe('E_ABORT');
    expect((error as VssError).message).toMatch(/^the snapshot set was cancelled before it started \(E_ABORT/);
    expect(entries).toEqual([]);
  });

  it('logs its success with its id and whole-millisecond duration, and publishes it', async () => {
    const messages: SnapshotSetMessage[] = [];
    const listener = (m: unknown): void => void messages.push(m as SnapshotSetMessage);
    subscribe(channelNames.snapshotSet, listener);
    try {
      const { logger, entries } = memoryLogger();
      const result = await createShadowCopy({ volumes: [data], backupType: 'full', logger });
      const line = entries.find((e) => e.message === 'snapshot set succeeded');
      expect(line).toMatchObject({ level: 'info', snapshotSetId: result.snapshotSetId });
      expect(Number.isInteger(line!['durationMs'])).toBe(true);
      expect(messages).toEqual([expect.objectContaining({ snapshotSetId: result.snapshotSetId, outcome: 'succeeded', volumes: [data], backupType: 'full', restore: false })]);
      expect(messages[0]).not.toHaveProperty('code');
    } finally {
      unsubscribe(channelNames.snapshotSet, listener);
    }
  });

  it('failing: names the writer and its event, logs the failure, publishes its code', async () => {
    const messages: SnapshotSetMessage[] = [];
    const listener = (m: unknown): void => void messages.push(m as SnapshotSetMessage);
    subscribe(channelNames.snapshotSet, listener);
    try {
      const writer = await recordingWriter('vetoer', [], {}, { instanceName: 'one' });
      const { logger, entries } = memoryLogger();
      const error = (await failure(
        createShadowCopy({ volumes: [data], simulation: { writerFailures: [{ writer: 'vetoer', event: 'prepareSnapshot', code: 'VSS_E_WRITERERROR_NONRETRYABLE' }] }, logger }),
      )) as VssError;
      expect(error).toBeInstanceOf(VssError);
      expect(error.code).toBe('VSS_E_WRITERERROR_NONRETRYABLE');
      expect(error.writer).toEqual({ name: 'vetoer', id: writer.id, instanceName: 'one', instanceId: expect.any(String), event: 'prepareSnapshot' });
      expect(error.shadowCopies).toBeUndefined(); // it failed before any copy was made
      expect(entries.find((e) => e.message.startsWith('snapshot set failed: '))).toMatchObject({ level: 'info', message: `snapshot set failed: ${error.message}` });
      expect(messages).toEqual([expect.objectContaining({ outcome: 'failed', code: 'VSS_E_WRITERERROR_NONRETRYABLE' })]);
    } finally {
      unsubscribe(channelNames.snapshotSet, listener);
    }
  });

  it('a writer failure given for one instance fails that instance only', async () => {
    await recordingWriter('twin', [], {}, { instanceName: 'one' });
    await recordingWriter('twin', [], {}, { instanceName: 'two' });
    const quiet = memoryLogger().logger;
    const error = (await failure(
      createShadowCopy({ volumes: [data], simulation: { writerFailures: [{ writer: 'twin', instanceName: 'two', event: 'freeze' }] }, logger: quiet }),
    )) as VssError;
    expect(error.writer).toMatchObject({ name: 'twin', instanceName: 'two', event: 'freeze' });
    const one = error.result!.writers.find((w) => w.instanceName === 'one')!;
    expect(one.events.find((e) => e.event === 'freeze')).toMatchObject({ outcome: 'succeeded' });
  });

  it('reports progress: phases without a writer, each writer with its outcome; a throwing onProgress is logged and ignored', async () => {
    const writer = await recordingWriter('progress', []);
    const { logger, entries } = memoryLogger();
    const seen: Progress[] = [];
    await createShadowCopy({
      volumes: [data],
      logger,
      onProgress: (p) => {
        seen.push(p);
        if (p.phase === 'freeze' && p.status === 'start') throw new Error('a bad callback');
      },
    });
    const start = seen.find((p) => p.phase === 'freeze' && p.status === 'start')!;
    expect(Object.keys(start).sort()).toEqual(['elapsedMs', 'phase', 'status']);
    const answered = seen.find((p) => p.phase === 'freeze' && p.status === 'writer')!;
    expect(answered).toMatchObject({ writer: { name: 'progress', instanceId: expect.any(String) }, outcome: 'succeeded' });
    expect(writer.info()?.instanceId).toBe(answered.writer!.instanceId);
    expect(entries.filter((e) => e.level === 'warn').map((e) => e.message)).toEqual(['onProgress threw: a bad callback']);
  });
});

describe('gatherWriterMetadata', () => {
  it("gives each writer's usage, source type, timeouts and components", async () => {
    await recordingWriter('described', [], {}, {
      usage: 'systemService',
      sourceType: 'transactedDb',
      freezeTimeoutMs: 12_345,
      handlerTimeoutMs: 2_345,
      components: [{ name: 'db', files: [{ path: data, filespec: '*.db' }] }],
    });
    const [described] = (await gatherWriterMetadata()).filter((w) => w.name === 'described');
    expect(described).toMatchObject({ usage: 'systemService', sourceType: 'transactedDb', freezeTimeoutMs: 12_345, handlerTimeoutMs: 2_345 });
    expect(described!.components).toEqual([expect.objectContaining({ name: 'db', logicalPath: '' })]);
  });
});
