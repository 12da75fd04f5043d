/**
 * Folders in the temp directory that remove themselves, so that a test run leaves nothing behind
 * in os.tmpdir() (which honours TMPDIR), whether its tests pass or fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

// Registered while the importing test file is collected (each test file loads this module
// afresh), so it runs once all of that file's tests are done, failed ones included.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new empty folder in os.tmpdir(), `prefix` and six random characters; removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
