// 2. The same round trip while the event loop serves HTTP requests from a load generator in
// another process, and what a checkpoint every second costs the app's own requests.
//   A: load only                      -> request latency baseline
//   B: load + a snapshot set every 1 s -> request latency with checkpoints
//   C: load + round trips              -> round trip against the floor under the same load
import { fork } from 'node:child_process';
import http from 'node:http';
import { emptyWriter, figure, library, percentile, scaled, volume } from '../lib.mjs';
import { measureRoundTrips } from './round-trip.mjs';

// The app: each request does a little JSON work, as an API endpoint would.
function startApp() {
  const orders = Array.from({ length: 50 }, (_, i) => ({ id: i, item: `sku-${i}`, quantity: i % 7, price: i * 1.25 }));
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ orders: orders.filter((o) => o.quantity > 0), at: Date.now() });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function load(port, options) {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('../load-generator.mjs', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('the load generator did not finish in time'));
    }, options.durationMs + 30_000);
    child.once('message', (result) => {
      clearTimeout(timer);
      resolve(result);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`the load generator exited with ${code} before reporting`));
    });
    child.send({ port, ...options });
  });
}

export async function run({ scale }) {
  const lib = library();
  const server = await startApp();
  const port = server.address().port;
  const options = { concurrency: 4, durationMs: scaled(scale, 5_000, 300), maxRequests: scaled(scale, 200_000, 100) };
  const writer = new lib.VssWriter(emptyWriter('bench-app', ''));
  const dispatcher = new lib.JsDispatcher({ label: 'bench', logger: lib.getDefaultLogger(), handler: () => async () => {} });
  try {
    const idle = await load(port, options);

    await writer.subscribe();
    let checkpoints = 0;
    let failedCheckpoints = 0;
    const checkpoint = () =>
      lib.createShadowCopy({ volumes: [volume] }).then(
        () => checkpoints++,
        () => failedCheckpoints++,
      );
    const every = setInterval(checkpoint, 1_000);
    checkpoint();
    const withCheckpoints = await load(port, options);
    clearInterval(every);
    await writer.unsubscribe();

    // Round trips sampled every millisecond while the load runs.
    const loaded = load(port, options);
    const rounds = [];
    const until = performance.now() + options.durationMs * 0.8;
    while (performance.now() < until) {
      rounds.push(
        await measureRoundTrips(lib.addon, dispatcher, { rounds: 1, iterations: scaled(scale, 100, 10), gapUs: 1_000, warmUp: rounds.length === 0 }),
      );
    }
    const busy = await loaded;
    const floor = rounds.flatMap((r) => r.floor);
    const dispatch = rounds.flatMap((r) => r.dispatch);

    const requests = (r) => `${r.latencies.length} requests, ${r.errors} errors`;
    return [
      figure('busy.roundTrip.p99', percentile(dispatch, 0.99), 'us', percentile(floor, 0.99), {
        note: `${dispatch.length} events under load (${requests(busy)}); p50 ${percentile(dispatch, 0.5).toFixed(1)} us against ${percentile(floor, 0.5).toFixed(1)} us`,
      }),
      figure('busy.request.p50', percentile(withCheckpoints.latencies, 0.5), 'ms', percentile(idle.latencies, 0.5)),
      figure('busy.request.p99', percentile(withCheckpoints.latencies, 0.99), 'ms', percentile(idle.latencies, 0.99), {
        note: `with ${checkpoints} checkpoints (${failedCheckpoints} failed): ${requests(withCheckpoints)}; without: ${requests(idle)}`,
      }),
    ];
  } finally {
    dispatcher.close('the benchmark ended');
    await writer.unsubscribe();
    server.close();
  }
}
