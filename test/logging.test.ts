/** What the library logs, at which level, and through which loggers. */
import { randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createShadowCopy, VssWriter, WriteGate, type VssWriterOptions } from '../src/index.js';
import { rehearseCheckpoint } from '../src/testing.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { tempDir } from './helpers/temp-dir.js';
import { recordingWriter } from './helpers/writers.js';

type LoggerOption = NonNullable<VssWriterOptions['logger']>;

/** pino's LogFn and bunyan's level methods, as their type declarations have them. */
interface PinoLike {
  info: { <T extends object>(obj: T, msg?: string, ...args: unknown[]): void; (obj: unknown, msg?: string, ...args: unknown[]): void; (msg: string, ...args: unknown[]): void };
  warn: PinoLike['info'];
  error: PinoLike['info'];
  debug: PinoLike['info'];
  isLevelEnabled(level: string): boolean;
  level: string;
}
interface BunyanLike {
  info(): boolean;
  info(error: Error, ...params: unknown[]): void;
  info(obj: object, ...params: unknown[]): void;
  info(format: unknown, ...params: unknown[]): void;
  warn: BunyanLike['info'];
  error: BunyanLike['info'];
  debug: BunyanLike['info'];
}

describe('logger option', () => {
  it('takes console, pino and bunyan loggers, not only winston', () => {
    const pino = {} as PinoLike;
    const bunyan = {} as BunyanLike;
    // Type checks (npm test runs tsc over the tests): each is a logger the options accept.
    const accepted: LoggerOption[] = [console, pino, bunyan, memoryLogger().logger];
    expect(accepted).toHaveLength(4);
    const lines: unknown[][] = [];
    const consoleLike = { error: (...a: unknown[]) => lines.push(a), warn: (...a: unknown[]) => lines.push(a), info: () => undefined, debug: () => undefined };
    const gate = new WriteGate({ logger: consoleLike, maxFrozenMs: 20, drainTimeoutMs: 10 });
    return gate.freeze().then(
      () =>
        new Promise<void>((resolve) => {
          setTimeout(() => {
            // The watchdog's error reached the plain object.
            expect(String(lines[0]?.[0])).toMatch(/stayed closed for 20 ms/);
            resolve();
          }, 60);
        }),
    );
  });
});

describe('default level', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('is warn: a snapshot set logs nothing at info unless asked', async () => {
    vi.resetModules();
    vi.stubEnv('VSS_BRIDGE_LOG_LEVEL', '');
    const { getDefaultLogger } = await import('../src/logger.js');
    const logger = getDefaultLogger();
    expect(logger.isLevelEnabled?.('warn')).toBe(true);
    expect(logger.isLevelEnabled?.('info')).toBe(false);
  });
});

describe('error level is for what nobody else sees', () => {
  it('a rejected createShadowCopy, a vetoing handler and an injected fault log no error', async () => {
    const log = memoryLogger();
    await recordingWriter('app', [], { freeze: () => Promise.reject(new Error('not now')) }, { logger: log.logger });
    await expect(createShadowCopy({ volumes: ['/'], logger: log.logger })).rejects.toThrow(/not now/);
    await expect(createShadowCopy({ volumes: ['/'], logger: log.logger, simulation: { failWith: 'VSS_E_PROVIDER_VETO' } })).rejects.toThrow();
    const r = await rehearseCheckpoint({ logger: log.logger, faults: { writerFailures: [{ writer: 'app', event: 'postSnapshot' }] } });
    expect(r.succeeded).toBe(false);
    expect(log.entries.filter((e) => e.level === 'error')).toEqual([]);
    // Still on record, at lower levels.
    expect(log.entries.some((e) => e.level === 'warn' && /freeze failed: not now/.test(e.message))).toBe(true);
  });

  it('a gate left frozen past its watchdog is an error: nobody else would know', async () => {
    const log = memoryLogger();
    const gate = new WriteGate({ logger: log.logger, maxFrozenMs: 20, drainTimeoutMs: 10 });
    await gate.freeze();
    await new Promise((r) => setTimeout(r, 60));
    expect(log.entries.filter((e) => e.level === 'error').map((e) => e.message)).toEqual([expect.stringMatching(/stayed closed for 20 ms/)]);
  });
});

describe.runIf(process.platform === 'linux')('Linux-guest registration that cannot happen', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('is said once per process, as a warning with the way to turn it off', async () => {
    // A registration directory others may write to: every writer's registration fails.
    const dir = tempDir('vss-bridge-open-');
    chmodSync(dir, 0o777);
    vi.stubEnv('VSS_BRIDGE_RUNTIME_DIR', dir);
    vi.stubEnv('VSS_BRIDGE_COORDINATOR', '');
    const log = memoryLogger();
    const writers = [0, 1, 2].map(
      (i) => new VssWriter({ name: `w${i}`, id: randomUUID(), usage: 'userData', sourceType: 'other', logger: log.logger }),
    );
    try {
      for (const w of writers) await w.subscribe();
      const said = log.entries.filter((e) => /Linux guest quiesce/.test(e.message));
      expect(said).toHaveLength(1);
      expect(said[0]?.level).toBe('warn');
      expect(said[0]?.message).toMatch(/writable by group or others.*set VSS_BRIDGE_COORDINATOR=off/);
    } finally {
      for (const w of writers) await w.unsubscribe();
    }
  });
});
