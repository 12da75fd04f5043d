/**
 * The backend behind the public API: real VSS on Windows, the simulator everywhere else.
 * VSS_BRIDGE_BACKEND=simulated selects the simulator on Windows too (for tests).
 */
import { EnvironmentError } from '../errors.js';
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

export interface Backend {
  readonly name: BackendName;
  createWriter(metadata: NativeWriterMetadata): WriterHandle;
  listWriters(): Promise<NativeWriterListing[]>;
  /** Runs one snapshot set; returns cancel(). The sink gets progress, then done once. */
  runSnapshotSet(config: NativeSnapshotSetConfig, commit: NativeDispatcher | null, sink: NativeSink): () => void;
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
