/** Errors that name their cause: what a handler throws, a missing addon. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createShadowCopy, VssError } from '../src/index.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { recordingWriter } from './helpers/writers.js';

const quiet = { logger: memoryLogger().logger };

async function freezeFailure(thrown: unknown): Promise<VssError> {
  await recordingWriter('app', [], {
    freeze: () => {
      throw thrown;
    },
  });
  const error = await createShadowCopy({ volumes: ['/'], ...quiet }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(VssError);
  return error as VssError;
}

describe('what a handler throws', () => {
  it('a { code, message } that is not an Error keeps its writer-error code', async () => {
    const error = await freezeFailure({ code: 'VSS_E_WRITERERROR_NONRETRYABLE', message: 'disk full' });
    expect(error.code).toBe('VSS_E_WRITERERROR_NONRETRYABLE');
    expect(error.writer?.event).toBe('freeze');
    expect(error.result?.writers[0]?.lastError?.message).toBe('disk full');
  });

  it('any other code is retryable, and stays in the message', async () => {
    const error = await freezeFailure({ code: 'ENOSPC', message: 'no space left' });
    expect(error.code).toBe('VSS_E_WRITERERROR_RETRYABLE');
    expect(error.result?.writers[0]?.lastError?.message).toBe('ENOSPC: no space left');
  });

  it('a string is its own message', async () => {
    expect((await freezeFailure('not now')).result?.writers[0]?.lastError?.message).toBe('not now');
  });

  it('an object without a message is shown as it is, not as "[object Object]"', async () => {
    expect((await freezeFailure({ reason: 'busy' })).result?.writers[0]?.lastError?.message).toBe('{"reason":"busy"}');
  });
});

describe('a missing addon', () => {
  it('is a VssError, as every failure of the API is, saying how to build it', () => {
    const root = join(__dirname, '..');
    const out = execFileSync(
      process.execPath,
      ['-e', "require('vss-bridge').listWriters().catch((e) => console.log(JSON.stringify({ vss: e instanceof require('vss-bridge').VssError, code: e.code, message: e.message })))"],
      { cwd: root, encoding: 'utf8', env: { ...process.env, VSS_BRIDGE_ADDON: '/nonexistent/vss_bridge.node' } },
    );
    const seen = JSON.parse(out) as { vss: boolean; code: string; message: string };
    expect(seen).toMatchObject({ vss: true, code: 'ERROR_MOD_NOT_FOUND' });
    expect(seen.message).toMatch(/no native addon .*npm rebuild vss-bridge/s);
  });
});
