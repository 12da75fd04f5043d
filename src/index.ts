export { VssWriter } from './writer.js';
export type { VssWriterOptions } from './writer.js';
export { listWriters, createShadowCopy } from './requester.js';
export type { ShadowCopyOptions } from './requester.js';
export { VssError, WriterFailure, OptionsError } from './errors.js';
export { backend } from './backend.js';
export type { BackendName } from './backend.js';
export { describeHresult, writerErrorCodes, providerErrorCodes } from './hresult.js';
export type { HresultInfo, WriterErrorCode, ProviderErrorCode } from './hresult.js';
export { writerStates, writerEvents, backupTypes } from './types.js';
export type {
  WriterState,
  WriterEvent,
  BackupType,
  WriterEventContext,
  ErrorInfo,
  EventOutcome,
  EventRecord,
  WriterInfo,
  WriterReport,
  ShadowCopy,
  ShadowCopyResult,
  Progress,
  CommitContext,
} from './types.js';
