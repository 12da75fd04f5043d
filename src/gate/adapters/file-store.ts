/**
 * Files the application writes itself (append-only logs, JSON documents, blobs) as a store of a
 * WriteGate: freeze fsyncs each file and directory it owns, so what the application wrote before
 * the freeze is on disk, not only in the page cache, before the snapshot is taken. Nothing is
 * held at thaw: the gate already holds the writes.
 *
 * The preparation (at prepareSnapshot, writes flowing) fsyncs them all first, so that the
 * freeze's fsyncs find little left to write. With `trackWrites`, the application reports each
 * path it wrote (`written(path)`), and a freeze that follows a preparation fsyncs only the
 * paths reported since: its cost no longer grows with the number of files the store owns.
 *
 * The gate's drain only waits for writes that ran through gate.run and have finished: a
 * stream's buffered chunks count only if the write's promise waits for them to be flushed.
 */
import { open } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { StoreAdapter, StorePrepareContext } from '../write-gate.js';
import { getDefaultLogger } from '../../logger.js';
import { OptionsError } from '../../errors.js';
import { fileStoreOptionsSchema, parseOptions, type FileStoreOptions } from '../../schemas.js';

export type { FileStoreOptions } from '../../schemas.js';

export interface FileStore extends StoreAdapter {
  prepare(ctx: StorePrepareContext): Promise<void>;
  /**
   * Reports that the application wrote `path` (an absolute path; a directory whose entries
   * it created, renamed or removed). Call it once the write has completed, inside the write's
   * gate.run, so the drain waits for it. With `trackWrites` the freeze after a preparation
   * fsyncs only the paths reported since; without, every owned path is fsynced anyway.
   */
  written(path: string): void;
}

export function fileStore(options: FileStoreOptions): FileStore {
  const o = parseOptions(fileStoreOptionsSchema, options, 'fileStore options');
  const logger = o.logger ?? getDefaultLogger();
  /** Reported since the last fsync that covered them. */
  let dirty = new Set<string>();
  /** A preparation fsynced every owned path and no freeze came since. */
  let prepared = false;

  /** Fsyncs `paths`; on failure, what was taken from `dirty` goes back to it for the next try. */
  async function syncAll(paths: Iterable<string>, taken: Set<string>): Promise<void> {
    try {
      await Promise.all(Array.from(new Set([...paths, ...taken]), sync));
    } catch (error) {
      for (const path of taken) dirty.add(path);
      throw error;
    }
  }

  async function sync(path: string): Promise<void> {
    let handle;
    try {
      // Windows flushes a file only through a handle opened for writing (FlushFileBuffers).
      handle = await open(path, process.platform === 'win32' ? 'r+' : 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        logger.debug(`${o.name}: ${path} does not exist yet; nothing to flush`);
        return;
      }
      // A directory on Windows cannot be opened this way, nor flushed; its entries are
      // written through by NTFS's journal.
      if (process.platform === 'win32' && (error as NodeJS.ErrnoException).code === 'EISDIR') return;
      throw error;
    }
    try {
      // On a directory this makes the creation and renames of its files durable (POSIX).
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  function take(): Set<string> {
    const taken = dirty;
    dirty = new Set();
    return taken;
  }

  return {
    name: o.name,
    written(path) {
      if (typeof path !== 'string' || !isAbsolute(path)) {
        throw new OptionsError(`${o.name}.written() argument`, [{ path: 'path', message: `must be an absolute path; got ${JSON.stringify(path)}` }]);
      }
      dirty.add(path);
    },
    async prepare() {
      prepared = false;
      await syncAll(o.paths, take());
      prepared = true;
    },
    async freeze() {
      // Only what was reported since a preparation that covered every path; otherwise all.
      const onlyWritten = o.trackWrites && prepared;
      prepared = false;
      await syncAll(onlyWritten ? [] : o.paths, take());
    },
    thaw() {
      // The gate holds the writes; the files hold nothing to release.
    },
  };
}
