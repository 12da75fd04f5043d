/**
 * What a run takes (the demo's directory, database, HTTP service and load; the writers a CLI
 * command subscribes) and gives back on every way out, the last taken first, as a requester
 * releases what it took on every failure path.
 */
import type { Logger } from './logger.js';

/** Registers the release of something just taken; `what` names it in an error. */
export type Take = (what: string, release: () => unknown) => void;

/**
 * Runs `body`, then releases everything it took (registered with `take`), the last taken first,
 * each release even when one before it failed.
 *
 * When `body` fails, its error is what the caller gets, unchanged (a VssError keeps its code, the
 * CLI its exit code); a release that fails as well is logged as an error rather than hiding it.
 * When only releases fail, the caller gets that failure (several: an AggregateError of them).
 * `owner` names the run in those messages: "the demo", "vss-bridge checkpoint".
 */
export async function releasing<T>(logger: Logger, owner: string, body: (take: Take) => Promise<T>): Promise<T> {
  const taken: { what: string; release: () => unknown }[] = [];
  let result: T;
  try {
    result = await body((what, release) => taken.push({ what, release }));
  } catch (error) {
    for (const failure of await releaseAll(taken, owner)) logger.error(`${failure.message}, after ${owner} had failed`);
    throw error;
  }
  const failures = await releaseAll(taken, owner);
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
  return result;
}

async function releaseAll(taken: { what: string; release: () => unknown }[], owner: string): Promise<Error[]> {
  const failures: Error[] = [];
  for (const { what, release } of taken.reverse()) {
    try {
      await release();
    } catch (error) {
      failures.push(new Error(`${owner} could not release ${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
  }
  return failures;
}
