#!/usr/bin/env node
// Merges the per-group Stryker JSON reports (reports/mutation/groups/<group>.json, written by
// scripts/mutation.sh) into one report of the same schema, reports/mutation/mutation.json, and
// prints each file's mutants by status and its score, and the score of them all. The groups
// mutate disjoint files; their test ids are prefixed with the group's name so that each
// mutant's killedBy and coveredBy still name the right test. Exits 1 under the threshold
// (stryker.config.json thresholds.break) or when a configured group has no report.
// Score, as Stryker counts it: (killed + timeout) / (killed + timeout + survived + no coverage);
// ignored mutants (Stryker disable comments) and compile or runtime errors are left out.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const dir = 'reports/mutation/groups';
const groups = [...readFileSync('scripts/mutation.sh', 'utf8').matchAll(/^ {2}"([a-z-]+)\|/gm)].map((m) => m[1]);
const { thresholds } = JSON.parse(readFileSync('stryker.config.json', 'utf8'));

const merged = { schemaVersion: '2', thresholds, files: {}, testFiles: {}, projectRoot: process.cwd() };
const missing = [];
for (const group of groups) {
  const path = join(dir, `${group}.json`);
  if (!existsSync(path)) {
    missing.push(group);
    continue;
  }
  const report = JSON.parse(readFileSync(path, 'utf8'));
  const id = (test) => `${group}:${test}`;
  for (const [file, result] of Object.entries(report.files)) {
    merged.files[file] = {
      ...result,
      mutants: result.mutants.map((m) => ({
        ...m,
        ...(m.killedBy && { killedBy: m.killedBy.map(id) }),
        ...(m.coveredBy && { coveredBy: m.coveredBy.map(id) }),
      })),
    };
  }
  for (const [file, result] of Object.entries(report.testFiles ?? {})) {
    const into = (merged.testFiles[file] ??= { ...result, tests: [] });
    into.tests.push(...result.tests.map((t) => ({ ...t, id: id(t.id) })));
  }
}
writeFileSync('reports/mutation/mutation.json', JSON.stringify(merged));

const detected = ['Killed', 'Timeout'];
const counted = [...detected, 'Survived', 'NoCoverage'];
const columns = ['Killed', 'Survived', 'Timeout', 'NoCoverage', 'Ignored'];
const count = (mutants) => Object.fromEntries([...columns, 'other'].map((s) => [s, mutants.filter((m) => (columns.includes(s) ? m.status === s : !columns.includes(m.status))).length]));
const score = (c) => {
  const total = counted.reduce((n, s) => n + c[s], 0);
  return total === 0 ? NaN : (100 * (c.Killed + c.Timeout)) / total;
};
const row = (name, c) =>
  `${name.padEnd(38)} ${String(columns.reduce((n, s) => n + c[s], 0) + c.other).padStart(7)} ${columns.map((s) => String(c[s]).padStart(9)).join(' ')} ${score(c).toFixed(1).padStart(6)}%`;

console.log(`${'file'.padEnd(38)} ${'mutants'.padStart(7)} ${columns.map((s) => s.padStart(9)).join(' ')} ${'score'.padStart(7)}`);
const all = [];
for (const [file, result] of Object.entries(merged.files).sort(([a], [b]) => a.localeCompare(b))) {
  all.push(...result.mutants);
  console.log(row(file, count(result.mutants)));
}
const total = score(count(all));
console.log(row('all files', count(all)));
if (missing.length > 0) console.error(`mutation-report: no report for group(s) ${missing.join(', ')} (run them: npm run test:mutation -- ${missing.join(' ')})`);
if (thresholds?.break != null && !(total >= thresholds.break)) console.error(`mutation-report: score ${total.toFixed(2)}% is under ${thresholds.break}%`);
console.log(`${basename(process.argv[1])}: merged ${groups.length - missing.length} of ${groups.length} group report(s) into reports/mutation/mutation.json`);
process.exit(missing.length > 0 || (thresholds?.break != null && !(total >= thresholds.break)) ? 1 : 0);
