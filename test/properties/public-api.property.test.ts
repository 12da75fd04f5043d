/**
 * Hostile input, property-based (fast-check): every option schema and public function gets
 * arbitrary values, whole or one field at a time. The only acceptable failures are clear
 * errors (OptionsError, a TypeError, naming the field) and VssError from VSS itself; never
 * another exception, a crash, a hang, or a writer left half-registered. Whether a value must
 * be refused is decided independently of src/schemas.ts, by the rules restated in `rules`
 * below from the API's documentation: a value those rules refuse must be refused, and one
 * they accept must be accepted.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShadowCopy, listWriters, OptionsError, VssError, VssWriter, WriterFailure, writerErrorCodes, type VssWriterOptions } from '../../src/index.js';
import { providerErrorCodes } from '../../src/hresult.js';
import { writerEvents } from '../../src/types.js';
import { rehearseCheckpoint } from '../../src/testing.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { rules, type Rule } from '../helpers/rules.js';

/** Absolute: "/..." on POSIX; "C:\\..." or "\\\\server\\share" on Windows. */
const absolute: Rule = (v) =>
  rules.string(1, 32767)(v) && (process.platform === 'win32' ? /^[a-z]:[\\/]|^\\\\[^\\]+\\[^\\]/i.test(v as string) : (v as string).startsWith('/'));
/** 8-4-4-4-12 hex digits, in braces or not. */
const guid: Rule = (v) => typeof v === 'string' && /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(v.startsWith('{') && v.endsWith('}') ? v.slice(1, -1) : v);
const logger: Rule = (v) => typeof v === 'object' && v !== null && ['error', 'warn', 'info', 'debug'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function');
const events = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'abort', 'backupComplete', 'backupShutdown', 'preRestore', 'postRestore'];
const fileGroup = rules.record({
  path: absolute,
  filespec: rules.optional((v) => rules.string(1, 256)(v) && !/[\\/]/.test(v as string)),
  recursive: rules.optional(rules.boolean),
});
const component = rules.record({
  name: rules.string(1, 256),
  logicalPath: rules.optional(rules.string(0, 1024)),
  caption: rules.optional(rules.string(0, 256)),
  files: rules.array(fileGroup, 1, Infinity),
});
const writerRules: Record<string, Rule> = {
  name: rules.string(1, 256),
  id: guid,
  instanceName: rules.optional(rules.string(0, 256)),
  usage: rules.oneOf('bootableSystemState', 'systemService', 'userData', 'other'),
  sourceType: rules.oneOf('transactedDb', 'nonTransactedDb', 'other'),
  components: rules.optional(rules.array(component, 0, 1024)),
  freezeTimeoutMs: rules.optional(rules.integer(10, 3_600_000)),
  handlerTimeoutMs: rules.optional(rules.integer(10, 3_600_000)),
  handlers: rules.optional(rules.record(Object.fromEntries(events.map((e) => [e, rules.optional(rules.fn)])))),
  logger: rules.optional(logger),
};
const simulationRules: Record<string, Rule> = {
  commitDelayMs: rules.optional(rules.integer(0, 3_600_000)),
  failWith: rules.optional(rules.oneOf(...providerErrorCodes)),
  holdLimitMs: rules.optional(rules.integer(1, 60_000)),
  freezeWindowMs: rules.optional(rules.integer(1, 3_600_000)),
  writerFailures: rules.optional(
    rules.array(
      rules.record({ writer: rules.string(1, 256), instanceName: rules.optional(rules.string(0, 256)), event: rules.oneOf(...writerEvents), code: rules.optional(rules.oneOf(...writerErrorCodes)) }),
      0,
      64,
    ),
  ),
};
/** Whether `value` is acceptable for `key` of an object with these rules: an unknown key never is, even undefined. */
const accepts = (shape: Record<string, Rule>, key: string, value: unknown): boolean => Object.hasOwn(shape, key) && shape[key]!(value);
const setRules = (rehearse: boolean): Record<string, Rule> => ({
  volumes: (rehearse ? rules.optional : (r: Rule) => r)(rules.array(rules.string(1, 32767), 1, 64)),
  backupType: rules.optional(rules.oneOf('full', 'copy', 'incremental', 'differential', 'log', 'other')),
  components: rules.optional(rules.array(rules.string(0, 1024), 0, 1024)),
  timeoutMs: rules.optional(rules.integer(1, 86_400_000)),
  // A rehearsal takes its faults in `faults`, and keeps nothing.
  keep: rehearse ? rules.refused : rules.optional(rules.boolean),
  signal: rules.optional((v) => v instanceof AbortSignal),
  onProgress: rules.optional(rules.fn),
  onCommit: rules.optional(rules.fn),
  simulation: rehearse ? rules.refused : rules.optional(rules.record(simulationRules)),
  logger: rules.optional(logger),
});

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
  // Near the rules' edges: whole and fractional numbers around the limits, paths and GUIDs.
  fc.integer({ min: -20, max: 70_000 }),
  fc.constantFrom(9, 10, 3_600_000, 3_600_001, 86_400_001, 60_001, 1.5e3 + 0.5, 'data/x', '/data/x', './x', '9b1f4a2e-0000-4000-8000-00000000000g', '{9b1f4a2e-0000-4000-8000-000000000003}', 'userData', 'full', 'x'.repeat(257)),
  fc.constant([]),
);

