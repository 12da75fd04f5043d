/**
 * The option schemas (src/schemas.ts) one by one: what each accepts, the defaults it fills in,
 * and, for what it refuses, the field named and the rule's own words.
 */
import { describe, expect, it, vi } from 'vitest';
import { OptionsError } from '../src/errors.js';
import {
  componentSchema,
  fileGroupSchema,
  fileStoreOptionsSchema,
  gateFreezeOptionsSchema,
  gatePrepareOptionsSchema,
  guidSchema,
  handlersSchema,
  isAbsoluteForPlatform,
  loggerSchema,
  nodeSqliteStoreOptionsSchema,
  parseOptions,
  rehearsalOptionsSchema,
  shadowCopyOptionsSchema,
  simulationSchema,
  sqliteStoreOptionsSchema,
  storeAdapterSchema,
  writeGateOptionsSchema,
  writerOptionsSchema,
} from '../src/schemas.js';
import { writerEvents } from '../src/types.js';
import { memoryLogger } from './helpers/memory-logger.js';

const logger = memoryLogger().logger;
const valid = { name: 'w', id: 'c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f', usage: 'userData', sourceType: 'other' } as const;
const store = { name: 's', freeze: () => undefined, thaw: () => undefined };
// better-sqlite3's Database has prepare() too; what tells it from a DatabaseSync is pragma().
const betterSqlite = { name: '/db', open: true, pragma: () => undefined, exec: () => undefined, prepare: () => undefined };
const databaseSync = { prepare: () => undefined, exec: () => undefined };

/** The issues parseOptions reports for `value`, as "path: message". */
function issuesOf(schema: Parameters<typeof parseOptions>[0], value: unknown): string[] {
  try {
    parseOptions(schema, value, 'test options');
  } catch (error) {
    expect(error).toBeInstanceOf(OptionsError);
    return (error as OptionsError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected an OptionsError');
}

describe('parseOptions', () => {
  it('returns the parsed value, or throws an OptionsError naming what, each field and its rule', () => {
    expect(parseOptions(guidSchema, '{ABCDEF01-2345-6789-ABCD-EF0123456789}', 'x')).toBe('abcdef01-2345-6789-abcd-ef0123456789');
    try {
      parseOptions(writerOptionsSchema, { ...valid, name: '', components: [{ name: 'c', files: [{ path: 'rel' }] }] }, 'writer thing');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OptionsError);
      expect((error as OptionsError).message).toBe(
        'Invalid writer thing: name: must not be empty; components[0].files[0].path: must be an absolute path such as /var/lib/app',
      );
    }
  });
});

describe('guidSchema', () => {
  it('takes a GUID with or without braces and gives it lower-case without them', () => {
    expect(guidSchema.parse('C6E4A54E-8A2C-4D3B-9F0E-1A2B3C4D5E6F')).toBe('c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f');
    expect(guidSchema.parse('{c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f}')).toBe('c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f');
  });

  it.each(['c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6', 'xc6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f', 'c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6fx', '{c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f', 'c6e4a54e8a2c4d3b9f0e1a2b3c4d5e6f', 'g6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f'])(
    'refuses %j, saying what a GUID looks like',
    (id) => {
      expect(issuesOf(guidSchema, id)).toEqual([': must be a GUID such as "c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f" (braces optional)']);
    },
  );
});

describe('isAbsoluteForPlatform', () => {
  it.each([
    ['C:\\data', true],
    ['c:/data', true],
    ['\\\\server\\share', true],
    ['\\\\server\\share\\dir', true],
    ['C:data', false],
    ['\\\\server', false],
    ['\\\\server\\', false],
    ['/data', false],
    ['data\\x', false],
    ['xC:\\data', false],
    ['x\\\\server\\share', false],
  ])('on Windows, %j is %s', (path, absolute) => {
    expect(isAbsoluteForPlatform(path, 'win32')).toBe(absolute);
  });

  it.each([
    ['/data', true],
    ['data', false],
    ['C:\\data', false],
  ])('elsewhere, %j is %s', (path, absolute) => {
    expect(isAbsoluteForPlatform(path, 'linux')).toBe(absolute);
  });
});

describe('absolute paths on Windows', () => {
  it('refuses a POSIX path with a Windows example', async () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    vi.resetModules();
    Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
    try {
      const windows = await import('../src/schemas.js');
      const result = windows.fileStoreOptionsSchema.safeParse({ paths: ['/data', 'C:\\data'] });
      expect(result.success).toBe(false);
      expect(result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['paths.0: must be an absolute path such as C:\\data']);
    } finally {
      Object.defineProperty(process, 'platform', platform);
      vi.resetModules();
    }
  });
});

