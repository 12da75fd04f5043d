import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { sweepLeftoverTempDirs } from './helpers/owner.js';

/**
 * Once a run, before any test file: removes the temp folders of test processes killed before
 * their clean-up (helpers/owner.ts). Tests that spawn processes or load the package by name
 * use dist/: builds it once, rather than racing to build it from several files at once.
 */
export default function setup(): void {
  sweepLeftoverTempDirs();
  // scripts/mutation.sh built dist/ from the real sources before: under Stryker src/ in its
  // sandbox is instrumented, and the native mutants' copy needs it only once.
  if (process.env['VSS_BRIDGE_DIST_BUILT'] === '1') return;
  execFileSync('npm', ['run', 'build:ts'], { cwd: join(__dirname, '..'), stdio: 'inherit' });
}
