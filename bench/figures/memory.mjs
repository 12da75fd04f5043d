// 6. Memory: RSS, heap and handle counts after 10,000 snapshot sets against after 100, with
// one subscribed writer. RSS is also compared with its value after 2,000 sets: by then V8 has
// grown its young generation and glibc has its per-thread arenas (every set runs on a thread
// of its own), so growth past that point is what a leak would show. Needs --expose-gc (the harness passes it), so that what is measured
// is what is still reachable, not garbage waiting for a collection.
import { emptyWriter, figure, library, scaled, volume } from '../lib.mjs';

async function settle() {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc?.();
  }
}

async function snapshot() {
  await settle();
  return {
    rss: process.memoryUsage().rss / 2 ** 20,
    heap: process.memoryUsage().heapUsed / 2 ** 20,
    handles: process._getActiveHandles().length,
    resources: process.getActiveResourcesInfo().length,
  };
}

export async function run({ scale }) {
  if (typeof globalThis.gc !== 'function') throw new Error('memory: run node with --expose-gc');
  const lib = library();
  const writer = new lib.VssWriter(emptyWriter('bench-memory', ''));
  await writer.subscribe();
  try {
    const early = scaled(scale, 100, 10);
    const total = scaled(scale, 10_000, 200);
    for (let i = 0; i < early; i++) await lib.createShadowCopy({ volumes: [volume] });
    const before = await snapshot();
    const started = performance.now();
    const warm = scaled(scale, 2_000, 100);
    for (let i = early; i < warm; i++) await lib.createShadowCopy({ volumes: [volume] });
    const steady = await snapshot();
    for (let i = warm; i < total; i++) await lib.createShadowCopy({ volumes: [volume] });
    const perSetMs = (performance.now() - started) / (total - early);
    const after = await snapshot();
    const note = `after ${total} sets against after ${early} (${perSetMs.toFixed(2)} ms a set)`;
    return [
      figure('memory.rss', after.rss, 'MiB', before.rss, { target: { ratioMax: 1.1 }, note }),
      figure('memory.rss.steady', after.rss, 'MiB', steady.rss, { target: { ratioMax: 1.1 }, note: `after ${total} sets against after ${warm}` }),
      figure('memory.heapUsed', after.heap, 'MiB', before.heap, { target: { ratioMax: 1.1 } }),
      figure('memory.activeHandles', after.handles, 'count', before.handles, { target: { ratioMax: 1 } }),
      figure('memory.activeResources', after.resources, 'count', before.resources, { target: { ratioMax: 1 } }),
    ];
  } finally {
    await writer.unsubscribe();
  }
}