describe('writer options', () => {
  it('fills in the defaults', () => {
    expect(writerOptionsSchema.parse(valid)).toEqual({
      ...valid,
      instanceName: '',
      components: [],
      freezeTimeoutMs: 60_000,
      handlerTimeoutMs: 30_000,
      restoreMethod: 'restoreIfCanReplace',
      handlers: {},
    });
    expect(componentSchema.parse({ name: 'c', files: [{ path: '/d' }] })).toEqual({ name: 'c', logicalPath: '', files: [{ path: '/d', filespec: '*', recursive: false }] });
  });

  it('takes every usage, source type and restore method VSS has', () => {
    for (const usage of ['bootableSystemState', 'systemService', 'userData', 'other']) expect(writerOptionsSchema.parse({ ...valid, usage }).usage).toBe(usage);
    for (const sourceType of ['transactedDb', 'nonTransactedDb', 'other']) expect(writerOptionsSchema.parse({ ...valid, sourceType }).sourceType).toBe(sourceType);
    for (const restoreMethod of ['restoreIfCanReplace', 'restoreIfNotThere', 'restoreAtReboot', 'restoreAtRebootIfCannotReplace']) {
      expect(writerOptionsSchema.parse({ ...valid, restoreMethod }).restoreMethod).toBe(restoreMethod);
    }
  });

  it('names the rule each refused field breaks', () => {
    expect(issuesOf(writerOptionsSchema, { ...valid, name: '' })).toEqual(['name: must not be empty']);
    expect(issuesOf(writerOptionsSchema, { ...valid, freezeTimeoutMs: 100.5 })).toEqual(['freezeTimeoutMs: must be a whole number of milliseconds']);
    expect(issuesOf(writerOptionsSchema, { ...valid, handlers: { freeze: 1 } })).toEqual(['handlers.freeze: must be a function']);
    expect(issuesOf(writerOptionsSchema, { ...valid, gate: { run() {}, freeze() {} } })).toEqual(['gate: must be a WriteGate']);
    expect(issuesOf(writerOptionsSchema, { ...valid, logger: { error() {}, warn() {}, info() {} } })).toEqual([
      'logger: must be a logger: an object with error, warn, info and debug methods (console, winston, pino, bunyan)',
    ]);
    expect(issuesOf(fileGroupSchema, { path: '/d', filespec: 'a/b' })).toEqual(['filespec: must be a file name pattern without a directory']);
    expect(issuesOf(fileGroupSchema, { path: '/d', filespec: 'a\\b' })).toEqual(['filespec: must be a file name pattern without a directory']);
    expect(issuesOf(componentSchema, { name: 'c', files: [] })).toEqual(['files: a component needs at least one file group']);
  });

  it('takes a handler for each writer event and nothing else', () => {
    const handlers = Object.fromEntries(writerEvents.map((e) => [e, () => undefined]));
    expect(Object.keys(handlersSchema.parse(handlers)).sort()).toEqual([...writerEvents].sort());
    expect(issuesOf(handlersSchema, { onFreeze: () => undefined }).join()).toMatch(/onFreeze/);
  });

  it('takes a logger only with all four methods', () => {
    expect(loggerSchema.safeParse(console).success).toBe(true);
    expect(loggerSchema.safeParse(logger).success).toBe(true);
    for (const missing of ['error', 'warn', 'info', 'debug']) {
      const partial = { error() {}, warn() {}, info() {}, debug() {}, [missing]: 'no' };
      expect(loggerSchema.safeParse(partial).success, missing).toBe(false);
    }
    expect(loggerSchema.safeParse(null).success).toBe(false);
    expect(loggerSchema.safeParse(() => undefined).success).toBe(false);
    // A function carrying the four methods is still not a logger object.
    expect(loggerSchema.safeParse(Object.assign(() => undefined, { error() {}, warn() {}, info() {}, debug() {} })).success).toBe(false);
  });
});

