// What every figure shares: the library under test (the compiled dist/ and the addon it
// loads), percentiles, and the shape of a figure.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

const require = createRequire(import.meta.url);
const dist = new URL('../dist/', import.meta.url);

/** The compiled library: the public API and the internal modules the benchmarks drive. */
export function library() {
  if (!existsSync(new URL('index.js', dist))) {
    throw new Error('bench: dist/ is missing; run `npm run build:ts` (and `npm run build:native`) first');
  }
  const load = (name) => require(new URL(name, dist).pathname);
  const { native } = load('backends/native.js');
  return {
    ...load('index.js'),
    JsDispatcher: load('dispatch.js').JsDispatcher,
    getDefaultLogger: load('logger.js').getDefaultLogger,
    addon: native(),
    gatePath: new URL('gate/write-gate.js', dist).pathname,
  };
}

/** A logger that drops everything, for figures whose events fail on purpose. */
export const silentLogger = () => require('winston').createLogger({ silent: true });

/** The p-quantile (0..1) of `values`, nearest rank. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export const median = (values) => percentile(values, 0.5);

export const nsToUs = (values) => Array.from(values, (ns) => ns / 1000);
export const nsToMs = (values) => Array.from(values, (ns) => ns / 1e6);

/**
 * One line of the report. `target` is { ratioMax } or { valueMax } (or absent: reported
 * for information); `ok` says whether this run met it.
 */
export function figure(name, value, unit, baseline, { target, note } = {}) {
  const ratio = baseline > 0 ? value / baseline : value === 0 && baseline === 0 ? 1 : null;
  let ok = null;
  if (target?.ratioMax !== undefined) ok = ratio !== null && ratio <= target.ratioMax;
  if (target?.ratioMin !== undefined) ok = ratio !== null && ratio >= target.ratioMin;
  if (target?.valueMax !== undefined) ok = value <= target.valueMax;
  return { name, value, unit, baseline, ratio, ...(target && { target }), ...(ok !== null && { ok }), ...(note && { note }) };
}

/** `fn(callback)` as a Promise; rejects when the addon hands back an Error. */
export function nativeCall(fn) {
  return new Promise((resolve, reject) => fn((result) => (result instanceof Error ? reject(result) : resolve(result))));
}

/** Iteration counts scaled for a quick run, never below `min`. */
export const scaled = (scale, full, min = 1) => Math.max(min, Math.round(full * scale));

/** Options for a VssWriter named `name` whose handlers resolve at once, or after `delayMs`. */
export function emptyWriter(name, instanceName, logger, delayMs = 0) {
  const empty = delayMs > 0 ? () => new Promise((resolve) => setTimeout(resolve, delayMs)) : async () => {};
  return {
    name,
    id: 'b5e1c0de-7d4e-4a43-9c2b-3f0e1d2c3b4a',
    instanceName,
    usage: 'userData',
    sourceType: 'transactedDb',
    handlers: Object.fromEntries(
      ['prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'abort', 'backupComplete', 'backupShutdown'].map((e) => [e, empty]),
    ),
    ...(logger && { logger }),
  };
}

/** The snapshot sets' volume: the simulator, like VSS, refuses one that does not exist. */
export const volume = process.platform === 'win32' ? 'C:\\' : '/';
