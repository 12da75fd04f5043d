/**
 * Files the application writes itself (append-only logs, JSON documents, blobs) as a store of a
 * WriteGate: freeze fsyncs each file and directory it owns, so what the application wrote before
 * the freeze is on disk, not only in the page cache, before the snapshot is taken. Nothing is
 * held at thaw: the gate already holds the writes.
 *
 * The gate's drain only waits for writes that ran through gate.run and have finished: a
 * stream's buffered chunks count only if the write's promise waits for them to be flushed.
 */
import { open } from 'node:fs/promises';
import type { StoreAdapter } from '../write-gate.js';
import { getDefaultLogger } from '../../logger.js';
import { fileStoreOptionsSchema, parseOptions, type FileStoreOptions } from '../../schemas.js';

export type { FileStoreOptions } from '../../schemas.js';

export function fileStore(options: FileStoreOptions): StoreAdapter {
  const o = parseOptions(fileStoreOptionsSchema, options, 'fileStore options');
  const logger = o.logger ?? getDefaultLogger();

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

  return {
    name: o.name,
    async freeze() {
      await Promise.all(o.paths.map(sync));
    },
    thaw() {
      // The gate holds the writes; the files hold nothing to release.
    },
  };
}