describe('write gate options', () => {
  it('fills in the defaults, each following the option that was set', () => {
    expect(writeGateOptionsSchema.parse({})).toEqual({ name: 'write gate', maxFrozenMs: 60_000, drainTimeoutMs: 5_000, stores: [] });
    expect(writeGateOptionsSchema.parse({ drainTimeoutMs: 40_000 })).toMatchObject({ maxFrozenMs: 80_000, drainTimeoutMs: 40_000 });
    expect(writeGateOptionsSchema.parse({ drainTimeoutMs: 10_000 })).toMatchObject({ maxFrozenMs: 60_000 });
    expect(writeGateOptionsSchema.parse({ drainTimeoutMs: 3_000_000 })).toMatchObject({ maxFrozenMs: 3_600_000 });
    expect(writeGateOptionsSchema.parse({ maxFrozenMs: 4_001 })).toMatchObject({ maxFrozenMs: 4_001, drainTimeoutMs: 2_000 });
    expect(writeGateOptionsSchema.parse({ maxFrozenMs: 100_000 })).toMatchObject({ drainTimeoutMs: 5_000 });
  });

  it('refuses a drain deadline the watchdog would cut short, saying why', () => {
    expect(issuesOf(writeGateOptionsSchema, { maxFrozenMs: 1_000, drainTimeoutMs: 1_000 })).toEqual([
      'drainTimeoutMs: must be less than maxFrozenMs (1000): the watchdog would end the freeze while it drains',
    ]);
    expect(writeGateOptionsSchema.parse({ maxFrozenMs: 1_000, drainTimeoutMs: 999 })).toMatchObject({ drainTimeoutMs: 999 });
    expect(writeGateOptionsSchema.safeParse({ maxFrozenMs: 1_000, drainTimeoutMs: 1_000 }).error?.issues).toMatchObject([{ code: 'custom', path: ['drainTimeoutMs'] }]);
    expect(issuesOf(writeGateOptionsSchema, { drainTimeoutMs: 3_600_000 })).toEqual([
      'drainTimeoutMs: must be less than maxFrozenMs (3600000, the longest it may be): the watchdog would end the freeze while it drains',
    ]);
  });

  it('takes store adapters with a name, freeze(), thaw() and, if any, prepare()', () => {
    expect(storeAdapterSchema.safeParse(store).success).toBe(true);
    expect(storeAdapterSchema.safeParse({ ...store, prepare: () => undefined }).success).toBe(true);
    const refusal = 'must be a store adapter: an object with a name, freeze() and thaw(), and prepare() if any';
    expect(issuesOf(storeAdapterSchema, { ...store, prepare: true })).toEqual([`: ${refusal}`]);
    expect(issuesOf(storeAdapterSchema, { ...store, name: 1 })).toEqual([`: ${refusal}`]);
    expect(issuesOf(storeAdapterSchema, { ...store, thaw: undefined })).toEqual([`: ${refusal}`]);
    expect(issuesOf(storeAdapterSchema, null)).toEqual([`: ${refusal}`]);
    // A function with those members (a function has a name) is not an object.
    expect(storeAdapterSchema.safeParse(Object.assign(function store() {}, { freeze() {}, thaw() {} })).success).toBe(false);
    expect(issuesOf(writerOptionsSchema, { ...valid, gate: Object.assign(() => undefined, { run() {}, freeze() {}, thaw() {} }) })).toEqual(['gate: must be a WriteGate']);
  });

  it('takes only an AbortSignal as the signal of a freeze or a preparation', () => {
    const signal = new AbortController().signal;
    expect(gateFreezeOptionsSchema.parse({ signal, drainTimeoutMs: 5 })).toEqual({ signal, drainTimeoutMs: 5 });
    expect(gatePrepareOptionsSchema.parse({ signal })).toEqual({ signal });
    expect(issuesOf(gateFreezeOptionsSchema, { signal: {} })).toEqual(['signal: must be an AbortSignal']);
    expect(issuesOf(gatePrepareOptionsSchema, { signal: {} })).toEqual(['signal: must be an AbortSignal']);
  });
});

