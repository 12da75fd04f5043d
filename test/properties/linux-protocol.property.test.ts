/**
 * The Linux coordinator's message protocol (src/linux/protocol.ts), fuzzed with fast-check:
 * arbitrary bytes, arbitrary JSON, near-valid messages and oversize lines, delivered whole or
 * split and merged into any chunks, to the line reader and to a live app socket. The only
 * acceptable outcomes are a valid message or a clean refusal naming what was wrong: never
 * another exception, a hang, an answer that depends on how the bytes were chunked, or more
 * than maxMessageBytes held.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWithCoordinator, type Registration } from '../../src/linux/coordinator.js';
import { clip, encodeMessage, LineReader, maxMessageBytes, protocolVersion, replySchema, requestSchema, type Reply, type Request } from '../../src/linux/protocol.js';
import { runtimeDirVariable } from '../../src/linux/runtime-dir.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { rules, type Rule } from '../helpers/rules.js';
import { skipUnlessRunnable } from '../helpers/skip.js';

const RUNS = 300;
const encoder = new TextEncoder();
const bytesOf = (s: string): Uint8Array => encoder.encode(s);

/** The refusals LineReader may give, and nothing else. */
const refusal = /^(request|reply) (longer than 4096 bytes|is not JSON|speaks protocol version .{1,60}; this side speaks 1)$|^invalid (request|reply): .+/s;

/**
 * The protocol's messages as src/linux/protocol.ts's header describes them, restated without
 * its schemas: what the reader returns is checked against these, not against itself.
 */
const version = rules.oneOf(1);
const uuidText: Rule = (v) => typeof v === 'string' && /^[0-9a-f-]{36}$/i.test(v);
const deadline = rules.integer(1, 3_600_000);
const freeText = rules.string(0, 1024);
const messageRules: Record<'request' | 'reply', Rule> = {
  request: rules.either(
    rules.record({ v: version, op: rules.oneOf('freeze'), id: uuidText, timeoutMs: deadline, backupType: rules.oneOf('full', 'copy', 'incremental', 'differential', 'log', 'other'), source: rules.string(0, 64) }),
    rules.record({ v: version, op: rules.oneOf('thaw'), timeoutMs: deadline }),
    rules.record({ v: version, op: rules.oneOf('abort'), timeoutMs: deadline }),
    rules.record({ v: version, op: rules.oneOf('status') }),
  ),
  reply: rules.either(
    rules.record({ v: version, op: rules.oneOf('frozen'), id: uuidText, writers: rules.array(freeText, 0, 256) }),
    rules.record({ v: version, op: rules.oneOf('thawed'), note: rules.optional(freeText) }),
    rules.record({ v: version, op: rules.oneOf('failed'), reason: freeText, code: rules.optional(rules.string(0, 64)) }),
    rules.record({
      v: version,
      op: rules.oneOf('status'),
      pid: rules.integer(-Infinity, Infinity),
      phase: rules.oneOf('idle', 'freezing', 'frozen', 'thawing'),
      writers: rules.array(rules.record({ name: freeText, instanceName: freeText, state: freeText }), 0, 256),
    }),
  ),
};

const uuid = fc.uuid();
const timeoutMs = fc.integer({ min: 1, max: 3_600_000 });
const validRequest: fc.Arbitrary<Request> = fc.oneof(
  fc.record({ v: fc.constant(protocolVersion), op: fc.constant('status' as const) }),
  fc.record({ v: fc.constant(protocolVersion), op: fc.constantFrom('thaw' as const, 'abort' as const), timeoutMs }),
  fc.record({
    v: fc.constant(protocolVersion),
    op: fc.constant('freeze' as const),
    id: uuid,
    timeoutMs,
    backupType: fc.constantFrom('full' as const, 'copy' as const),
    source: fc.string({ unit: 'grapheme', maxLength: 16 }),
  }),
);
const validReply: fc.Arbitrary<Reply> = fc.oneof(
  fc.record({ v: fc.constant(protocolVersion), op: fc.constant('frozen' as const), id: uuid, writers: fc.array(fc.string({ unit: 'grapheme', maxLength: 20 }), { maxLength: 8 }) }),
  fc.record({ v: fc.constant(protocolVersion), op: fc.constant('thawed' as const) }),
  fc.record({ v: fc.constant(protocolVersion), op: fc.constant('failed' as const), reason: fc.string({ unit: 'grapheme', maxLength: 40 }), code: fc.string({ maxLength: 20 }) }),
);

