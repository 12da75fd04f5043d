/** The package as npm users load it: `import` and `require` give the same API, with types. */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/temp-dir.js';

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
    const dir = tempDir('vss-bridge-types-');
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

  it("resolves 'vss-bridge' and 'vss-bridge/testing' with types under TypeScript's node10 resolution", () => {
    const dir = tempDir('vss-bridge-node10-');
    writeFileSync(join(dir, 'app.ts'), [
      "import { VssWriter } from 'vss-bridge';",
      "import { rehearseCheckpoint } from 'vss-bridge/testing';",
      'const f: typeof rehearseCheckpoint = rehearseCheckpoint; void f; void VssWriter;',
      // A wrong use must fail, so the types are really there (not `any` from a missing file).
      '// @ts-expect-error rehearseCheckpoint takes options, not a number',
      'void rehearseCheckpoint(42);',
    ].join('\n'));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'commonjs', moduleResolution: 'node10', strict: true, noEmit: true, skipLibCheck: true, types: [], typeRoots: [join(root, 'node_modules/@types')] },
      files: ['app.ts'],
    }));
    execFileSync('mkdir', ['-p', join(dir, 'node_modules')]);
    execFileSync('ln', ['-s', root, join(dir, 'node_modules', 'vss-bridge')]);
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' });
  });

  function loadError(env: Record<string, string>): string {
    const run = spawnSync(process.execPath, ['-e', "require('vss-bridge').listWriters()"], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    expect(run.status).not.toBe(0);
    return run.stderr;
  }

  it('says what to do when no addon matches: where prebuilds exist and how to compile', () => {
    // node-gyp-build's own override: look for build/ and prebuilds/ in an empty place.
    const message = loadError({ VSS_BRIDGE_PREBUILD: tempDir('vss-bridge-none-') });
    expect(message).toMatch(new RegExp(`no native addon for ${process.platform}-${process.arch}`));
    expect(message).toMatch(/Prebuilt addons ship for linux-x64 and linux-arm64 \(glibc 2\.28 or newer\) and win32-x64/);
    expect(message).toMatch(/npm rebuild vss-bridge --build-from-source/);
    expect(message).toMatch(/apt-get install cmake make g\+\+/);
  });

  it('names a VSS_BRIDGE_ADDON that does not exist', () => {
    expect(loadError({ VSS_BRIDGE_ADDON: '/nonexistent/vss_bridge.node' })).toMatch(
      /no native addon for .*VSS_BRIDGE_ADDON names \/nonexistent\/vss_bridge\.node, which does not exist/,
    );
  });

  it('says which addon failed to load, and why', () => {
    const dir = tempDir('vss-bridge-bad-');
    const bad = join(dir, 'vss_bridge.node');
    writeFileSync(bad, 'not a shared object');
    const message = loadError({ VSS_BRIDGE_ADDON: bad });
    expect(message).toContain(`the native addon ${bad} does not load here`);
    expect(message).toMatch(/npm rebuild vss-bridge --build-from-source/);
  });
});
