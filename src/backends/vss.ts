/**
 * Real VSS on Windows (native/win/): each VssWriter is a CVssWriter subscribed on its own COM
 * thread, and the requester drives IVssBackupComponents on a native thread, never the JS one.
 * Every failure becomes a VssError carrying VSS's HRESULT, with advice for the ones users hit
 * most (not elevated, the VSS service disabled, safe mode).
 */
import type { Backend, WriterHandle } from './backend.js';
import { EnvironmentError, VssError } from '../errors.js';
import { describeHresult } from '../hresult.js';
import type { KeptShadowCopy } from '../types.js';
import {
  native,
  type NativeDispatcher,
  type NativeShadowCopy,
  type NativeVss,
  type NativeVssStep,
  type NativeVssWriter,
  type NativeWriterMetadata,
} from './native.js';

/** How long listWriters waits for GatherWriterMetadata and GatherWriterStatus together. */
const listWritersTimeoutMs = 120_000;

// Codes whose table description says what to do about them; the others speak for themselves.
const advised = new Set(['E_ACCESSDENIED', 'ERROR_SERVICE_DISABLED', 'ERROR_SERVICE_NOT_ACTIVE', 'S_FALSE', 'E_NOTIMPL']);

/** A VssError for a native step that failed with `hresult`. */
export function vssFailure(hresult: number, message: string): VssError {
  const info = describeHresult(hresult);
  return new VssError(hresult, advised.has(info.code) ? `${message}: ${info.description}` : message);
}

/** The Windows part of the addon, or a clear refusal where it cannot work. */
function vss(): NativeVss {
  if (process.platform === 'win32' && process.arch === 'ia32') {
    throw new EnvironmentError(
      'vss-bridge: VSS does not work from 32-bit Node.js on 64-bit Windows (process.arch is ia32); install the 64-bit (x64 or arm64) Node.js',
    );
  }
  const part = native().vss;
  if (part === undefined) {
    throw new EnvironmentError(`vss-bridge: this addon was built without the Windows VSS backend (${process.platform}-${process.arch}); set VSS_BRIDGE_BACKEND=simulated`);
  }
  if ('unsupported' in part) throw new EnvironmentError(`vss-bridge: ${part.unsupported}`);
  return part;
}

class RealWriter implements WriterHandle {
  private readonly writer: NativeVssWriter;
  private unsubscribed: Promise<NativeVssStep> | undefined;

  constructor(metadata: NativeWriterMetadata) {
    this.writer = new (vss().Writer)(metadata);
  }

  subscribe(dispatcher: NativeDispatcher): Promise<void> {
    return new Promise((resolve, reject) => {
      let heardUnsubscribed: (step: NativeVssStep) => void = () => undefined;
      const unsubscribed = new Promise<NativeVssStep>((r) => (heardUnsubscribed = r));
      this.writer.subscribe(dispatcher, (kind, step) => {
        if (kind === 'unsubscribed') {
          heardUnsubscribed(step);
          return;
        }
        for (const warning of step.warnings) process.emitWarning(warning, { type: 'VssBridgeWarning', code: 'VSS_BRIDGE_COM_SECURITY' });
        if (step.hresult !== 0) {
          reject(vssFailure(step.hresult, step.message));
          return;
        }
        this.unsubscribed = unsubscribed;
        resolve();
      });
    });
  }

  async unsubscribe(): Promise<void> {
    const unsubscribed = this.unsubscribed;
    this.unsubscribed = undefined;
    if (!this.writer.unsubscribe() || unsubscribed === undefined) return;
    const step = await unsubscribed;
    if (step.hresult !== 0) throw vssFailure(step.hresult, step.message);
  }

  status(): ReturnType<WriterHandle['status']> {
    return this.writer.status();
  }
}

function fromMachine(c: NativeShadowCopy): KeptShadowCopy {
  return {
    id: c.id,
    volume: c.volume,
    deviceObject: c.deviceObject,
    snapshotSetId: c.snapshotSetId,
    createdAt: new Date(c.createdMs).toISOString(),
  };
}

/**
 * Real VSS keeps shadow copies machine-wide until deleted: listing and deleting ask VSS
 * (IVssBackupComponents::Query / DeleteSnapshots). createShadowCopy makes persistent copies (a
 * non-persistent one would vanish before the caller could read it), so a set that was not
 * asked to keep its copies deletes them as it ends.
 */
export const vssBackend: Backend = {
  name: 'vss',
  description: 'Windows Volume Shadow Copy Service',
  capabilities: { simulation: false, onCommit: false, restore: false, inProcess: false },
  createWriter: (metadata) => new RealWriter(metadata),
  listWriters: () =>
    new Promise((resolve, reject) => {
      vss().listWriters(listWritersTimeoutMs, (r) => (r.hresult === 0 ? resolve(r.writers) : reject(vssFailure(r.hresult, r.message))));
    }),
  runSnapshotSet(config, _commit, sink) {
    const { volumes, backupType, components, timeoutMs } = config;
    return vss().runSnapshotSet({ volumes, backupType, components, timeoutMs }, sink);
  },
  listShadowCopies: async () => (await queryShadowCopies()).map(fromMachine).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
  async deleteShadowCopies(id, wholeSet) {
    await deleteShadowCopies(id, { wholeSet });
  },
  async settleShadowCopies(result, keep, logger) {
    if (keep || result.snapshots.length === 0) return;
    try {
      await deleteShadowCopies(result.snapshotSetId, { wholeSet: true });
    } catch (error) {
      // The set itself succeeded; what is left behind must be said loudly, with the way out.
      logger.error(
        `the shadow copies of snapshot set ${result.snapshotSetId} could not be deleted (${(error as Error).message}); ` +
          `delete them with: vss-bridge snapshots delete ${result.snapshotSetId}`,
      );
    }
  },
};

/** Every shadow copy on this machine (IVssBackupComponents::Query in VSS_CTX_ALL). */
export function queryShadowCopies(): Promise<NativeShadowCopy[]> {
  return new Promise((resolve, reject) => {
    vss().queryShadowCopies((r) => (r.hresult === 0 ? resolve(r.copies) : reject(vssFailure(r.hresult, r.message))));
  });
}

/** Deletes one shadow copy, or every copy of a snapshot set; resolves with how many went. */
export function deleteShadowCopies(id: string, options: { wholeSet?: boolean } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    vss().deleteShadowCopies(id, options.wholeSet === true, (r) =>
      r.hresult === 0 ? resolve(r.deleted) : reject(vssFailure(r.hresult, r.message)),
    );
  });
}
