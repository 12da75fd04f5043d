// releasing (src/releases.ts): what the demo and the CLI's commands take, given back on every way out.
import { describe, expect, it } from 'vitest';
import { releasing } from '../src/releases.js';
import { memoryLogger } from './helpers/memory-logger.js';

describe('releasing', () => {
  it('releases the last taken first, every release even after one failed; the failure of the body is what the caller gets', async () => {
    const { logger, entries } = memoryLogger();
    const released: string[] = [];
    const failed = new Error('the snapshot set failed');
    const error = await releasing(logger, 'the demo', async (take) => {
      take('the directory', () => released.push('directory'));
      take('the service', () => {
        throw new Error('close failed');
      });
      take('the writer', () => released.push('writer'));
      throw failed;
    }).catch((e: unknown) => e);
    expect(error).toBe(failed);
    expect(released).toEqual(['writer', 'directory']);
    expect(entries.filter((e) => e.level === 'error').map((e) => e.message)).toEqual([
      'the demo could not release the service: close failed, after the demo had failed',
    ]);
  });

  it('when only releases fail, the caller gets the failure, naming what was not released; several as an AggregateError', async () => {
    const { logger } = memoryLogger();
    const closeFailed = new Error('close failed');
    const one = await releasing(logger, 'the demo', async (take) => {
      take('the service', () => Promise.reject(closeFailed));
      return 'report';
    }).catch((e: unknown) => e);
    expect(one).toMatchObject({ message: 'the demo could not release the service: close failed', cause: closeFailed });
    const two = await releasing(logger, 'the demo', async (take) => {
      take('the directory', () => Promise.reject(new Error('EBUSY')));
      take('the service', () => Promise.reject(closeFailed));
      return 'report';
    }).catch((e: unknown) => e);
    expect(two).toBeInstanceOf(AggregateError);
    expect((two as AggregateError).message).toBe('the demo could not release the service: close failed; the demo could not release the directory: EBUSY');
    expect((two as AggregateError).errors).toHaveLength(2);
    expect(await releasing(logger, 'the demo', async () => 'report')).toBe('report');
  });
});
