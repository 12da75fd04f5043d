/**
 * Every option the library accepts, defined once: the zod schema checks it at run time and
 * its inferred type is the TypeScript type users see.
 */
import { isAbsolute as posixIsAbsolute } from 'node:path/posix';
import { z } from 'zod';
import { OptionsError } from './errors.js';
import { providerErrorCodes } from './hresult.js';
import type { Logger } from './logger.js';
import { backupTypes, type CommitContext, type Progress, type WriterEventContext } from './types.js';

const GUID = /^(\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

export const guidSchema = z
  .string()
  .regex(GUID, { error: 'must be a GUID such as "c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f" (braces optional)' })
  .transform((s) => s.replace(/[{}]/g, '').toLowerCase());

/** Absolute for the platform the writer runs on: C:\data or \\server\share on Windows, /data elsewhere. */
export function isAbsoluteForPlatform(path: string, platform: NodeJS.Platform = process.platform): boolean {
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

export const handlersSchema = z.strictObject({
  prepareBackup: fn<Handler>().optional(),
  prepareSnapshot: fn<Handler>().optional(),
  freeze: fn<Handler>().optional(),
  thaw: fn<Handler>().optional(),
  postSnapshot: fn<Handler>().optional(),
  abort: fn<Handler>().optional(),
  backupComplete: fn<Handler>().optional(),
  backupShutdown: fn<Handler>().optional(),
  preRestore: fn<Handler>().optional(),
  postRestore: fn<Handler>().optional(),
});

export const loggerSchema = z.custom<Logger>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    ['error', 'warn', 'info', 'debug'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
  { error: 'must be a winston logger (an object with error, warn, info and debug methods)' },
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
  handlers: handlersSchema.default({}),
  logger: loggerSchema.optional(),
});

export type VssWriterOptions = z.input<typeof writerOptionsSchema>;
export type ParsedWriterOptions = z.output<typeof writerOptionsSchema>;

export const simulationSchema = z.strictObject({
  /** How long the provider's flush-and-hold takes. */
  commitDelayMs: ms(0, 3_600_000).default(0),
  /** Make the provider fail its commit with this code. */
  failWith: z.enum(providerErrorCodes).optional(),
  /** The hold limit (10 s in Windows); lower it to test hold timeouts quickly. */
  holdLimitMs: ms(1, 60_000).default(10_000),
});

export const shadowCopyOptionsSchema = z.strictObject({
  volumes: z.array(z.string().min(1).max(32767)).min(1, { error: 'name at least one volume' }).max(64),
  backupType: z.enum(backupTypes).default('full'),
  /** Logical paths of the components to select; empty selects every writer as a whole. */
  components: z.array(z.string().max(1024)).max(1024).default([]),
  /** One deadline for the whole snapshot set. */
  timeoutMs: ms(1, 86_400_000).default(120_000),
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
