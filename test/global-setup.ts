import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests that spawn processes or load the package by name use dist/: build it once, before
 * any test file runs, rather than racing to build it from several files at once.
 */
export default function setup(): void {
  // scripts/mutation.sh built dist/ from the real sources before: under Stryker src/ in its
  // sandbox is instrumented, and the native mutants' copy needs it only once.
  if (process.env['VSS_BRIDGE_DIST_BUILT'] === '1') return;
  execFileSync('npm', ['run', 'build:ts'], { cwd: join(__dirname, '..'), stdio: 'inherit' });
}
