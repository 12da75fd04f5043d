/**
 * The requester side: list writers, run a snapshot set. The simulated backend runs the
 * whole VSS sequence in the addon; on Windows the same calls drive IVssBackupComponents.
 */
import { getBackend } from './backends/backend.js';
import { JsDispatcher } from './dispatch.js';
import { toVssError, VssError } from './errors.js';
import { publish } from './diagnostics.js';
import { describeHresult, hresultOf } from './hresult.js';
import { getDefaultLogger, type Logger } from './logger.js';
import type { NativeProgress } from './backends/native.js';
import { toResult, toWriterInfo } from './results.js';
import { highestKeptDeviceNumber, settleShadowCopies } from './shadow-copies.js';
import { parseOptions, shadowCopyOptionsSchema, type ParsedShadowCopyOptions, type ShadowCopyOptions } from './schemas.js';
import type { EventOutcome, Progress, ShadowCopyResult, WriterInfo, WriterMetadataInfo } from './types.js';

export type { ShadowCopyOptions } from './schemas.js';

/** Every writer the backend knows, with its state and last error. */
export async function listWriters(): Promise<WriterInfo[]> {
  const writers = await getBackend().listWriters();
  return writers.map(toWriterInfo);
}

/**
 * Every writer with the components and file groups it reports (GatherWriterMetadata). A writer
 * that failed at Identify reports none; another process's writer does not report its timeouts.
 */
export async function gatherWriterMetadata(): Promise<WriterMetadataInfo[]> {
  const writers = await getBackend().listWriters();
  return writers.map((w) => {
    const m = w.metadata;
    return {
      ...toWriterInfo(w),
      ...(m && {
        usage: m.usage as WriterMetadataInfo['usage'],
        sourceType: m.sourceType as WriterMetadataInfo['sourceType'],
      }),
      ...(m && m.freezeTimeoutMs > 0 && { freezeTimeoutMs: m.freezeTimeoutMs, handlerTimeoutMs: m.handlerTimeoutMs }),
      components: m?.components ?? [],
    };
  });
}

/**
 * Runs a whole snapshot set over `volumes` and resolves when every writer has answered.
 * Rejects with a VssError whose `writer` names the writer that failed, if one did, and whose
 * `result` holds the timeline so far.
 */
export async function createShadowCopy(options: ShadowCopyOptions): Promise<ShadowCopyResult> {
  return runSnapshotSet(parseOptions(shadowCopyOptionsSchema, options, 'createShadowCopy options'), false);
}

/** Shared by createShadowCopy and the restore rehearsal of vss-bridge/testing. */
export function runSnapshotSet(opts: ParsedShadowCopyOptions, restore: boolean): Promise<ShadowCopyResult> {
  const backend = getBackend();
  if (backend.name !== 'simulated' && (opts.simulation !== undefined || opts.onCommit !== undefined)) {
    return Promise.reject(
      new TypeError('createShadowCopy: simulation and onCommit need the simulated backend (VSS_BRIDGE_BACKEND=simulated)'),
    );
  }
  const logger = opts.logger ?? getDefaultLogger();
  const signal = opts.signal;
  if (signal?.aborted) {
    return Promise.reject(new VssError(hresultOf('E_ABORT'), 'the snapshot set was cancelled before it started'));
  }
  const onCommit = opts.onCommit;
  const commit = onCommit
    ? new JsDispatcher({ label: 'provider commit', logger, handler: () => onCommit })
    : undefined;
  const simulation = opts.simulation;
  return new Promise((resolve, reject) => {
    const abort = (): void => cancel();
    let cancel: () => void;
    try {
      cancel = backend.runSnapshotSet(
        {
          restore,
          progress: opts.onProgress !== undefined,
          volumes: opts.volumes,
          backupType: opts.backupType,
          components: opts.components,
          timeoutMs: opts.timeoutMs,
          provider: {
            commitDelayMs: simulation?.commitDelayMs ?? 0,
            failWith: simulation?.failWith ? hresultOf(simulation.failWith) | 0 : 0,
            holdLimitMs: simulation?.holdLimitMs ?? 10_000,
          },
          writerFailures: (simulation?.writerFailures ?? []).map((f) => ({
            writer: f.writer,
            ...(f.instanceName !== undefined && { instanceName: f.instanceName }),
            event: f.event,
            hresult: hresultOf(f.code) | 0,
          })),
          freezeWindowMs: simulation?.freezeWindowMs ?? 0,
          shadowCopyNumberFloor: highestKeptDeviceNumber(),
        },
        commit?.native ?? null,
        (...message) => {
          if (message[0] === 'progress') {
            reportProgress(opts, message[1], logger);
            return;
          }
          signal?.removeEventListener('abort', abort);
          commit?.close('the snapshot set ended');
          const raw = message[1];
          const result = toResult(raw, opts.backupType);
          const meta = { snapshotSetId: raw.snapshotSetId, durationMs: Math.round(raw.durationMs) };
          publish.snapshotSet(() => ({
            snapshotSetId: raw.snapshotSetId,
            outcome: raw.hresult === 0 ? 'succeeded' : 'failed',
            ...(raw.hresult !== 0 && { code: describeHresult(raw.hresult).code }),
            volumes: opts.volumes,
            backupType: opts.backupType,
            restore,
            durationMs: raw.durationMs,
            result,
          }));
          if (raw.hresult === 0) {
            logger.info('snapshot set succeeded', meta);
            settleShadowCopies(result, opts.keep, logger).then(
              () => resolve(result),
              (error: unknown) => reject(toVssError(error, 'the snapshot set succeeded but its shadow copies could not be kept')),
            );
            return;
          }
          const failed = raw.writers.find((w) => w.instanceId === raw.failedWriter);
          const error = new VssError(raw.hresult, raw.message, {
            result,
            ...(failed && {
              writer: { name: failed.name, id: failed.id, instanceName: failed.instanceName, instanceId: failed.instanceId, event: raw.failedEvent },
            }),
          });
          // The caller gets the error: logged for the record only.
          logger.info(`snapshot set failed: ${error.message}`, meta);
          reject(error);
        },
      );
    } catch (refused) {
      // Refused before it started (the simulator's checks of its input, as VSS makes them).
      commit?.close('the snapshot set was refused');
      reject(refused);
      return;
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

function reportProgress(opts: ParsedShadowCopyOptions, p: NativeProgress, logger: Logger): void {
  if (!opts.onProgress) return;
  const progress: Progress = {
    phase: p.phase,
    status: p.status,
    elapsedMs: p.elapsedMs,
    ...(p.writerInstanceId !== undefined && { writer: { name: p.writerName ?? '', instanceId: p.writerInstanceId } }),
    ...(p.outcome !== undefined && { outcome: p.outcome as EventOutcome }),
  };
  try {
    opts.onProgress(progress);
  } catch (error) {
    logger.warn(`onProgress threw: ${error instanceof Error ? error.message : String(error)}`);
  }
}
