/** The simulator built into the addon (native/simulator.cc, native/snapshot_set.cc). */
import type { Backend } from './backend.js';
import { native } from './native.js';
import { checkSnapshotSet } from './simulator-checks.js';

export const simulatedBackend: Backend = {
  name: 'simulated',
  createWriter(metadata) {
    const writer = new (native().SimulatedWriter)(metadata);
    return {
      subscribe: async (dispatcher) => writer.subscribe(dispatcher),
      unsubscribe: async () => writer.unsubscribe(),
      status: () => writer.status(),
    };
  },
  listWriters: async () => native().listWriters(),
  runSnapshotSet(config, commit, sink) {
    // Throws what VSS would refuse before the set starts; the caller rejects with it.
    checkSnapshotSet(config, native().listWriters());
    return native().runSnapshotSet(config, commit, sink);
  },
};
