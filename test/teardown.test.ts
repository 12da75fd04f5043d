/**
 * Ending the process or a worker while an event is in flight releases the waiting native
 * thread and exits cleanly: no crash, no hang.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const fixture = join(__dirname, 'fixtures', 'exit-in-flight.cjs');

function run(mode: string) {
  return spawnSync(process.execPath, [fixture, mode], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, VSS_BRIDGE_LOG_LEVEL: 'error' },
  });
}

describe('teardown with an event in flight', () => {

  it('exits with the code a handler passes to process.exit', () => {
    const r = run('exit-in-handler');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(3);
  });

  it('exits while the native thread waits for a hanging handler', () => {
    const r = run('exit-while-waiting');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(4);
  });

  it('dies of an uncaught exception like any Node process, without crashing natively', () => {
    const r = run('throw-uncaught');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/boom/);
  });

  it('survives a worker terminated while its writer is in an event', async () => {
    const worker = new Worker(
      `
      const { parentPort } = require('node:worker_threads');
      const { VssWriter, createShadowCopy } = require(${JSON.stringify(join(root, 'dist/index.js'))});
      const writer = new VssWriter({ name: 'in-worker', id: '1f0e0d0c-0b0a-4908-8706-050403020100', usage: 'userData', sourceType: 'other',
        handlers: { freeze: () => { parentPort.postMessage('frozen'); return new Promise(() => {}); } } });
      writer.subscribe().then(() => createShadowCopy({ volumes: ['/'] }));
      `,
      { eval: true, env: { ...process.env, VSS_BRIDGE_LOG_LEVEL: 'error' } },
    );
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    expect(await worker.terminate()).toBe(1);
    // The process, its addon and the simulator are still usable.
    const { listWriters } = await import('../src/index.js');
    expect(await listWriters()).toEqual([]);
  });
});
