/** The package as npm users load it: `import` and `require` give the same API, with types. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

describe('package', () => {

  it('exports the same names to import and require', () => {
    const esm = node(['--input-type=module', '-e', "import * as m from 'vss-bridge'; console.log(JSON.stringify(Object.keys(m).filter(k => k !== 'default').sort()))"]);
    const cjs = node(['-e', "console.log(JSON.stringify(Object.keys(require('vss-bridge')).sort()))"]);
    expect(JSON.parse(esm)).toEqual(JSON.parse(cjs));
    expect(JSON.parse(cjs)).toEqual(expect.arrayContaining(['VssWriter', 'WriterFailure', 'VssError', 'listWriters', 'createShadowCopy', 'backend']));
  });

  it('shares one implementation between import and require', () => {
    const out = node(['--input-type=module', '-e', [
      "import { createRequire } from 'node:module';",
      "import { VssError } from 'vss-bridge';",
      "const cjs = createRequire(import.meta.url)('vss-bridge');",
      'console.log(VssError === cjs.VssError);',
    ].join('\n')]);
    expect(out.trim()).toBe('true');
  });

  it('reports the backend', () => {
    expect(node(['-e', "console.log(require('vss-bridge').backend)"]).trim()).toBe(process.platform === 'win32' ? 'vss' : 'simulated');
    const forced = execFileSync(process.execPath, ['-e', "console.log(require('vss-bridge').backend)"], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, VSS_BRIDGE_BACKEND: 'simulated' },
    });
    expect(forced.trim()).toBe('simulated');
  });

  it('type-checks consumers of both module kinds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vss-bridge-types-'));
    const body = [
      "const writer = new VssWriter({ name: 'x', id: 'c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f', usage: 'userData', sourceType: 'other',",
      '  handlers: { freeze: async (ctx) => { const s: AbortSignal = ctx.signal; void s; } } });',
      "const state: WriterState = writer.state; void state;",
      "void createShadowCopy({ volumes: ['/'] }).then((r) => r.writers[0]?.events);",
    ].join('\n');
    writeFileSync(join(dir, 'esm.mts'), `import { VssWriter, createShadowCopy, type WriterState } from 'vss-bridge';\n${body}\n`);
    writeFileSync(join(dir, 'cjs.cts'), `import { VssWriter, createShadowCopy, type WriterState } from 'vss-bridge';\n${body}\n`);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, skipLibCheck: true, types: [], typeRoots: [join(root, 'node_modules/@types')] },
      files: ['esm.mts', 'cjs.cts'],
    }));
    // Resolve 'vss-bridge' to this checkout, as an installed dependency would be.
    execFileSync('mkdir', ['-p', join(dir, 'node_modules')]);
    execFileSync('ln', ['-s', root, join(dir, 'node_modules', 'vss-bridge')]);
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' });
  });

  it('says what to do when the addon is missing', () => {
    let message = '';
    try {
      execFileSync(process.execPath, ['-e', "require('vss-bridge').listWriters()"], {
        cwd: root,
        encoding: 'utf8',
        stdio: 'pipe',
        env: { ...process.env, VSS_BRIDGE_ADDON: '/nonexistent/vss_bridge.node' },
      });
    } catch (error) {
      message = String((error as { stderr: string }).stderr);
    }
    expect(message).toMatch(/no native addon/);
    expect(message).toMatch(/npm rebuild vss-bridge/);
  });
});
