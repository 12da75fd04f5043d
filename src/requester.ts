/**
 * The requester side: list writers, run a snapshot set. The simulated backend runs the
 * whole VSS sequence in the addon; on Windows the same calls drive IVssBackupComponents.
 */
import { getBackend, type Backend } from './backends/backend.js';
import { JsDispatcher } from './dispatch.js';
import { toVssError, VssError } from './errors.js';
import { publish } from './diagnostics.js';
import { describeHresult, hresultOf } from './hresult.js';
import { getDefaultLogger, type Logger } from './logger.js';
import type { NativeProgress, NativeSnapshotSetConfig } from './backends/native.js';
import { toResult, toWriterInfo } from './results.js';
import { parseOptions, shadowCopyOptionsSchema, type ParsedShadowCopyOptions, type ShadowCopyOptions } from './schemas.js';
import type { BackupType, CommitContext, EventOutcome, Progress, ShadowCopyResult, WriterInfo, WriterMetadataInfo } from './types.js';

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
  const simulation = opts.simulation;
  return run(backend, {
    config: {
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
    },
    needs: { simulation: simulation !== undefined, onCommit: opts.onCommit !== undefined, restore },
    commit: opts.onCommit,
    keep: opts.keep,
    signal: opts.signal,
    logger: opts.logger ?? getDefaultLogger(),
    onProgress: opts.onProgress,
  });
}

/** A snapshot set whose commit is held outside VSS (runExternalCommit). */
export interface ExternalCommit {
  readonly volumes: readonly string[];
  readonly backupType: BackupType;
  /** How long the writers have to prepare and freeze, from the start. */
  readonly freezeTimeoutMs: number;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Runs where the provider's commit would: the writers stay frozen until it settles. */
  readonly hold: (ctx: CommitContext) => Promise<void>;
}

/**
 * A snapshot set whose commit is held by something outside VSS, such as a Linux guest
 * agent's file-system freeze (src/linux/coordinator.ts). No provider hold limit applies: each
 * writer's own freeze window bounds the hold, and past it the writer fails and gets Abort, as
 * VSS does. The set's deadline follows from the writers' own timeouts, read from the backend's
 * list: the time to freeze, the longest freeze window, then one handler timeout for each of
 * Thaw, PostSnapshot, BackupComplete and BackupShutdown.
 */
export async function runExternalCommit(set: ExternalCommit): Promise<ShadowCopyResult> {
  const backend = getBackend();
  const writers = (await backend.listWriters()).map((w) => w.metadata).filter((m) => m !== undefined);
  const windowMs = Math.max(0, ...writers.map((m) => m.freezeTimeoutMs));
  const handlerMs = Math.max(0, ...writers.map((m) => m.handlerTimeoutMs));
  return run(backend, {
    config: {
      restore: false,
      progress: false,
      volumes: [...set.volumes],
      backupType: set.backupType,
      components: [],
      timeoutMs: set.freezeTimeoutMs + windowMs + 4 * handlerMs,
      provider: { commitDelayMs: 0, failWith: 0, holdLimitMs: 0 },
      externalCommit: true,
    },
    needs: { onCommit: true },
    commit: set.hold,
    keep: false,
    signal: set.signal,
    logger: set.logger,
    onProgress: undefined,
  });
}

interface SetRun {
  readonly config: NativeSnapshotSetConfig;
  /** Which of the backend's optional capabilities the set uses. */
  readonly needs: Partial<Record<Need, boolean>>;
  readonly commit: ((ctx: CommitContext) => unknown) | undefined;
  readonly keep: boolean;
  readonly signal: AbortSignal | undefined;
  readonly logger: Logger;
  readonly onProgress: ((progress: Progress) => void) | undefined;
}

type Need = 'simulation' | 'onCommit' | 'restore';

const needNames: Record<Need, string> = { simulation: 'simulation', onCommit: 'onCommit', restore: 'the restore rehearsal' };

function run(backend: Backend, set: SetRun): Promise<ShadowCopyResult> {
  // The one place a backend's missing capability is refused.
  const names = (Object.keys(needNames) as Need[]).filter((k) => set.needs[k] === true && !backend.capabilities[k]).map((k) => needNames[k]);
  if (names.length > 0) {
    return Promise.reject(
      new TypeError(`${names.join(' and ')} ${names.length > 1 ? 'need' : 'needs'} the simulated backend (VSS_BRIDGE_BACKEND=simulated)`),
    );
  }
  const { signal, logger, commit: onCommit } = set;
  if (signal?.aborted) {
    return Promise.reject(new VssError(hresultOf('E_ABORT'), 'the snapshot set was cancelled before it started'));
  }
  const commit = onCommit ? new JsDispatcher({ label: 'provider commit', logger, handler: () => onCommit }) : undefined;
  return new Promise((resolve, reject) => {
    const abort = (): void => cancel();
    let cancel: () => void;
    try {
      cancel = backend.runSnapshotSet(set.config, commit?.native ?? null, (...message) => {
        if (message[0] === 'progress') {
          reportProgress(set.onProgress, message[1], logger);
          return;
        }
        signal?.removeEventListener('abort', abort);
        commit?.close('the snapshot set ended');
        const raw = message[1];
        const result = toResult(raw, set.config.backupType as BackupType);
        const meta = { snapshotSetId: raw.snapshotSetId, durationMs: Math.round(raw.durationMs) };
        publish.snapshotSet(() => ({
          snapshotSetId: raw.snapshotSetId,
          outcome: raw.hresult === 0 ? 'succeeded' : 'failed',
          ...(raw.hresult !== 0 && { code: describeHresult(raw.hresult).code }),
          volumes: set.config.volumes,
          backupType: set.config.backupType as BackupType,
          restore: set.config.restore,
          durationMs: raw.durationMs,
          result,
        }));
        if (raw.hresult === 0) {
          logger.info('snapshot set succeeded', meta);
          backend.settleShadowCopies(result, set.keep, logger).then(
            () => resolve(result),
            (error: unknown) => reject(toVssError(error, 'the snapshot set succeeded but its shadow copies could not be kept')),
          );
          return;
        }
        const failed = raw.writers.find((w) => w.instanceId === raw.failedWriter);
        const created = [...raw.deletedCopies, ...raw.undeletedCopies];
        const error = new VssError(raw.hresult, raw.message, {
          result,
          ...(created.length > 0 && { shadowCopies: { snapshotSetId: raw.snapshotSetId, created, deleted: raw.deletedCopies } }),
          ...(failed && {
            writer: { name: failed.name, id: failed.id, instanceName: failed.instanceName, instanceId: failed.instanceId, event: raw.failedEvent },
          }),
        });
        // The caller gets the error: logged for the record only.
        logger.info(`snapshot set failed: ${error.message}`, meta);
        reject(error);
      });
    } catch (refused) {
      // Refused before it started (the simulator's checks of its input, as VSS makes them).
      commit?.close('the snapshot set was refused');
      reject(refused);
      return;
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

function reportProgress(onProgress: SetRun['onProgress'], p: NativeProgress, logger: Logger): void {
  if (!onProgress) return;
  const progress: Progress = {
    phase: p.phase,
    status: p.status,
    elapsedMs: p.elapsedMs,
    ...(p.writerInstanceId !== undefined && { writer: { name: p.writerName ?? '', instanceId: p.writerInstanceId } }),
    ...(p.outcome !== undefined && { outcome: p.outcome as EventOutcome }),
  };
  try {
    onProgress(progress);
  } catch (error) {
    logger.warn(`onProgress threw: ${error instanceof Error ? error.message : String(error)}`);
  }
}
