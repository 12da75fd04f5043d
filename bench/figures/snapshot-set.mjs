// 3. A whole snapshot set on the simulator with 1, 8 and 64 writers whose handlers resolve at
// once: total time and time per phase, as the addon timed them. Events fan out to every
// writer at once, so 64 writers should cost at most twice what one does. Empty handlers show
// the bridge's own cost per writer; handlers that wait 5 ms (I/O) show the fan-out; writers
// with no handlers show the simulator's own work per writer (their events never reach JS).
// Every handler runs on the one JS thread, so the JS thread's busy time per set (event-loop
// utilization) is measured too: with 64 writers it alone can exceed twice a one-writer set.
// The floor, interleaved with the sets: 1 and 64 bare thread-safe-function hops batched the way
// the event queue batches a phase (native/bench_ping.cc, fanOutFloor), each running an empty
// async function and answered together as dispatch.ts answers: what Node itself charges for
// a phase's fan-out, without the dispatcher, the simulator or the set.
import { emptyWriter, figure, library, median, nativeCall, nsToUs, scaled, volume } from '../lib.mjs';

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

/**
 * `iterations` fan-outs of `n` events through testing.fanOutFloor, back to back as a set's
 * phases are; microseconds from the first post to the native thread holding all answers.
 */
export async function fanOutFloor(addon, n, iterations) {
  let answer;
  let pending = 0;
  const flush = () => {
    const count = pending;
    pending = 0;
    answer(count);
  };
  const answered = () => {
    if (++pending === 1) queueMicrotask(flush);
  };
  const handler = async () => {};
  const router = (rows, count) => {
    for (let i = 0; i < count; i++) handler().then(answered);
  };
  return nsToUs(await nativeCall((cb) => (answer = addon.testing.fanOutFloor(router, n, iterations, 0, 5_000, cb))));
}

export async function run({ scale }) {
  const lib = library();
  const rounds = scaled(scale, 6, 1);
  const setsPerRound = scaled(scale, 25, 2);
  const samples = Object.fromEntries(writerCounts.map((n) => [n, []]));
  const floor = { 1: [], 64: [] };
  // A phase's worth of floor fan-outs for each set.
  const floorIterations = setsPerRound * 7;
  await runSets(lib, 1, setsPerRound); // warm-up
  await fanOutFloor(lib.addon, 64, floorIterations);
  // Interleaved, so that every writer count and the floor see the same machine load.
  for (let round = 0; round < rounds; round++) {
    for (const n of writerCounts) samples[n].push(...(await runSets(lib, n, setsPerRound)));
    for (const n of [1, 64]) floor[n].push(...(await fanOutFloor(lib.addon, n, floorIterations)));
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
  // The phases that reach JS, each a fan-out to every writer: their median against the floor.
  const jsPhases = (n) => median(samples[n].flatMap((s) => s.phases.filter((p) => p.event !== 'identify' && p.event !== 'commit').map((p) => p.durationMs * 1000)));
  const perExtra = (at64, at1) => (at64 - at1) / 63;
  figures.push(
    figure('snapshotSet.fanOutFloor.64w', median(floor[64]), 'us', median(floor[1]), {
      note: `${floor[64].length} fan-outs of 64 bare thread-safe-function hops, batched as the event queue batches a phase, an empty async function each, answered together; baseline: one such hop. Node's own cost of a phase's fan-out (information)`,
    }),
    figure('snapshotSet.phase.64w', jsPhases(64), 'us', median(floor[64]), {
      target: { ratioMax: 2 },
      note:
        `a phase of a 64-writer set that reaches JS (median of ${jsEvents} phases x ${samples[64].length} sets) against the floor of the same fan-out; ` +
        `each extra writer adds ${perExtra(jsPhases(64), jsPhases(1)).toFixed(2)} us to a phase, ${perExtra(median(floor[64]), median(floor[1])).toFixed(2)} us to the floor; ` +
        `one writer's phase: ${jsPhases(1).toFixed(1)} us, one hop: ${median(floor[1]).toFixed(1)} us`,
    }),
  );
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
