// Fails when a vitest JSON report (--reporter=json) shows a skipped or todo test outside
// test/windows/, whose suites are the only ones allowed to skip on Linux: they need real
// Windows (the windows.yml workflow). Usage: node scripts/check-no-skips.mjs REPORT
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = [];
for (const file of report.testResults) {
  const name = relative(process.cwd(), file.name);
  if (name.startsWith('test/windows/')) continue;
  for (const test of file.assertionResults) {
    if (test.status !== 'passed' && test.status !== 'failed') skipped.push(`${name}: ${test.fullName} (${test.status})`);
  }
}
if (skipped.length > 0) {
  console.error(`${skipped.length} test(s) did not run, and only those needing real Windows may skip:`);
  for (const line of skipped) console.error(`  ${line}`);
  process.exit(1);
}
console.log('no test skipped outside test/windows/');
