import { describeHresult, formatHresult, hresultOf, writerErrorCodes, type WriterErrorCode } from './hresult.js';
import type { ShadowCopyResult } from './types.js';

/**
 * The shadow copies a snapshot set had made when it failed after DoSnapshotSet (a writer failing
 * at thaw or post-snapshot, BackupComplete failing, a cancel that found the set finished): the
 * requester deletes them before it reports the failure. `created` lists every copy that existed,
 * `deleted` those the clean-up deleted; a copy in `created` but not in `deleted` is still on its
 * volume (`vss-bridge snapshots delete <id>`).
 */
export interface FailedSetCopies {
  readonly snapshotSetId: string;
  readonly created: readonly string[];
  readonly deleted: readonly string[];
}

/** A VSS operation failed. `code` is VSS's symbolic name of `hresult`. */
export class VssError extends Error {
  readonly hresult: number;
  readonly code: string;
  readonly retryable: boolean;
  /** The writer whose failure decided the outcome, when one did. */
  readonly writer?: { name: string; id: string; instanceName: string; instanceId: string; event: string };
  /** What the snapshot set did before it failed: phases, writers and their timelines. */
  readonly result?: ShadowCopyResult;
  /** Set when the set failed after its shadow copies existed: which they were, and which were deleted. */
  readonly shadowCopies?: FailedSetCopies;

  constructor(
    hresult: number,
    message: string,
    extra: { writer?: VssError['writer']; result?: ShadowCopyResult; shadowCopies?: FailedSetCopies } = {},
  ) {
    const info = describeHresult(hresult);
    super(`${message} (${info.code}, ${formatHresult(hresult)})`);
    this.name = 'VssError';
    this.hresult = info.hresult;
    this.code = info.code;
    this.retryable = info.retryable;
    if (extra.writer) this.writer = extra.writer;
    if (extra.result) this.result = extra.result;
    if (extra.shadowCopies) this.shadowCopies = extra.shadowCopies;
  }
}

/**
 * Thrown by a handler to fail its event with a chosen writer-error code (SetWriterFailure).
 * Any other error fails the event with VSS_E_WRITERERROR_RETRYABLE.
 */
export class WriterFailure extends Error {
  readonly code: WriterErrorCode;
  readonly hresult: number;

  constructor(code: WriterErrorCode, message: string = code) {
    if (!(writerErrorCodes as readonly string[]).includes(code)) {
      // String() itself throws on an object without a prototype: describe such values safely.
      const got = typeof code === 'object' && code !== null ? Object.prototype.toString.call(code) : String(code);
      throw new TypeError(`WriterFailure: code must be one of ${writerErrorCodes.join(', ')}; got ${got}`);
    }
    super(message);
    this.name = 'WriterFailure';
    this.code = code;
    this.hresult = hresultOf(code);
  }
}

/**
 * This machine cannot do what was asked, whatever the arguments: no addon for this platform,
 * no VSS backend in this build, Linux-guest support off Linux, a writer module that fails to
 * load. The CLI's exit code 6; `vss-bridge doctor` says how to fix it. A VssError like every
 * other failure of the API, so that one catch handles them all; `code` says which
 * (ERROR_MOD_NOT_FOUND for a missing addon, E_NOTIMPL for what this build or platform lacks).
 */
export class EnvironmentError extends VssError {
  constructor(message: string, code: 'ERROR_MOD_NOT_FOUND' | 'E_NOTIMPL' | 'E_INVALIDARG' = 'E_NOTIMPL') {
    super(hresultOf(code), message);
    // The message is said to a person as it is: the code is in .code, not appended.
    this.message = message;
    this.name = 'EnvironmentError';
  }
}

/** Options failed validation. `issues` names each field and the rule it broke. */
export class OptionsError extends TypeError {
  readonly issues: readonly { path: string; message: string }[];

  constructor(what: string, issues: readonly { path: string; message: string }[]) {
    super(`Invalid ${what}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
    this.name = 'OptionsError';
    this.issues = issues;
  }
}

/** `error` as a VssError: itself, or one carrying its `hresult` (E_UNEXPECTED when it has none). */
export function toVssError(error: unknown, context: string): VssError {
  if (error instanceof VssError) return error;
  const hresult = (error as { hresult?: unknown })?.hresult;
  const message = error instanceof Error ? error.message : String(error);
  return new VssError(typeof hresult === 'number' ? hresult : 0x8000ffff, `${context}: ${message}`);
}
