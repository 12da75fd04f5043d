/**
 * Folders in the temp directory that remove themselves, so that a test run leaves nothing behind
 * in os.tmpdir() (which honours TMPDIR), whether its tests pass or fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { taggedPrefix } from './owner.js';

const made: string[] = [];

// Registered while the importing test file is collected (each test file loads this module
// afresh), so it runs once all of that file's tests are done, failed ones included.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A new empty folder in os.tmpdir(), removed after the test file: `prefix`, the maker's tag
 * (owner.ts) and six random characters. The tag lets the next run remove it if this process is
 * killed before its afterAll (sweepLeftoverTempDirs).
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), taggedPrefix(prefix)));
  made.push(dir);
  return dir;
}