describe('store options', () => {
  it('sqliteStore: defaults, and a lock connection that must be a better-sqlite3 Database', () => {
    expect(sqliteStoreOptionsSchema.parse({})).toEqual({ busyTimeoutMs: 1_000, prepareInWorker: true });
    expect(sqliteStoreOptionsSchema.parse({ lockConnection: betterSqlite }).lockConnection).toBe(betterSqlite);
    const refusal = 'lockConnection: must be a better-sqlite3 Database (an object with pragma(), exec() and open)';
    expect(issuesOf(sqliteStoreOptionsSchema, { lockConnection: { ...betterSqlite, open: 'yes' } })).toEqual([refusal]);
    expect(issuesOf(sqliteStoreOptionsSchema, { lockConnection: databaseSync })).toEqual([refusal]);
    expect(issuesOf(sqliteStoreOptionsSchema, { lockConnection: { open: true } })).toEqual([refusal]);
  });

  it('nodeSqliteStore: a DatabaseSync as the lock connection, never a better-sqlite3 Database', () => {
    expect(nodeSqliteStoreOptionsSchema.parse({ lockConnection: databaseSync })).toEqual({ busyTimeoutMs: 1_000, prepareInWorker: true, lockConnection: databaseSync });
    expect(issuesOf(nodeSqliteStoreOptionsSchema, { lockConnection: {} })).toHaveLength(1);
    expect(issuesOf(nodeSqliteStoreOptionsSchema, { lockConnection: { prepare: () => undefined } })).toHaveLength(1);
    expect(issuesOf(nodeSqliteStoreOptionsSchema, { lockConnection: betterSqlite })).toEqual([
      "lockConnection: must be a node:sqlite DatabaseSync (an object with prepare() and exec()); for better-sqlite3's Database use sqliteStore",
    ]);
  });

  it('fileStore: defaults, and at least one absolute path', () => {
    expect(fileStoreOptionsSchema.parse({ paths: ['/a'] })).toEqual({ name: 'files', paths: ['/a'], trackWrites: false });
    expect(issuesOf(fileStoreOptionsSchema, { paths: [] })).toEqual(['paths: name at least one file or directory']);
  });
});

describe('snapshot set options', () => {
  it('fills in the defaults', () => {
    expect(shadowCopyOptionsSchema.parse({ volumes: ['/'] })).toEqual({ volumes: ['/'], backupType: 'copy', components: [], timeoutMs: 120_000, keep: false });
    expect(simulationSchema.parse({ writerFailures: [{ writer: 'w', event: 'freeze' }] })).toEqual({
      commitDelayMs: 0,
      holdLimitMs: 10_000,
      writerFailures: [{ writer: 'w', event: 'freeze', code: 'VSS_E_WRITERERROR_RETRYABLE' }],
    });
    const failure = { writer: 'w', instanceName: 'a', event: 'thaw', code: 'VSS_E_WRITERERROR_NONRETRYABLE' };
    expect(simulationSchema.parse({ writerFailures: [failure] }).writerFailures).toEqual([failure]);
    expect(issuesOf(simulationSchema, { writerFailures: [{ ...failure, instanceName: 'x'.repeat(257) }] })).toHaveLength(1);
    expect(rehearsalOptionsSchema.parse({})).toEqual({
      backupType: 'copy',
      components: [],
      timeoutMs: 30_000,
      faults: { commitDelayMs: 0, holdLimitMs: 10_000, writerFailures: [] },
    });
  });

  it('names the rule each refused field breaks', () => {
    expect(issuesOf(shadowCopyOptionsSchema, { volumes: [] })).toEqual(['volumes: name at least one volume']);
    expect(issuesOf(shadowCopyOptionsSchema, { volumes: ['/'], signal: {} })).toEqual(['signal: must be an AbortSignal']);
    expect(issuesOf(shadowCopyOptionsSchema, { volumes: ['/'], onProgress: 1, onCommit: 'x' })).toEqual(['onProgress: must be a function', 'onCommit: must be a function']);
    expect(issuesOf(rehearsalOptionsSchema, { keep: true }).join()).toMatch(/keep/);
    expect(issuesOf(rehearsalOptionsSchema, { simulation: {} }).join()).toMatch(/simulation/);
  });
});
