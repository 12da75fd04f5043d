/**
 * The demo's application: a node:http service that stores records in SQLite, every write
 * through a WriteGate whose store is the database. POST /records {"value": "..."} answers
 * 201 {"id": n} once the record is committed: that answer is the acknowledgement the demo
 * holds the snapshots to.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { sqliteStore, type SqliteStore } from '../gate/adapters/sqlite.js';
import { WriteGate } from '../gate/write-gate.js';
import type { Logger } from '../logger.js';
import type { Database, DatabaseConstructor } from './sqlite.js';

export const databaseFile = 'records.db';

/** What the service knows about each committed write. */
export interface WriteRecord {
  readonly id: number;
  /**
   * performance.now() when the write started to run, inside the gate: this process's
   * monotonic clock, the one FreezeReport.startedAtMonotonic is on (see verifySnapshot).
   */
  readonly ranAt: number;
  /** Whether the gate was closed when the request arrived. */
  readonly held: boolean;
}

export interface RecordsServiceOptions {
  /** Directory of the database: the volume the snapshots copy. */
  readonly dir: string;
  readonly sqlite: DatabaseConstructor;
  readonly maxFrozenMs?: number;
  /**
   * Leave checkpoints to the write gate alone (wal_autocheckpoint = 0), so that the WAL grows
   * as large as the writes make it (fillWal).
   */
  readonly manualCheckpoints?: boolean;
  readonly logger: Logger;
}

/** The service's database, set up; closed again when the setup fails (a file that is not a database). */
function openDatabase(Sqlite: DatabaseConstructor, file: string, manualCheckpoints: boolean): Database {
  const db = new Sqlite(file);
  try {
    db.pragma('journal_mode = WAL');
    // NORMAL: a commit survives the process, and the freeze's checkpoint reaches the file.
    db.pragma('synchronous = NORMAL');
    if (manualCheckpoints) db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, value TEXT NOT NULL, ran_at REAL NOT NULL)');
    db.exec('CREATE TABLE IF NOT EXISTS ballast (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Rows of ballast a transaction of fillWal writes, 4 KB each. */
const ballastRowsPerWrite = 256;
const ballastRow = 'b'.repeat(4000);

export class RecordsService {
  readonly gate: WriteGate;
  readonly store: SqliteStore;
  readonly file: string;
  readonly writes = new Map<number, WriteRecord>();
  private readonly db: Database;
  private readonly server: Server;

  private constructor(options: RecordsServiceOptions) {
    this.file = join(options.dir, databaseFile);
    this.db = openDatabase(options.sqlite, this.file, options.manualCheckpoints === true);
    const insert = this.db.prepare('INSERT INTO records (value, ran_at) VALUES (?, ?)');
    this.store = sqliteStore(this.db, { name: 'records.db', logger: options.logger });
    this.gate = new WriteGate({
      name: 'records',
      stores: [this.store],
      logger: options.logger,
      ...(options.maxFrozenMs !== undefined && { maxFrozenMs: options.maxFrozenMs, drainTimeoutMs: Math.max(1, Math.floor(options.maxFrozenMs / 2)) }),
    });
    const write = async (value: string, held: boolean): Promise<WriteRecord> => {
      const ranAt = performance.now();
      // A turn of the event loop between validation and commit, as real handlers have
      // (a lookup, a hash): it puts writes in flight when a freeze begins, so the drain
      // has something to wait for.
      await nextTurn();
      const id = Number(insert.run(value, ranAt).lastInsertRowid);
      const record = { id, ranAt, held };
      this.writes.set(id, record);
      return record;
    };
    this.server = createServer((req, res) => this.route(req, res, write));
  }

  static async start(options: RecordsServiceOptions): Promise<RecordsService> {
    const service = new RecordsService(options);
    try {
      await new Promise<void>((resolve, reject) => {
        service.server.once('error', reject);
        service.server.listen(0, '127.0.0.1', () => resolve());
      });
    } catch (error) {
      service.db.close();
      throw error;
    }
    return service;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /**
   * Writes about `bytes` of ballast rows through the gate, a transaction at a time with a turn
   * of the event loop between them, so the load goes on: with manualCheckpoints the WAL holds
   * at least that much at the next prepareSnapshot.
   */
  async fillWal(bytes: number): Promise<void> {
    const insert = this.db.prepare('INSERT INTO ballast (body) VALUES (?)');
    const write = (): void => {
      this.db.exec('BEGIN');
      try {
        for (let i = 0; i < ballastRowsPerWrite; i++) insert.run(ballastRow);
        this.db.exec('COMMIT');
      } catch (error) {
        this.db.exec('ROLLBACK');
        throw error;
      }
    };
    for (let written = 0; written < bytes; written += ballastRowsPerWrite * ballastRow.length) {
      await this.gate.run(write);
      await nextTurn();
    }
  }

  /** The size of `frames` frames of this database's WAL, in bytes (SQLite's WAL format). */
  walBytes(frames: number): number {
    return frames > 0 ? 32 + frames * (24 + (this.db.pragma('page_size', { simple: true }) as number)) : 0;
  }

  /** Every record id in the live database. */
  ids(): Set<number> {
    return new Set((this.db.prepare('SELECT id FROM records').all() as { id: number }[]).map((r) => r.id));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.gate.thaw('close');
    this.db.close();
  }

  private route(req: IncomingMessage, res: ServerResponse, write: (value: string, held: boolean) => Promise<WriteRecord>): void {
    if (req.method !== 'POST' || req.url !== '/records') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"POST /records only"}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let value: unknown;
      try {
        value = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { value?: unknown }).value;
      } catch {
        value = undefined;
      }
      if (typeof value !== 'string' || value.length > 1024) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"value: must be a string of at most 1024 characters"}');
        return;
      }
      const held = this.gate.state !== 'open';
      this.gate.run(() => write(value as string, held)).then(
        (record) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: record.id, held })),
        (error: unknown) => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) })),
      );
    });
  }
}
