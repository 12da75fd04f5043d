/**
 * Hostile input, property-based (fast-check): every option schema and public function gets
 * arbitrary values, whole or one field at a time. The only acceptable failures are clear
 * errors (OptionsError, a TypeError, naming the field) and VssError from VSS itself; never
 * another exception, a crash, a hang, or a writer left half-registered.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShadowCopy, listWriters, OptionsError, VssError, VssWriter, WriterFailure, writerErrorCodes, type VssWriterOptions } from '../../src/index.js';
import { rehearseCheckpoint } from '../../src/testing.js';
import { memoryLogger } from '../helpers/memory-logger.js';

const quiet = memoryLogger().logger;
const RUNS = 200;

/** Values that break validators: wrong types, edge numbers, odd strings, prototype tricks. */
const hostile = fc.oneof(
  fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true }),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 53, -1, 1.5, 0, 4_294_967_296, '', ' ', '\u0000', '../../etc/passwd', 'C:\\', '/'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constant(Object.create(null) as object),
  fc.constant({ __proto__: { polluted: true } }),
  fc.constant(() => undefined),
);

/** Whether `error` is a clear options error that names `field` (or, for a whole-object problem, says what it is). */
function namesField(error: unknown, field: string | null): boolean {
  if (!(error instanceof OptionsError) || !(error instanceof TypeError)) return false;
  if (error.issues.length === 0) return false;
  if (field === null) return true;
  return error.issues.some((i) => i.path === field || i.path.startsWith(`${field}.`) || i.path.startsWith(`${field}[`) || i.message.includes(field));
}

const validWriter: VssWriterOptions & { components: NonNullable<VssWriterOptions['components']> } = {
  name: 'prop-writer',
  id: '9b1f4a2e-0000-4000-8000-000000000001',
  usage: 'userData',
  sourceType: 'other',
  instanceName: 'x',
  components: [{ name: 'db', files: [{ path: '/var/lib/prop', filespec: '*.db' }] }],
  freezeTimeoutMs: 1000,
  handlerTimeoutMs: 1000,
  handlers: {},
  logger: quiet,
};
const writerFields = [...Object.keys(validWriter), 'unknownField'];

describe('VssWriter options', () => {
  it('a wholly hostile argument gives an OptionsError, never another exception', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        try {
          new VssWriter(value as never);
          return false; // nothing arbitrary is a valid writer
        } catch (error) {
          return namesField(error, null);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('one hostile field gives an OptionsError naming that field, or a writer that subscribes and unsubscribes cleanly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...writerFields), hostile, async (field, value) => {
        const before = (await listWriters()).length;
        let writer: VssWriter;
        try {
          writer = new VssWriter({ ...validWriter, [field]: value } as never);
        } catch (error) {
          expect(namesField(error, field), String(error)).toBe(true);
          expect((await listWriters()).length).toBe(before); // nothing half-registered
          return;
        }
        await writer.subscribe();
        expect((await listWriters()).length).toBe(before + 1);
        await writer.unsubscribe();
        expect((await listWriters()).length).toBe(before);
      }),
      { numRuns: RUNS },
    );
  });

  it('a hostile handler or component entry is refused by name', () => {
    fc.assert(
      fc.property(fc.constantFrom('freeze', 'thaw', 'abort', 'notAnEvent'), hostile, (event, handler) => {
        try {
          new VssWriter({ ...validWriter, handlers: { [event]: handler } } as never);
          return typeof handler === 'function' || handler === undefined;
        } catch (error) {
          return namesField(error, 'handlers');
        }
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.constantFrom('name', 'logicalPath', 'caption', 'files', 'extra'), hostile, (key, value) => {
        try {
          new VssWriter({ ...validWriter, components: [{ ...validWriter.components[0], [key]: value }] } as never);
          return true;
        } catch (error) {
          return namesField(error, 'components');
        }
      }),
      { numRuns: RUNS },
    );
  });
});

const validSet = { volumes: ['/'], backupType: 'full', components: [], timeoutMs: 5_000, logger: quiet } as const;
const setFields = ['volumes', 'backupType', 'components', 'timeoutMs', 'keep', 'signal', 'onProgress', 'onCommit', 'simulation', 'logger', 'unknownField'];

describe('createShadowCopy and rehearseCheckpoint options', () => {
  // rehearseCheckpoint refuses to run without a writer to rehearse against.
  let writer: VssWriter;
  beforeAll(async () => {
    writer = new VssWriter({ ...validWriter, id: '9b1f4a2e-0000-4000-8000-000000000002' });
    await writer.subscribe();
  });
  afterAll(() => writer.unsubscribe());

  it('a wholly hostile argument rejects with an OptionsError', async () => {
    await fc.assert(
      fc.asyncProperty(hostile, async (value) => {
        const error = await createShadowCopy(value as never).then(
          () => null,
          (e: unknown) => e,
        );
        expect(namesField(error, null), String(error)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('one hostile field rejects with an OptionsError naming it, or runs a set that ends', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...setFields), hostile, fc.boolean(), async (field, value, rehearse) => {
        const options = { ...validSet, [field]: value };
        const run = rehearse ? rehearseCheckpoint(options as never) : createShadowCopy(options as never);
        const error = await run.then(
          () => null,
          (e: unknown) => e,
        );
        if (error === null || error instanceof VssError) return; // it was valid: the set ran
        expect(namesField(error, field), String(error)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('hostile simulation settings are refused by name', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('commitDelayMs', 'failWith', 'holdLimitMs', 'freezeWindowMs', 'writerFailures', 'other'), hostile, async (key, value) => {
        // Bounded so that a valid value cannot make the set slow.
        if (key === 'commitDelayMs' && typeof value === 'number' && value > 100) return;
        const error = await createShadowCopy({ ...validSet, simulation: { [key]: value } } as never).then(
          () => null,
          (e: unknown) => e,
        );
        if (error === null || error instanceof VssError) return;
        expect(namesField(error, 'simulation'), String(error)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('WriterFailure', () => {
  it('accepts only VSS writer-error codes and says which are valid otherwise', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, fc.constantFrom(...writerErrorCodes)), hostile, (code, message) => {
        try {
          const failure = new WriterFailure(code as never, typeof message === 'string' ? message : undefined);
          return (writerErrorCodes as readonly unknown[]).includes(code) && failure.hresult >>> 0 >= 0x800423f0;
        } catch (error) {
          return error instanceof TypeError && /WriterFailure: code must be one of/.test(error.message) && !(writerErrorCodes as readonly unknown[]).includes(code);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