/** Hostile values, and whole numbers around the limits of the millisecond fields, often. */
const hostileOrEdge = fc.oneof(
  { arbitrary: hostile, weight: 1 },
  { arbitrary: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.integer({ min: 3_599_998, max: 3_600_002 }), fc.integer({ min: 86_399_998, max: 86_400_002 })), weight: 1 },
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

/** A writer with these components is made exactly when the rules accept them, else refused naming `components`. */
function componentsJudgedRight(components: unknown[]): boolean {
  const acceptable = writerRules['components']!(components);
  try {
    new VssWriter({ ...validWriter, components } as never);
    return acceptable;
  } catch (error) {
    return !acceptable && namesField(error, 'components');
  }
}

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
      fc.asyncProperty(fc.constantFrom(...writerFields), hostileOrEdge, async (field, value) => {
        const before = (await listWriters()).length;
        const acceptable = accepts(writerRules, field, value);
        let writer: VssWriter;
        try {
          writer = new VssWriter({ ...validWriter, [field]: value } as never);
        } catch (error) {
          expect(acceptable, `refused an acceptable ${field}: ${String(error)}`).toBe(false);
          expect(namesField(error, field), String(error)).toBe(true);
          expect((await listWriters()).length).toBe(before); // nothing half-registered
          return;
        }
        expect(acceptable, `accepted ${field} = ${fc.stringify(value)}`).toBe(true);
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
        const acceptable = writerRules['handlers']!({ [event]: handler });
        try {
          new VssWriter({ ...validWriter, handlers: { [event]: handler } } as never);
          return acceptable;
        } catch (error) {
          return !acceptable && namesField(error, 'handlers');
        }
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.constantFrom('name', 'logicalPath', 'caption', 'files', 'extra'), hostile, (key, value) => {
        return componentsJudgedRight([{ ...validWriter.components[0], [key]: value }]);
      }),
      { numRuns: RUNS },
    );
    // A file group's fields, relative paths and directories in a filespec among them.
    const pathLike = fc.oneof(hostile, fc.constantFrom('/var/lib/app', 'var/lib/app', '../x', 'C:\\data', '\\\\server\\share', '*.db', 'dir/*.db', 'a\\b'));
    fc.assert(
      fc.property(fc.constantFrom('path', 'filespec', 'recursive', 'extra'), pathLike, (key, value) => {
        return componentsJudgedRight([{ name: 'db', files: [{ path: '/var/lib/prop', filespec: '*.db', [key]: value }] }]);
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
      fc.asyncProperty(fc.constantFrom(...setFields), hostileOrEdge, fc.boolean(), async (field, value, rehearse) => {
        const options = { ...validSet, [field]: value };
        const acceptable = accepts(setRules(rehearse), field, value);
        const run = rehearse ? rehearseCheckpoint(options as never) : createShadowCopy(options as never);
        const error = await run.then(
          () => null,
          (e: unknown) => e,
        );
        if (acceptable) {
          // It ran: it succeeded, or VSS failed it (a volume it does not know, a short deadline).
          expect(error === null || error instanceof VssError, `refused an acceptable ${field}: ${String(error)}`).toBe(true);
          return;
        }
        expect(namesField(error, field), `${field} = ${fc.stringify(value)}: ${String(error)}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('hostile simulation settings are refused by name', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('commitDelayMs', 'failWith', 'holdLimitMs', 'freezeWindowMs', 'writerFailures', 'other'), hostile, async (key, value) => {
        // Bounded so that a valid value cannot make the set slow.
        if (key === 'commitDelayMs' && typeof value === 'number' && value > 100) return;
        const acceptable = accepts(simulationRules, key, value);
        const error = await createShadowCopy({ ...validSet, simulation: { [key]: value } } as never).then(
          () => null,
          (e: unknown) => e,
        );
        if (acceptable) {
          expect(error === null || error instanceof VssError, `refused an acceptable ${key}: ${String(error)}`).toBe(true);
          return;
        }
        expect(namesField(error, 'simulation'), `${key} = ${fc.stringify(value)}: ${String(error)}`).toBe(true);
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
