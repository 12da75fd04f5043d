/**
 * Every option the library accepts, defined once: the zod schema checks it at run time and
 * its inferred type is the TypeScript type users see.
 */
import { isAbsolute as posixIsAbsolute } from 'node:path/posix';
import { z } from 'zod';
import { OptionsError } from './errors.js';
import { providerErrorCodes, writerErrorCodes } from './hresult.js';
import type { Logger } from './logger.js';
import type { SqliteDatabase } from './gate/adapters/sqlite.js';
import type { NodeSqliteDatabase } from './gate/adapters/node-sqlite.js';
import type { StoreAdapter, WriteGate } from './gate/write-gate.js';
import { backupTypes, writerEvents, type CommitContext, type WriterEvent, type Progress, type WriterEventContext } from './types.js';

const GUID = /^(\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

export const guidSchema = z
  .string()
  .regex(GUID, { error: 'must be a GUID such as "c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f" (braces optional)' })
  .transform((s) => s.replace(/[{}]/g, '').toLowerCase());

/** Absolute for the platform the writer runs on: C:\data or \\server\share on Windows, /data elsewhere. */
export function isAbsoluteForPlatform(path: string, platform: NodeJS.Platform = process.platform): boolean {
  // Stryker disable next-line Regex: the UNC pattern is anchored at the start only, so "[^\\]+" at its end matches exactly the strings "[^\\]" does
  if (platform === 'win32') return /^[A-Za-z]:[\\/]/.test(path) || /^\\\\[^\\]+\\[^\\]+/.test(path);
  return posixIsAbsolute(path);
}

const absolutePath = z
  .string()
  .min(1)
  .max(32767)
  .refine((p) => isAbsoluteForPlatform(p), {
    error: process.platform === 'win32' ? 'must be an absolute path such as C:\\data' : 'must be an absolute path such as /var/lib/app',
  });

const name = z.string().min(1, { error: 'must not be empty' }).max(256);

const fn = <T>() => z.custom<T>((v) => typeof v === 'function', { error: 'must be a function' });

export const fileGroupSchema = z.strictObject({
  /** Directory holding the files. */
  path: absolutePath,
  /** Wildcard of the files in `path`, e.g. "*.db". */
  filespec: z.string().min(1).max(256).regex(/^[^\\/]+$/, { error: 'must be a file name pattern without a directory' }).default('*'),
  recursive: z.boolean().default(false),
});

export const componentSchema = z.strictObject({
  name,
  logicalPath: z.string().max(1024).default(''),
  caption: z.string().max(256).optional(),
  files: z.array(fileGroupSchema).min(1, { error: 'a component needs at least one file group' }),
});

export type Handler = (ctx: WriterEventContext) => unknown;

const ms = (min: number, max: number) => z.number().int({ error: 'must be a whole number of milliseconds' }).min(min).max(max);

const handlerSchema = fn<Handler>().optional();

/** One optional handler per writer event, and nothing else. */
export const handlersSchema = z.strictObject(
  Object.fromEntries(writerEvents.map((event) => [event, handlerSchema])) as Record<WriterEvent, typeof handlerSchema>,
);

export const loggerSchema = z.custom<Logger>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    ['error', 'warn', 'info', 'debug'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
  { error: 'must be a logger: an object with error, warn, info and debug methods (console, winston, pino, bunyan)' },
);

export const writerOptionsSchema = z.strictObject({
  /** Writer name, as `vssadmin list writers` shows it. */
  name,
  /** Writer class id (a GUID of your own, fixed for your application). */
  id: guidSchema,
  instanceName: z.string().max(256).default(''),
  usage: z.enum(['bootableSystemState', 'systemService', 'userData', 'other']),
  sourceType: z.enum(['transactedDb', 'nonTransactedDb', 'other']),
  components: z.array(componentSchema).max(1024).default([]),
  /** Freeze -> Thaw window (dwTimeoutFreeze). Past it the writer is aborted. */
  freezeTimeoutMs: ms(10, 3_600_000).default(60_000),
  /** How long one handler may run before its event fails with VSS_E_WRITERERROR_TIMEOUT. */
  handlerTimeoutMs: ms(10, 3_600_000).default(30_000),
  /**
   * How a requester may restore the writer's files (Windows: VSS_RESTOREMETHOD_ENUM in the
   * writer's metadata). restoreIfCanReplace restores over the files on disk when it can;
   * restoreIfNotThere only when none of them is on disk (a corrupt database still there blocks
   * the restore); the reboot methods replace files in use at the next boot.
   */
  restoreMethod: z
    .enum(['restoreIfCanReplace', 'restoreIfNotThere', 'restoreAtReboot', 'restoreAtRebootIfCannotReplace'])
    .default('restoreIfCanReplace'),
  handlers: handlersSchema.default({}),
  /** Closed at freeze (before the freeze handler), opened at thaw, abort, backupShutdown, timeout, unsubscribe. */
  gate: z
    .custom<WriteGate>((v) => hasMethods(v, ['run', 'freeze', 'thaw']), { error: 'must be a WriteGate' })
    .optional(),
  logger: loggerSchema.optional(),
});

export type VssWriterOptions = z.input<typeof writerOptionsSchema>;
export type ParsedWriterOptions = z.output<typeof writerOptionsSchema>;

function hasMethods(v: unknown, methods: readonly string[]): boolean {
  return typeof v === 'object' && v !== null && methods.every((m) => typeof (v as Record<string, unknown>)[m] === 'function');
}

export const storeAdapterSchema = z.custom<StoreAdapter>(
  (v) =>
    hasMethods(v, ['freeze', 'thaw']) &&
    typeof (v as { name?: unknown }).name === 'string' &&
    ['undefined', 'function'].includes(typeof (v as { prepare?: unknown }).prepare),
  { error: 'must be a store adapter: an object with a name, freeze() and thaw(), and prepare() if any' },
);

const maxGateMs = 3_600_000;

export const writeGateOptionsSchema = z
  .strictObject({
    /** Names the gate in logs. */
    name: name.default('write gate'),
    /**
     * The watchdog: a gate frozen this long reopens by itself and logs an error. Default
     * 60 s, or twice drainTimeoutMs when that is longer.
     */
    maxFrozenMs: ms(2, maxGateMs).optional(),
    /**
     * How long freeze() waits for the writes in flight, unless the call says otherwise.
     * Default 5 s, or half of maxFrozenMs when that is shorter.
     */
    drainTimeoutMs: ms(1, maxGateMs).optional(),
    /** Flushed in this order once the writes drained; released in reverse order at thaw. */
    stores: z.array(storeAdapterSchema).max(64).default([]),
    logger: loggerSchema.optional(),
  })
  // Each default follows the option the user did set, so that setting one never makes the
  // other's default wrong; only two values the user chose can conflict.
  .transform((o, ctx) => {
    const maxFrozenMs = o.maxFrozenMs ?? Math.min(maxGateMs, Math.max(60_000, 2 * (o.drainTimeoutMs ?? 0)));
    const drainTimeoutMs = o.drainTimeoutMs ?? Math.min(5_000, Math.floor(maxFrozenMs / 2));
    if (drainTimeoutMs >= maxFrozenMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['drainTimeoutMs'],
        message: `must be less than maxFrozenMs (${maxFrozenMs}${o.maxFrozenMs === undefined ? ', the longest it may be' : ''}): the watchdog would end the freeze while it drains`,
      });
      return z.NEVER;
    }
    return { ...o, maxFrozenMs, drainTimeoutMs };
  });

