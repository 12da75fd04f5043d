/**
 * The backend behind the public API: real VSS on Windows, the simulator everywhere else.
 * VSS_BRIDGE_BACKEND=simulated selects the simulator on Windows too (for tests).
 */
import { EnvironmentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { KeptShadowCopy, ShadowCopyResult } from '../types.js';
import type { NativeDispatcher, NativeSink, NativeSnapshotSetConfig, NativeWriterListing, NativeWriterMetadata, NativeWriterStatus } from './native.js';
import { simulatedBackend } from './simulated.js';
import { vssBackend } from './vss.js';

export type BackendName = 'vss' | 'simulated';

export interface WriterHandle {
  /** Rejects with an Error carrying .hresult when VSS refuses. */
  subscribe(dispatcher: NativeDispatcher): Promise<void>;
  unsubscribe(): Promise<void>;
  /** Null while not subscribed. */
  status(): NativeWriterStatus | null;
}

/** What a backend can do beyond the common API; the requester refuses the rest in one place. */
export interface BackendCapabilities {
  /** createShadowCopy's `simulation`: provider and writer faults, timings, hold limits. */
  readonly simulation: boolean;
  /** createShadowCopy's `onCommit`, and a commit held outside VSS: JS runs as the provider's commit. */
  readonly onCommit: boolean;
  /** The restore rehearsal (PreRestore, PostRestore) of vss-bridge/testing. */
  readonly restore: boolean;
  /**
   * Only this process's writers take part and a shadow copy is a record with no data behind
   * it (the simulator), rather than the machine's writers and volumes (VSS, over COM).
   */
  readonly inProcess: boolean;
}

export interface Backend {
  readonly name: BackendName;
  /** One line for `vss-bridge doctor`. */
  readonly description: string;
  readonly capabilities: BackendCapabilities;
  createWriter(metadata: NativeWriterMetadata): WriterHandle;
  listWriters(): Promise<NativeWriterListing[]>;
  /**
   * Runs one snapshot set; returns cancel(). The sink gets progress, then done once, with the
   * new shadow copies' device paths filled in.
   */
  runSnapshotSet(config: NativeSnapshotSetConfig, commit: NativeDispatcher | null, sink: NativeSink): () => void;
  /** Every kept shadow copy, oldest first (vssadmin list shadows). */
  listShadowCopies(): Promise<KeptShadowCopy[]>;
  /** Deletes the kept copy with id `id` or, with `wholeSet`, every copy of the set with that id. */
  deleteShadowCopies(id: string, wholeSet: boolean): Promise<void>;
  /**
   * What becomes of a successful set's shadow copies: with `keep` they stay (listed and
   * deleted by the two above); without, none of them outlives the set.
   */
  settleShadowCopies(result: ShadowCopyResult, keep: boolean, logger: Logger): Promise<void>;
}

function choose(): BackendName {
  const requested = process.env['VSS_BRIDGE_BACKEND'];
  if (requested === 'simulated' || requested === 'vss') return requested;
  if (requested !== undefined && requested !== '') {
    throw new EnvironmentError(`VSS_BRIDGE_BACKEND must be "vss" or "simulated"; got "${requested}"`, 'E_INVALIDARG');
  }
  return process.platform === 'win32' ? 'vss' : 'simulated';
}

/** Which backend this process uses: 'vss' on Windows, 'simulated' elsewhere. */
export const backend: BackendName = choose();

export function getBackend(): Backend {
  return backend === 'simulated' ? simulatedBackend : vssBackend;
}
