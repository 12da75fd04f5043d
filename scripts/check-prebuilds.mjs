// `npm pack` (prepack) refuses to pack without the prebuilt addons, or with prebuilds made from
// other sources than these: users without a compiler would get no addon, or a stale one.
// `--record` (the last step of `npm run prebuilds`) writes prebuilds/SOURCES: a hash of every
// file the prebuilds are built from.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const PREBUILDS = [
  'prebuilds/linux-x64/vss_bridge.glibc.node',
  'prebuilds/linux-arm64/vss_bridge.glibc.node',
  'prebuilds/win32-x64/vss_bridge.node',
];
const INPUTS = ['native', 'CMakeLists.txt', 'scripts/build-linux-prebuild.sh', 'scripts/cross-build-windows.sh', 'scripts/lib'];

function files(path) {
  const full = join(root, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full).sort().flatMap((name) => files(join(path, name)));
}

function sourcesHash() {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap(files)) {
    hash.update(`${relative(root, join(root, file))}\0`);
    hash.update(readFileSync(join(root, file)));
  }
  return hash.digest('hex');
}

const record = join(root, 'prebuilds', 'SOURCES');
if (process.argv.includes('--record')) {
  writeFileSync(record, `${sourcesHash()}  sha256 of ${INPUTS.join(', ')}\n`);
  console.log(`check-prebuilds: recorded ${relative(root, record)}`);
} else {
  const missing = PREBUILDS.filter((p) => !existsSync(join(root, p)));
  const problem =
    missing.length > 0
      ? `the package would lack ${missing.join(', ')}`
      : !existsSync(record)
        ? 'prebuilds/SOURCES is missing, so nothing says what the prebuilds were built from'
        : readFileSync(record, 'utf8').split(' ')[0] !== sourcesHash()
          ? 'the prebuilds were built from other sources than these (native/, CMakeLists.txt or the build scripts changed since)'
          : '';
  if (problem) {
    console.error(`vss-bridge: not packing: ${problem}. Users without a compiler install from the prebuilds: run \`npm run prebuilds\` first (it needs the toolchains of scripts/install-system-deps.sh).`);
    process.exit(1);
  }
  // stderr: `npm pack --json` prints its JSON on stdout after this script's output.
  console.error(`check-prebuilds: ${PREBUILDS.length} prebuilds, built from these sources`);
}
