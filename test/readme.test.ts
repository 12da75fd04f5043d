/**
 * The README's examples run as written, on this machine: each TypeScript block that uses the
 * package is taken from README.md, compiled the way a user's build would (types stripped,
 * ES module), and run against this checkout as an installed `vss-bridge`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/temp-dir.js';

const root = join(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** Every ```ts block of the README that imports the package, with the heading above it. */
function examples(): { heading: string; code: string }[] {
  const found: { heading: string; code: string }[] = [];
  let heading = '';
  const lines = readme.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
    if (line !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    const code = lines.slice(i + 1, end).join('\n');
    if (/from 'vss-bridge(\/testing)?'/.test(code)) found.push({ heading, code });
    i = end;
  }
  return found;
}

/** A fresh app directory where 'vss-bridge' is this checkout (dist/, built by global-setup). */
function appDir(): string {
  const dir = tempDir('vss-bridge-readme-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'vss-bridge'));
  symlinkSync(join(root, 'node_modules', 'better-sqlite3'), join(dir, 'node_modules', 'better-sqlite3'));
  return dir;
}

function compile(code: string): string {
  return ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
}

function run(dir: string, file: string, args: string[] = []) {
  return spawnSync(process.execPath, [...args, file], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, VSS_BRIDGE_STATE_DIR: join(dir, 'state'), VSS_BRIDGE_LOG_LEVEL: '' },
  });
}

const all = examples();
const byHeading = (heading: string) => all.filter((e) => e.heading === heading);

describe('README examples', () => {
  it('are found: the quick start, the requester and the testing example', () => {
    expect(all.map((e) => e.heading)).toEqual(['Quick start', 'Quick start', 'Testing your app']);
  });

  it('the quick start runs as written, and its writer takes part in a snapshot with a write held and kept', () => {
    const dir = appDir();
    const [quickStart] = byHeading('Quick start');
    // After the example: a checkpoint with a write arriving while frozen, then the cleanup a
    // server would do at shutdown.
    const epilogue = `
      import { createShadowCopy } from 'vss-bridge';
      import { unsubscribeAll } from 'vss-bridge/testing';
      let held;
      const set = await createShadowCopy({ volumes: ['/'], onCommit: () => { held = addOrder('during the freeze'); } });
      await held;
      const rows = db.prepare('SELECT count(*) AS n FROM orders').get().n;
      console.log(JSON.stringify({ events: set.writers.find((w) => w.name === 'orders-service').events.map((e) => e.event + ':' + e.outcome), rows, held: gate.lastFreeze.heldWrites }));
      await unsubscribeAll();
      db.close();
    `;
    writeFileSync(join(dir, 'app.mjs'), `${compile(quickStart!.code)}\n${compile(epilogue)}`);
    const r = run(dir, 'app.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      events: ['identify', 'prepareBackup', 'prepareSnapshot', 'freeze', 'thaw', 'postSnapshot', 'backupComplete', 'backupShutdown'].map((e) => `${e}:succeeded`),
      rows: 1,
      held: 1,
    });
  });

  it('the requester example runs as written', () => {
    const dir = appDir();
    const [, requester] = byHeading('Quick start');
    writeFileSync(join(dir, 'snapshot.mjs'), compile(requester!.code));
    const r = run(dir, 'snapshot.mjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy\d+$/m);
    expect(r.stderr).toMatch(/^commit end/m);
  });

  it('the testing example passes under node --test and the process ends by itself', () => {
    const dir = appDir();
    const [testing] = byHeading('Testing your app');
    writeFileSync(join(dir, 'orders.test.mjs'), compile(testing!.code));
    const r = run(dir, 'orders.test.mjs', ['--test']);
    expect(r.error, 'node --test did not end by itself').toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok 1 - a provider veto aborts the orders writer/m);
  });

  it('states the better-sqlite3 versions the peer dependency accepts', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
    const stated = /better-sqlite3 (\d+) or\s+later/.exec(readme)?.[1];
    expect(pkg.peerDependencies['better-sqlite3']).toBe(`>=${stated}`);
  });
});
