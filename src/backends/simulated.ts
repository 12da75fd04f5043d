/** The simulator built into the addon (native/simulator.cc, native/snapshot_set.cc). */
import type { Backend } from './backend.js';
import { native } from './native.js';
import { keep, numberShadowCopies, readKept, writeKept } from './simulated-shadow-copies.js';
import { checkSnapshotSet } from './simulator-checks.js';

export const simulatedBackend: Backend = {
  name: 'simulated',
  description: 'VSS simulator, inside this process (VSS_BRIDGE_BACKEND or a platform without VSS)',
  capabilities: { simulation: true, onCommit: true, restore: true, inProcess: true },
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
    checkSnapshotSet(config, () => native().listWriters());
    return native().runSnapshotSet(config, commit, (...message) => {
      if (message[0] === 'done') numberShadowCopies(message[1]);
      sink(...message);
    });
  },
  listShadowCopies: async () => readKept(),
  async deleteShadowCopies(id, wholeSet) {
    writeKept(readKept().filter((c) => (wholeSet ? c.snapshotSetId !== id : c.id !== id)));
  },
  async settleShadowCopies(result, kept) {
    if (kept) keep(result);
  },
};
