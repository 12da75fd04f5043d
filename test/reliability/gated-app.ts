/**
 * The application the fault matrix puts behind each of its writers: every write goes through a
 * WriteGate bound to the writer (its `gate` option) into an in-memory store that records the
 * order writes were applied in. A pump issues writes for the whole snapshot set, and each event
 * the writer receives issues one more from its handler; since the bound Freeze handler runs on
 * a frozen gate, writes also arrive while the gate is closed, in every case that reaches Freeze.
 *
 * outcome() reports what the matrix asserts: the gate ended open, not by its watchdog, and
 * every write issued was acknowledged and applied exactly once, in the order issued, never
 * while the gate was closed; the writes held while it was closed are among them. It also
 * names the events that found the gate closed when they should not have: a gate that only
 * BackupShutdown reopens would hold the application's writes for the whole backup.
 *
 * The gate has one store with a preparation step (run at PrepareSnapshot) that takes a few
 * turns of the event loop, as a checkpoint would; outcome() counts the freezes of the store
 * that began while its preparation still ran, which the gate must never allow.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WriteGate, type GateState, type StoreAdapter } from '../../src/index.js';
import type { Logger } from '../../src/logger.js';
import { sleep } from '../helpers/writers.js';

// Longer than any wait of the matrix (10 s): a gate that nothing but its watchdog would reopen
// fails the case instead of being rescued.
const WATCHDOG_MS = 30_000;
// The pump's pace: a few hundred writes a second per application.
const PUMP_INTERVAL_MS = 2;
// How long outcome() waits for the writes still held or in flight to settle.
const SETTLE_MS = 10_000;
// The bound Freeze handler runs on a closed gate, and Thaw's and Abort's before they reopen it;
// every other event comes before a freeze or after the Thaw or Abort that ended it.
const closedAtEventAllowed: ReadonlySet<string> = new Set(['freeze', 'thaw', 'abort']);

export interface GateOutcome {
  /** The gate's state once the set is over. */
  readonly state: GateState;
  readonly watchdogThaws: number;
  /** Freezes that reached frozen, and those given up before (drain, cancel, thawed early). */
  readonly freezes: number;
  readonly failedFreezes: number;
  readonly issued: number;
  /** run() resolved. */
  readonly acknowledged: number;
  /** Issued while the gate was closed; the gate's own count of writes it held must agree. */
  readonly held: number;
  readonly gateHeld: number;
  /** Issued, but not both acknowledged and applied exactly once. */
  readonly lost: number;
  readonly appliedTwice: number;
  /** Applied after a write issued later. */
  readonly outOfOrder: number;
  readonly appliedWhileClosed: number;
  /** Events other than Freeze, Thaw and Abort whose handler found the gate closed. */
  readonly closedAt: readonly string[];
  /** Preparations of the store that ran, and freezes of it that began while one still ran. */
  readonly preparations: number;
  readonly frozenWhilePreparing: number;
}

export class GatedApp {
  readonly gate: WriteGate;
  private readonly applied: number[] = [];
  private readonly acked: boolean[] = [];
  private readonly settled: Promise<unknown>[] = [];
  private issued = 0;
  private held = 0;
  private appliedWhileClosed = 0;
  private readonly closedAt: string[] = [];
  private pump: Promise<void> | undefined;
  private pumping = false;
  private preparing = false;
  private preparations = 0;
  private frozenWhilePreparing = 0;

  constructor(name: string, logger: Logger) {
    const store: StoreAdapter = {
      name: `${name} store`,
      prepare: async () => {
        this.preparing = true;
        this.preparations++;
        try {
          for (let i = 0; i < 3; i++) await nextTurn();
        } finally {
          this.preparing = false;
        }
      },
      freeze: () => {
        if (this.preparing) this.frozenWhilePreparing++;
      },
      thaw: () => undefined,
    };
    this.gate = new WriteGate({ name, maxFrozenMs: WATCHDOG_MS, logger, stores: [store] });
  }

  /**
   * The writer's handler for `event`: notes a gate closed out of
   * turn, issues a write, then runs `handler`, the fault under test or nothing.
   */
  handle(event: string, handler: () => unknown): unknown {
    if (this.gate.state !== 'open' && !closedAtEventAllowed.has(event)) this.closedAt.push(event);
    this.write();
    return handler();
  }

  /** Issues the next write through the gate. */
  write(): void {
    const seq = this.issued++;
    if (this.gate.state !== 'open') this.held++;
    const done = this.gate.run(async () => {
      if (this.gate.state !== 'open') this.appliedWhileClosed++;
      this.applied.push(seq);
      // In flight for a turn of the event loop, like a write on its way to disk: a freeze
      // must wait for it.
      await nextTurn();
    });
    this.settled.push(done.then(() => (this.acked[seq] = true)));
  }

  startPump(): void {
    this.pumping = true;
    this.pump = (async () => {
      while (this.pumping) {
        this.write();
        await sleep(PUMP_INTERVAL_MS);
      }
    })();
  }

  /** Stops the pump, waits (a bounded time) for every write issued to settle, and reports. */
  async outcome(): Promise<GateOutcome> {
    this.pumping = false;
    await this.pump;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.settled),
      new Promise((resolve) => (timer = setTimeout(resolve, SETTLE_MS))),
    ]);
    clearTimeout(timer);

    const times = new Array<number>(this.issued).fill(0);
    let outOfOrder = 0;
    this.applied.forEach((seq, i) => {
      times[seq]!++;
      if (i > 0 && seq <= this.applied[i - 1]!) outOfOrder++;
    });
    let lost = 0;
    for (let seq = 0; seq < this.issued; seq++) if (times[seq] !== 1 || this.acked[seq] !== true) lost++;
    const stats = this.gate.stats();
    return {
      state: this.gate.state,
      watchdogThaws: stats.watchdogThaws,
      freezes: stats.freezes,
      failedFreezes: stats.failedFreezes,
      issued: this.issued,
      acknowledged: this.acked.filter(Boolean).length,
      held: this.held,
      gateHeld: stats.heldWrites,
      lost,
      appliedTwice: times.filter((n) => n > 1).length,
      outOfOrder,
      appliedWhileClosed: this.appliedWhileClosed,
      closedAt: [...this.closedAt],
      preparations: this.preparations,
      frozenWhilePreparing: this.frozenWhilePreparing,
    };
  }
}
