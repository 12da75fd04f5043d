/**
 * The HRESULTs vss-bridge reports, with VSS's symbolic names and whether retrying the same
 * operation later can succeed (Microsoft's documentation of each code).
 */
export interface HresultInfo {
  readonly code: string;
  readonly hresult: number;
  readonly retryable: boolean;
  readonly description: string;
}

const table: readonly (readonly [string, number, boolean, string])[] = [
  ['S_OK', 0x00000000, false, 'success'],
  ['S_FALSE', 0x00000001, false, 'VSS does not accept writers while Windows runs in safe mode or setup is in progress; restart normally'],
  ['E_ABORT', 0x80004004, false, 'the operation was cancelled'],
  ['E_ACCESSDENIED', 0x80070005, false, 'access denied: run as Administrator or Backup Operator, or list the account under HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl'],
  ['E_INVALIDARG', 0x80070057, false, 'an argument is invalid'],
  ['E_NOTIMPL', 0x80004001, false, 'not implemented by this VSS (Wine, or a stripped-down Windows)'],
  ['E_OUTOFMEMORY', 0x8007000e, true, 'out of memory'],
  ['E_UNEXPECTED', 0x8000ffff, false, 'unexpected failure'],
  ['E_FAIL', 0x80004005, false, 'unspecified failure'],
  ['ERROR_MOD_NOT_FOUND', 0x8007007e, false, 'a module (the native addon, or a DLL it needs) could not be found or loaded'],
  ['ERROR_TIMEOUT', 0x800705b4, true, 'the operation did not finish within its timeout'],
  ['ERROR_SERVICE_DISABLED', 0x80070422, false, 'the Volume Shadow Copy service is disabled: set its start type to Manual (`sc config vss start= demand`)'],
  ['ERROR_SERVICE_NOT_ACTIVE', 0x80070426, true, 'the Volume Shadow Copy service is not running: start it (`net start vss`)'],
  ['RPC_E_TOO_LATE', 0x80010119, false, 'COM security was already initialized in this process'],
  ['VSS_E_BAD_STATE', 0x80042301, false, 'the call is not valid in the current state'],
  ['VSS_E_PROVIDER_ALREADY_REGISTERED', 0x80042303, false, 'the provider is already registered'],
  ['VSS_E_PROVIDER_NOT_REGISTERED', 0x80042304, false, 'the provider is not registered'],
  ['VSS_E_PROVIDER_VETO', 0x80042306, true, 'the provider vetoed the operation'],
  ['VSS_E_PROVIDER_IN_USE', 0x80042307, true, 'the provider is in use'],
  ['VSS_E_OBJECT_NOT_FOUND', 0x80042308, false, 'the object was not found'],
  ['VSS_E_VOLUME_NOT_SUPPORTED', 0x8004230c, false, 'shadow copies are not supported on this volume'],
  ['VSS_E_OBJECT_ALREADY_EXISTS', 0x8004230d, false, 'the object already exists'],
  ['VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER', 0x8004230e, false, 'the provider does not support this volume'],
  ['VSS_E_UNEXPECTED_PROVIDER_ERROR', 0x8004230f, true, 'the provider returned an unexpected error'],
  ['VSS_E_CORRUPT_XML_DOCUMENT', 0x80042310, false, 'an XML document is not valid'],
  ['VSS_E_INVALID_XML_DOCUMENT', 0x80042311, false, 'an XML document is not valid'],
  ['VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED', 0x80042312, false, 'too many volumes in the snapshot set'],
  ['VSS_E_FLUSH_WRITES_TIMEOUT', 0x80042313, true, 'the system could not flush I/O writes in time'],
  ['VSS_E_HOLD_WRITES_TIMEOUT', 0x80042314, true, 'the system could not hold I/O writes in time (10 s)'],
  ['VSS_E_UNEXPECTED_WRITER_ERROR', 0x80042315, true, 'a writer returned an unexpected error'],
  ['VSS_E_SNAPSHOT_SET_IN_PROGRESS', 0x80042316, true, 'another snapshot set is in progress'],
  ['VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED', 0x80042317, false, 'the volume has the maximum number of shadow copies'],
  ['VSS_E_WRITER_INFRASTRUCTURE', 0x80042318, true, 'the writer infrastructure is not operating properly'],
  ['VSS_E_WRITER_NOT_RESPONDING', 0x80042319, true, 'a writer did not respond'],
  ['VSS_E_WRITER_ALREADY_SUBSCRIBED', 0x8004231a, false, 'a writer with this id and instance name is already subscribed'],
  ['VSS_E_UNSUPPORTED_CONTEXT', 0x8004231b, false, 'the provider does not support this context'],
  ['VSS_E_VOLUME_IN_USE', 0x8004231d, true, 'the volume is in use'],
  ['VSS_E_INSUFFICIENT_STORAGE', 0x8004231f, false, 'not enough storage for the shadow copy'],
  ['VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT', 0x800423f0, true, 'the snapshot set holds only some of the volumes the writer needs'],
  ['VSS_E_WRITERERROR_OUTOFRESOURCES', 0x800423f1, true, 'the writer ran out of resources'],
  ['VSS_E_WRITERERROR_TIMEOUT', 0x800423f2, true, 'the writer timed out (freeze window or handler deadline)'],
  ['VSS_E_WRITERERROR_RETRYABLE', 0x800423f3, true, 'the writer failed with a transient error'],
  ['VSS_E_WRITERERROR_NONRETRYABLE', 0x800423f4, false, 'the writer failed with an error retrying will not fix'],
  ['VSS_E_WRITERERROR_RECOVERY_FAILED', 0x800423f5, false, 'the writer could not recover'],
];

const byCode = new Map<string, HresultInfo>();
const byValue = new Map<number, HresultInfo>();
for (const [code, hresult, retryable, description] of table) {
  const info = { code, hresult, retryable, description };
  byCode.set(code, info);
  byValue.set(hresult, info);
}

/** Accepts signed (as native code passes them) or unsigned values. */
export function describeHresult(hresult: number): HresultInfo {
  const unsigned = hresult >>> 0;
  return (
    byValue.get(unsigned) ?? {
      code: `0x${unsigned.toString(16).toUpperCase().padStart(8, '0')}`,
      hresult: unsigned,
      retryable: false,
      description: 'unknown HRESULT',
    }
  );
}

export function hresultOf(code: string): number {
  const info = byCode.get(code);
  if (info === undefined) throw new RangeError(`unknown HRESULT code ${code}`);
  return info.hresult;
}

export function formatHresult(hresult: number): string {
  return `0x${(hresult >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** Codes a writer may fail an event with (SetWriterFailure). */
export const writerErrorCodes = [
  'VSS_E_WRITERERROR_RETRYABLE',
  'VSS_E_WRITERERROR_NONRETRYABLE',
  'VSS_E_WRITERERROR_TIMEOUT',
  'VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT',
  'VSS_E_WRITERERROR_OUTOFRESOURCES',
] as const;
export type WriterErrorCode = (typeof writerErrorCodes)[number];

/** Codes the simulated provider can be told to fail its commit with. */
export const providerErrorCodes = [
  'VSS_E_PROVIDER_VETO',
  'VSS_E_UNEXPECTED_PROVIDER_ERROR',
  'VSS_E_FLUSH_WRITES_TIMEOUT',
  'VSS_E_HOLD_WRITES_TIMEOUT',
] as const;
export type ProviderErrorCode = (typeof providerErrorCodes)[number];