export type WriteGateOptions = z.input<typeof writeGateOptionsSchema>;

export const gateFreezeOptionsSchema = z.strictObject({
  /** Overrides the gate's drainTimeoutMs for this freeze. */
  drainTimeoutMs: ms(1, 3_600_000).optional(),
  /** Cancels the freeze while it drains or flushes: the gate reopens and freeze() rejects. */
  signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
});

export type GateFreezeOptions = z.input<typeof gateFreezeOptionsSchema>;

export const gatePrepareOptionsSchema = z.strictObject({
  /** Tells the stores to stop preparing (their freeze then does the rest). */
  signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
});

export type GatePrepareOptions = z.input<typeof gatePrepareOptionsSchema>;

export const sqliteDatabaseSchema = z.custom<SqliteDatabase>(
  (v) => hasMethods(v, ['pragma', 'exec']) && typeof (v as { open?: unknown }).open === 'boolean',
  { error: 'must be a better-sqlite3 Database (an object with pragma(), exec() and open)' },
);

export const sqliteStoreOptionsSchema = z.strictObject({
  name: name.optional(),
  /**
   * A second connection to the same file: freeze takes its write lock (BEGIN IMMEDIATE) so
   * other processes' writers wait too; thaw releases it.
   */
  lockConnection: sqliteDatabaseSchema.optional(),
  /**
   * The most the checkpoint waits for another connection (busy_timeout while it runs).
   * Both drivers wait on the JS thread: this bounds how long freeze stalls the process.
   */
  busyTimeoutMs: ms(0, 60_000).default(1_000),
  /**
   * Run the preparation's checkpoints on a worker thread with a connection of its own, so the
   * event loop goes on while a large WAL is copied (false: on the JS thread).
   */
  prepareInWorker: z.boolean().default(true),
  logger: loggerSchema.optional(),
});

