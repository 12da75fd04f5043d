// 6. Memory: RSS, heap and handle counts after 10,000 snapshot sets against after 100, with
// one subscribed writer. Like is compared with like: both after a forced GC, and both with
// V8's young generation at its working size. The harness fixes that size (harness.mjs), and
// before the first reading short-lived garbage is allocated until the young generation has
// been scavenged a few times, so both of its semi-spaces are in use, as they are after 10,000
// sets. What V8's old generation commits still grows with the work done (heapTotal), so RSS
// is also shown without the V8 heap (rss - heapTotal: the addon's and Node's native memory),
// and between 5,000 and 10,000 sets, where a leak would still grow and sizing has settled.
// Needs --expose-gc (the harness passes it).
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { emptyWriter, figure, library, scaled, volume } from '../lib.mjs';

async function settle() {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc?.();
  }
}

// The addon's snapshot-set thread hands freed memory back to the system once it has been idle,
// at most once a second (native/addon_data.cc): each reading is taken at rest, after that.
const idleReleaseMs = 1100;

async function snapshot() {
  await new Promise((resolve) => setTimeout(resolve, idleReleaseMs));
  await settle();
  const m = process.memoryUsage();
  return {
    rss: m.rss / 2 ** 20,
    heapTotal: m.heapTotal / 2 ** 20,
    nonHeap: (m.rss - m.heapTotal) / 2 ** 20,
    heap: m.heapUsed / 2 ** 20,
    handles: process._getActiveHandles().length,
    resources: process.getActiveResourcesInfo().length,
  };
}

/** Counts scavenges (minor GCs) from now on. */
function scavenges() {
  let count = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) count++;
  });
  observer.observe({ entryTypes: ['gc'] });
  return { count: () => count, stop: () => observer.disconnect() };
}

/** Allocates short-lived objects until the young generation was scavenged `times` times. */
async function cycleYoungGeneration(times) {
  const seen = scavenges();
  let sink = 0;
  while (seen.count() < times) {
    for (let i = 0; i < 10_000; i++) sink += [{ i, s: `x${i}` }].length;
    await new Promise((resolve) => setImmediate(resolve)); // GC entries are reported between tasks
  }
  seen.stop();
  return sink;
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
    await cycleYoungGeneration(4);
    const before = await snapshot();
    const started = performance.now();
    const half = Math.round(total / 2);
    for (let i = early; i < half; i++) await lib.createShadowCopy({ volumes: [volume] });
    const middle = await snapshot();
    for (let i = half; i < total; i++) await lib.createShadowCopy({ volumes: [volume] });
    const perSetMs = (performance.now() - started) / (total - early);
    const after = await snapshot();
    const note =
      `after ${total} sets against after ${early} (${perSetMs.toFixed(2)} ms a set); both after a GC, ` +
      'with the young generation at its working size (fixed, and cycled before the first reading)';
    return [
      figure('memory.rss', after.rss, 'MiB', before.rss, { target: { ratioMax: 1.1 }, note }),
      figure('memory.rss.nonHeap', after.nonHeap, 'MiB', before.nonHeap, {
        target: { ratioMax: 1.1 },
        note: 'RSS less the V8 heap (heapTotal): native memory, after against before',
      }),
      figure('memory.rss.secondHalf', after.rss, 'MiB', middle.rss, { target: { ratioMax: 1.05 }, note: `after ${total} sets against after ${half}` }),
      figure('memory.heapTotal', after.heapTotal, 'MiB', before.heapTotal, { note: 'what V8 has committed for its heap: grows with the work done, not with what is kept' }),
      figure('memory.heapUsed', after.heap, 'MiB', before.heap, { target: { ratioMax: 1.1 } }),
      figure('memory.activeHandles', after.handles, 'count', before.handles, { target: { ratioMax: 1 } }),
      figure('memory.activeResources', after.resources, 'count', before.resources, { target: { ratioMax: 1 } }),
    ];
  } finally {
    await writer.unsubscribe();
  }
}
