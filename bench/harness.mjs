// Runs every group of figures, each in a child process of its own (a fresh heap and its own
// simulator, so that one group's leftovers never weigh on the next), bounded in time.
import { fork } from 'node:child_process';

export const groups = ['round-trip', 'busy-loop', 'snapshot-set', 'write-gate', 'store-freeze', 'deadline', 'memory', 'qemu-ga-stall'];

// V8 flags a group needs on top of --expose-gc. memory: a young generation of fixed size, the
// largest V8 grows it to by default (two semi-spaces of 16 MiB on 64-bit), so that its growth
// over the first thousands of sets is not counted as the addon's (docs/PERFORMANCE.md).
export const youngGenerationMiB = 16;
const groupFlags = {
  memory: [`--min-semi-space-size=${youngGenerationMiB}`, `--max-semi-space-size=${youngGenerationMiB}`],
};

function runGroup(group, scale, timeoutMs) {
  return new Promise((resolve) => {
    const child = fork(new URL('./figure.mjs', import.meta.url), [group, String(scale)], {
      execArgv: ['--expose-gc', ...(groupFlags[group] ?? [])],
      env: { ...process.env, VSS_BRIDGE_BACKEND: 'simulated', VSS_BRIDGE_LOG_LEVEL: process.env['VSS_BRIDGE_LOG_LEVEL'] ?? 'warn' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let message;
    const timer = setTimeout(() => {
      message ??= { error: `${group}: no result within ${timeoutMs} ms` };
      child.kill();
    }, timeoutMs);
    child.on('message', (m) => (message = m));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(message ?? { error: `${group}: the process ended (${signal ?? code}) without a result` });
    });
  });
}

/**
 * Every figure of the groups asked for. `scale` shrinks the iteration counts (1: the full
 * run). A group that fails yields { group, error } instead of its figures.
 */
export async function runBench({ scale = 1, only = groups, timeoutMs = 300_000, onGroup } = {}) {
  const figures = [];
  const errors = [];
  for (const group of only) {
    const result = await runGroup(group, scale, timeoutMs);
    if (result.error !== undefined) errors.push({ group, error: result.error });
    else figures.push(...result.figures);
    onGroup?.(group, result);
  }
  return { figures, errors };
}

const number = (v) => (v === null || v === undefined || Number.isNaN(v) ? '-' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(3));

function targetText(t) {
  if (!t) return '';
  if (t.ratioMax !== undefined) return `ratio <= ${t.ratioMax}`;
  if (t.ratioMin !== undefined) return `ratio >= ${t.ratioMin}`;
  return `value <= ${t.valueMax}`;
}

/** The figures as a fixed-width table. */
export function formatTable(figures) {
  const rows = [['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'met'], ...figures.map((f) => [
    f.name, number(f.value), f.unit, number(f.baseline), f.ratio === null ? '-' : f.ratio.toFixed(2), targetText(f.target), f.ok === undefined ? '' : f.ok ? 'yes' : 'NO',
  ])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 || i >= 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()).join('\n');
}
