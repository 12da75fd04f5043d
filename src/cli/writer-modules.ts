/**
 * The simulator lives inside one process, so the CLI's own writers are the only ones it can
 * see. --writer-module loads an app module that subscribes its writers in this process;
 * --with-demo-writer subscribes a writer of the CLI's own. (Reaching writers of other
 * processes on Linux is the Linux-guest coordinator's job.)
 *
 * A writer module either subscribes its writers when it is loaded, or exports a function
 * (default export, or `subscribe`) that the CLI calls with the vss-bridge API and awaits. That
 * function may return a function the CLI calls at the end to unsubscribe.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getBackend } from '../backends/backend.js';
import * as api from '../index.js';
import { EnvironmentError } from '../errors.js';
import { UsageError, type OptionSpec } from './command.js';

export const writerOptions: Readonly<Record<string, OptionSpec>> = {
  'writer-module': {
    type: 'string',
    multiple: true,
    value: '<file>',
    description: 'load an app module that subscribes its writers in this process',
  },
  'with-demo-writer': { type: 'boolean', description: 'subscribe a demo writer that answers every event at once' },
};

export const demoWriterName = 'vss-bridge demo writer';

export type Cleanup = () => Promise<void>;

type Subscribe = (vss: typeof api) => unknown;

export async function loadWriters(options: { 'writer-module'?: string[] | undefined; 'with-demo-writer'?: boolean | undefined }): Promise<Cleanup> {
  const cleanups: (() => unknown)[] = [];
  if (options['with-demo-writer']) {
    const writer = new api.VssWriter({
      name: demoWriterName,
      id: '5f1c0d2e-7a3b-4c8d-9e0f-1a2b3c4d5e6f',
      usage: 'userData',
      sourceType: 'other',
      components: [{ name: 'demo', caption: 'files of the demo writer', files: [{ path: tmpdir(), filespec: 'vss-bridge-demo-*' }] }],
    });
    await writer.subscribe();
    cleanups.push(() => writer.unsubscribe());
  }
  for (const file of options['writer-module'] ?? []) {
    const path = resolve(file);
    if (!existsSync(path)) throw new UsageError(`--writer-module: no such file: ${path}`);
    let loaded: Record<string, unknown>;
    try {
      loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (error) {
      throw new EnvironmentError(`--writer-module ${file} failed to load: ${(error as Error).message}`);
    }
    // A CommonJS module's exports arrive as `default` when imported.
    const candidate = [loaded['subscribe'], loaded['default'], (loaded['default'] as Record<string, unknown> | undefined)?.['subscribe']]
      .find((f) => typeof f === 'function') as Subscribe | undefined;
    if (candidate === undefined) continue;
    let cleanup: unknown;
    try {
      cleanup = await candidate(api);
    } catch (error) {
      throw new EnvironmentError(`--writer-module ${file}: its subscribe function failed: ${(error as Error).message}`);
    }
    if (typeof cleanup === 'function') cleanups.push(cleanup as () => unknown);
  }
  return async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
}

/** Said whenever a command finds no writers, so an empty answer is never mistaken for "all fine". */
export function noWritersNote(): string {
  return getBackend().capabilities.inProcess
    ? 'no writers are subscribed in this process: the simulator is per process, so the CLI sees only ' +
        'writers it loads itself (--writer-module <file>, --with-demo-writer)'
    : 'VSS reports no writers';
}
