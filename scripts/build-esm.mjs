// Writes dist/index.mjs and dist/index.d.mts: ESM entry points over the CommonJS build.
// One implementation serves both `import` and `require`, so a process that uses both gets
// one addon state and one set of classes (instanceof VssError holds everywhere).
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const entries = ['index', 'testing'];
const require = createRequire(import.meta.url);
for (const entry of entries) {
  const names = Object.keys(require(`${dist}${entry}.js`)).filter((n) => n !== 'default' && n !== '__esModule');
  writeFileSync(
    `${dist}${entry}.mjs`,
    `import cjs from './${entry}.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
  );
  writeFileSync(`${dist}${entry}.d.mts`, `export * from './${entry}.js';\n`);
}
