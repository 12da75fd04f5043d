/**
 * The command line's own rules, run in this process through main(): exit codes and messages for
 * a missing command, unknown names, durations, usage lines and writer modules that fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { VssWriter } from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';

function io() {
  const out = { text: '', write(s: string) { this.text += s; } };
  const err = { text: '', write(s: string) { this.text += s; } };
  return { stdout: out, stderr: err };
}

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const streams = io();
  const code = await main(argv, streams);
  return { code, stdout: streams.stdout.text, stderr: streams.stderr.text };
}

const fixture = (name: string) => join(__dirname, 'fixtures', name);

describe('the command line', () => {
  it('with no command, prints the usage on stderr and exits 2', async () => {
    const r = await run();
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: vss-bridge <command> \[options\]/);
  });

  it('suggests the command or option meant', async () => {
    const command = await run('chekpoint');
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('unknown command "chekpoint"; did you mean checkpoint?');
    const option = await run('checkpoint', '--tiemout', '5s');
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("Unknown option '--tiemout'; did you mean --timeout?");
    const far = await run('checkpoint', '--colour');
    expect(far.stderr).not.toContain('did you mean');
  });

  it('shows each command its own usage, listing every option its usage line names or [options]', async () => {
    const uninstall = await run('uninstall-hooks', '--help');
    expect(uninstall.code).toBe(0);
    expect(uninstall.stdout).toMatch(/^Usage: vss-bridge uninstall-hooks /);
    for (const name of ['writers', 'metadata', 'checkpoint', 'doctor', 'demo', 'hook', 'hv-vss-daemon', 'install-hooks', 'uninstall-hooks']) {
      const help = (await run(name, '--help')).stdout;
      const usage = /^Usage: (.*)$/m.exec(help)![1]!;
      const options = [...help.matchAll(/^ {2}(?:-\w, | {4})--([\w-]+)/gm)].map((m) => m[1]!).filter((o) => o !== 'help');
      if (!usage.includes('[options]')) for (const o of options) expect(usage, `${name}'s usage`).toContain(`--${o}`);
    }
    expect((await run('doctor', '--help')).stdout).toContain('--with-demo-writer');
  });

  it('reads every duration by one rule: units, or a bare number of milliseconds', async () => {
    for (const [command, option] of [['checkpoint', '--timeout'], ['hook', '--timeout'], ['hv-vss-daemon', '--max-freeze'], ['demo', '--interval']] as const) {
      const r = await run(command, ...(command === 'hook' ? ['freeze'] : []), option, 'soon');
      expect(r.code, `${command} ${option}`).toBe(2);
      expect(r.stderr).toContain(`${option}: must be a duration such as 500ms, 30s or 2m (a bare number is milliseconds)`);
    }
  });
});

/** The built CLI in its own process: a module is loaded by Node itself, as for a user. */
function spawned(...argv: string[]): { code: number | null; stdout: string; stderr: string } {
  return spawnedWith({}, ...argv);
}

function spawnedWith(env: Record<string, string>, ...argv: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'cli', 'main.js'), ...argv], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, VSS_BRIDGE_BACKEND: 'simulated', VSS_BRIDGE_COORDINATOR: 'off', NO_COLOR: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('--writer-module', () => {
  it('fails, naming the module, when its subscribe never settles', () => {
    const r = spawned('writers', '--writer-module', fixture('never-settles.cjs'), '--writer-module-timeout', '200ms');
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`--writer-module ${fixture('never-settles.cjs')}: its subscribe function did not settle within 200 ms (--writer-module-timeout)`);
  });

  it('fails, naming the module, when loading it never settles', () => {
    const r = spawned('writers', '--writer-module', fixture('never-loads.mjs'), '--writer-module-timeout', '200');
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`--writer-module ${fixture('never-loads.mjs')}: loading it did not settle within 200 ms`);
  });

  it('says what a module exported when it subscribes nothing', () => {
    const r = spawned('writers', '--writer-module', fixture('exports-nothing.cjs'));
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('subscribed no writer when loaded and exports no subscribe function (exports: helper, version)');
  });

  it('shows a thrown string, not "undefined"', () => {
    const r = spawned('writers', '--writer-module', fixture('throws-string.cjs'));
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('its subscribe function failed: the database is not ready');
  });

  it.each(['syntax-error.mjs', 'syntax-error.cjs'])('names the file and line of a syntax error (%s)', (name) => {
    const r = spawned('writers', '--writer-module', fixture(name));
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(new RegExp(`failed to load: (file://)?${fixture(name).replace(/[.]/g, '\\.')}:3\\n.*\\n\\s*\\^+\\nSyntaxError: Unexpected token`));
  });
});

