/**
 * The exit codes of `vss-bridge`, one per kind of outcome a script may act on differently
 * (docs/CLI.md lists them).
 */
import { VssError } from '../errors.js';

export const exitCodes = {
  /** Done: the checkpoint succeeded, the command did what it was asked. */
  success: 0,
  /** A bug or an error vss-bridge has no better code for; the message says what. */
  failure: 1,
  /** Bad command line: an unknown command or option, or an option value that breaks its rule. */
  usage: 2,
  /** A writer vetoed: it failed an event (SetWriterFailure), so the snapshot set was aborted. */
  writerVeto: 3,
  /** Something ran out of time: the snapshot set's --timeout, a writer's handler deadline or
   * freeze window (VSS_E_WRITERERROR_TIMEOUT), or the provider's 10 s hold (HOLD/FLUSH_WRITES_TIMEOUT). */
  timeout: 4,
  /** The provider failed the commit (VSS_E_PROVIDER_VETO, VSS_E_UNEXPECTED_PROVIDER_ERROR). */
  providerFailure: 5,
  /** The machine is not ready: no addon, no VSS backend, access denied, VSS disabled, another
   * snapshot set running, a feature not in this build. `vss-bridge doctor` says how to fix it. */
  environment: 6,
  /** Interrupted (Ctrl-C); the snapshot set was cancelled and its writers got Abort. */
  interrupted: 130,
} as const;

const timeoutCodes = new Set([
  'ERROR_TIMEOUT',
  'VSS_E_WRITERERROR_TIMEOUT',
  'VSS_E_WRITER_NOT_RESPONDING',
  'VSS_E_HOLD_WRITES_TIMEOUT',
  'VSS_E_FLUSH_WRITES_TIMEOUT',
]);
const providerCodes = new Set(['VSS_E_PROVIDER_VETO', 'VSS_E_UNEXPECTED_PROVIDER_ERROR', 'VSS_E_PROVIDER_IN_USE']);
const environmentCodes = new Set([
  'E_ACCESSDENIED',
  'E_NOTIMPL',
  'ERROR_SERVICE_DISABLED',
  'RPC_E_TOO_LATE',
  'VSS_E_SNAPSHOT_SET_IN_PROGRESS',
  'VSS_E_WRITER_INFRASTRUCTURE',
  'VSS_E_VOLUME_NOT_SUPPORTED',
  'VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER',
]);

export type Verdict = 'succeeded' | 'writerVeto' | 'timeout' | 'providerFailure' | 'environment' | 'interrupted' | 'failure';

/** Which outcome an error of a snapshot set stands for. A writer's timeout counts as a timeout. */
export function verdictOf(error: unknown): Verdict {
  if (!(error instanceof VssError)) return 'failure';
  if (error.code === 'E_ABORT') return 'interrupted';
  if (timeoutCodes.has(error.code)) return 'timeout';
  if (error.writer !== undefined) return 'writerVeto';
  if (providerCodes.has(error.code)) return 'providerFailure';
  if (environmentCodes.has(error.code)) return 'environment';
  return 'failure';
}

export const exitCodeOf: Record<Verdict, number> = {
  succeeded: exitCodes.success,
  writerVeto: exitCodes.writerVeto,
  timeout: exitCodes.timeout,
  providerFailure: exitCodes.providerFailure,
  environment: exitCodes.environment,
  interrupted: exitCodes.interrupted,
  failure: exitCodes.failure,
};
