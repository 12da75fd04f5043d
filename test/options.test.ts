/** Wrong options fail at once with an error naming the field and the rule, and register nothing. */
import { describe, expect, it } from 'vitest';
import { createShadowCopy, listWriters, OptionsError, VssWriter, WriterFailure, type VssWriterOptions } from '../src/index.js';

const valid: VssWriterOptions = {
  name: 'orders-db',
  id: 'c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f',
  usage: 'userData',
  sourceType: 'transactedDb',
  components: [{ name: 'orders', files: [{ path: '/var/lib/orders', filespec: '*.sqlite' }] }],
};

function errorOf(fn: () => unknown): OptionsError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OptionsError);
    expect(error).toBeInstanceOf(TypeError);
    return error as OptionsError;
  }
  throw new Error('expected an OptionsError');
}

describe('VssWriter options', () => {
  it('accepts valid options and normalizes the GUID', () => {
    const writer = new VssWriter({ ...valid, id: '{C6E4A54E-8A2C-4D3B-9F0E-1A2B3C4D5E6F}' });
    expect(writer.id).toBe('c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f');
    expect(writer.state).toBe('VSS_WS_UNKNOWN');
  });

  it.each([
    ['a malformed GUID', { id: 'not-a-guid' }, 'id', /GUID/],
    ['a GUID with one brace', { id: '{c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f' }, 'id', /GUID/],
    ['an unknown usage type', { usage: 'database' }, 'usage', /bootableSystemState|userData/],
    ['an unknown source type', { sourceType: 'sql' }, 'sourceType', /transactedDb/],
    ['an empty name', { name: '' }, 'name', /empty/],
    ['a relative file group path', { components: [{ name: 'c', files: [{ path: 'data/db' }] }] }, 'components[0].files[0].path', /absolute path/],
    ['a filespec with a directory', { components: [{ name: 'c', files: [{ path: '/data', filespec: 'sub/*.db' }] }] }, 'components[0].files[0].filespec', /without a directory/],
    ['a component without files', { components: [{ name: 'c', files: [] }] }, 'components[0].files', /at least one file group/],
    ['a fractional freeze timeout', { freezeTimeoutMs: 1.5 }, 'freezeTimeoutMs', /whole number/],
    ['a freeze timeout too small', { freezeTimeoutMs: 1 }, 'freezeTimeoutMs', /10/],
    ['a handler that is not a function', { handlers: { freeze: 'flush' } }, 'handlers.freeze', /function/],
    ['an unknown handler', { handlers: { onFreeze: () => undefined } }, 'handlers', /onFreeze/],
    ['an unknown option', { freezeTimeout: 5 }, '', /freezeTimeout/],
    ['a logger that is not one', { logger: console.log }, 'logger', /winston/],
  ])('rejects %s', (_what, patch, path, rule) => {
    const error = errorOf(() => new VssWriter({ ...valid, ...patch } as VssWriterOptions));
    const issue = error.issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(error.issues)).toBeDefined();
    expect(issue!.message).toMatch(rule);
    expect(error.message).toContain(path ? `${path}: ` : '');
  });

  it('names every bad field at once', () => {
    const error = errorOf(() => new VssWriter({ ...valid, id: 'x', usage: 'y' } as unknown as VssWriterOptions));
    expect(error.issues.map((i) => i.path).sort()).toEqual(['id', 'usage']);
  });

  it('rejects a non-object', () => {
    expect(errorOf(() => new VssWriter(undefined as unknown as VssWriterOptions)).message).toMatch(/Invalid VssWriter options/);
  });

  it('registers nothing when the options are wrong', async () => {
    expect(() => new VssWriter({ ...valid, id: 'bad' })).toThrow(OptionsError);
    expect(await listWriters()).toEqual([]);
  });
});

describe('createShadowCopy options', () => {
  it.each([
    ['no volumes', { volumes: [] }, 'volumes', /at least one volume/],
    ['an unknown backup type', { volumes: ['/d'], backupType: 'weekly' }, 'backupType', /full/],
    ['a negative timeout', { volumes: ['/d'], timeoutMs: -1 }, 'timeoutMs', />=1|at least|too small/i],
    ['a signal that is not one', { volumes: ['/d'], signal: {} }, 'signal', /AbortSignal/],
    ['an unknown provider failure', { volumes: ['/d'], simulation: { failWith: 'E_FAIL' } }, 'simulation.failWith', /VSS_E_PROVIDER_VETO/],
  ])('rejects %s', async (_what, options, path, rule) => {
    const error = await createShadowCopy(options as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OptionsError);
    const issue = (error as OptionsError).issues.find((i) => i.path === path);
    expect(issue, JSON.stringify((error as OptionsError).issues)).toBeDefined();
    expect(issue!.message).toMatch(rule);
  });
});

describe('WriterFailure', () => {
  it('takes a writer-error code and carries its HRESULT', () => {
    const failure = new WriterFailure('VSS_E_WRITERERROR_TIMEOUT', 'slow disk');
    expect(failure.hresult).toBe(0x800423f2);
    expect(failure.message).toBe('slow disk');
  });

  it('refuses a code a writer cannot fail with', () => {
    expect(() => new WriterFailure('VSS_E_PROVIDER_VETO' as never)).toThrow(/code must be one of VSS_E_WRITERERROR_RETRYABLE/);
  });
});
