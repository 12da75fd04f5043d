// 1. Event round trip: a native thread posts an event, the JS async handler runs, the native
// thread wakes with the answer. Baseline: a bare ThreadSafeFunction ping answered through a
// condition variable (native/bench_ping.cc), the floor of any native -> JS -> native hop.
// Both are timed on the native thread, in interleaved rounds so that both see the same load.
import { figure, library, nativeCall, nsToUs, percentile, scaled } from '../lib.mjs';

/** Interleaved rounds of floor and dispatcher round trips; per-iteration microseconds. */
export async function measureRoundTrips(addon, dispatcher, { rounds, iterations, gapUs, warmUp = true }) {
  const floor = [];
  const dispatch = [];
  const outcomes = { succeeded: 0, failed: 0, timedOut: 0, closed: 0 };
  for (let round = warmUp ? 0 : 1; round <= rounds; round++) {
    const ping = await nativeCall((cb) => addon.testing.pingFloor(() => {}, iterations, gapUs, 5_000, cb));
    const loop = await nativeCall((cb) => addon.testing.dispatchLoop(dispatcher.native, 'freeze', 5_000, iterations, gapUs, cb));
    if (round === 0) continue; // warm-up: JIT, first allocations
    floor.push(...nsToUs(ping));
    dispatch.push(...nsToUs(loop.roundTripNs));
    for (const k of Object.keys(outcomes)) outcomes[k] += loop[k];
  }
  return { floor, dispatch, outcomes };
}

export async function run({ scale }) {
  const { addon, JsDispatcher, getDefaultLogger } = library();
  const dispatcher = new JsDispatcher({ label: 'bench', logger: getDefaultLogger(), handler: () => async () => {} });
  try {
    const { floor, dispatch, outcomes } = await measureRoundTrips(addon, dispatcher, {
      rounds: scaled(scale, 10, 2),
      iterations: scaled(scale, 1_500, 50),
      // A pause between events lets the event loop go idle, as between the events of a real
      // snapshot set: back to back, the next event often arrives before the loop sleeps.
      gapUs: 200,
    });
    const note = `${dispatch.length} events: ${outcomes.succeeded} succeeded, ${dispatch.length - outcomes.succeeded} did not`;
    return [
      figure('roundTrip.p50', percentile(dispatch, 0.5), 'us', percentile(floor, 0.5), { target: { ratioMax: 1.3 }, note }),
      figure('roundTrip.p99', percentile(dispatch, 0.99), 'us', percentile(floor, 0.99)),
    ];
  } finally {
    dispatcher.close('the benchmark ended');
  }
}
