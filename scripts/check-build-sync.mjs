// CMakeLists.txt (cmake-js) and binding.gyp (node-gyp) must build the same sources with the
// same defines. Exits non-zero, naming the difference, when they drift apart.
import { readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const cmake = readFileSync(new URL('CMakeLists.txt', root), 'utf8');
const gyp = readFileSync(new URL('binding.gyp', root), 'utf8');

function cmakeList(name) {
  const m = cmake.match(new RegExp(`set\\(${name}\\s+([^)]*)\\)`));
  if (!m) throw new Error(`CMakeLists.txt has no set(${name} ...)`);
  return m[1].split(/\s+/).filter(Boolean);
}
// binding.gyp is a Python literal; strip its comments and read it as JSON.
const gypJson = JSON.parse(gyp.replace(/^\s*#.*$/gm, ''));
const errors = [];
function compare(what, a, b) {
  const missingInGyp = a.filter((x) => !b.includes(x));
  const missingInCmake = b.filter((x) => !a.includes(x));
  if (missingInGyp.length) errors.push(`${what} in CMakeLists.txt but not binding.gyp: ${missingInGyp.join(', ')}`);
  if (missingInCmake.length) errors.push(`${what} in binding.gyp but not CMakeLists.txt: ${missingInCmake.join(', ')}`);
}
for (const [cmakeVar, gypTarget] of [['VSS_BRIDGE_SOURCES', 'vss_bridge']]) {
  const target = gypJson.targets.find((t) => t.target_name === gypTarget);
  if (!target) {
    errors.push(`binding.gyp has no target ${gypTarget}`);
    continue;
  }
  compare('sources', cmakeList(cmakeVar), target.sources.filter((s) => typeof s === 'string'));
  // Sources built on Linux only: set(VSS_BRIDGE_LINUX_SOURCES ...) and the OS=='linux' condition.
  const linuxCondition = (target.conditions ?? []).find((c) => c[0] === "OS=='linux'");
  compare('Linux-only sources', cmakeList('VSS_BRIDGE_LINUX_SOURCES'), linuxCondition?.[1]?.sources ?? []);
  // Built on Windows only: the VSS_BRIDGE_WINDOWS_* lists and the OS=='win' condition.
  const win = (target.conditions ?? []).find((c) => c[0] === "OS=='win'")?.[1] ?? {};
  // writer_shim.cc is its own Windows-only target in binding.gyp (gyp has no per-file options).
  const shim = ((gypJson.conditions ?? []).find((c) => c[0] === "OS=='win'")?.[1]?.targets ?? []).find(
    (t) => t.target_name === 'vss_bridge_writer_shim',
  );
  if (!shim) errors.push("binding.gyp has no OS=='win' target vss_bridge_writer_shim (writer_shim.cc)");
  else if (!(win.dependencies ?? []).includes('vss_bridge_writer_shim')) errors.push('binding.gyp: vss_bridge does not depend on vss_bridge_writer_shim');
  compare('Windows-only sources', cmakeList('VSS_BRIDGE_WINDOWS_SOURCES'), [...(win.sources ?? []), ...(shim?.sources ?? [])]);
  // /Zc:wchar_t- on writer_shim.cc in CMakeLists.txt is TreatWChar_tAsBuiltInType false in gyp.
  const shimWchar = shim?.msvs_settings?.VCCLCompilerTool?.TreatWChar_tAsBuiltInType;
  if (cmakeList('VSS_BRIDGE_MSVC_SHIM_OPTIONS').includes('/Zc:wchar_t-') !== (shimWchar === 'false')) {
    errors.push('writer_shim.cc: /Zc:wchar_t- in CMakeLists.txt and TreatWChar_tAsBuiltInType "false" in binding.gyp must go together');
  }
  compare('Windows-only defines', cmakeList('VSS_BRIDGE_WINDOWS_DEFINES'), win.defines ?? []);
  compare('Windows libraries', cmakeList('VSS_BRIDGE_WINDOWS_LIBS'), (win.libraries ?? []).map((l) => l.replace(/\.lib$/, '')));
  const cmakeDefines = cmakeList('VSS_BRIDGE_DEFINES');
  compare('defines', cmakeDefines, target.defines);
}
if (errors.length) {
  console.error(`build files out of step:\n  ${errors.join('\n  ')}`);
  process.exit(1);
}
console.log('CMakeLists.txt and binding.gyp build the same sources with the same defines');
