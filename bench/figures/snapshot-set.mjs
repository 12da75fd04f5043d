// 3. A whole snapshot set on the simulator with 1, 8 and 64 writers whose handlers resolve at
// once: total time and time per phase, as the addon timed them. Events fan out to every
// writer at once, so 64 writers should cost at most twice what one does. Empty handlers show
// the bridge's own cost per writer; handlers that wait 5 ms (I/O) show the fan-out; writers
// with no handlers show the simulator's own work per writer (their events never reach JS).
// Every handler runs on the one JS thread, so the JS thread's busy time per set (event-loop
// utilization) is measured too: with 64 writers it alone can exceed twice a one-writer set.
import { emptyWriter, figure, library, median, scaled, volume } from '../lib.mjs';

const writerCounts = [1, 8, 64];

// handlers: 'empty' (resolve at once), 'wait5ms', or 'none' (answered natively, no JS).
async function runSets(lib, count, sets, handlers = 'empty') {
  const options = (i) => {
    const o = emptyWriter('bench-fanout', `instance ${i}`, undefined, handlers === 'wait5ms' ? 5 : 0);
    return handlers === 'none' ? { ...o, handlers: {} } : o;
  };
  const writers = Array.from({ length: count }, (_, i) => new lib.VssWriter(options(i)));
  await Promise.all(writers.map((w) => w.subscribe()));
  try {
    const samples = [];
    for (let i = 0; i < sets; i++) {
      const started = performance.now();
      const elu = performance.eventLoopUtilization();
      const result = await lib.createShadowCopy({ volumes: [volume] });
      const { active } = performance.eventLoopUtilization(elu);
      samples.push({ wallMs: performance.now() - started, totalMs: result.durationMs, jsMs: active, phases: result.phases });
    }
    return samples;
  } finally {
    await Promise.all(writers.map((w) => w.unsubscribe()));
  }
}

export async function run({ scale }) {
  const lib = library();
  const rounds = scaled(scale, 6, 1);
  const setsPerRound = scaled(scale, 25, 2);
  const samples = Object.fromEntries(writerCounts.map((n) => [n, []]));
  await runSets(lib, 1, setsPerRound); // warm-up
  // Interleaved, so that every writer count sees the same machine load.
  for (let round = 0; round < rounds; round++) {
    for (const n of writerCounts) samples[n].push(...(await runSets(lib, n, setsPerRound)));
  }
  const total = (n) => median(samples[n].map((s) => s.totalMs));
  const wall = (n) => median(samples[n].map((s) => s.wallMs));
  const phase = (n, name) => median(samples[n].map((s) => s.phases.find((p) => p.event === name)?.durationMs ?? NaN));
  const js = (n) => median(samples[n].map((s) => s.jsMs));
  const phaseNames = samples[1][0].phases.map((p) => p.event);
  // Phases whose events reach JS handlers: all but identify (answered from metadata) and the
  // provider's commit.
  const jsEvents = phaseNames.filter((p) => p !== 'identify' && p !== 'commit').length;
  const perWriterEventUs = ((js(64) - js(1)) * 1000) / (63 * jsEvents);
  const figures = [];
  for (const n of writerCounts) {
    figures.push(
      figure(`snapshotSet.total.${n}w`, total(n), 'ms', total(1), {
        ...(n === 64 && { target: { ratioMax: 2 } }),
        note: `${samples[n].length} sets; the requester saw ${wall(n).toFixed(2)} ms (1 writer: ${wall(1).toFixed(2)} ms)`,
      }),
    );
  }
  figures.push(
    figure('snapshotSet.jsThread.64w', js(64), 'ms', total(1), {
      note:
        `the JS thread's busy time in a set of 64 writers against a whole one-writer set: ` +
        `${perWriterEventUs.toFixed(1)} us for each of the ${63 * jsEvents} events the 63 extra writers add ` +
        `(${jsEvents} phases reach JS); 2x one writer would leave ${((total(1) * 1000) / (63 * jsEvents)).toFixed(2)} us each`,
    }),
  );
  const slow1 = await runSets(lib, 1, setsPerRound, 'wait5ms');
  const slow64 = await runSets(lib, 64, setsPerRound, 'wait5ms');
  figures.push(
    figure('snapshotSet.total.64w.5msHandlers', median(slow64.map((s) => s.totalMs)), 'ms', median(slow1.map((s) => s.totalMs)), {
      target: { ratioMax: 2 },
      note: 'every handler waits 5 ms, as for I/O; baseline: one such writer',
    }),
  );
  const bare1 = await runSets(lib, 1, setsPerRound, 'none');
  const bare64 = await runSets(lib, 64, setsPerRound, 'none');
  const bare = (samples) => median(samples.map((s) => s.totalMs));
  const nativePerWriterEventUs = ((bare(bare64) - bare(bare1)) * 1000) / (63 * (jsEvents + 1));
  figures.push(
    figure('snapshotSet.total.64w.noHandlers', bare(bare64), 'ms', bare(bare1), {
      note:
        'writers with no handlers: their events are answered natively, without the JS thread; baseline: one such writer. ' +
        `The simulator's own work, ${nativePerWriterEventUs.toFixed(2)} us a writer an event (${jsEvents + 1} events), ` +
        'against a one-writer set that has no thread hop left: a cost per writer, not a fan-out ratio',
    }),
  );
  for (const name of phaseNames) {
    for (const n of writerCounts.slice(1)) figures.push(figure(`snapshotSet.${name}.${n}w`, phase(n, name), 'ms', phase(1, name)));
  }
  return figures;
}
