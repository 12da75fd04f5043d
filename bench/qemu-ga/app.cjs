// The app of the qemu-ga stall figure: writes a small record every millisecond to a file on
// the file system being snapshotted, through a WriteGate bound to a VssWriter, and keeps the
// longest time one write waited (from the moment it was issued until it completed, gate and
// file system included). The figure asks over IPC: 'reset' starts a window, 'max' ends it.
// argv[2]: the data file.
const { open } = require('node:fs/promises');
const { randomUUID } = require('node:crypto');
const { VssWriter, WriteGate } = require('../../dist/index.js');

const gate = new WriteGate({ name: 'records', maxFrozenMs: 60_000 });
let longest = 0;
let inFlight = 0;
const record = Buffer.from('record\n');

async function main() {
  const fh = await open(process.argv[2], 'a');
  const writer = new VssWriter({ name: `stall-bench-${process.pid}`, id: randomUUID(), usage: 'userData', sourceType: 'other', gate, handlers: {} });
  const ticker = setInterval(() => {
    const issued = performance.now();
    inFlight += 1;
    void gate
      .run(() => fh.write(record))
      .finally(() => {
        inFlight -= 1;
        longest = Math.max(longest, performance.now() - issued);
      });
  }, 1);
  process.on('message', async (m) => {
    if (m === 'reset') {
      longest = 0;
      process.send({ type: 'reset' });
    } else if (m === 'max') {
      // Every write issued so far has completed: the window's longest wait is known.
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
      process.send({ type: 'max', longest });
    } else if (m === 'stop') {
      clearInterval(ticker);
      await writer.unsubscribe();
      await fh.close();
      process.send({ type: 'stopped' }, () => process.exit(0));
    }
  });
  // The figure's process is gone (killed): so is the reason to write.
  process.on('disconnect', () => process.exit(0));
  await writer.subscribe();
  process.send({ type: 'ready' });
}
main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