/** Values at and just past the protocol's limits, and of the wrong type. */
const edgeValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, 1, 1.5, -1, 3_600_000, 3_600_001, 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(1024), 'x'.repeat(1025), 'full', 'incremental', 'bogus', '', null, 2, '1'),
  fc.uuid(),
);

/** A valid message with one of its fields changed or dropped, or a field added. */
const mutated = (valid: fc.Arbitrary<Request | Reply>): fc.Arbitrary<string> =>
  fc
    .tuple(valid, fc.string({ maxLength: 12 }), fc.nat(), edgeValue, fc.constantFrom('drop', 'change', 'add'))
    .map(([message, newKey, pick, value, how]) => {
      const copy: Record<string, unknown> = { ...message };
      const keys = Object.keys(copy);
      const existing = keys[pick % keys.length] as string;
      if (how === 'drop') delete copy[existing];
      else copy[how === 'change' ? existing : newKey] = value;
      return JSON.stringify(copy);
    });

/** What a peer might send: bytes, JSON, near-valid and valid lines, oversize lines, in any mix. */
const stream = (valid: fc.Arbitrary<Request | Reply>): fc.Arbitrary<Uint8Array> =>
  fc
    .array(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.jsonValue({ maxDepth: 3 }).map((j) => bytesOf(`${JSON.stringify(j) ?? 'null'}\n`)),
        mutated(valid).map((line) => bytesOf(`${line}\n`)),
        valid.map((m) => bytesOf(JSON.stringify(m) + '\n')),
        fc.string({ unit: 'binary', maxLength: 40 }).map(bytesOf),
        fc.integer({ min: maxMessageBytes - 2, max: maxMessageBytes + 64 }).map((n) => bytesOf('x'.repeat(n))),
        fc.constant(bytesOf('\n')),
      ),
      { maxLength: 5 },
    )
    .map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])));

/** Any split of `bytes` into consecutive chunks (empty chunks included). */
const chunked = (bytes: Uint8Array): fc.Arbitrary<Buffer[]> =>
  fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 }).map((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
    return points.slice(1).map((end, i) => Buffer.from(bytes.subarray(points[i], end)));
  });

type Outcome = { message: unknown } | { refused: string } | { waiting: true };

/** Feeds chunks until a message or a refusal, checking the reader's invariants on the way. */
function feed<T>(reader: LineReader<T>, chunks: readonly Buffer[]): Outcome {
  for (const chunk of chunks) {
    let message: T | undefined;
    try {
      message = reader.push(chunk);
    } catch (error) {
      // Only an Error with a known refusal: a TypeError from inside would be a bug.
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).constructor).toBe(Error);
      expect((error as Error).message).toMatch(refusal);
      // It stays refused and holds nothing.
      expect(() => reader.push('{"v":1,"op":"status"}\n')).toThrow((error as Error).message);
      expect(reader.heldBytes).toBe(0);
      return { refused: (error as Error).message };
    }
    expect(reader.heldBytes).toBeLessThanOrEqual(maxMessageBytes);
    if (message !== undefined) {
      expect(reader.heldBytes).toBe(0);
      return { message };
    }
  }
  return { waiting: true };
}

