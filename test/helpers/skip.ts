/**
 * Whether a suite that needs something of this machine (root, loop devices, a tool) runs here.
 * A suite that cannot run is skipped with its reason in the log; under CI's switch
 * VSS_BRIDGE_NO_SKIP=1 (.ci/run sets it) such a skip is a failure instead, so a green CI run
 * means every suite ran. Only the suites that need real Windows may still skip under it.
 */
export const noSkipVariable = 'VSS_BRIDGE_NO_SKIP';

export interface SkipOptions {
  /** The suite needs real Windows (the windows.yml workflow): CI on Linux may skip it. */
  readonly windowsOnly?: boolean;
}

/**
 * Returns `reason` for `describe.skipIf(reason !== null)`, after saying it in the log. Throws
 * when VSS_BRIDGE_NO_SKIP=1 forbids the skip, which fails the test file with the reason.
 */
export function skipUnlessRunnable(suite: string, reason: string | null, options: SkipOptions = {}): string | null {
  if (reason === null) return null;
  if (process.env[noSkipVariable] === '1' && !options.windowsOnly) {
    throw new Error(`${suite} would be skipped (${reason}), but ${noSkipVariable}=1 requires every suite that does not need real Windows to run`);
  }
  console.warn(`${suite} skipped: ${reason}`);
  return reason;
}