export type SqliteStoreOptions = z.input<typeof sqliteStoreOptionsSchema>;

export const nodeSqliteDatabaseSchema = z.custom<NodeSqliteDatabase>(
  (v) => hasMethods(v, ['prepare', 'exec']) && !hasMethods(v, ['pragma']),
  { error: "must be a node:sqlite DatabaseSync (an object with prepare() and exec()); for better-sqlite3's Database use sqliteStore" },
);

/** nodeSqliteStore's options: sqliteStore's, with a DatabaseSync as the lock connection. */
export const nodeSqliteStoreOptionsSchema = sqliteStoreOptionsSchema.extend({
  lockConnection: nodeSqliteDatabaseSchema.optional(),
});

export type NodeSqliteStoreOptions = z.input<typeof nodeSqliteStoreOptionsSchema>;

export const fileStoreOptionsSchema = z.strictObject({
  name: name.default('files'),
  /** Files and directories the store owns; each is fsynced at freeze (directories: Linux and macOS). */
  paths: z.array(absolutePath).min(1, { error: 'name at least one file or directory' }).max(4096),
  /**
   * The application reports each path it writes (`written(path)`): a freeze that follows a
   * preparation then fsyncs only the paths reported since, not every owned path.
   */
  trackWrites: z.boolean().default(false),
  logger: loggerSchema.optional(),
});

export type FileStoreOptions = z.input<typeof fileStoreOptionsSchema>;

export const simulationSchema = z.strictObject({
  /** How long the provider's flush-and-hold takes. */
  commitDelayMs: ms(0, 3_600_000).default(0),
  /** Make the provider fail its commit with this code. */
  failWith: z.enum(providerErrorCodes).optional(),
  /** The hold limit (10 s in Windows); lower it to test hold timeouts quickly. */
  holdLimitMs: ms(1, 60_000).default(10_000),
  /** Overrides every writer's freeze window (Freeze -> Thaw) for this set. */
  freezeWindowMs: ms(1, 3_600_000).optional(),
  /** Make a writer fail an event: its handler runs, then the event fails with `code`. */
  writerFailures: z
    .array(
      z.strictObject({
        /** Writer name; with instanceName only that instance, else every instance. */
        writer: name,
        instanceName: z.string().max(256).optional(),
        event: z.enum(writerEvents),
        code: z.enum(writerErrorCodes).default('VSS_E_WRITERERROR_RETRYABLE'),
      }),
    )
    .max(64)
    .default([]),
});

export const shadowCopyOptionsSchema = z.strictObject({
  volumes: z.array(z.string().min(1).max(32767)).min(1, { error: 'name at least one volume' }).max(64),
  /**
   * 'copy' by default: the writers' backup history is left alone. With 'full', writers record a
   * full backup (SQL Server resets its differential base, Exchange truncates its logs), which
   * is right only when the caller keeps the copy and backs its data up.
   */
  backupType: z.enum(backupTypes).default('copy'),
  /** Logical paths of the components to select; empty selects every writer as a whole. */
  components: z.array(z.string().max(1024)).max(1024).default([]),
  /** One deadline for the whole snapshot set. */
  timeoutMs: ms(1, 86_400_000).default(120_000),
  /** Keep the shadow copies after the set ends; see listShadowCopies and deleteShadowCopy. */
  keep: z.boolean().default(false),
  signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
  onProgress: fn<(progress: Progress) => void>().optional(),
  /** Runs inside the freeze window, while writes are held (simulated backend only). */
  onCommit: fn<(ctx: CommitContext) => unknown>().optional(),
  /** Provider behaviour of the simulated backend. */
  simulation: simulationSchema.optional(),
  logger: loggerSchema.optional(),
});

export type ShadowCopyOptions = z.input<typeof shadowCopyOptionsSchema>;
export type ParsedShadowCopyOptions = z.output<typeof shadowCopyOptionsSchema>;

/** vss-bridge/testing: a snapshot set against this process's writers, with chosen faults. */
export const rehearsalOptionsSchema = shadowCopyOptionsSchema.omit({ simulation: true, keep: true }).extend({
  /** Default: the root volume ("/", or "C:\\" on Windows). */
  volumes: shadowCopyOptionsSchema.shape.volumes.optional(),
  timeoutMs: ms(1, 86_400_000).default(30_000),
  /** A failing or slow provider, handler failures at given events, a short freeze window. */
  faults: simulationSchema.default({ commitDelayMs: 0, holdLimitMs: 10_000, writerFailures: [] }),
});

export type RehearsalOptions = z.input<typeof rehearsalOptionsSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}

/** Parses `value` or throws an OptionsError naming every bad field and its rule. */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new OptionsError(
    what,
    result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  );
}
