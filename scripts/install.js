#!/usr/bin/env node
// npm's install step for vss-bridge. Uses the prebuilt addon for this platform when one ships
// (prebuilds/<platform>-<arch>/, found by node-gyp-build as the loader finds it) and loads;
// compiles with cmake-js only when none matches, it does not load here (say, an older glibc),
// or npm_config_build_from_source / VSS_BRIDGE_BUILD_FROM_SOURCE=1 asks for it, and says which. When compiling is impossible it
// names what is missing and how to get it, and fails the install.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const target = `${process.platform}-${process.arch}`;
const PREBUILT = 'linux-x64 and linux-arm64 (glibc 2.28 or newer) and win32-x64';

function say(line) {
  console.error(`vss-bridge: ${line}`);
}

// Why this install compiles, or null when the prebuild will do.
function reasonToCompile() {
  // npm's --build-from-source (npm warns that it does not know the setting, and passes it on)
  // or, without that warning, VSS_BRIDGE_BUILD_FROM_SOURCE=1.
  const flag = process.env.npm_config_build_from_source;
  if (flag === 'true' || flag === 'vss-bridge') return 'npm_config_build_from_source asks for a compile';
  if (process.env.VSS_BRIDGE_BUILD_FROM_SOURCE === '1') return 'VSS_BRIDGE_BUILD_FROM_SOURCE=1 asks for a compile';
  // Only prebuilds decide here: a build/ left by an earlier compile is not a reason to skip one.
  process.env.PREBUILDS_ONLY = '1';
  let file;
  try {
    file = require('node-gyp-build').resolve(root);
  } catch {
    // A folder for this platform without a match: another C library (musl) or CPU variant.
    const why = existsSync(path.join(root, 'prebuilds', target))
      ? `no prebuilt addon in prebuilds/${target} matches this C library or CPU`
      : `no prebuilt addon for ${target} is in this package`;
    return `${why} (prebuilds: ${PREBUILT})`;
  }
  // Loaded in a child, so that a prebuild that crashes this machine cannot take npm down too.
  const probe = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', file], { encoding: 'utf8' });
  if (probe.status === 0) {
    say(`using the prebuilt addon ${path.relative(root, file)}`);
    return null;
  }
  const why = (probe.stderr || `exit ${probe.status ?? probe.signal}`).split('\n').find((l) => /Error|error|not found/.test(l)) ?? '';
  return `the prebuilt addon ${path.relative(root, file)} does not load here (${why.trim()})`;
}

function onPath(tool) {
  const lookup = process.platform === 'win32' ? spawnSync('where', [tool]) : spawnSync('sh', ['-c', `command -v "${tool}"`]);
  return lookup.status === 0;
}

// What a cmake-js compile needs that this machine lacks, as far as can be seen beforehand
// (cmake-js finds Visual Studio itself on Windows).
function missingTools() {
  const missing = [];
  if (!onPath('cmake')) missing.push('cmake');
  if (process.platform !== 'win32') {
    if (!onPath('make') && !onPath('ninja')) missing.push('make');
    const cxx = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
    if (!cxx.some(onPath)) missing.push('a C++17 compiler (c++, g++ or clang++)');
  }
  return missing;
}

function howToGet() {
  if (process.platform === 'win32') {
    return [
      'Install CMake and Visual Studio Build Tools with "Desktop development with C++" (MSVC and the',
      'Windows SDK), e.g. `winget install Kitware.CMake Microsoft.VisualStudio.2022.BuildTools`,',
      'then `npm rebuild vss-bridge`.',
    ];
  }
  if (process.platform === 'darwin') return ['Install the Xcode command line tools (`xcode-select --install`) and CMake (`brew install cmake`).'];
  return [
    'Debian/Ubuntu: `sudo apt-get install cmake make g++`',
    'RHEL/Fedora:   `sudo dnf install cmake make gcc-c++`',
    'Alpine:        `apk add cmake make g++`',
  ];
}

function main() {
  const reason = reasonToCompile();
  if (reason === null) return 0;
  say(`compiling the addon: ${reason}.`);
  const missing = missingTools();
  if (missing.length > 0) {
    say(`cannot install on ${target}: compiling needs ${missing.join(', ')}, not found on PATH.`);
    for (const line of howToGet()) console.error(`  ${line}`);
    console.error(`  Or install on a platform with a prebuilt addon: ${PREBUILT}.`);
    return 1;
  }
  const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  if (!existsSync(cmakeJs)) {
    say(`cmake-js is missing from ${path.dirname(cmakeJs)}: reinstall vss-bridge.`);
    return 1;
  }
  const run = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) {
    say(`compiling the addon for ${target} failed (cmake-js, above).`);
    for (const line of howToGet()) console.error(`  ${line}`);
    return run.status || 1;
  }
  return 0;
}

process.exitCode = main();
