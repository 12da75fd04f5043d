/**
 * VssWriter: a VSS writer whose events run your async handlers. On Windows it is a real
 * CVssWriter (it shows up in `vssadmin list writers`); elsewhere it joins the simulator.
 */
import { getBackend, type WriterHandle } from './backends/backend.js';
import { JsDispatcher } from './dispatch.js';
import { toVssError } from './errors.js';
import { getDefaultLogger, type Logger } from './logger.js';
import { native, type NativeWriterMetadata } from './backends/native.js';
import { toWriterInfo } from './results.js';
import { parseOptions, writerOptionsSchema, type ParsedWriterOptions, type VssWriterOptions } from './schemas.js';
import { writerEvents, writerStateName, type WriterEvent, type WriterInfo, type WriterState } from './types.js';
import { bindGate } from './gate/write-gate.js';
import { registerWithCoordinator, type Registration } from './linux/coordinator.js';

export type { VssWriterOptions } from './schemas.js';

/**
 * The writers subscribed in this process. A subscribed writer keeps the process alive (it
 * waits for VSS's events); unsubscribeAll lets a test runner's process end.
 */
const subscribedWriters = new Set<VssWriter>();

let closingOnExit = false;

/**
 * process.exit() skips the native environment's cleanup hooks, so a writer would stay
 * subscribed to VSS until the process is gone (and a backup in flight would fail). On 'exit',
 * which process.exit() still emits, the addon unsubscribes every writer synchronously.
 */
function closeOnExit(): void {
  if (closingOnExit) return;
  closingOnExit = true;
  process.once('exit', () => {
    try {
      native().closeAll();
    } catch {
      // Nothing can be reported during exit; the process is going away regardless.
    }
  });
}

/** Unsubscribes every writer of this process (vss-bridge/testing: after all tests). */
export async function unsubscribeAll(): Promise<void> {
  await Promise.all([...subscribedWriters].map((w) => w.unsubscribe()));
}

export class VssWriter {
  readonly name: string;
  readonly id: string;
  readonly instanceName: string;
  private readonly options: ParsedWriterOptions;
  private readonly logger: Logger;
  private readonly handle: WriterHandle;
  private dispatcher: JsDispatcher | undefined;
  private pending: Promise<void> = Promise.resolve();
  /** On Linux: how guest agents' freezes reach this writer (docs/LINUX.md). */
  private registration: Registration | undefined;

  constructor(options: VssWriterOptions) {
    this.options = parseOptions(writerOptionsSchema, options, 'VssWriter options');
    this.name = this.options.name;
    this.id = this.options.id;
    this.instanceName = this.options.instanceName;
    this.logger = this.options.logger ?? getDefaultLogger();
    this.handle = getBackend().createWriter(toMetadata(this.options));
  }

  get subscribed(): boolean {
    return this.dispatcher !== undefined;
  }

  /** As `vssadmin list writers` shows it; VSS_WS_UNKNOWN while not subscribed. */
  get state(): WriterState {
    const status = this.handle.status();
    return status === null ? 'VSS_WS_UNKNOWN' : writerStateName(status.state);
  }

  /** Name, ids, state and last error; null while not subscribed. */
  info(): WriterInfo | null {
    const status = this.handle.status();
    return status === null ? null : toWriterInfo(status);
  }

  /** Starts receiving VSS events. Rejects with a VssError when VSS refuses. */
  subscribe(): Promise<void> {
    return this.serialize(async () => {
      if (this.dispatcher) return;
      const gate = this.options.gate;
      const handlers = gate ? bindGate(gate, this.options.handlers) : this.options.handlers;
      const dispatcher = new JsDispatcher({
        label: this.label(),
        writer: { name: this.name, instanceName: this.instanceName },
        logger: this.logger,
        handler: (event) => handlers[event as WriterEvent],
        handledEvents: writerEvents.filter((event) => handlers[event] !== undefined),
      });
      try {
        await this.handle.subscribe(dispatcher.native);
      } catch (error) {
        dispatcher.close('subscribe failed');
        throw toVssError(error, `writer "${this.name}" could not subscribe`);
      }
      this.dispatcher = dispatcher;
      subscribedWriters.add(this);
      closeOnExit();
      this.logger.info('subscribed', { writer: this.label() });
      this.registration = await registerWithCoordinator({
        label: this.label(),
        logger: this.logger,
      });
    });
  }

  /**
   * Stops receiving events. An event in flight is answered with a failure at once and its
   * handler's signal fires; nothing waits for the handler.
   */
  unsubscribe(): Promise<void> {
    return this.serialize(async () => {
      const dispatcher = this.dispatcher;
      if (!dispatcher) return;
      this.dispatcher = undefined;
      subscribedWriters.delete(this);
      const registration = this.registration;
      this.registration = undefined;
      try {
        await registration?.release();
        await this.handle.unsubscribe();
      } finally {
        // No thaw or abort will come now: a gate this writer froze must not stay closed. It
        // reopens before the running handlers' signals fire, so that its report says why.
        this.options.gate?.thaw('unsubscribe');
        dispatcher.close(`writer "${this.name}" unsubscribed`);
      }
      this.logger.info('unsubscribed', { writer: this.label() });
    });
  }

  /** `await using writer = new VssWriter(...)`: unsubscribes when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.unsubscribe();
  }

  private label(): string {
    return this.instanceName ? `${this.name} (${this.instanceName})` : this.name;
  }

  // subscribe and unsubscribe run one at a time, in call order.
  private serialize(step: () => Promise<void>): Promise<void> {
    const next = this.pending.then(step);
    this.pending = next.catch(() => undefined);
    return next;
  }
}

function toMetadata(o: ParsedWriterOptions): NativeWriterMetadata {
  return {
    id: o.id,
    name: o.name,
    instanceName: o.instanceName,
    usage: o.usage,
    sourceType: o.sourceType,
    freezeTimeoutMs: o.freezeTimeoutMs,
    handlerTimeoutMs: o.handlerTimeoutMs,
    restoreMethod: o.restoreMethod,
    components: o.components.map((c) => ({
      logicalPath: c.logicalPath,
      name: c.name,
      caption: c.caption ?? c.name,
      files: c.files.map((f) => ({ path: f.path, filespec: f.filespec, recursive: f.recursive })),
    })),
  };
}
