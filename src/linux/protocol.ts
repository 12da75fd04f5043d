/**
 * What the hook and a registered app say to each other over the app's Unix socket: one
 * request from the hook, one reply from the app, each a line of JSON of at most
 * maxMessageBytes, carrying the protocol version `v`. Both sides validate with these schemas
 * and refuse anything else.
 *
 *   freeze  -> frozen | failed   run prepareBackup, prepareSnapshot and freeze, then hold;
 *              after "frozen" the connection stays open until the hook sends `hold` (every
 *              app froze: the freeze stands); if it closes first, the app aborts at once
 *   thaw    -> thawed | failed   release the hold: thaw, postSnapshot, backupComplete
 *   abort   -> thawed | failed   give up: abort (after a failed freeze)
 *   status  -> status            who is registered, for `vss-bridge doctor` and logs
 */
import { z } from 'zod';
import { backupTypes } from '../types.js';

export const protocolVersion = 1;
export const maxMessageBytes = 4096;

const v = z.literal(protocolVersion);
const id = z.string().regex(/^[0-9a-f-]{36}$/i, { error: 'must be a UUID' });
const text = z.string().max(1024);

export const requestSchema = z.discriminatedUnion('op', [
  z.strictObject({
    v,
    op: z.literal('freeze'),
    id,
    /** How long the app has to confirm; past it the hook vetoes and the app aborts itself. */
    timeoutMs: z.number().int().min(1).max(3_600_000),
    backupType: z.enum(backupTypes),
    /** Who asked, for the app's log: qemu-ga, vmware, hv_vss, ... */
    source: z.string().max(64),
  }),
  z.strictObject({ v, op: z.literal('thaw'), timeoutMs: z.number().int().min(1).max(3_600_000) }),
  z.strictObject({ v, op: z.literal('abort'), timeoutMs: z.number().int().min(1).max(3_600_000) }),
  z.strictObject({ v, op: z.literal('status') }),
]);
export type Request = z.infer<typeof requestSchema>;

/** The hook's second line on a freeze connection: every app froze, keep holding until thaw or abort. */
export const holdSchema = z.strictObject({ v, op: z.literal('hold') });
export type Hold = z.infer<typeof holdSchema>;

const writerSummary = z.strictObject({ name: text, instanceName: text, state: text });

export const replySchema = z.discriminatedUnion('op', [
  z.strictObject({ v, op: z.literal('frozen'), id, writers: z.array(text).max(256) }),
  z.strictObject({ v, op: z.literal('thawed'), note: text.optional() }),
  z.strictObject({ v, op: z.literal('failed'), reason: text, code: z.string().max(64).optional() }),
  z.strictObject({
    v,
    op: z.literal('status'),
    pid: z.number().int(),
    /** idle, freezing, frozen or thawing */
    phase: z.enum(['idle', 'freezing', 'frozen', 'thawing']),
    writers: z.array(writerSummary).max(256),
  }),
]);
export type Reply = z.infer<typeof replySchema>;

/** One line of JSON; throws when it would exceed the size limit. */
export function encodeMessage(message: Request | Reply | Hold): string {
  const line = `${JSON.stringify(message)}\n`;
  if (Buffer.byteLength(line) > maxMessageBytes) throw new Error(`message of ${Buffer.byteLength(line)} bytes exceeds ${maxMessageBytes}`);
  return line;
}

/** Truncates free text to what the schema allows, so a long error message still fits. */
export function clip(s: string): string {
  return s.length > 1000 ? `${s.slice(0, 1000)}...` : s;
}

/**
 * Collects one line from a stream of chunks. Returns the parsed message once a newline
 * arrives; throws on more than maxMessageBytes without one, on bad JSON or on a message
 * the schema refuses (naming the field), and on a version other than ours.
 *
 * Bytes are kept as they arrive and decoded once the line is whole, so a character split
 * between chunks reads as it was sent. It never holds more than maxMessageBytes: a chunk
 * that would take it past the limit is refused, not kept. After a failure every push fails
 * the same way, and after the message (one per connection) anything more is ignored.
 */
export class LineReader<T> {
  private chunks: Buffer[] = [];
  private held = 0;
  private failure: Error | undefined;
  private done = false;
  constructor(private readonly schema: z.ZodType<T>, private readonly what: string) {}

  /** Bytes kept while waiting for the newline: never more than maxMessageBytes. */
  get heldBytes(): number {
    return this.held;
  }

  push(chunk: Buffer | string): T | undefined {
    if (this.failure) throw this.failure;
    if (this.done) return undefined;
    try {
      return this.take(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    } catch (error) {
      this.failure = error as Error;
      throw error;
    } finally {
      if (this.failure || this.done) {
        this.chunks = [];
        this.held = 0;
      }
    }
  }

  private take(chunk: Buffer): T | undefined {
    const end = chunk.indexOf(0x0a);
    if (this.held + (end < 0 ? chunk.length : end) > maxMessageBytes) throw new Error(`${this.what} longer than ${maxMessageBytes} bytes`);
    if (end < 0) {
      this.chunks.push(chunk);
      this.held += chunk.length;
      return undefined;
    }
    this.done = true;
    const line = Buffer.concat([...this.chunks, chunk.subarray(0, end)]).toString('utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new Error(`${this.what} is not JSON`);
    }
    const version = (raw as { v?: unknown } | null)?.v;
    if (version !== protocolVersion) throw new Error(`${this.what} speaks protocol version ${describe(version)}; this side speaks ${protocolVersion}`);
    const parsed = this.schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`invalid ${this.what}: ${issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : 'refused'}`);
    }
    return parsed.data;
  }
}

/** A received value, short enough for an error message whatever the peer sent. */
function describe(value: unknown): string {
  // Never String() an object: {"toString": 1} would throw rather than be refused.
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? '(an array)' : '(an object)';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
