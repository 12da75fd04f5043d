// The HTTP load of figure 2, in a process of its own: `concurrency` keep-alive connections
// to 127.0.0.1 send GET requests back to back until `durationMs` passes or `maxRequests`
// were sent. Reports each request's latency in milliseconds. Loopback only, always bounded.
import http from 'node:http';

process.once('message', async ({ port, concurrency, durationMs, maxRequests }) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  let errors = 0;
  let sent = 0;
  const end = performance.now() + durationMs;
  const request = () =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: '/orders', agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - started);
          else errors++;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const client = async () => {
    while (performance.now() < end && sent < maxRequests) {
      sent++;
      await request();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  agent.destroy();
  // Disconnecting before the message is flushed would drop it.
  process.send({ latencies, errors }, () => process.disconnect());
});
