// 5. Deadline precision: how far past its deadline the native thread gets its answer when a
// handler never settles, and when the event loop is blocked by a busy loop for the whole
// time. Timed on the native thread. Baseline: a bare condition_variable::wait_until with the
// same deadline, the floor of any timed wait on this machine.
import { figure, library, nativeCall, nsToMs, percentile, scaled, silentLogger } from '../lib.mjs';

const timeoutMs = 20;

function spin(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the event loop is blocked: no callback, no timer, no handler runs
  }
}

export async function run({ scale }) {
  const { addon, JsDispatcher } = library();
  const iterations = scaled(scale, 60, 5);
  const logger = silentLogger(); // every event here times out on purpose
  const hung = new JsDispatcher({ label: 'bench-hung', logger, handler: () => () => new Promise(() => {}) });
  const quick = new JsDispatcher({ label: 'bench-blocked', logger, handler: () => async () => {} });
  try {
    const floor = nsToMs(await nativeCall((cb) => addon.testing.timedWaitFloor(iterations, timeoutMs, cb)));
    const hungRun = await nativeCall((cb) => addon.testing.dispatchLoop(hung.native, 'freeze', timeoutMs, iterations, 0, cb));

    const blockedRun = nativeCall((cb) => addon.testing.dispatchLoop(quick.native, 'freeze', timeoutMs, iterations, 0, cb));
    spin(iterations * timeoutMs + 500);
    const blocked = await blockedRun;

    const late = (r) => nsToMs(r.pastDeadlineNs);
    const note = (r) => `${r.timedOut} of ${r.pastDeadlineNs.length} events timed out`;
    return [
      figure('deadline.hungHandler.p99', percentile(late(hungRun), 0.99), 'ms', percentile(floor, 0.99), { target: { valueMax: 50 }, note: note(hungRun) }),
      figure('deadline.blockedLoop.p99', percentile(late(blocked), 0.99), 'ms', percentile(floor, 0.99), { target: { valueMax: 50 }, note: note(blocked) }),
      figure('deadline.blockedLoop.p50', percentile(late(blocked), 0.5), 'ms', percentile(floor, 0.5)),
    ];
  } finally {
    hung.close('the benchmark ended');
    quick.close('the benchmark ended');
  }
}
