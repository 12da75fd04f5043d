/**
 * A snapshot set whose commit is held outside VSS (runExternalCommit: the Linux coordinator's
 * route, where the commit is a guest agent's file-system freeze). The provider's 10 s hold
 * limit does not apply; each writer's own freeze window bounds the hold.
 */
import { describe, expect, it } from 'vitest';
import { VssError } from '../src/index.js';
import { runExternalCommit, type ExternalCommit } from '../src/requester.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { eventsOf, recordingWriter, sleep, type Calls } from './helpers/writers.js';

const backupSequence = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown'];

function externalSet(hold: ExternalCommit['hold']): Promise<unknown> {
  return runExternalCommit({
    volumes: ['/'],
    backupType: 'copy',
    freezeTimeoutMs: 5_000,
    signal: new AbortController().signal,
    logger: memoryLogger().logger,
    hold,
  });
}

describe('a snapshot set with an external commit', () => {
  it('holds the writers frozen past the provider hold limit (10 s) while within their freeze windows', async () => {
    const calls: Calls = [];
    await recordingWriter('held', calls, {}, { freezeTimeoutMs: 20_000 });
    let frozenDuringHold: string[] = [];
    await externalSet(async () => {
      frozenDuringHold = eventsOf(calls, 'held');
      await sleep(10_500);
    });
    expect(frozenDuringHold).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze']);
    expect(eventsOf(calls, 'held')).toEqual(backupSequence);
  }, 30_000);

  it("fails the writer whose freeze window runs out during the hold, aborts, and ends the hold's wait", async () => {
    const calls: Calls = [];
    await recordingWriter('short window', calls, {}, { freezeTimeoutMs: 300 });
    let holdSignal: AbortSignal | undefined;
    const error = await externalSet(
      (ctx) =>
        new Promise<void>((_, reject) => {
          holdSignal = ctx.signal;
          ctx.signal.addEventListener('abort', () => reject(new Error('released by the freeze window')), { once: true });
        }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VssError);
    expect((error as VssError).code).toBe('VSS_E_WRITERERROR_TIMEOUT');
    expect((error as VssError).writer).toMatchObject({ name: 'short window', event: 'freeze' });
    expect(holdSignal?.aborted).toBe(true);
    expect(eventsOf(calls, 'short window')).toEqual(['prepareBackup', 'prepareSnapshot', 'freeze', 'abort', 'backupShutdown']);
  });
});
