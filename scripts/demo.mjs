// `npm run demo`: the consistent-snapshot demo (src/demo) from the built package.
//   npm run demo -- [--checkpoints N] [--interval MS] [--clients N] [--wal-mb N] [--json] [--keep] [--dir PATH]
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const entry = new URL('../dist/demo/index.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/ is not built: run `npm run build` (addon and TypeScript) first');
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      checkpoints: { type: 'string' },
      interval: { type: 'string' },
      clients: { type: 'string' },
      'wal-mb': { type: 'string' },
      json: { type: 'boolean' },
      keep: { type: 'boolean' },
      dir: { type: 'string' },
    },
  }).values;
} catch (error) {
  console.error(`demo: ${error.message}`);
  process.exit(2);
}
const number = (flag, value) => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    console.error(`demo: --${flag} must be a whole number; got "${value}"`);
    process.exit(2);
  }
  return Number(value);
};
const options = Object.fromEntries(
  Object.entries({
    checkpoints: number('checkpoints', args.checkpoints),
    intervalMs: number('interval', args.interval),
    clients: number('clients', args.clients),
    walMb: number('wal-mb', args['wal-mb']),
    json: args.json,
    keep: args.keep,
    dir: args.dir,
  }).filter(([, v]) => v !== undefined),
);

const { runDemo } = require(entry.pathname);
try {
  const report = await runDemo(options);
  process.exitCode = report.ok ? 0 : 1;
} catch (error) {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
}
