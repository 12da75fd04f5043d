/**
 * The simulator lives inside one process, so the CLI's own writers are the only ones it can
 * see. --writer-module loads an app module that subscribes its writers in this process;
 * --with-demo-writer subscribes a writer of the CLI's own. (Reaching writers of other
 * processes on Linux is the Linux-guest coordinator's job.)
 *
 * A writer module either subscribes its writers when it is loaded, or exports a function
 * (default export, or `subscribe`) that the CLI calls with the vss-bridge API and awaits. That
 * function may return a function the CLI calls at the end to unsubscribe. Loading and
 * subscribing have one deadline (--writer-module-timeout): a module that never settles fails
 * the command, naming it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getBackend } from '../backends/backend.js';
import { z } from 'zod';
import * as api from '../index.js';
import { EnvironmentError } from '../errors.js';
import { getDefaultLogger } from '../logger.js';
import { releasing, type Take } from '../releases.js';
import { duration, durationValue, UsageError, type OptionSpec } from './command.js';

export const writerOptions: Readonly<Record<string, OptionSpec>> = {
  'writer-module': {
    type: 'string',
    multiple: true,
    value: '<file>',
    description: 'load an app module that subscribes its writers in this process',
  },
  'with-demo-writer': { type: 'boolean', description: 'subscribe a demo writer that answers every event at once' },
  'writer-module-timeout': {
    type: 'string',
    value: durationValue,
    description: 'how long each writer module may take to load and subscribe (default 30s)',
  },
};

/** The values of writerOptions, for each command's schema. */
export const writerValues = {
  'writer-module': z.array(z.string().min(1)).optional(),
  'with-demo-writer': z.boolean().optional(),
  'writer-module-timeout': duration().default(30_000),
};

export const demoWriterName = 'vss-bridge demo writer';

type Subscribe = (vss: typeof api) => unknown;

/** What was thrown, as words: `throw 'a string'` has no message. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === 'string' ? error : `a non-Error value: ${String(error)}`;
  if (error.name !== 'SyntaxError') return error.message;
  return `${syntaxErrorPlace(error) ?? ''}SyntaxError: ${error.message}`;
}

/**
 * Where a module's syntax error is, as "file:line\n<the line>\n<caret>\n". A CommonJS module's
 * stack starts with it; an ES module's does not, so `node --check` is asked.
 */
function syntaxErrorPlace(error: Error): string | undefined {
  const place = /^(.+:\d+)\n(.*)\n(\s*\^+)/.exec(error.stack ?? '');
  if (place) return `${place[1]}\n${place[2]}\n${place[3]}\n`;
  return undefined;
}

function checkSyntax(path: string): string | undefined {
  try {
    execFileSync(process.execPath, ['--check', path], { encoding: 'utf8', stdio: 'pipe', timeout: 10_000 });
    return undefined;
  } catch (error) {
    const place = /^(.+:\d+)\n(.*)\n(\s*\^+)/m.exec(String((error as { stderr?: string }).stderr ?? ''));
    return place ? `${place[1]}\n${place[2]}\n${place[3]}\n` : undefined;
  }
}

/** `work`, or an EnvironmentError naming the module once `timeoutMs` passed without it settling. */
async function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EnvironmentError(`${what} did not settle within ${timeoutMs} ms (--writer-module-timeout)`)), timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function loadModule(file: string, timeoutMs: number): Promise<(() => unknown) | undefined> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`--writer-module: no such file: ${path}`);
  const before = (await api.listWriters()).length;
  let loaded: Record<string, unknown>;
  try {
    loaded = await withDeadline(import(pathToFileURL(path).href) as Promise<Record<string, unknown>>, timeoutMs, `--writer-module ${file}: loading it`);
  } catch (error) {
    if (error instanceof EnvironmentError) throw error;
    let reason = describe(error);
    if (error instanceof SyntaxError && syntaxErrorPlace(error) === undefined) reason = `${checkSyntax(path) ?? ''}${reason}`;
    throw new EnvironmentError(`--writer-module ${file} failed to load: ${reason}`);
  }
  // A CommonJS module's exports arrive as `default` when imported.
  const fallback = loaded['default'] as Record<string, unknown> | undefined;
  const candidate = [loaded['subscribe'], loaded['default'], fallback?.['subscribe']].find((f) => typeof f === 'function') as Subscribe | undefined;
  if (candidate === undefined) {
    if ((await api.listWriters()).length > before) return undefined; // it subscribed when loaded
    const exported = [...new Set([...Object.keys(loaded), ...(fallback && typeof fallback === 'object' ? Object.keys(fallback) : [])])].filter((k) => k !== 'default');
    throw new EnvironmentError(
      `--writer-module ${file} subscribed no writer when loaded and exports no subscribe function ` +
        `(exports: ${exported.length ? exported.join(', ') : 'nothing'}); export a function as default or as "subscribe" ` +
        'that subscribes the writers, or await writer.subscribe() at the top of the module',
    );
  }
  let cleanup: unknown;
  try {
    cleanup = await withDeadline(Promise.resolve().then(() => candidate(api)), timeoutMs, `--writer-module ${file}: its subscribe function`);
  } catch (error) {
    if (error instanceof EnvironmentError) throw error;
    throw new EnvironmentError(`--writer-module ${file}: its subscribe function failed: ${describe(error)}`);
  }
  return typeof cleanup === 'function' ? (cleanup as () => unknown) : undefined;
}

/** writerValues as a command's parsed options hold them. */
type WriterValues = z.output<z.ZodObject<typeof writerValues>>;

/**
 * Runs a command's `body` with the writers its options load (--with-demo-writer,
 * --writer-module) subscribed, and unsubscribes them on every way out, the last loaded first
 * (releasing): a module that fails to load still has the ones before it unsubscribed, and a
 * clean-up that fails neither stops the others nor hides the command's own error.
 */
export function withWriters<T>(values: WriterValues, command: string, body: () => Promise<T>): Promise<T> {
  return releasing(getDefaultLogger(), `vss-bridge ${command}`, async (take) => {
    await loadWriters(values, take);
    return body();
  });
}

async function loadWriters(options: WriterValues, take: Take): Promise<void> {
  if (options['with-demo-writer']) {
    const writer = new api.VssWriter({
      name: demoWriterName,
      id: '5f1c0d2e-7a3b-4c8d-9e0f-1a2b3c4d5e6f',
      usage: 'userData',
      sourceType: 'other',
      components: [{ name: 'demo', caption: 'files of the demo writer', files: [{ path: tmpdir(), filespec: 'vss-bridge-demo-*' }] }],
    });
    await writer.subscribe();
    take('the demo writer', () => writer.unsubscribe());
  }
  for (const file of options['writer-module'] ?? []) {
    const cleanup = await loadModule(file, options['writer-module-timeout']);
    if (cleanup) take(`the writers of --writer-module ${file}`, cleanup);
  }
}

/** Said whenever a command finds no writers, so an empty answer is never mistaken for "all fine". */
export function noWritersNote(): string {
  return getBackend().capabilities.inProcess
    ? 'no writers are subscribed in this process: the simulator is per process, so the CLI sees only ' +
        'writers it loads itself (--writer-module <file>, --with-demo-writer)'
    : 'VSS reports no writers';
}
