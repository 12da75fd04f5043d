// npm run bench [-- --json] [--scale 0.1] [--only round-trip,memory]
// Prints a table of every figure against its baseline, measured in the same run; with
// --json, one JSON object a line: name, value, unit, baseline, ratio (and target, ok, note).
// Exits 1 when a group could not run; a missed target is reported, not an error.
import { parseArgs } from 'node:util';
import { formatTable, groups, runBench } from './harness.mjs';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    scale: { type: 'string', default: '1' },
    only: { type: 'string' },
  },
});
const scale = Number(values.scale);
if (!(scale > 0 && scale <= 1)) throw new Error(`--scale must be a number in (0, 1]; got ${values.scale}`);
const only = values.only ? values.only.split(',') : groups;
const unknown = only.filter((g) => !groups.includes(g));
if (unknown.length) throw new Error(`--only: unknown group ${unknown.join(', ')} (groups: ${groups.join(', ')})`);

const { figures, errors } = await runBench({
  scale,
  only,
  onGroup: (group) => values.json || process.stderr.write(`${group} done\n`),
});
if (values.json) {
  for (const f of figures) process.stdout.write(`${JSON.stringify(f)}\n`);
} else {
  process.stdout.write(`${formatTable(figures)}\n`);
  for (const f of figures.filter((x) => x.note)) process.stdout.write(`  ${f.name}: ${f.note}\n`);
}
for (const e of errors) process.stderr.write(`bench group ${e.group} failed:\n${e.error}\n`);
process.exitCode = errors.length ? 1 : 0;
