// 4. WriteGate (src/gate/write-gate.ts): the throughput of gate.run(write) while the gate is open
// against calling write directly, and the time from freeze() to drained with 1,000 writes in
// flight against the time the same writes take to finish without a gate.
import { existsSync } from 'node:fs';
import { figure, library, median, scaled, silentLogger } from '../lib.mjs';

export async function run({ scale }) {
  const lib = library();
  if (!existsSync(lib.gatePath)) throw new Error('write-gate: dist/gate/write-gate.js is missing (src/gate/write-gate.ts not built)');
  const { WriteGate } = await import(lib.gatePath);
  const gate = new WriteGate({ name: 'bench gate', logger: silentLogger() });

  // The cheapest real write: serialize a record and append it to an in-memory log.
  const log = [];
  const record = { id: 0, item: 'sku-1', quantity: 3, price: 4.5 };
  const write = async () => {
    record.id++;
    log.push(JSON.stringify(record));
    if (log.length > 10_000) log.length = 0;
  };

  const batch = scaled(scale, 1_000, 50);
  // Many short interleaved rounds: a batch takes well under a millisecond, so the median of
  // 40 moved by 10% from run to run with the machine's load; of 400 it holds still.
  const rounds = scaled(scale, 400, 3);
  const opsPerSecond = async (call) => {
    const started = performance.now();
    await Promise.all(Array.from({ length: batch }, call));
    return batch / ((performance.now() - started) / 1_000);
  };
  const direct = [];
  const gated = [];
  for (let round = 0; round <= rounds; round++) {
    const d = await opsPerSecond(() => write()); // the same call shape as the gated side's
    const g = await opsPerSecond(() => gate.run(write));
    if (round === 0) continue; // warm-up
    direct.push(d);
    gated.push(g);
  }

  // 1,000 writes in flight, each finishing 5 ms after it started, as a short I/O would.
  const inFlight = scaled(scale, 1_000, 20);
  const slowWrite = () => new Promise((resolve) => setTimeout(resolve, 5));
  const drains = [];
  const finishes = [];
  for (let round = 0; round < scaled(scale, 10, 2); round++) {
    let started = performance.now();
    const writes = Array.from({ length: inFlight }, slowWrite);
    await Promise.all(writes);
    finishes.push(performance.now() - started);

    started = performance.now();
    const gatedWrites = Array.from({ length: inFlight }, () => gate.run(slowWrite));
    await gate.freeze();
    drains.push(performance.now() - started);
    gate.thaw();
    await Promise.all(gatedWrites);
  }
  return [
    figure('gate.throughput', median(gated), 'ops/s', median(direct), {
      target: { ratioMin: 0.9 },
      note: `${rounds} interleaved batches of ${batch} concurrent writes; baseline: the same write called directly`,
    }),
    figure('gate.freezeToDrained', median(drains), 'ms', median(finishes), {
      note: `${inFlight} writes in flight, 5 ms each; baseline: the same writes finishing without a gate`,
    }),
  ];
}
