import { randomUUID } from 'node:crypto';
import { afterEach } from 'vitest';
import { createShadowCopy, VssError, VssWriter, type VssWriterOptions } from '../../src/index.js';
import { memoryLogger } from './memory-logger.js';

const live = new Set<VssWriter>();

/**
 * Unsubscribes every writer a test made and waits until no snapshot set is running (a
 * cancelled set still sends Abort and BackupShutdown after it answered), so each test starts
 * with an idle, empty simulator.
 */
afterEach(async () => {
  await Promise.all([...live].map((w) => w.unsubscribe()));
  live.clear();
  const quiet = memoryLogger().logger;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(10)) {
    const busy = await createShadowCopy({ volumes: ['/'], logger: quiet }).then(
      () => false,
      (e: unknown) => e instanceof VssError && e.code === 'VSS_E_SNAPSHOT_SET_IN_PROGRESS',
    );
    if (!busy) return;
  }
  throw new Error('a snapshot set was still running 10 s after the test ended');
});

export type Calls = { event: string; writer: string; snapshotSetId: string }[];

/**
 * A subscribed writer whose every handler records its call in `calls`, then runs the
 * override for that event, if any.
 */
export async function recordingWriter(
  name: string,
  calls: Calls,
  overrides: VssWriterOptions['handlers'] = {},
  options: Partial<VssWriterOptions> = {},
): Promise<VssWriter> {
  const events = ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'abort', 'backupComplete', 'backupShutdown', 'preRestore', 'postRestore'] as const;
  const handlers = Object.fromEntries(
    events.map((event) => [
      event,
      (ctx: { snapshotSetId: string }) => {
        calls.push({ event, writer: name, snapshotSetId: ctx.snapshotSetId });
        return (overrides as Record<string, ((c: unknown) => unknown) | undefined>)[event]?.(ctx);
      },
    ]),
  );
  const writer = new VssWriter({
    name,
    id: randomUUID(),
    usage: 'userData',
    sourceType: 'other',
    logger: memoryLogger().logger,
    ...options,
    handlers,
  });
  await writer.subscribe();
  live.add(writer);
  return writer;
}

export function eventsOf(calls: Calls, writer: string): string[] {
  return calls.filter((c) => c.writer === writer).map((c) => c.event);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Blocks the event loop until `done()` holds, and says whether it did. The cap only keeps a
 * broken test from hanging: the answer is about what happened, not how long it took.
 */
export function blockEventLoopUntil(done: () => boolean, capMs = 20_000): boolean {
  const end = Date.now() + capMs;
  while (!done() && Date.now() < end) {
    // busy: no JS can run, no timer fire, no thread-safe call be delivered
  }
  return done();
}