describe.each([
  ['request', requestSchema, validRequest],
  ['reply', replySchema, validReply],
] as const)('LineReader for a %s', (what, schema, valid) => {
  const reader = () => new LineReader<unknown>(schema, what);

  it('gives a valid message or a clean refusal for any bytes, in any chunks, holding at most maxMessageBytes', () => {
    fc.assert(
      fc.property(
        stream(valid).chain((bytes) => chunked(bytes)),
        (chunks) => {
          const outcome = feed(reader(), chunks);
          if ('message' in outcome) expect(messageRules[what](outcome.message), JSON.stringify(outcome.message)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('reads the same whatever the chunking: split and merged chunks, characters split between them', () => {
    fc.assert(
      fc.property(
        stream(valid).chain((bytes) => fc.tuple(chunked(bytes), chunked(bytes))),
        ([a, b]) => {
          expect(feed(reader(), a)).toEqual(feed(reader(), b));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('accepts every valid message, in any chunks, exactly as sent', () => {
    fc.assert(
      fc.property(
        valid.chain((m) => fc.tuple(fc.constant(m), chunked(bytesOf(encodeMessage(m))))),
        ([message, chunks]) => {
          expect(feed(reader(), chunks)).toEqual({ message });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses any JSON value that is not a valid message, naming why', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }).map((j) => JSON.stringify(j) ?? 'null'), mutated(valid)), (line) => {
        const outcome = feed(reader(), [Buffer.from(`${line}\n`)]);
        const value: unknown = JSON.parse(line);
        if (messageRules[what](value) && Buffer.byteLength(line) < maxMessageBytes) expect(outcome).toEqual({ message: value });
        else expect(outcome).toHaveProperty('refused');
      }),
      { numRuns: RUNS },
    );
  });

  it('takes each field at, inside and past its limits exactly when the rules accept it', () => {
    const id = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
    const templates: Record<string, unknown>[] =
      what === 'request'
        ? [
            { v: 1, op: 'freeze', id, timeoutMs: 1000, backupType: 'full', source: 'qemu-ga' },
            { v: 1, op: 'thaw', timeoutMs: 1000 },
            { v: 1, op: 'abort', timeoutMs: 1000 },
            { v: 1, op: 'status' },
          ]
        : [
            { v: 1, op: 'frozen', id, writers: ['db'] },
            { v: 1, op: 'thawed', note: 'n' },
            { v: 1, op: 'failed', reason: 'r', code: 'c' },
            { v: 1, op: 'status', pid: 7, phase: 'idle', writers: [{ name: 'db', instanceName: '', state: 'stable' }] },
          ];
    const edges: unknown[] = [undefined, 0, 1, 1.5, -1, 3_600_000, 3_600_001, 'x'.repeat(36), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(1024), 'x'.repeat(1025), 'copy', 'log', 'frozen', 'bogus', '', null, [], ['x'.repeat(1025)], [{ name: 'a', instanceName: 'b', state: 'c', more: 1 }], id.toUpperCase()];
    let accepted = 0;
    for (const template of templates) {
      for (const key of [...Object.keys(template), 'extra']) {
        for (const value of edges) {
          const message: Record<string, unknown> = { ...template, [key]: value };
          if (value === undefined) delete message[key];
          const outcome = feed(reader(), [Buffer.from(`${JSON.stringify(message)}\n`)]);
          const acceptable = messageRules[what](message);
          expect(outcome, JSON.stringify(message)).toEqual(acceptable ? { message } : { refused: expect.any(String) });
          if (acceptable) accepted++;
        }
      }
    }
    expect(accepted).toBeGreaterThan(20); // the table reaches both sides of the rules
  });

  it('refuses a line longer than maxMessageBytes before holding more than that, however it arrives', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: maxMessageBytes + 1, max: 4 * maxMessageBytes }).chain((n) => chunked(bytesOf(`${'y'.repeat(n)}\n`))),
        (chunks) => {
          expect(feed(reader(), chunks)).toEqual({ refused: `${what} longer than ${maxMessageBytes} bytes` });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a value of v that is an object whose toString is not a function', () => {
    expect(feed(reader(), [Buffer.from('{"v":{"toString":1}}\n')])).toEqual({ refused: `${what} speaks protocol version (an object); this side speaks 1` });
  });
});

const linuxSkip = skipUnlessRunnable('coordinator connection fuzzing', process.platform === 'linux' ? null : 'needs Linux (the app listens on its socket only there)');

describe.skipIf(linuxSkip !== null)('an app socket fed hostile connections', () => {
  let dir: string;
  let registration: Registration | undefined;
  const { logger } = memoryLogger();
  const saved = process.env[runtimeDirVariable];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vss-bridge-fuzz-'));
    process.env[runtimeDirVariable] = join(dir, 'run');
    registration = await registerWithCoordinator({ label: 'fuzz', logger });
    if (registration === undefined) throw new Error('the coordinator did not register');
  });
  afterAll(async () => {
    await registration?.release();
    if (saved === undefined) delete process.env[runtimeDirVariable];
    else process.env[runtimeDirVariable] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends the chunks; resolves with all the app sent back once it closes the connection. */
  function converse(chunks: readonly Buffer[], endWhenSent: boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket: Socket = connect(registration!.socketPath);
      let received = '';
      // A deadline, so a hang fails the property instead of the whole run.
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`the app neither answered nor closed the connection (sent ${chunks.length} chunk(s))`));
      }, 8000);
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(received);
      });
      socket.on('connect', async () => {
        for (const chunk of chunks) {
          if (socket.destroyed) return;
          socket.write(chunk);
          await new Promise((r) => setImmediate(r));
        }
        if (endWhenSent) socket.end();
      });
    });
  }

  /**
   * The chunks up to the byte on which the app decides (the first newline, or the first byte
   * past the limit). A peer that writes on after that is cut off, and may lose the reply as
   * its write fails: that is tested below; here each reply is checked.
   */
  function upToDecision(chunks: readonly Buffer[]): Buffer[] {
    const all = Buffer.concat(chunks);
    const newline = all.indexOf(0x0a);
    let left = newline >= 0 && newline <= maxMessageBytes ? newline + 1 : maxMessageBytes + 1;
    const out: Buffer[] = [];
    for (const chunk of chunks) {
      if (left === 0) break;
      out.push(chunk.subarray(0, left));
      left -= Math.min(left, chunk.length);
    }
    return out;
  }

  it('answers each connection with one valid reply or nothing, and closes it, whatever arrives and however', async () => {
    // Valid freezes are left out: they would start a snapshot set and hold it.
    const notFreeze = validRequest.filter((r) => r.op !== 'freeze');
    await fc.assert(
      fc.asyncProperty(
        stream(notFreeze).chain((bytes) => chunked(bytes)),
        async (all) => {
          const chunks = upToDecision(all);
          const expected = feed(new LineReader(requestSchema, 'request'), chunks);
          fc.pre(!('message' in expected) || (expected.message as Request).op !== 'freeze');
          // Only a peer with nothing complete to say hangs up first; a hook waits for its answer.
          const text = await converse(chunks, 'waiting' in expected);
          if ('waiting' in expected) {
            expect(text).toBe('');
            return;
          }
          expect(text.endsWith('\n')).toBe(true);
          expect(text.indexOf('\n')).toBe(text.length - 1);
          const reply = replySchema.parse(JSON.parse(text));
          if ('refused' in expected) {
            expect(reply).toEqual({ v: protocolVersion, op: 'failed', reason: clip(expected.refused), code: 'E_INVALIDARG' });
          } else {
            const op = (expected.message as Request).op;
            expect(reply.op).toBe(op === 'status' ? 'status' : 'thawed');
          }
        },
      ),
      { numRuns: 150 },
    );
    // And it still serves the hook afterwards.
    expect(JSON.parse(await converse([Buffer.from('{"v":1,"op":"status"}\n')], false))).toMatchObject({ op: 'status', pid: process.pid });
  }, 120_000);

  it.each([
    ['after a refused line', 'junk\n'],
    ['after a line that is too long', 'z'.repeat(maxMessageBytes + 1)],
    ['after a request it answered', '{"v":1,"op":"status"}\n'],
  ])('cuts off a peer that goes on sending %s, rather than read it without end', async (_, first) => {
    const cap = 64 * 1024 * 1024;
    const sent = await new Promise<number>((resolve, reject) => {
      // Half-open: the peer keeps writing after the app's reply and end.
      const socket = connect({ path: registration!.socketPath, allowHalfOpen: true });
      let total = 0;
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`the connection was still open after ${total} bytes`));
      }, 20_000);
      const pump = (): void => {
        while (!socket.destroyed && total < cap) {
          total += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        if (total >= cap) {
          clearTimeout(timer);
          socket.destroy();
          resolve(total);
        }
      };
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(total);
      });
      socket.on('connect', () => {
        socket.write(first);
        pump();
      });
    });
    expect(sent).toBeLessThan(cap);
  }, 30_000);

  it('drops a peer that dribbles its request instead of sending it', async () => {
    const socket = connect(registration!.socketPath);
    let sent = 0;
    const closed = new Promise<string>((resolve) => {
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.on('close', () => resolve(received));
    });
    socket.on('error', () => undefined);
    // One byte every 250 ms: 30 s to send 120 bytes, far below the size limit.
    const dribble = setInterval(() => {
      if (socket.destroyed || sent >= 120) return clearInterval(dribble);
      socket.write(' ');
      sent += 1;
    }, 250);
    const received = await closed;
    clearInterval(dribble);
    expect(received).toBe('');
    expect(sent).toBeLessThan(120);
  }, 40_000);
});
