/**
 * better-sqlite3 for the demo, loaded when the demo runs: the library itself never needs it.
 */
import type { SqliteDatabase } from '../gate/adapters/sqlite.js';

export interface Statement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  all(...params: unknown[]): unknown[];
}

export interface Database extends SqliteDatabase {
  prepare(source: string): Statement;
  close(): void;
}

export type DatabaseConstructor = new (file: string, options?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number }) => Database;

export async function loadSqlite(): Promise<DatabaseConstructor> {
  try {
    const mod = (await import('better-sqlite3')) as unknown as { default: DatabaseConstructor };
    return mod.default;
  } catch (error) {
    throw new Error(
      `the demo needs better-sqlite3 12.x (npm install better-sqlite3@12): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** The database's integrity verdict and every record id it holds. */
export function inspectDatabase(Sqlite: DatabaseConstructor, file: string): { integrity: string; ids: Set<number> } {
  const db = new Sqlite(file, { fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const integrity = rows.map((r) => r.integrity_check).join('; ');
    const ids = new Set((db.prepare('SELECT id FROM records').all() as { id: number }[]).map((r) => r.id));
    return { integrity, ids };
  } finally {
    db.close();
  }
}