describe('the writers a command loads, released on every way out', () => {
  const unsubscribed = (dir: string): string[] => {
    const file = join(dir, 'unsubscribed');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  };

  it('a module that fails to load: the modules loaded before it are still unsubscribed, and the load failure is what the command says', () => {
    const dir = tempDir('vss-bridge-cli-release-');
    const r = spawnedWith({ FIXTURE_UNSUBSCRIBED: join(dir, 'unsubscribed') }, 'writers', '--writer-module', fixture('notes-unsubscribe.cjs'), '--writer-module', fixture('throws-string.cjs'));
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('its subscribe function failed: the database is not ready');
    expect(unsubscribed(dir)).toEqual(['Noting Writer unsubscribed']);
  });

  it("a clean-up that fails neither stops the others nor hides the command's own error", () => {
    const dir = tempDir('vss-bridge-cli-release-');
    const r = spawnedWith(
      { FIXTURE_UNSUBSCRIBED: join(dir, 'unsubscribed') },
      'metadata', 'Nobody', '--writer-module', fixture('notes-unsubscribe.cjs'), '--writer-module', fixture('cleanup-fails.cjs'),
    );
    // The command's own answer: no such writer (a usage error, exit code 2).
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('metadata: no writer named "Nobody"');
    expect(r.stderr).toContain(
      `vss-bridge metadata could not release the writers of --writer-module ${fixture('cleanup-fails.cjs')}: the connection pool would not close, after vss-bridge metadata had failed`,
    );
    // Released last taken first: the failing clean-up ran first, and the other one still ran.
    expect(unsubscribed(dir)).toEqual(['Noting Writer unsubscribed']);
  });

  it('a clean-up that fails after a command that succeeded: the command fails, naming what was not released', () => {
    const dir = tempDir('vss-bridge-cli-release-');
    const r = spawnedWith({ FIXTURE_UNSUBSCRIBED: join(dir, 'unsubscribed') }, 'writers', '--writer-module', fixture('cleanup-fails.cjs'), '--writer-module', fixture('notes-unsubscribe.cjs'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`vss-bridge writers could not release the writers of --writer-module ${fixture('cleanup-fails.cjs')}: the connection pool would not close`);
    expect(unsubscribed(dir)).toEqual(['Noting Writer unsubscribed']);
  });
});

describe('demo that fails', () => {
  it('says why, exits 1 and leaves no temporary directory behind', async () => {
    // The demo's own writer, already subscribed in this process: the demo's cannot subscribe.
    const twin = new VssWriter({ name: 'vss-bridge records demo', id: '5e1f0c2a-7b3d-4c8e-9a6f-2d4b8c0e1f3a', usage: 'userData', sourceType: 'transactedDb' });
    await twin.subscribe();
    const previousTmpdir = process.env['TMPDIR'];
    const tmp = tempDir('vss-bridge-demo-tmpdir-');
    process.env['TMPDIR'] = tmp;
    try {
      const r = await run('demo', '--checkpoints', '1', '--clients', '1');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/vss-bridge: writer "vss-bridge records demo" could not subscribe: .*VSS_E_WRITER_ALREADY_SUBSCRIBED/);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (previousTmpdir === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = previousTmpdir;
      await twin.unsubscribe();
    }
  });
});

describe('demo --dir', () => {
  it('resolves a relative directory against the working directory', async () => {
    const cwd = tempDir('vss-bridge-demo-cwd-');
    const previous = process.cwd();
    process.chdir(cwd);
    try {
      const r = await run('demo', '--checkpoints', '1', '--clients', '1', '--dir', 'here', '--keep', '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).dir).toBe(join(cwd, 'here'));
    } finally {
      process.chdir(previous);
    }
  });
});
