/**
 * VssWriter's own part (src/writer.ts), on the simulator: the metadata it describes itself
 * with, its log lines and label, a refused subscription, and what unsubscribing does to its
 * gate.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { gatherWriterMetadata, VssError, VssWriter, WriteGate, type VssWriterOptions } from '../src/index.js';
import { unsubscribeAll } from '../src/writer.js';
import { memoryLogger } from './helpers/memory-logger.js';

function writerWith(options: Partial<VssWriterOptions> = {}) {
  const { logger, entries } = memoryLogger();
  const writer = new VssWriter({ name: 'described', id: randomUUID(), usage: 'userData', sourceType: 'other', logger, ...options });
  return { writer, entries };
}

describe('VssWriter', () => {
  it('describes its components as VSS lists them: caption defaulting to the name, each file group in full', async () => {
    const { writer } = writerWith({
      instanceName: 'east',
      restoreMethod: 'restoreIfNotThere',
      components: [
        { name: 'db', files: [{ path: '/var/lib/app', filespec: '*.db', recursive: true }] },
        { name: 'logs', logicalPath: 'app', caption: 'Write-ahead logs', files: [{ path: '/var/log/app' }] },
      ],
    });
    await writer.subscribe();
    try {
      const [me] = (await gatherWriterMetadata()).filter((w) => w.name === 'described');
      expect(me).toMatchObject({ instanceName: 'east' });
      expect(me!.components).toEqual([
        expect.objectContaining({ name: 'db', logicalPath: '', caption: 'db', files: [{ path: '/var/lib/app', filespec: '*.db', recursive: true }] }),
        expect.objectContaining({ name: 'logs', logicalPath: 'app', caption: 'Write-ahead logs', files: [{ path: '/var/log/app', filespec: '*', recursive: false }] }),
      ]);
    } finally {
      await writer.unsubscribe();
    }
  });

  it('logs its subscription and unsubscription under its label, name and instance', async () => {
    const { writer, entries } = writerWith({ instanceName: 'east' });
    expect(writer.subscribed).toBe(false);
    await writer.subscribe();
    await writer.subscribe(); // a second subscribe does nothing
    expect(writer.subscribed).toBe(true);
    await writer.unsubscribe();
    await writer.unsubscribe(); // nor does a second unsubscribe
    expect(writer.subscribed).toBe(false);
    const lines = entries.filter((e) => e.message === 'subscribed' || e.message === 'unsubscribed');
    expect(lines.map((e) => [e.level, e.message, e['writer']])).toEqual([
      ['info', 'subscribed', 'described (east)'],
      ['info', 'unsubscribed', 'described (east)'],
    ]);
    const plain = writerWith();
    await plain.writer.subscribe();
    await plain.writer.unsubscribe();
    expect(plain.entries.find((e) => e.message === 'subscribed')!['writer']).toBe('described');
  });

  it('a refused subscription: a VssError naming the writer, and the writer stays unsubscribed', async () => {
    const id = randomUUID();
    const first = writerWith({ id });
    const second = writerWith({ id });
    await first.writer.subscribe();
    try {
      const error = await second.writer.subscribe().then(
        () => expect.unreachable(),
        (e: unknown) => e as VssError,
      );
      expect(error).toBeInstanceOf(VssError);
      expect(error.code).toBe('VSS_E_WRITER_ALREADY_SUBSCRIBED');
      expect(error.message).toMatch(/^writer "described" could not subscribe: /);
      expect(second.writer.subscribed).toBe(false);
      expect(second.entries.some((e) => e.message === 'subscribed')).toBe(false);
      // The refusal does not wedge it: once the first has gone, it subscribes.
      await first.writer.unsubscribe();
      await second.writer.subscribe();
      expect(second.writer.subscribed).toBe(true);
    } finally {
      await first.writer.unsubscribe();
      await second.writer.unsubscribe();
    }
  });

  it('unsubscribing reopens a gate it froze, saying so in the freeze report', async () => {
    const gate = new WriteGate({ logger: memoryLogger().logger });
    const { writer } = writerWith({ gate });
    await writer.subscribe();
    await gate.freeze();
    await writer.unsubscribe();
    expect(gate.state).toBe('open');
    expect(gate.lastFreeze?.endedBy).toBe('unsubscribe');
  });

  it('unsubscribeAll unsubscribes every writer; `await using` unsubscribes at the end of the scope', async () => {
    const a = writerWith();
    const b = writerWith();
    await a.writer.subscribe();
    await b.writer.subscribe();
    await unsubscribeAll();
    expect([a.writer.subscribed, b.writer.subscribed]).toEqual([false, false]);
    const c = writerWith();
    await c.writer.subscribe();
    await c.writer[Symbol.asyncDispose]();
    expect(c.writer.subscribed).toBe(false);
  });
});
